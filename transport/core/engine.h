// transport/core/engine.h — weft's reliable protocol as a sans-I/O state machine.
//
// A driver feeds it received datagrams and timer ticks with the current time,
// asks it for packets to send, and sleeps until next_deadline(). Users post
// operations and poll completions. No sockets, threads or clocks inside: the
// loopback driver, the UDP driver and the simulator all run this same object.
//
// Threading: single-threaded. The Device (transport/device.cc) serializes
// calls from user threads and its progress thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "congestion/credit.h"
#include "transport/core/connection.h"
#include "transport/core/netaddr.h"
#include "weft/status.h"
#include "weft/transport.h"

namespace weft::core {

using DropCounters = std::array<uint64_t, static_cast<size_t>(DropReason::kCount)>;

class Engine {
 public:
  // `seed` makes nonces and any randomness reproducible in tests.
  explicit Engine(const EngineParams& params, uint64_t seed = 1);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Names peers in error messages ("127.0.0.1:4000"); the driver knows how.
  void set_peer_namer(std::function<std::string(const NetAddr&)> f) { namer_ = std::move(f); }
  static Status validate(const EngineParams& p);
  // The controller for one connection: `spec` through the registry, or the
  // fixed window when it is empty.
  static Result<std::unique_ptr<cc::CongestionControl>> make_cc(const EngineParams& p, const std::string& spec,
                                                                uint32_t mss);

  // ---- driver side ----
  // `ce`: the datagram arrived with ECN Congestion Experienced.
  void on_receive(Nanos now, std::span<const uint8_t> datagram, const NetAddr& from, bool ce = false);
  void on_timer(Nanos now);
  // Fills up to out.size() packets, returns how many. Payload pointers stay
  // valid until the next call into the engine.
  size_t poll_transmit(Nanos now, std::span<TxPacket> out);
  // When on_timer or poll_transmit next has work; Nanos::max() if never.
  Nanos next_deadline() const;

  // ---- user side ----
  Result<ConnId> connect(Nanos now, const NetAddr& peer, const ConnParams& params);
  Status close(Nanos now, ConnId conn);
  Result<MrKey> register_memory(void* addr, size_t len, MemAccess access);
  Status deregister_memory(MrKey key);
  Result<OpId> post_send(Nanos now, ConnId conn, uint64_t tag, const void* buf, size_t len);
  Result<OpId> post_recv(Nanos now, ConnId conn, uint64_t tag, void* buf, size_t capacity);
  Result<OpId> post_write(Nanos now, ConnId conn, const void* buf, size_t len, MrKey rkey, uint64_t roffset,
                          const uint32_t* imm);
  size_t poll(std::span<Completion> out);
  size_t pending_completions() const { return completions_.size(); }

  Result<ConnStats> stats(Nanos now, ConnId conn) const;
  const DropCounters& device_drops() const { return drops_; }
  const EngineParams& params() const { return p_; }
  uint32_t mss() const { return mss_; }

 private:
  struct Region {
    uint8_t* addr = nullptr;
    size_t len = 0;
    MemAccess access = MemAccess::kLocal;
    uint16_t generation = 0;
    bool live = false;
  };

  // receive path (engine_rx.cc)
  void on_handshake(Nanos now, const wire::Packet& pkt, const NetAddr& from);
  void on_data(Nanos now, Connection& c, const wire::Packet& pkt, bool ce);
  // Placement checks the payload CRC while copying; a corrupt payload is
  // dropped after the copy (it only touched bytes no valid packet has
  // filled yet, and its PSN stays unreceived, so the resend overwrites it).
  enum class Placed { kOk, kRefused, kCorrupt };
  Placed place_send(Nanos now, Connection& c, const wire::Packet& pkt);
  Placed place_write(Nanos now, Connection& c, const wire::Packet& pkt);
  void finish_rx_msg(Connection& c, RxMsg& m);
  void on_ack(Nanos now, Connection& c, const wire::Packet& pkt);
  void on_nack(Nanos now, Connection& c, const wire::Packet& pkt);
  void on_close(Nanos now, Connection& c, const wire::Packet& pkt);
  void note_ack_owed(Nanos now, Connection& c, const wire::Packet& pkt, bool out_of_order);

  // reliability (engine_loss.cc)
  void mark_acked(Nanos now, Connection& c, uint64_t psn, uint32_t& newly, Bytes& bytes, Nanos& latest_xmit);
  void detect_losses(Nanos now, Connection& c);
  void mark_lost(Nanos now, Connection& c, SentPacket& r, bool count_rack);
  void push_retx(Connection& c, SentPacket& r);
  void on_rto(Nanos now, Connection& c);
  void gbn_rewind(Nanos now, Connection& c, uint64_t from);
  void arm_rto(Nanos now, Connection& c);
  void advance_una(Connection& c);
  void maybe_complete_ops(Connection& c);

  // transmit path (engine_tx.cc)
  size_t transmit_conn(Nanos now, Connection& c, std::span<TxPacket> out);
  bool build_data(Nanos now, Connection& c, TxPacket& tx);
  bool build_retx(Nanos now, Connection& c, TxPacket& tx);
  void fill_data(Nanos now, Connection& c, SentPacket& r, const SendOp& op, TxPacket& tx, bool retx);
  void build_ack(Nanos now, Connection& c, TxPacket& tx);
  void build_control(Connection& c, wire::Packet& pkt, TxPacket& tx, uint16_t entropy);
  void fill_handshake(const Connection& c, wire::HandshakeKind kind, wire::Packet& pkt) const;
  Nanos conn_deadline(const Connection& c) const;

  // lifecycle (engine.cc)
  Result<SendOp*> new_op(ConnId id, OpKind kind, const void* buf, size_t len);
  Connection* find(ConnId id);
  const Connection* find(ConnId id) const;
  Result<Connection*> usable_conn(ConnId id, const char* what);
  void set_state(Connection& c, ConnState s);
  void fail(Nanos now, Connection& c, Status why);
  void flush_ops(Connection& c, const Status& why);
  void complete(Completion&& cpl) { completions_.push_back(std::move(cpl)); }
  OpId next_op_id() { return ++op_seq_; }
  uint32_t random32();
  std::string name(const NetAddr& a) const;
  void drop(DropReason r, Connection* c = nullptr);
  void send_stateless_reject(const NetAddr& to, const wire::Packet& init, wire::RejectReason why);
  void free_unexpected(Unexpected& u);
  void send_probe(Nanos now, Connection& c);  // engine_loss.cc
  // In flight -> lost and queued for resending, with no loss signal to CC or
  // the path scorer (mark_lost adds those). False if it was not in flight.
  bool requeue(Connection& c, SentPacket& r);
  // How far ahead of its pacing schedule a connection may send (the burst).
  Nanos pacing_slack(const Connection& c) const;

  EngineParams p_;
  uint32_t mss_;
  uint64_t rng_;
  OpId op_seq_ = 0;
  std::vector<std::unique_ptr<Connection>> conns_;  // ConnId = index + 1
  std::unordered_map<NetAddr, std::unordered_map<uint32_t, ConnId>, NetAddrHash> by_peer_;
  std::vector<Region> regions_;  // MrKey = generation << 16 | (index + 1)
  std::deque<Completion> completions_;
  // Replies to handshakes we refused: no connection exists to hold them.
  std::deque<std::pair<NetAddr, wire::Packet>> stateless_;
  uint64_t unexpected_used_ = 0;
  size_t tx_cursor_ = 0;  // round-robin over connections
  DropCounters drops_{};
  // Receiver side of credit-based CC: one pacer for every sender that asks
  // (senders numbered by ConnId - 1), made on the first request.
  std::unique_ptr<cc::CreditGranter> granter_;
  static constexpr uint32_t kMaxCreditSenders = 4096;
  void on_credit_request(Connection& c, uint64_t cumulative);
  size_t poll_grants(Nanos now, std::span<TxPacket> out);
  std::function<std::string(const NetAddr&)> namer_;
};

}  // namespace weft::core
