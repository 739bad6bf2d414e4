// collectives/executor.h — runs one Schedule at a time over a Device.
//
// The executor owns no thread: the caller's wait()/test() drives it. Per
// schedule it keeps a remaining-dependency count per step; a step whose
// count reaches zero runs at once (reduce, copy, divide) or is posted
// (send, recv) when it is also the next of its (peer, channel, direction)
// queue, which keeps the transport's n-th-send-matches-n-th-receive rule.
// Nothing on this path allocates: the per-step arrays are sized once per
// schedule size and reused.
//
// Each collective also sends a small Header to the next rank in the ring and
// checks the one from the previous rank: ranks that disagree on the call are
// told so, instead of reducing garbage.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "collectives/schedule.h"
#include "weft/collectives.h"
#include "weft/transport.h"

namespace weft::coll {

inline constexpr uint64_t kTagHello = 1;
inline constexpr uint64_t kTagHeader = 8;
inline constexpr uint64_t kTagCollective = 16;       // + channel
inline constexpr uint64_t kTagP2P = 1ull << 40;      // + user tag

struct Header {
  uint32_t magic = 0x57434F4C;  // "WCOL"
  uint32_t seq = 0;             // collectives issued on this communicator before this one
  uint8_t kind = 0, dtype = 0, op = 0, algo = 0;
  int32_t root = 0;
  uint64_t count = 0;
  std::string describe() const;
  bool operator==(const Header&) const = default;
};
static_assert(sizeof(Header) == 24);

class Executor {
 public:
  // `conns[r]` is the connection to rank r (0 for self); `names[r]` its address.
  Executor(Device& dev, int rank, std::vector<ConnId> conns, std::vector<std::string> names, Nanos timeout);

  // `hdr` null: no header exchange (point-to-point).
  void start(const Schedule& s, const void* in, void* out, uint8_t* scratch, const Header* hdr, uint64_t tag_base);
  bool running() const { return running_; }
  // Polls completions and advances the schedule. Returns the error that
  // stopped it, if any (then the schedule is abandoned: abort the comm).
  // `block`: wait for a completion (at most ~50 ms) when nothing is ready.
  Status progress(bool block);
  std::string rank_name(int r) const;
  // A connection failure seen while idle (keepalive found a dead peer).
  Status poll_idle();

 private:
  static constexpr uint32_t kHeaderRecv = UINT32_MAX - 1, kHeaderSend = UINT32_MAX - 2;
  void make_ready(uint32_t s);
  void finish_step(uint32_t s);
  void try_post(uint32_t q);
  void run_local(uint32_t s);
  Status handle(const Completion& c);
  void track(OpId op, uint32_t step);
  uint32_t untrack(OpId op);
  std::string waiting_for() const;
  void fail(Status st) {
    if (error_.is_ok()) error_ = std::move(st);
  }

  Device& dev_;
  int rank_;
  std::vector<ConnId> conns_;
  std::vector<std::string> names_;
  std::vector<int> rank_of_conn_;
  Nanos timeout_;

  const Schedule* s_ = nullptr;
  uint8_t* base_[kBufCount] = {};
  uint64_t tag_base_ = 0;
  bool running_ = false;
  Status error_;
  uint32_t done_ = 0, outstanding_hdr_ = 0;
  std::vector<uint32_t> remaining_;
  std::vector<uint8_t> ready_, posted_;
  std::vector<uint32_t> head_;     // per queue: next step to post
  std::vector<uint32_t> local_;    // worklist of ready local steps
  std::vector<uint32_t> blocked_;  // queues whose post hit the per-connection op limit
  std::vector<std::pair<OpId, uint32_t>> ops_;  // open addressing: in-flight op -> step
  size_t ops_mask_ = 0;
  // Small sends are copied into a staging slot and count as done when
  // posted: the collective need not wait for their acknowledgement (a round
  // trip plus the ACK delay), and the caller's buffer is free at once. A
  // slot is reused only after its send completes; with none free, a send
  // goes out from the caller's buffer and waits for its ACK as usual.
  static constexpr size_t kStageSlots = 64, kStageBytes = 4096;
  int stage(const void* src, size_t len);  // slot holding a copy, or -1
  bool unstage(OpId op);                   // frees the slot of a completed staged send
  std::vector<uint8_t> stage_buf_;         // kStageSlots * kStageBytes, allocated on first use
  std::array<OpId, kStageSlots> stage_op_{};
  std::array<bool, kStageSlots> stage_busy_{};

  std::array<Completion, 64> pending_;  // polled, not yet handled
  size_t pend_i_ = 0, pend_n_ = 0;
  Header hdr_mine_{}, hdr_peer_{};
  bool has_hdr_ = false;
  int64_t last_progress_ns_ = 0;
};

}  // namespace weft::coll
