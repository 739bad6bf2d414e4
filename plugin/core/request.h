// plugin/core/request.h — what isend/irecv/iflush return and test polls.
//
// A request covers up to kMaxRecvs weft operations (a grouped receive posts
// one weft receive per buffer; they complete one request). Requests live in
// a fixed pool per comm, sized at setup: isend/irecv take one from a free
// list and test gives it back, so the data path never allocates.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "weft/status.h"
#include "weft/transport.h"

namespace weft::nccl {

// Most buffers in one grouped receive (what getProperties reports as maxRecvs).
inline constexpr int kMaxRecvs = 8;
// Requests per comm: NCCL keeps at most NCCL_NET_MAX_REQUESTS (32) in flight
// per comm, times maxRecvs on a send comm shared by grouped channels.
inline constexpr int kRequestsPerComm = 32 * kMaxRecvs;
// weft operations a comm may hold (posted, request not yet returned by
// test()): what it reserves in its Endpoint's OpTable. Grouped receives
// count n each; past this, irecv answers "not now" (a NULL request).
inline constexpr int kOpsPerComm = kRequestsPerComm;
inline constexpr uint32_t kRequestMagic = 0x52455131;  // "REQ1"

struct Comm;

struct Request {
  enum class Kind : uint8_t { kSend, kRecv, kFlush };
  uint32_t magic = 0;  // kRequestMagic while handed out; 0 in the pool
  Kind kind = Kind::kSend;
  uint8_t n = 0;
  uint16_t slot = 0;  // index in the pool
  Comm* comm = nullptr;
  // Weft operations not yet completed. The dispatcher writes bytes/error and
  // then decrements with release; test() reads with acquire, lock-free when done.
  std::atomic<int> pending{0};
  uint64_t bytes[kMaxRecvs] = {};
  OpId ops[kMaxRecvs] = {};
  Status error;  // the first failure among the n operations (empty string when ok)
};

// Owned by one comm; NCCL uses a comm from one thread at a time, so the free
// list needs no lock.
class RequestPool {
 public:
  RequestPool() : reqs_(new Request[kRequestsPerComm]) {
    free_.reserve(kRequestsPerComm);
    for (int i = kRequestsPerComm - 1; i >= 0; --i) {
      reqs_[i].slot = static_cast<uint16_t>(i);
      free_.push_back(static_cast<uint16_t>(i));
    }
  }
  Request* acquire() {
    if (free_.empty()) return nullptr;  // NCCL retries on a NULL request
    Request* r = &reqs_[free_.back()];
    free_.pop_back();
    r->magic = kRequestMagic;
    r->error = Status();
    return r;
  }
  void release(Request* r) {
    r->magic = 0;
    free_.push_back(r->slot);
  }
  template <typename F>
  void for_each_in_flight(F&& f) {
    for (int i = 0; i < kRequestsPerComm; ++i)
      if (reqs_[i].magic == kRequestMagic) f(reqs_[i]);
  }

 private:
  std::unique_ptr<Request[]> reqs_;
  std::vector<uint16_t> free_;
};

}  // namespace weft::nccl
