// Engine lifecycle and the user-facing API: connections, memory regions,
// posting operations, completions. The packet paths live in engine_rx.cc,
// engine_tx.cc and engine_loss.cc.
#include "transport/core/engine.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/log.h"
#include "congestion/fixed_window.h"
#include "congestion/registry.h"

namespace weft::core {

namespace {
using wire::kMaxMessage;
}


Connection::Connection(ConnId id_, const EngineParams& ep, const ConnParams& cp, uint32_t local_max_ops)
    : id(id_),
      recovery(cp.recovery),
      max_ops(local_max_ops),
      rtt(ep.initial_rto, ep.min_rto, ep.max_rto),
      paths(PathSet::Params{.paths = cp.recovery == Recovery::kGoBackN ? uint16_t{1} : std::max<uint16_t>(cp.paths, 1)}) {
  const uint32_t ring = std::bit_ceil(std::max<uint32_t>(ep.window_packets, 64));
  sent.resize(ring);
  acked.reset(ring);
  rcv.reset(ring);
  retx_q.resize(2 * ring);
  retx_fly.resize(2 * ring);
  // Powers of two, so slot = msg_id % size stays consistent when the 32-bit
  // message id wraps.
  ops.resize(std::bit_ceil(local_max_ops));
  rx.resize(std::bit_ceil(local_max_ops));
  peer_rwnd = ring;
  path_rack.resize(paths.size());
}

Result<std::unique_ptr<cc::CongestionControl>> Engine::make_cc(const EngineParams& p, const std::string& spec,
                                                                uint32_t mss) {
  if (spec.empty()) {
    std::unique_ptr<cc::CongestionControl> f =
        std::make_unique<cc::FixedWindow>(cc::FixedWindow::Params{.window = p.cc_window, .rate = p.cc_rate});
    return f;
  }
  cc::Context ctx;
  ctx.mss = Bytes(mss);
  ctx.link_rate = p.link_rate;
  ctx.base_rtt = p.base_rtt;
  ctx.int_telemetry = p.int_telemetry;
  ctx.trimming = p.trimming;
  return cc::make(spec, ctx);
}

Status Engine::validate(const EngineParams& p) {
  auto bad = [](std::string m) { return Status(Code::kInvalidArgument, std::move(m)); };
  if (p.mtu < wire::kDataHeaderSize + wire::kMinMss || p.mtu > wire::kMaxPacketSize)
    return bad("EngineParams::mtu=" + std::to_string(p.mtu) + " is outside [" +
               std::to_string(wire::kDataHeaderSize + wire::kMinMss) + ", " + std::to_string(wire::kMaxPacketSize) +
               "]: use the UDP payload size of your link (e.g. 1472 for 1500-byte Ethernet, 8972 for jumbo frames)");
  if (p.window_packets < 64 || p.window_packets > (1u << 20))
    return bad("EngineParams::window_packets=" + std::to_string(p.window_packets) + " is outside [64, 1048576]");
  if (p.max_ops_per_conn < 1 || p.max_ops_per_conn > (1u << 16))
    return bad("EngineParams::max_ops_per_conn=" + std::to_string(p.max_ops_per_conn) + " is outside [1, 65536]");
  if (p.min_rto.count() <= 0 || p.max_rto < p.min_rto || p.initial_rto.count() <= 0)
    return bad("RTO bounds must satisfy 0 < min_rto <= max_rto and initial_rto > 0");
  if (p.dead_peer_timeout <= p.keepalive_interval)
    return bad("EngineParams::dead_peer_timeout must exceed keepalive_interval, or a live idle peer would be declared dead");
  if (p.ack_every < 1) return bad("EngineParams::ack_every must be at least 1");
  if (p.cc_window.count() < p.mtu) return bad("EngineParams::cc_window must hold at least one MTU-sized packet");
  if (p.link_rate.count() == 0 || p.base_rtt.count() <= 0)
    return bad("EngineParams::link_rate and base_rtt must be positive: they are the hints CC derives its defaults from");
  // Build one controller now, so a bad spec is refused at open, not later.
  if (auto c = make_cc(p, p.cc, p.mtu - static_cast<uint32_t>(wire::kDataHeaderSize)); !c)
    return Status(c.status().code(), "EngineParams::cc=\"" + p.cc + "\": " + c.status().message());
  return Status::ok();
}

Engine::Engine(const EngineParams& params, uint64_t seed)
    : p_(params), mss_(params.mtu - static_cast<uint32_t>(wire::kDataHeaderSize)), rng_(seed | 1) {
  regions_.reserve(64);
}

Engine::~Engine() = default;

uint32_t Engine::random32() {
  // xorshift64*: deterministic per seed, good enough for nonces and spraying.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return static_cast<uint32_t>((rng_ * 0x2545F4914F6CDD1Dull) >> 32);
}

std::string Engine::name(const NetAddr& a) const { return namer_ ? namer_(a) : std::string("peer"); }

void Engine::drop(DropReason r, Connection* c) {
  const auto i = static_cast<size_t>(r);
  if (c != nullptr)
    c->stats.drops[i]++;
  else
    drops_[i]++;
}

Connection* Engine::find(ConnId id) {
  if (id == 0 || id > conns_.size()) return nullptr;
  return conns_[id - 1].get();
}
const Connection* Engine::find(ConnId id) const {
  if (id == 0 || id > conns_.size()) return nullptr;
  return conns_[id - 1].get();
}

Result<Connection*> Engine::usable_conn(ConnId id, const char* what) {
  Connection* c = find(id);
  if (c == nullptr)
    return Status(Code::kNotFound, std::string(what) + ": connection " + std::to_string(id) +
                                       " does not exist on this device (use the id connect() or kAccepted returned)");
  if (c->state == ConnState::kClosed || c->state == ConnState::kFailed || c->state == ConnState::kClosing)
    return c->failure;
  return c;
}

void Engine::set_state(Connection& c, ConnState s) {
  WEFT_LOG(kDebug, "conn {} ({}): state {} -> {}", c.id, c.peer_name, static_cast<int>(c.state), static_cast<int>(s));
  c.state = s;
  if (s == ConnState::kClosed || s == ConnState::kFailed) {
    c.rto_deadline = c.rack_deadline = c.ack_deadline = Nanos::max();
    c.ack_owed = c.ack_now = false;
    c.nacks.clear();
  }
}

void Engine::free_unexpected(Unexpected& u) { unexpected_used_ -= std::min<uint64_t>(unexpected_used_, u.msg_len); }

void Engine::flush_ops(Connection& c, const Status& why) {
  for (uint32_t m = c.op_head; m != c.op_tail; ++m) {
    SendOp& op = c.op(m);
    if (op.kind == OpKind::kNone) continue;
    if (!op.completed)
      complete({.op = op.id, .conn = c.id, .type = op.kind == OpKind::kSend ? CompletionType::kSend : CompletionType::kWrite,
                .tag = op.kind == OpKind::kSend ? op.key : 0, .status = why});
    op = SendOp{};
  }
  c.op_head = c.op_tx = c.op_tail;
  for (auto& [key, r] : c.posted)
    complete({.op = r.id, .conn = c.id, .type = CompletionType::kRecv, .tag = key.tag, .status = why});
  c.posted.clear();
  for (RxMsg& m : c.rx) {
    if (m.kind == RxMsg::Kind::kRecv)
      complete({.op = m.recv_op, .conn = c.id, .type = CompletionType::kRecv, .tag = m.tag, .status = why});
    m = RxMsg{};
  }
  for (auto& [key, u] : c.unexpected) free_unexpected(*u);
  c.unexpected.clear();
  c.retx_head = c.retx_tail = 0;
  c.fly_head = c.fly_tail = 0;
  c.inflight = Bytes(0);
}

void Engine::fail(Nanos now, Connection& c, Status why) {
  if (c.state == ConnState::kFailed || c.state == ConnState::kClosed) return;
  WEFT_LOG(kWarn, "connection {} to {} failed: {}", c.id, c.peer_name, why.message());
  c.failure = why;
  flush_ops(c, why);
  set_state(c, ConnState::kFailed);
  complete({.conn = c.id, .type = CompletionType::kConnFailed, .status = why});
}

Result<ConnId> Engine::connect(Nanos now, const NetAddr& peer, const ConnParams& params) {
  if (params.paths == 0 || params.paths > p_.max_paths)
    return Status(Code::kInvalidArgument, "ConnParams::paths=" + std::to_string(params.paths) + " is outside [1, " +
                                              std::to_string(p_.max_paths) + "]");
  auto cc = make_cc(p_, params.cc.empty() ? p_.cc : params.cc, mss_);
  if (!cc) return Status(cc.status().code(), "ConnParams::cc=\"" + params.cc + "\": " + cc.status().message());
  const ConnId id = static_cast<ConnId>(conns_.size() + 1);
  auto c = std::make_unique<Connection>(id, p_, params, p_.max_ops_per_conn);
  c->cc = std::move(*cc);
  c->credit_mode = c->cc->needs().receiver_credits;
  c->outbound = true;
  c->peer = peer;
  c->peer_name = name(peer);
  c->local_nonce = random32();
  c->mss = mss_ - (c->credit_mode ? static_cast<uint32_t>(wire::kCreditReqSize) : 0);
  c->handshake_started = now;
  c->handshake_next = now;
  c->last_rx = c->last_tx = now;
  c->failure = Status(Code::kClosed, "connection to " + c->peer_name + " is closed");
  conns_.push_back(std::move(c));
  return id;
}

Status Engine::close(Nanos now, ConnId id) {
  Connection* c = find(id);
  if (c == nullptr) return Status(Code::kNotFound, "close: connection " + std::to_string(id) + " does not exist");
  if (c->state == ConnState::kClosed || c->state == ConnState::kFailed || c->state == ConnState::kClosing)
    return Status::ok();  // closing twice, or after a failure, is harmless cleanup
  Status why(Code::kClosed, "connection to " + c->peer_name + " was closed locally");
  c->failure = why;
  flush_ops(*c, why);
  if (c->state == ConnState::kConnecting) {
    set_state(*c, ConnState::kClosed);
    return Status::ok();
  }
  set_state(*c, ConnState::kClosing);
  c->handshake_next = now;
  c->handshake_tries = 0;
  c->rto_deadline = c->rack_deadline = Nanos::max();
  return Status::ok();
}

Result<MrKey> Engine::register_memory(void* addr, size_t len, MemAccess access) {
  if (addr == nullptr) return Status(Code::kInvalidArgument, "register_memory: null address: pass the buffer to register");
  if (len == 0) return Status(Code::kInvalidArgument, "register_memory: zero length: a region must hold at least one byte");
  auto* a = static_cast<uint8_t*>(addr);
  for (size_t i = 0; i < regions_.size(); ++i) {
    const Region& r = regions_[i];
    if (!r.live) continue;
    if (a < r.addr + r.len && r.addr < a + len)
      return Status(Code::kAlreadyExists,
                    "register_memory: [" + std::to_string(reinterpret_cast<uintptr_t>(a)) + ", +" + std::to_string(len) +
                        ") overlaps region key " + std::to_string((uint32_t{r.generation} << 16) | (i + 1)) +
                        ": deregister it first or register one region that covers both");
  }
  size_t idx = regions_.size();
  for (size_t i = 0; i < regions_.size(); ++i)
    if (!regions_[i].live) { idx = i; break; }
  if (idx == regions_.size()) {
    if (idx >= 0xFFFF)
      return Status(Code::kResourceExhausted, "register_memory: 65535 regions are registered: deregister unused ones");
    regions_.push_back({});
  }
  Region& r = regions_[idx];
  r.addr = a;
  r.len = len;
  r.access = access;
  r.generation = static_cast<uint16_t>(r.generation + 1);
  r.live = true;
  return static_cast<MrKey>((uint32_t{r.generation} << 16) | (idx + 1));
}

Status Engine::deregister_memory(MrKey key) {
  const size_t idx = (key & 0xFFFF);
  if (idx == 0 || idx > regions_.size() || !regions_[idx - 1].live || regions_[idx - 1].generation != (key >> 16))
    return Status(Code::kNotFound, "deregister_memory: key " + std::to_string(key) + " is not a registered region");
  regions_[idx - 1].live = false;
  return Status::ok();
}

namespace {
Status check_buffer(const char* what, const void* buf, size_t len) {
  if (buf == nullptr && len > 0)
    return Status(Code::kInvalidArgument, std::string(what) + ": null buffer with length " + std::to_string(len));
  if (len > kMaxMessage)
    return Status(Code::kInvalidArgument, std::string(what) + ": " + std::to_string(len) +
                                              " bytes exceeds the 1 TiB message limit: split it into several operations");
  return Status::ok();
}

Status ops_full(const Connection& c, uint32_t limit) {
  return Status(Code::kResourceExhausted,
                std::to_string(limit) + " operations already in flight on the connection to " + c.peer_name +
                    ": poll completions before posting more, or raise EngineParams::max_ops_per_conn");
}
}  // namespace


Result<SendOp*> Engine::new_op(ConnId id, OpKind kind, const void* buf, size_t len) {
  const char* what = kind == OpKind::kSend ? "post_send" : "post_write";
  WEFT_RETURN_IF_ERROR(check_buffer(what, buf, len));
  auto cr = usable_conn(id, what);
  if (!cr) return cr.status();
  Connection& c = **cr;
  const uint32_t limit = std::min<uint32_t>(c.max_ops, static_cast<uint32_t>(c.ops.size()));
  if (c.op_tail - c.op_head >= limit) return ops_full(c, limit);
  SendOp& op = c.op(c.op_tail);
  op = SendOp{};
  op.kind = kind;
  op.id = next_op_id();
  op.msg_id = c.op_tail++;
  op.buf = static_cast<const uint8_t*>(buf);
  op.len = len;
  c.unsent_bytes += len;
  // Provisional: fixed when packetizing starts, once the peer's MSS is known.
  op.packets = packets_for(len, c.mss);
  return &op;
}

Result<OpId> Engine::post_send(Nanos now, ConnId id, uint64_t tag, const void* buf, size_t len) {
  auto r = new_op(id, OpKind::kSend, buf, len);
  if (!r) return r.status();
  SendOp& op = **r;
  op.key = tag;
  op.aux = find(id)->send_tag_seq[tag]++;
  return op.id;
}

Result<OpId> Engine::post_write(Nanos now, ConnId id, const void* buf, size_t len, MrKey rkey, uint64_t roffset,
                                const uint32_t* imm) {
  auto r = new_op(id, OpKind::kWrite, buf, len);
  if (!r) return r.status();
  SendOp& op = **r;
  op.key = rkey;
  op.aux = roffset;
  op.has_imm = imm != nullptr;
  op.imm = imm ? *imm : 0;
  return op.id;
}

Result<OpId> Engine::post_recv(Nanos now, ConnId id, uint64_t tag, void* buf, size_t capacity) {
  WEFT_RETURN_IF_ERROR(check_buffer("post_recv", buf, capacity));
  auto cr = usable_conn(id, "post_recv");
  if (!cr) return cr.status();
  Connection& c = **cr;
  const OpId op = next_op_id();
  const TagSeqKey key{tag, c.recv_tag_seq[tag]++};
  auto* dst = static_cast<uint8_t*>(buf);
  if (auto it = c.unexpected.find(key); it != c.unexpected.end()) {
    Unexpected& u = *it->second;
    const uint64_t n = std::min<uint64_t>(capacity, u.msg_len);
    if (n > 0) std::memcpy(dst, u.data.get(), n);
    if (u.complete) {
      Status st;
      if (u.msg_len > capacity)
        st = Status(Code::kTruncated, "message of " + std::to_string(u.msg_len) + " bytes (tag " + std::to_string(tag) +
                                          ") arrived for a receive of " + std::to_string(capacity) +
                                          " bytes: post a receive at least as large as the message");
      complete({.op = op, .conn = c.id, .type = CompletionType::kRecv, .bytes = u.msg_len, .tag = tag, .status = st});
    } else {
      // Still arriving: point the rest of the message at the user's buffer.
      RxMsg& m = c.rx[u.slot];
      m.kind = RxMsg::Kind::kRecv;
      m.dest = dst;
      m.capacity = capacity;
      m.recv_op = op;
    }
    free_unexpected(u);
    c.unexpected.erase(it);
    return op;
  }
  c.posted.emplace(key, PostedRecv{op, dst, capacity});
  return op;
}

size_t Engine::poll(std::span<Completion> out) {
  size_t n = 0;
  while (n < out.size() && !completions_.empty()) {
    out[n++] = std::move(completions_.front());
    completions_.pop_front();
  }
  return n;
}

Result<ConnStats> Engine::stats(Nanos now, ConnId id) const {
  const Connection* c = find(id);
  if (c == nullptr) return Status(Code::kNotFound, "stats: connection " + std::to_string(id) + " does not exist");
  ConnStats s = c->stats;
  s.srtt = c->rtt.srtt();
  s.min_rtt = c->rtt.min_rtt();
  s.rttvar = c->rtt.rttvar();
  s.paths_in_use = c->paths.in_use(now);
  s.paths_avoided = static_cast<uint32_t>(c->paths.avoid_events());
  s.cwnd = c->cc->cwnd();
  s.pacing_rate = c->cc->pacing_rate();
  s.cc_decreases = c->cc->counters().decreases;
  s.inflight = c->inflight;
  return s;
}

}  // namespace weft::core

namespace weft {
std::string_view drop_reason_name(DropReason r) {
  switch (r) {
    case DropReason::kTruncated: return "truncated";
    case DropReason::kForeign: return "foreign";
    case DropReason::kWrongVersion: return "wrong_version";
    case DropReason::kBadType: return "bad_type";
    case DropReason::kBadLength: return "bad_length";
    case DropReason::kBadChecksum: return "bad_checksum";
    case DropReason::kMalformed: return "malformed";
    case DropReason::kUnknownConnection: return "unknown_connection";
    case DropReason::kWrongToken: return "wrong_token";
    case DropReason::kDuplicate: return "duplicate";
    case DropReason::kBeyondWindow: return "beyond_window";
    case DropReason::kOutOfOrderGbn: return "out_of_order_gbn";
    case DropReason::kNoReceiveBuffer: return "no_receive_buffer";
    case DropReason::kRemoteAccess: return "remote_access";
    case DropReason::kBadState: return "bad_state";
    case DropReason::kTrimmed: return "trimmed";
    case DropReason::kCount: break;
  }
  return "unknown";
}
}  // namespace weft
