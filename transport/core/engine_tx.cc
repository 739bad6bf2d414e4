// The transmit path: control packets first (handshake, close, NACK, ACK),
// then retransmissions, then new data, within the congestion window, the
// peer's receive window and the pacing rate. Also the timers.
#include <algorithm>

#include "common/log.h"
#include "transport/core/engine.h"

namespace weft::core {

namespace {
uint64_t stamp(Nanos now) { return static_cast<uint64_t>(now.count()) + 1; }  // 0 on the wire = none
}

void Engine::build_control(Connection& c, wire::Packet& pkt, TxPacket& tx, uint16_t entropy) {
  pkt.h.dst_conn = c.peer_conn;
  pkt.h.conn_tag = c.tag;
  pkt.h.entropy = entropy;
  tx.peer = c.peer;
  tx.entropy = entropy;
  tx.ecn = kEcnNotEct;
  tx.payload = nullptr;
  tx.payload_len = 0;
  tx.header_len = static_cast<uint16_t>(wire::encode(pkt, {}, tx.header));
  c.stats.packets_sent++;
}

void Engine::build_ack(Nanos now, Connection& c, TxPacket& tx) {
  wire::Packet pkt;
  pkt.h.type = wire::Type::kAck;
  pkt.h.ts_val = stamp(now);
  pkt.h.ts_ecr = c.echo_ts;
  wire::AckExt& a = pkt.ack;
  const uint64_t base = c.rcv.base();
  a.cum_ack = base;
  a.rwnd = c.rcv.capacity();
  a.ce_bytes = c.ce_bytes;
  if (c.recovery == Recovery::kSelectiveRepeat) {
    // The lowest ranges (they decide what gets resent), plus the range that
    // holds the packet that triggered this ACK (it drives RACK) if it is higher.
    uint64_t p = base;
    while (a.nranges < wire::kMaxSackRanges - 1 && p < c.rcv_highest) {
      const uint64_t s = c.rcv.find(p, c.rcv_highest, true);
      if (s >= c.rcv_highest) break;
      const uint64_t e = c.rcv.find(s, c.rcv_highest, false);
      a.ranges[a.nranges++] = {static_cast<uint32_t>(s - base), static_cast<uint32_t>(e - s)};
      p = e;
    }
    const uint64_t t = c.ack_trigger_psn;
    if (t >= p && c.rcv.in_window(t) && c.rcv.test(t)) {
      const uint64_t e = c.rcv.find(t, c.rcv_highest, false);
      a.ranges[a.nranges++] = {static_cast<uint32_t>(t - base), static_cast<uint32_t>(e - t)};
    }
  }
  a.int_hops = c.echo_int_hops;
  for (size_t i = 0; i < c.echo_int_hops; ++i) a.int_records[i] = c.echo_int[i];
  c.echo_int_hops = 0;
  build_control(c, pkt, tx, c.recovery == Recovery::kGoBackN ? 0 : c.echo_entropy);
  c.stats.acks_sent++;
  c.ack_owed = c.ack_now = false;
  c.unacked_rx = 0;
  c.ack_deadline = Nanos::max();
}

void Engine::fill_data(Nanos now, Connection& c, SentPacket& r, const SendOp& op, TxPacket& tx, bool retx) {
  wire::Packet pkt;
  pkt.h.type = wire::Type::kData;
  pkt.h.flags = static_cast<uint8_t>((op.has_imm ? wire::flag::kImm : 0) | (r.cancelled ? wire::flag::kCancel : 0) |
                                     (retx ? wire::flag::kRetx | wire::flag::kAckNow : 0));
  pkt.h.dst_conn = c.peer_conn;
  pkt.h.conn_tag = c.tag;
  pkt.h.psn = r.psn;
  pkt.h.ts_val = stamp(now);
  pkt.h.entropy = r.path;
  wire::DataExt& d = pkt.data;
  d.msg_id = r.msg_id;
  d.op = op.kind == OpKind::kSend ? wire::Op::kSend : wire::Op::kWrite;
  d.key = op.key;
  d.msg_len = op.len;
  d.offset = r.offset;
  d.aux = op.aux;
  d.imm = op.imm;
  if (c.credit_mode) {
    // Ask for what is left to send (new data and queued resends); the
    // receiver's pacer grants it in turn with every other sender's.
    const uint64_t resend = (c.retx_tail - c.retx_head) * uint64_t{c.mss};
    pkt.h.flags |= wire::flag::kCreditReq;
    d.credit_req = c.cc->credit_request(Bytes(c.unsent_bytes + resend)).count();
  }
  tx.peer = c.peer;
  tx.entropy = r.path;
  tx.ecn = kEcnEct0;  // ECN-capable, so switches mark instead of dropping
  tx.payload = r.cancelled ? nullptr : op.buf + r.offset;
  tx.payload_len = r.cancelled ? 0 : r.len;
  tx.header_len = static_cast<uint16_t>(
      wire::encode(pkt, std::span<const uint8_t>(tx.payload, tx.payload_len), tx.header));
  c.stats.packets_sent++;
  c.stats.data_packets_sent++;
  c.stats.bytes_sent += tx.payload_len;
  c.inflight += Bytes(r.len);
  c.paths.on_sent(r.path);
  if (c.rto_deadline == Nanos::max()) arm_rto(now, c);
  c.cc->on_send({.now = now, .bytes = Bytes(r.len), .inflight = c.inflight, .path = r.path, .retransmit = retx});
}

void Engine::fill_handshake(const Connection& c, wire::HandshakeKind kind, wire::Packet& pkt) const {
  pkt.h.type = wire::Type::kHandshake;
  pkt.hs.kind = kind;
  pkt.hs.mode = c.recovery == Recovery::kGoBackN ? 1 : 0;
  pkt.hs.src_conn = c.id;
  pkt.hs.job_token = p_.job_token;
  pkt.hs.nonce = c.local_nonce;
  pkt.hs.mss = mss_;
  pkt.hs.rwnd = c.rcv.capacity();
  pkt.hs.max_ops = p_.max_ops_per_conn;
}

bool Engine::build_retx(Nanos now, Connection& c, TxPacket& tx) {
  while (c.retx_head != c.retx_tail) {
    const uint64_t psn = c.retx_q[c.retx_head++ % c.retx_q.size()];
    if (psn < c.snd_una || psn >= c.snd_nxt) continue;
    SentPacket& r = c.rec(psn);
    if (r.psn != psn || !r.queued) continue;
    r.queued = false;
    if (r.state != PktState::kLost) continue;
    const SendOp& op = c.op(r.msg_id);
    if (op.kind == OpKind::kNone || op.msg_id != r.msg_id) r.cancelled = true;  // the op is gone
    r.state = PktState::kInflight;
    r.retx++;
    r.xmit_ts = now;
    if (c.recovery == Recovery::kSelectiveRepeat) {
      r.path = c.paths.alternate(now, r.path);  // try another path than the one that lost it
      c.retx_fly[c.fly_tail++ % c.retx_fly.size()] = psn;
      if (c.fly_tail - c.fly_head > c.retx_fly.size()) c.fly_head = c.fly_tail - c.retx_fly.size();
    }
    c.stats.retransmits++;
    fill_data(now, c, r, op, tx, true);
    return true;
  }
  return false;
}

bool Engine::build_data(Nanos now, Connection& c, TxPacket& tx) {
  if (c.snd_nxt - c.snd_una >= c.sent.size()) return false;      // our scoreboard is full
  if (c.snd_nxt >= c.peer_cum + c.peer_rwnd) return false;        // the peer's window is full
  while (c.op_tx != c.op_tail) {
    const SendOp& op = c.op(c.op_tx);
    if (op.kind != OpKind::kNone && op.packets_sent < op.packets) break;
    ++c.op_tx;
  }
  if (c.op_tx == c.op_tail) return false;
  // Ops posted while connecting were admitted against our own limit; the
  // peer's may be smaller, and its message table must never see two live
  // messages in one slot.
  if (c.op_tx - c.op_head >= c.max_ops) return false;
  SendOp& op = c.op(c.op_tx);
  if (op.packets_sent == 0) op.packets = packets_for(op.len, c.mss);  // the handshake may have lowered the MSS
  SentPacket& r = c.rec(c.snd_nxt);
  r = SentPacket{};
  r.psn = c.snd_nxt++;
  r.xmit_ts = now;
  r.offset = op.next_offset;
  r.msg_id = op.msg_id;
  r.len = static_cast<uint32_t>(std::min<uint64_t>(c.mss, op.len - op.next_offset));
  r.path = c.paths.next(now);
  r.state = PktState::kInflight;
  op.next_offset += r.len;
  op.packets_sent++;
  c.unsent_bytes -= std::min<uint64_t>(c.unsent_bytes, r.len);
  fill_data(now, c, r, op, tx, false);
  return true;
}

size_t Engine::transmit_conn(Nanos now, Connection& c, std::span<TxPacket> out) {
  size_t n = 0;
  auto room = [&] { return n < out.size(); };
  wire::Packet pkt;
  switch (c.state) {
    case ConnState::kConnecting:
      if (c.outbound && now >= c.handshake_next && room()) {
        fill_handshake(c, wire::HandshakeKind::kInit, pkt);
        pkt.h.ts_val = stamp(now);
        build_control(c, pkt, out[n++], 0);
        c.handshake_tries++;
        c.handshake_next = now + std::min(p_.initial_rto * (int64_t{1} << std::min<uint32_t>(c.handshake_tries, 6)), p_.max_rto);
      }
      break;
    case ConnState::kClosing:
      if (now >= c.handshake_next && room()) {
        pkt.h.type = wire::Type::kClose;
        pkt.close.kind = wire::CloseKind::kClose;
        build_control(c, pkt, out[n++], 0);
        c.handshake_tries++;
        c.handshake_next = now + std::max(c.rtt.rto(), p_.initial_rto);
      }
      break;
    case ConnState::kClosed:
    case ConnState::kFailed:
      if (c.owe_close_ack && room()) {
        pkt.h.type = wire::Type::kClose;
        pkt.close.kind = wire::CloseKind::kCloseAck;
        build_control(c, pkt, out[n++], 0);
        c.owe_close_ack = false;
      }
      break;
    case ConnState::kEstablished: {
      if (c.owe_accept && room()) {
        fill_handshake(c, wire::HandshakeKind::kAccept, pkt);
        build_control(c, pkt, out[n++], 0);
        c.owe_accept = false;
      }
      while (!c.nacks.empty() && room()) {
        const PendingNack& pn = c.nacks.front();
        wire::Packet k;
        k.h.type = wire::Type::kNack;
        k.h.ts_val = stamp(now);
        k.nack.psn = pn.psn;
        k.nack.msg_id = pn.msg_id;
        k.nack.reason = pn.reason;
        k.nack.cum_ack = c.rcv.base();
        build_control(c, k, out[n++], c.recovery == Recovery::kGoBackN ? 0 : c.echo_entropy);
        c.stats.nacks_sent++;
        c.nacks.pop_front();
      }
      if (c.ack_owed && (c.ack_now || now >= c.ack_deadline) && room()) build_ack(now, c, out[n++]);
      const BitsPerSec pace = c.cc->pacing_rate();
      const Nanos slack = pacing_slack(c);
      while (room()) {
        if (now + slack < c.next_send_ts) break;
        const Bytes cwnd = c.cc->cwnd();
        if (c.inflight.count() > 0 && c.inflight + Bytes(c.mss) > cwnd) break;
        const bool sent = c.retx_pending() ? build_retx(now, c, out[n]) || build_data(now, c, out[n])
                                           : build_data(now, c, out[n]);
        if (!sent) break;
        // Never slower than one packet per RTO: a controller that asks for
        // less (a delay target below this host's real RTT) would otherwise
        // look like a hang; at one per RTO the timer's logic still holds.
        if (pace.count() > 0)
          c.next_send_ts = std::max(c.next_send_ts, now) + std::min(transmit_time(Bytes(out[n].size()), pace), c.rtt.rto());
        ++n;
      }
      if (n == 0 && now - c.last_tx >= p_.keepalive_interval && room()) {
        pkt.h.type = wire::Type::kKeepalive;
        pkt.h.ts_val = stamp(now);
        build_control(c, pkt, out[n++], 0);
      }
      break;
    }
  }
  if (n > 0) c.last_tx = now;
  return n;
}

// Pacing with a burst allowance: up to pacing_burst may leave back to back
// (one GSO batch), then the CC rate spaces packets.
Nanos Engine::pacing_slack(const Connection& c) const {
  const BitsPerSec pace = c.cc->pacing_rate();
  return pace.count() > 0 ? transmit_time(p_.pacing_burst, pace) : Nanos(0);
}

size_t Engine::poll_grants(Nanos now, std::span<TxPacket> out) {
  size_t n = 0;
  while (n < out.size()) {
    const auto g = granter_->poll(now);
    if (!g) break;
    Connection* c = find(static_cast<ConnId>(g->sender + 1));
    if (c == nullptr || c->state != ConnState::kEstablished) continue;  // gone: its grant lapses
    wire::Packet pkt;
    pkt.h.type = wire::Type::kCredit;
    pkt.h.ts_val = stamp(now);
    pkt.credit.credit = g->credit.count();
    build_control(*c, pkt, out[n++], c->echo_entropy);
  }
  return n;
}

size_t Engine::poll_transmit(Nanos now, std::span<TxPacket> out) {
  size_t n = 0;
  while (!stateless_.empty() && n < out.size()) {
    auto& [to, pkt] = stateless_.front();
    TxPacket& tx = out[n++];
    tx.peer = to;
    tx.entropy = 0;
    tx.ecn = kEcnNotEct;
    tx.payload = nullptr;
    tx.payload_len = 0;
    tx.header_len = static_cast<uint16_t>(wire::encode(pkt, {}, tx.header));
    stateless_.pop_front();
  }
  if (granter_ && n < out.size()) n += poll_grants(now, out.subspan(n));
  const size_t count = conns_.size();
  for (size_t i = 0; i < count && n < out.size(); ++i) {
    Connection& c = *conns_[(tx_cursor_ + i) % count];
    n += transmit_conn(now, c, out.subspan(n));
  }
  if (count > 0) tx_cursor_ = (tx_cursor_ + 1) % count;
  return n;
}

void Engine::on_timer(Nanos now) {
  for (auto& cp : conns_) {
    Connection& c = *cp;
    switch (c.state) {
      case ConnState::kConnecting:
        if (c.outbound && now - c.handshake_started >= p_.handshake_timeout)
          fail(now, c, Status(Code::kPeerFailed, "no answer from " + c.peer_name + " to the connection handshake within " +
                                                     std::to_string(p_.handshake_timeout.count() / 1000000) +
                                                     " ms: check that weft is listening at that address and port, "
                                                     "and that firewalls pass UDP"));
        break;
      case ConnState::kClosing:
        if (c.handshake_tries >= 5 && now >= c.handshake_next) set_state(c, ConnState::kClosed);
        break;
      case ConnState::kEstablished:
        if (now - c.last_rx >= p_.dead_peer_timeout) {
          fail(now, c, Status(Code::kPeerFailed, "peer " + c.peer_name + " silent for " +
                                                     std::to_string((now - c.last_rx).count() / 1000000) +
                                                     " ms (dead_peer_timeout " +
                                                     std::to_string(p_.dead_peer_timeout.count() / 1000000) +
                                                     " ms): the process may have died or the path is down; "
                                                     "pending operations were failed"));
          break;
        }
        if (now >= c.rto_deadline) on_rto(now, c);
        if (now >= c.rack_deadline) detect_losses(now, c);
        if (c.ack_owed && now >= c.ack_deadline) c.ack_now = true;
        break;
      case ConnState::kClosed:
      case ConnState::kFailed:
        break;
    }
  }
}

Nanos Engine::conn_deadline(const Connection& c) const {
  const Nanos now0{0};
  switch (c.state) {
    case ConnState::kConnecting:
      if (!c.outbound) return Nanos::max();
      return std::min(c.handshake_next, c.handshake_started + p_.handshake_timeout);
    case ConnState::kClosing: return c.handshake_next;
    case ConnState::kClosed:
    case ConnState::kFailed: return c.owe_close_ack ? now0 : Nanos::max();
    case ConnState::kEstablished: break;
  }
  if (c.owe_accept || !c.nacks.empty() || c.ack_now || c.owe_close_ack) return now0;
  Nanos d = std::min({c.rto_deadline, c.rack_deadline, c.last_rx + p_.dead_peer_timeout,
                      c.last_tx + p_.keepalive_interval});
  if (c.ack_owed) d = std::min(d, c.ack_deadline);
  const bool window_open = c.inflight.count() == 0 || c.inflight + Bytes(c.mss) <= c.cc->cwnd();
  const bool new_data = c.has_unsent_data() && c.op_tx - c.op_head < c.max_ops && c.snd_nxt - c.snd_una < c.sent.size() &&
                        c.snd_nxt < c.peer_cum + c.peer_rwnd;
  if (window_open && (c.retx_pending() || new_data)) {
    const Nanos slack = pacing_slack(c);
    d = std::min(d, c.next_send_ts - std::min(slack, c.next_send_ts));
  }
  return d;
}

Nanos Engine::next_deadline() const {
  if (!stateless_.empty()) return Nanos(0);
  Nanos d = Nanos::max();
  for (const auto& c : conns_) d = std::min(d, conn_deadline(*c));
  if (granter_ && granter_->waiting()) d = std::min(d, granter_->next_slot());
  return d;
}

}  // namespace weft::core
