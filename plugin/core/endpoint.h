// plugin/core/endpoint.h — one weft Device per NCCL net device, shared by
// every comm on it, and the dispatcher that routes its completions.
//
// Why shared: NCCL opens a connection per channel per peer per direction
// (tens to hundreds); one Device per comm would mean as many UDP socket sets
// and progress threads. One Device means one progress thread per NIC and one
// completion queue, which whoever calls test() drains under `mu_`, handing
// each completion to its request through the OpTable.
//
// Lock order: Endpoint::mu_ before the Device's internal lock (the Device's
// progress thread never takes mu_).
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "plugin/core/comm.h"
#include "plugin/core/config.h"
#include "plugin/core/netdevs.h"
#include "plugin/core/op_table.h"
#include "weft/status.h"
#include "weft/transport.h"

namespace weft::nccl {

// Both ends must agree on the weft job token; the listen nonce (not the
// token) tells connections apart, so one constant serves every job.
inline constexpr uint64_t kJobToken = 0x6E63636C77656674ull;  // "ncclweft"

class Endpoint {
 public:
  static Result<std::unique_ptr<Endpoint>> open(const NetDev& dev, const Config& cfg);
  ~Endpoint();

  const std::string& address() const { return address_; }

  // --- setup (NCCL's service thread) ---
  void add_listen(ListenComm* l);
  // Forgets `l`; connections that named it but were not accepted are closed.
  void remove_listen(ListenComm* l);
  // A connection whose hello named `l`, or 0 if none has arrived yet.
  ConnId take_accepted(ListenComm* l);
  // Starts the weft handshake for `c` (state kConnecting).
  Status start_connect(SendComm* c, const std::string& peer);
  // Reads a send comm's connect state (under the lock the dispatcher writes it).
  ConnectState connect_state(SendComm* c, Status* why);
  // Binds an accepted connection to its comm and reserves its requests' slots.
  void attach(RecvComm* c);
  // Closes the weft connection and forgets every request still in flight, so
  // later completions for them are ignored. Never waits for the peer.
  void detach(Comm* c);

  // --- data path (NCCL's progress thread) ---
  // Posts one send for request slot 0. kResourceExhausted: retry later.
  Status post_send(Request* r, const void* buf, size_t len, uint64_t tag);
  // Posts n receives for one request; on failure none stays attached to it.
  Status post_recvs(Request* r, int n, void* const* bufs, const size_t* sizes, const int* tags);
  // Drains the completion queue into requests and comm states. From test()
  // (`only_if_free`): if another thread holds the lock it is draining or
  // posting, and this caller's completion will be there next time.
  void progress(bool only_if_free = false);

 private:
  struct PendingAccept {
    ConnId conn = 0;
    OpId op = 0;
    Hello hello{};
  };

  Endpoint() = default;
  void dispatch_locked(Completion& c);
  void on_hello_locked(PendingAccept* pa, const Completion& c);
  Comm* comm_of_locked(ConnId id) const { return id < by_conn_.size() ? by_conn_[id] : nullptr; }
  void bind_locked(ConnId id, Comm* c);

  std::mutex mu_;
  std::unique_ptr<Device> dev_;
  std::string address_;
  ConnParams conn_params_;
  OpTable ops_;
  std::vector<Comm*> by_conn_;  // ConnId -> comm (weft ids are small and dense)
  std::unordered_map<ConnId, std::unique_ptr<PendingAccept>> accepting_;
  std::unordered_map<uint64_t, ListenComm*> listens_;  // by nonce
  std::array<Completion, 32> batch_;  // drained into under mu_; a member so a poll builds nothing
};

}  // namespace weft::nccl
