// The receive path: decode, demultiplex to a connection, then data placement,
// ACK/NACK processing and the handshake. Every refusal is counted.
#include <algorithm>
#include <cstring>

#include "common/crc32c.h"
#include "common/log.h"
#include "transport/core/engine.h"

namespace weft::core {

namespace {

DropReason from_decode(wire::DecodeError e) {
  switch (e) {
    case wire::DecodeError::kTruncated: return DropReason::kTruncated;
    case wire::DecodeError::kForeign: return DropReason::kForeign;
    case wire::DecodeError::kWrongVersion: return DropReason::kWrongVersion;
    case wire::DecodeError::kBadType: return DropReason::kBadType;
    case wire::DecodeError::kBadLength: return DropReason::kBadLength;
    case wire::DecodeError::kBadChecksum: return DropReason::kBadChecksum;
    default: return DropReason::kMalformed;
  }
}

// Both ends derive the tag every later packet must carry from the job token
// and both nonces, so a stale or foreign sender cannot hit a live connection.
uint32_t conn_tag(uint64_t token, uint32_t client_nonce, uint32_t server_nonce) {
  uint64_t h = token ^ (uint64_t{client_nonce} << 32 | server_nonce);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  const auto t = static_cast<uint32_t>(h);
  return t == 0 ? 1 : t;
}

// What any handshake must offer: an MSS that keeps a 1 TiB message within
// 2^32 packets, a window and at least one operation.
bool handshake_params_ok(const wire::HandshakeExt& hs) {
  return hs.mss >= wire::kMinMss && hs.mss <= wire::kMaxPacketSize && hs.rwnd >= 64 && hs.max_ops >= 1;
}

}  // namespace

void Engine::on_receive(Nanos now, std::span<const uint8_t> datagram, const NetAddr& from, bool ce) {
  wire::Packet pkt;
  const wire::DecodeError err = wire::decode(datagram, pkt);
  if (err != wire::DecodeError::kOk) {
    drop(from_decode(err));
    return;
  }
  if (pkt.h.type == wire::Type::kHandshake) {
    on_handshake(now, pkt, from);
    return;
  }
  Connection* c = find(pkt.h.dst_conn);
  if (c == nullptr) {
    drop(DropReason::kUnknownConnection);
    return;
  }
  if (c->state == ConnState::kConnecting) {
    drop(DropReason::kBadState, c);  // the peer's ACCEPT is still on its way
    return;
  }
  if (pkt.h.conn_tag != c->tag) {
    drop(DropReason::kWrongToken, c);
    return;
  }
  c->stats.packets_received++;
  if (c->state == ConnState::kClosed || c->state == ConnState::kFailed) {
    if (pkt.h.type == wire::Type::kClose && pkt.close.kind == wire::CloseKind::kClose && c->state == ConnState::kClosed)
      c->owe_close_ack = true;
    else
      drop(DropReason::kBadState, c);
    return;
  }
  c->last_rx = now;
  if (c->state == ConnState::kClosing && pkt.h.type != wire::Type::kClose) {
    drop(DropReason::kBadState, c);  // its operations were already failed by close()
    return;
  }
  switch (pkt.h.type) {
    case wire::Type::kData: on_data(now, *c, pkt, ce); break;
    case wire::Type::kAck: on_ack(now, *c, pkt); break;
    case wire::Type::kNack: on_nack(now, *c, pkt); break;
    case wire::Type::kCredit: c->cc->on_credit({.now = now, .credit = Bytes(pkt.credit.credit)}); break;
    case wire::Type::kKeepalive:
      c->echo_ts = pkt.h.ts_val;
      c->echo_entropy = pkt.h.entropy;
      c->ack_owed = c->ack_now = true;
      break;
    case wire::Type::kClose: on_close(now, *c, pkt); break;
    case wire::Type::kHandshake: break;
  }
}

void Engine::send_stateless_reject(const NetAddr& to, const wire::Packet& init, wire::RejectReason why) {
  if (stateless_.size() >= 64) return;  // a flood of bad handshakes must not grow memory
  wire::Packet r;
  r.h.type = wire::Type::kHandshake;
  r.h.dst_conn = init.hs.src_conn;
  r.hs.kind = wire::HandshakeKind::kReject;
  r.hs.reject = why;
  r.hs.job_token = 0;  // never echo what the peer got wrong
  stateless_.emplace_back(to, r);
}

void Engine::on_handshake(Nanos now, const wire::Packet& pkt, const NetAddr& from) {
  const wire::HandshakeExt& hs = pkt.hs;
  switch (hs.kind) {
    case wire::HandshakeKind::kInit: {
      if (pkt.h.dst_conn != 0) {
        drop(DropReason::kMalformed);
        return;
      }
      if (hs.job_token != p_.job_token) {
        drop(DropReason::kWrongToken);
        send_stateless_reject(from, pkt, wire::RejectReason::kToken);
        return;
      }
      if (!handshake_params_ok(hs)) {
        drop(DropReason::kMalformed);
        send_stateless_reject(from, pkt, wire::RejectReason::kParams);
        return;
      }
      auto& peer_conns = by_peer_[from];
      if (auto it = peer_conns.find(hs.src_conn); it != peer_conns.end()) {
        Connection* c = find(it->second);
        if (c != nullptr && c->peer_nonce == hs.nonce) {
          if (c->state == ConnState::kEstablished) c->owe_accept = true;  // our ACCEPT was lost
          return;
        }
        // Same address and connection id, new nonce: the peer restarted and
        // reused the id. The old incarnation is gone; serve the new one.
        if (c != nullptr)
          fail(now, *c, Status(Code::kPeerFailed, "peer " + c->peer_name +
                                                      " restarted (a new handshake reused its connection id): "
                                                      "operations on the old connection were failed"));
        peer_conns.erase(it);
      }
      const ConnId id = static_cast<ConnId>(conns_.size() + 1);
      ConnParams cp;
      cp.recovery = hs.mode == 1 ? Recovery::kGoBackN : Recovery::kSelectiveRepeat;
      auto made = make_cc(p_, p_.cc, mss_);
      if (!made) {  // validated at open; a plugin can still fail to load later
        WEFT_LOG(kWarn, "refusing a connection: congestion control \"{}\" failed: {}", p_.cc, made.status().message());
        send_stateless_reject(from, pkt, wire::RejectReason::kResources);
        return;
      }
      auto c = std::make_unique<Connection>(id, p_, cp, p_.max_ops_per_conn);
      c->cc = std::move(*made);
      c->credit_mode = c->cc->needs().receiver_credits;
      c->outbound = false;
      c->peer = from;
      c->peer_name = name(from);
      c->peer_conn = hs.src_conn;
      c->peer_nonce = hs.nonce;
      c->local_nonce = random32();
      c->tag = conn_tag(p_.job_token, c->peer_nonce, c->local_nonce);
      c->mss = std::min(mss_, hs.mss) - (c->credit_mode ? static_cast<uint32_t>(wire::kCreditReqSize) : 0);
      c->max_ops = std::min<uint32_t>(p_.max_ops_per_conn, hs.max_ops);
      c->peer_rwnd = hs.rwnd;
      c->last_rx = c->last_tx = now;
      c->owe_accept = true;
      c->state = ConnState::kEstablished;
      c->failure = Status(Code::kClosed, "connection to " + c->peer_name + " is closed");
      peer_conns.emplace(hs.src_conn, id);
      conns_.push_back(std::move(c));
      complete({.conn = id, .type = CompletionType::kAccepted});
      return;
    }
    case wire::HandshakeKind::kAccept: {
      Connection* c = find(pkt.h.dst_conn);
      if (c == nullptr || !c->outbound) {
        drop(DropReason::kUnknownConnection);
        return;
      }
      if (c->state != ConnState::kConnecting) return;  // a duplicate ACCEPT
      if (hs.job_token != p_.job_token) {
        drop(DropReason::kWrongToken, c);
        return;
      }
      if (c->peer != from) {
        drop(DropReason::kUnknownConnection);
        return;
      }
      if (!handshake_params_ok(hs)) {
        drop(DropReason::kMalformed, c);
        fail(now, *c, Status(Code::kRejected, "peer " + c->peer_name + " accepted with unusable parameters (mss " +
                                                  std::to_string(hs.mss) + ", rwnd " + std::to_string(hs.rwnd) +
                                                  ", max_ops " + std::to_string(hs.max_ops) +
                                                  "): it runs an incompatible weft; use the same release on both ends"));
        return;
      }
      c->peer_conn = hs.src_conn;
      c->peer_nonce = hs.nonce;
      c->tag = conn_tag(p_.job_token, c->local_nonce, c->peer_nonce);
      c->mss = std::min(mss_, hs.mss) - (c->credit_mode ? static_cast<uint32_t>(wire::kCreditReqSize) : 0);
      c->max_ops = std::min<uint32_t>(p_.max_ops_per_conn, hs.max_ops);
      c->peer_rwnd = hs.rwnd;
      c->last_rx = now;
      set_state(*c, ConnState::kEstablished);
      complete({.conn = c->id, .type = CompletionType::kConnected});
      return;
    }
    case wire::HandshakeKind::kReject: {
      Connection* c = find(pkt.h.dst_conn);
      if (c == nullptr || c->state != ConnState::kConnecting || c->peer != from) {
        drop(DropReason::kUnknownConnection);
        return;
      }
      std::string why;
      switch (hs.reject) {
        case wire::RejectReason::kToken:
          why = "job token mismatch: give every rank the same EngineParams::job_token (WEFT_JOB_TOKEN)";
          break;
        case wire::RejectReason::kVersion: why = "protocol version mismatch: run the same weft release on both ends"; break;
        case wire::RejectReason::kParams: why = "connection parameters refused (mtu, window or max_ops out of range)"; break;
        default: why = "the peer is out of resources: retry later or raise its limits"; break;
      }
      fail(now, *c, Status(Code::kRejected, "peer " + c->peer_name + " refused the connection: " + why));
      return;
    }
  }
}

void Engine::note_ack_owed(Nanos now, Connection& c, const wire::Packet& pkt, bool urgent) {
  c.echo_ts = pkt.h.ts_val;
  c.echo_entropy = pkt.h.entropy;
  c.ack_trigger_psn = pkt.h.psn;
  c.ack_owed = true;
  c.unacked_rx++;
  if (urgent || (pkt.h.flags & wire::flag::kAckNow) || c.unacked_rx >= p_.ack_every)
    c.ack_now = true;
  else
    c.ack_deadline = std::min(c.ack_deadline, now + p_.ack_delay);
}

void Engine::on_credit_request(Connection& c, uint64_t cumulative) {
  if (c.id > kMaxCreditSenders) return;  // beyond the pacer's table: the sender falls back on its timeout credit
  if (!granter_) {
    cc::CreditGranter::Params gp;
    // Grants count payload bytes, the line carries headers too: pace the
    // grants at the payload share of the line (weft header with its credit
    // request, plus Ethernet/IPv4/UDP), or they overfill the last hop.
    constexpr uint64_t kWireOverhead = wire::kDataHeaderSize + wire::kCreditReqSize + 14 + 20 + 8;
    const uint64_t payload = mss_ - wire::kCreditReqSize;
    gp.link_rate = BitsPerSec(static_cast<uint64_t>(static_cast<double>(p_.link_rate.count()) *
                                                    static_cast<double>(payload) / static_cast<double>(payload + kWireOverhead)));
    gp.grant_bytes = Bytes(4 * uint64_t{mss_});  // four full packets per grant
    granter_ = std::make_unique<cc::CreditGranter>(gp, kMaxCreditSenders);
  }
  granter_->on_request(c.id - 1, Bytes(cumulative));
}

void Engine::on_data(Nanos now, Connection& c, const wire::Packet& pkt, bool ce) {
  const uint64_t psn = pkt.h.psn;
  // Requests are cumulative, so even a duplicate's is safe to take.
  if (pkt.h.flags & wire::flag::kCreditReq) on_credit_request(c, pkt.data.credit_req);
  const uint64_t base = c.rcv.base();
  if (psn < base || (c.rcv.in_window(psn) && c.rcv.test(psn))) {
    c.stats.duplicates++;
    drop(DropReason::kDuplicate, &c);
    note_ack_owed(now, c, pkt, true);  // the sender may have lost our ACK
    return;
  }
  if (c.recovery == Recovery::kGoBackN && psn != base) {
    // RoCE v2 receivers keep no out-of-order state: discard and ask once for
    // everything from the hole.
    drop(DropReason::kOutOfOrderGbn, &c);
    if (!c.gbn_nacked) {
      c.nacks.push_back({base, 0, wire::NackReason::kSequence});
      c.gbn_nacked = true;
    }
    return;
  }
  if (!c.rcv.in_window(psn)) {
    drop(DropReason::kBeyondWindow, &c);
    note_ack_owed(now, c, pkt, true);
    return;
  }
  if (pkt.h.int_hops > 0) {
    c.echo_int_hops = pkt.h.int_hops;
    for (size_t i = 0; i < pkt.h.int_hops; ++i) c.echo_int[i] = pkt.int_record(i);
  }
  if (pkt.h.net_flags & wire::net_flag::kTrimmed) {
    // NDP/UEC trimming: the header made it through a full queue, the payload
    // did not. Ask for exactly this PSN again instead of waiting for RACK.
    drop(DropReason::kTrimmed, &c);
    c.nacks.push_back({psn, pkt.data.msg_id, wire::NackReason::kTrimmed});
    return;
  }
  if (!(pkt.h.flags & wire::flag::kCancel)) {
    const Placed placed = pkt.data.op == wire::Op::kSend ? place_send(now, c, pkt) : place_write(now, c, pkt);
    if (placed != Placed::kOk) return;
  }

  c.rcv.set(psn);
  c.rcv_highest = std::max(c.rcv_highest, psn + 1);
  const bool in_order = psn == base;
  if (in_order) {
    c.rcv.advance_to(c.rcv.find(base, c.rcv_highest, false));
    c.gbn_nacked = false;
  }
  const uint32_t len = pkt.h.payload_len;
  c.stats.bytes_received += len;
  if (ce) {
    c.ce_bytes += len;
    c.stats.ecn_ce_bytes += len;
  }
  // A gap, or a packet that fills one, is news the sender should hear now.
  note_ack_owed(now, c, pkt, !in_order || c.rcv_highest != c.rcv.base());
}

namespace {
// Copies what fits of the payload to `dest` (may be null when nothing fits)
// and returns the CRC over all of it.
uint32_t copy_checked(uint8_t* dest, uint64_t room, std::span<const uint8_t> payload) {
  const uint64_t n = dest ? std::min<uint64_t>(payload.size(), room) : 0;
  uint32_t crc = n ? crc32c_copy(0, dest, payload.data(), n) : 0;
  if (n < payload.size()) crc = crc32c(crc, payload.data() + n, payload.size() - n);
  return crc;
}
}  // namespace

Engine::Placed Engine::place_send(Nanos now, Connection& c, const wire::Packet& pkt) {
  const wire::DataExt& d = pkt.data;
  const uint32_t slot = d.msg_id % static_cast<uint32_t>(c.rx.size());
  RxMsg& m = c.rx[slot];
  if (m.kind == RxMsg::Kind::kFree || m.msg_id != d.msg_id) {
    // A slot holds an older message only if the sender gave that one up; a
    // packet of an *older* message than the slot's is stale or forged.
    if (m.kind != RxMsg::Kind::kFree && static_cast<int32_t>(d.msg_id - m.msg_id) < 0) {
      drop(DropReason::kMalformed, &c);
      return Placed::kRefused;
    }
    // First packet of this message to arrive (in whatever order): match it.
    const TagSeqKey key{d.key, d.aux};
    RxMsg fresh;
    fresh.msg_id = d.msg_id;
    fresh.msg_len = d.msg_len;
    fresh.tag = d.key;
    fresh.tag_seq = d.aux;
    if (auto it = c.posted.find(key); it != c.posted.end()) {
      fresh.kind = RxMsg::Kind::kRecv;
      fresh.dest = it->second.buf;
      fresh.capacity = it->second.capacity;
      fresh.recv_op = it->second.id;
      c.posted.erase(it);
    } else {
      const auto seq_it = c.recv_tag_seq.find(d.key);
      if (seq_it != c.recv_tag_seq.end() && d.aux < seq_it->second) {
        // Its receive was posted and already taken by another message with
        // the same (tag, sequence): a duplicate message, never matchable.
        drop(DropReason::kMalformed, &c);
        return Placed::kRefused;
      }
      if (d.msg_len > p_.unexpected_budget.count() - std::min<uint64_t>(unexpected_used_, p_.unexpected_budget.count())) {
        // Receiver not ready: no posted receive and no room to buffer.
        drop(DropReason::kNoReceiveBuffer, &c);
        c.nacks.push_back({pkt.h.psn, d.msg_id, wire::NackReason::kReceiverNotReady});
        return Placed::kRefused;
      }
      auto u = std::make_unique<Unexpected>();
      u->data.reset(new uint8_t[d.msg_len ? d.msg_len : 1]);
      u->msg_len = d.msg_len;
      u->slot = slot;
      unexpected_used_ += d.msg_len;
      fresh.kind = RxMsg::Kind::kUnexpected;
      fresh.dest = u->data.get();
      fresh.capacity = d.msg_len;
      c.unexpected[key] = std::move(u);
    }
    m = fresh;
  } else if (m.msg_len != d.msg_len) {
    drop(DropReason::kMalformed, &c);  // packets of one message disagree
    return Placed::kRefused;
  }
  const uint32_t len = pkt.h.payload_len;
  const bool fits = d.offset < m.capacity;
  if (copy_checked(fits ? m.dest + d.offset : nullptr, fits ? m.capacity - d.offset : 0, pkt.payload) !=
      d.payload_crc) {
    drop(DropReason::kBadChecksum, &c);
    return Placed::kCorrupt;
  }
  m.received += len;
  if (m.received >= m.msg_len) finish_rx_msg(c, m);
  return Placed::kOk;
}

Engine::Placed Engine::place_write(Nanos now, Connection& c, const wire::Packet& pkt) {
  const wire::DataExt& d = pkt.data;
  const size_t idx = d.key & 0xFFFF;
  const Region* r = nullptr;
  if (d.key <= 0xFFFFFFFFu && idx != 0 && idx <= regions_.size()) {
    const Region& cand = regions_[idx - 1];
    if (cand.live && cand.generation == (d.key >> 16) && cand.access == MemAccess::kRemoteWrite) r = &cand;
  }
  // The whole message must fit, so a write is placed entirely or not at all.
  if (r == nullptr || d.aux > r->len || d.msg_len > r->len - d.aux) {
    drop(DropReason::kRemoteAccess, &c);
    c.nacks.push_back({pkt.h.psn, d.msg_id, wire::NackReason::kRemoteAccess});
    return Placed::kRefused;
  }
  const uint32_t len = pkt.h.payload_len;
  if (copy_checked(r->addr + d.aux + d.offset, len, pkt.payload) != d.payload_crc) {
    drop(DropReason::kBadChecksum, &c);
    return Placed::kCorrupt;
  }
  if (pkt.h.flags & wire::flag::kImm) {
    RxMsg& m = c.rx[d.msg_id % c.rx.size()];
    if (m.kind == RxMsg::Kind::kFree || m.msg_id != d.msg_id) {
      if (m.kind != RxMsg::Kind::kFree && static_cast<int32_t>(d.msg_id - m.msg_id) < 0) return Placed::kOk;  // stale: placed, not tracked
      m = RxMsg{};
      m.kind = RxMsg::Kind::kWriteImm;
      m.msg_id = d.msg_id;
      m.msg_len = d.msg_len;
      m.imm = d.imm;
    }
    m.received += len;
    if (m.received >= m.msg_len) finish_rx_msg(c, m);
  }
  return Placed::kOk;
}

void Engine::finish_rx_msg(Connection& c, RxMsg& m) {
  switch (m.kind) {
    case RxMsg::Kind::kRecv: {
      Status st;
      if (m.msg_len > m.capacity)
        st = Status(Code::kTruncated, "message of " + std::to_string(m.msg_len) + " bytes (tag " + std::to_string(m.tag) +
                                          ") arrived for a receive of " + std::to_string(m.capacity) +
                                          " bytes: post a receive at least as large as the message");
      complete({.op = m.recv_op, .conn = c.id, .type = CompletionType::kRecv, .bytes = m.msg_len, .tag = m.tag, .status = st});
      break;
    }
    case RxMsg::Kind::kUnexpected:
      if (auto it = c.unexpected.find({m.tag, m.tag_seq}); it != c.unexpected.end()) it->second->complete = true;
      break;
    case RxMsg::Kind::kWriteImm:
      complete({.conn = c.id, .type = CompletionType::kWriteImm, .bytes = m.msg_len, .imm = m.imm});
      break;
    case RxMsg::Kind::kFree: break;
  }
  m = RxMsg{};
}

void Engine::on_close(Nanos now, Connection& c, const wire::Packet& pkt) {
  if (pkt.close.kind == wire::CloseKind::kCloseAck) {
    if (c.state == ConnState::kClosing) set_state(c, ConnState::kClosed);
    return;
  }
  c.owe_close_ack = true;
  if (c.state == ConnState::kEstablished) {
    Status why(Code::kClosed, "connection to " + c.peer_name + " was closed by the peer");
    c.failure = why;
    flush_ops(c, why);
    set_state(c, ConnState::kClosed);
    complete({.conn = c.id, .type = CompletionType::kConnFailed, .status = why});
  } else if (c.state == ConnState::kClosing) {
    set_state(c, ConnState::kClosed);  // both closed at once
  }
}

}  // namespace weft::core
