// weft/transport.h — the public transport API (DESIGN.md §3).
//
// Reliable, unordered delivery with RDMA-like semantics: a Device bound to a
// local address; connections to peers set up by a handshake carrying a job
// token; registered memory regions with keys; tagged send / posted receive
// and one-sided write (with optional immediate); completions by polling.
// Every data packet carries (message, offset), so receivers place payload
// straight into user memory in any order.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "weft/status.h"
#include "weft/units.h"

namespace weft {

using ConnId = uint32_t;   // local handle of a connection (never 0)
using MrKey = uint32_t;    // memory region key; remote writes name it
using OpId = uint64_t;     // returned by every post, echoed in its completion

enum class Recovery : uint8_t {
  kSelectiveRepeat = 0,  // weft: SACK, RACK, out-of-order placement, multipath
  kGoBackN = 1,          // RoCE v2 behaviour: one path, resend from the hole
};

struct ConnParams {
  Recovery recovery = Recovery::kSelectiveRepeat;
  uint16_t paths = 8;  // entropy values sprayed over (1 in go-back-N)
  // Congestion control for this connection's sending side, as a registry
  // spec ("swift:target_delay_us=25", "dcqcn", "plugin:/path/libx.so");
  // empty: EngineParams::cc. See docs/congestion-control.md.
  std::string cc;
};

// Knobs of the protocol engine. Defaults suit a datacenter or loopback.
struct EngineParams {
  uint64_t job_token = 0;           // both ends must agree, or the handshake is refused
  uint32_t mtu = 8972;              // bytes per datagram (weft header + payload)
  uint32_t window_packets = 8192;   // receive window / max packets in flight per connection
  uint32_t max_ops_per_conn = 1024; // posted sends+writes in flight per connection
  Nanos min_rto = millis(5);
  Nanos max_rto = seconds(1);
  Nanos initial_rto = millis(20);   // before the first RTT sample
  Nanos keepalive_interval = millis(200);
  Nanos dead_peer_timeout = seconds(3);
  Nanos handshake_timeout = seconds(5);
  Nanos ack_delay = micros(50);     // ACK at most this late, or every ack_every packets
  uint32_t ack_every = 16;
  Bytes unexpected_budget = Bytes(64u << 20);  // buffered sends with no posted receive
  // Congestion control for every connection unless ConnParams::cc names one:
  // a registry spec (congestion/registry.h). Empty: a fixed window of
  // cc_window bytes paced at cc_rate (0 = unpaced), the reference controller.
  std::string cc;
  Bytes cc_window = Bytes(16u << 20);
  BitsPerSec cc_rate = BitsPerSec(0);
  // What the algorithms derive their defaults from (line rate x base RTT).
  BitsPerSec link_rate = gbps(100);
  Nanos base_rtt = micros(12);
  bool int_telemetry = false;  // the fabric stamps INT (weft-switch --int): HPCC may run
  bool trimming = false;       // the fabric trims instead of dropping (NSCC tunes its target)
  // Pacing lets at most this many bytes leave back to back at the CC rate
  // (one GSO batch), then spaces packets; 0 spaces every packet.
  Bytes pacing_burst = Bytes(64u << 10);
  uint16_t max_paths = 64;
};

enum class CompletionType : uint8_t {
  kSend,         // a send finished: every byte acknowledged
  kRecv,         // a posted receive was filled
  kWrite,        // a one-sided write finished at the initiator
  kWriteImm,     // at the target: a write with immediate landed
  kConnected,    // an outbound connect() completed
  kAccepted,     // a peer connected to us; `conn` is the new connection
  kConnFailed,   // the connection failed or closed; status says why
};

struct Completion {
  OpId op = 0;
  ConnId conn = 0;
  CompletionType type = CompletionType::kSend;
  uint64_t bytes = 0;  // received length for kRecv / kWriteImm
  uint64_t tag = 0;
  uint32_t imm = 0;
  Status status;  // ok, or the cause (peer failed, truncated, remote access...)
};

// Why the engine dropped something. Indexes ConnStats::drops / DeviceStats::drops.
enum class DropReason : uint8_t {
  kTruncated, kForeign, kWrongVersion, kBadType, kBadLength,
  kBadChecksum,        // header or payload CRC32C mismatch: corrupted in flight
  kMalformed,
  kUnknownConnection,  // dst connection id not ours
  kWrongToken,         // right id, wrong per-connection tag or job token
  kDuplicate,          // PSN already received
  kBeyondWindow,       // PSN past the advertised receive window
  kOutOfOrderGbn,      // go-back-N receiver discards everything past the hole
  kNoReceiveBuffer,    // send with no posted receive and unexpected budget spent
  kRemoteAccess,       // write outside the target region
  kBadState,           // packet for a connection not in a state to take it
  kTrimmed,            // a switch cut the payload; the sender is told to resend it
  kCount
};
std::string_view drop_reason_name(DropReason r);

struct ConnStats {
  uint64_t packets_sent = 0, packets_received = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;  // payload bytes
  uint64_t data_packets_sent = 0, retransmits = 0, spurious_retransmits = 0;
  uint64_t duplicates = 0, acks_sent = 0, acks_received = 0, nacks_sent = 0, nacks_received = 0;
  uint64_t rto_count = 0, rack_losses = 0, ecn_ce_bytes = 0;
  uint64_t tlp_probes = 0;  // tail-loss probes (2 SRTT of silence), not counted as RTOs
  Nanos srtt{0}, min_rtt{0}, rttvar{0};
  uint32_t paths_in_use = 0, paths_avoided = 0;
  Bytes cwnd{0}, inflight{0};
  BitsPerSec pacing_rate{0};   // what the controller asks for; 0 = unpaced
  uint64_t cc_decreases = 0;   // window/rate cuts the controller applied
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> drops{};
};

enum class MemAccess : uint8_t { kLocal = 1, kRemoteWrite = 2 };

class Driver;  // transport/transport.h: the I/O backend behind a Device

struct DeviceParams {
  EngineParams engine;
  bool progress_thread = true;  // false: the caller drives progress()
  bool busy_poll = false;       // progress thread spins instead of sleeping
};

// One backend instance bound to a local address. Thread-safe: every method
// may be called from any thread while the progress thread runs.
class Device {
 public:
  static Result<std::unique_ptr<Device>> open(std::unique_ptr<Driver> driver, const DeviceParams& params);
  // What open() checks of the parameters (ranges, the CC spec), without a
  // driver: for edges that read settings early, like the NCCL plugin's init.
  static Status validate(const DeviceParams& params);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // "127.0.0.1:40000" or a loopback node name: what a peer passes to connect().
  std::string address() const;

  // Starts a handshake; completes with kConnected (or kConnFailed) later.
  Result<ConnId> connect(std::string_view peer, const ConnParams& params = {});
  Status close(ConnId conn);

  Result<MrKey> register_memory(void* addr, size_t len, MemAccess access);
  Status deregister_memory(MrKey key);

  Result<OpId> post_send(ConnId conn, uint64_t tag, const void* buf, size_t len);
  Result<OpId> post_recv(ConnId conn, uint64_t tag, void* buf, size_t capacity);
  // One-sided: writes `len` bytes from `buf` into the peer's region `rkey` at `roffset`.
  Result<OpId> post_write(ConnId conn, const void* buf, size_t len, MrKey rkey, uint64_t roffset,
                          const uint32_t* imm = nullptr);

  // Moves up to out.size() completions out; returns how many.
  size_t poll(std::span<Completion> out);
  // Blocks until at least one completion is ready or `timeout` passes;
  // returns whether one is ready. Without a progress thread it drives
  // progress itself while it waits.
  bool wait(Nanos timeout);
  // Drives the engine once (needed only without a progress thread).
  void progress();
  // When progress() next has timed work (driver clock); for callers that
  // drive a device without a progress thread, e.g. deterministic tests.
  Nanos next_deadline() const;

  Result<ConnStats> stats(ConnId conn) const;
  // Packets refused before any connection could be named (foreign, corrupt...).
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> device_drops() const;

  struct Impl;

 private:
  explicit Device(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft
