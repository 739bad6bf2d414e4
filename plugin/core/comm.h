// plugin/core/comm.h — the objects NCCL holds as void*: listen, send and
// receive comms, and memory handles. Each starts with a magic number so a
// pointer of the wrong kind is refused with a message instead of corrupting
// memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "plugin/core/handle.h"
#include "plugin/core/request.h"
#include "weft/status.h"
#include "weft/transport.h"

namespace weft::nccl {

class Endpoint;

enum class CommKind : uint32_t {
  kListen = 0x4C53544E,  // "LSTN"
  kSend = 0x53454E44,    // "SEND"
  kRecv = 0x52454356,    // "RECV"
};

// States of a send comm's connect; transitions happen in Endpoint (under its
// lock) when weft reports kConnected / kConnFailed.
enum class ConnectState : uint8_t {
  kConnecting,  // weft handshake in flight
  kReady,       // connected and the hello (our nonce) posted: usable
  kFailed,      // handshake refused or timed out; `failure` says why
};

struct MemHandle;

struct Comm {
  explicit Comm(CommKind k) : kind(k) {}
  CommKind kind;
  int dev = 0;
  Endpoint* ep = nullptr;
  ConnId conn = 0;
  // Set by the dispatcher when weft fails the connection (under Endpoint's
  // lock); requests then complete with the cause, this keeps it for new posts.
  std::atomic<bool> failed{false};
  Status failure;
  RequestPool pool;
  int ops_held = 0;  // see kOpsPerComm; touched only by the thread using the comm
  std::vector<std::unique_ptr<MemHandle>> mrs;  // registrations made on this comm
};

struct SendComm : Comm {
  SendComm() : Comm(CommKind::kSend) {}
  ConnectState state = ConnectState::kConnecting;  // Endpoint's lock
  Hello hello{};                                   // the buffer the hello is sent from
  OpId hello_op = 0;                               // forgotten by detach if still in flight
};

struct RecvComm : Comm {
  RecvComm() : Comm(CommKind::kRecv) {}
};

struct ListenComm {
  CommKind kind = CommKind::kListen;
  int dev = 0;
  Endpoint* ep = nullptr;
  uint64_t nonce = 0;
  std::deque<ConnId> ready;  // connections whose hello named us; Endpoint's lock
};

inline constexpr uint32_t kMrMagic = 0x4D524831;  // "MRH1"

// regMr's handle. Host memory needs no weft registration for send/recv (the
// engine copies from and into user buffers), and NCCL registers overlapping
// ranges that weft's register_memory would refuse; the handle only records
// the range so isend/irecv can refuse buffers nobody registered.
struct MemHandle {
  uint32_t magic = kMrMagic;
  const Comm* comm = nullptr;
  uintptr_t base = 0;
  size_t len = 0;
};

}  // namespace weft::nccl
