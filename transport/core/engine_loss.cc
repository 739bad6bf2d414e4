// Reliability at the sender: SACK scoreboard, RACK-style time-based loss
// detection, the retransmission timeout with backoff, go-back-N rewind, and
// completing operations once every packet is acknowledged.
//
// Loss detection (RACK, RFC 8985, adapted to per-packet PSNs): a packet is
// lost when a packet sent after it has been delivered and more than
// rack_rtt + reo_wnd has passed since it was sent. First transmissions are
// judged in PSN order (their send times are monotone), retransmissions in the
// order they were resent, so each ACK costs O(newly judged packets), not
// O(window).
#include <algorithm>

#include "common/log.h"
#include "transport/core/engine.h"

namespace weft::core {

namespace {
// Reordering tolerance: a quarter of the minimum RTT (RACK's default), but
// never below 50 µs, the scheduling noise of a busy host.
Nanos reorder_window(const Connection& c) { return std::max(Nanos(c.rtt.min_rtt().count() / 4), micros(50)); }
}  // namespace

void Engine::mark_acked(Nanos now, Connection& c, uint64_t psn, uint32_t& newly, Bytes& bytes, Nanos& latest_xmit) {
  SentPacket& r = c.rec(psn);
  c.acked.set(psn);
  if (r.psn != psn || r.state == PktState::kFree || r.state == PktState::kAcked) return;
  if (r.state == PktState::kInflight) {
    c.inflight -= Bytes(r.len);
  } else if (r.state == PktState::kLost && r.retx > 0) {
    c.stats.spurious_retransmits++;  // it was judged lost, yet its first copy arrived
  }
  r.state = PktState::kAcked;
  ++newly;
  bytes += Bytes(r.len);
  // RACK follows the most recently *sent* delivered packet. First
  // transmissions are sent in PSN order, so PSN breaks ties between packets
  // that left in the same batch (same timestamp).
  if (r.retx == 0) {
    Connection::PathRack& pr = c.path_rack[r.path % c.path_rack.size()];
    if (psn + 1 > pr.delivered_psn) {
      pr.delivered_psn = psn + 1;
      pr.delivered_xmit = std::max(pr.delivered_xmit, r.xmit_ts);
    }
    latest_xmit = std::max(latest_xmit, r.xmit_ts);
  }
  c.paths.on_delivered(now, r.path, Nanos(0));
  SendOp& op = c.op(r.msg_id);
  if (op.kind == OpKind::kNone || op.msg_id != r.msg_id) return;
  op.packets_acked++;
  if (op.packets_acked == op.packets && !op.completed) {
    op.completed = true;
    complete({.op = op.id, .conn = c.id, .type = op.kind == OpKind::kSend ? CompletionType::kSend : CompletionType::kWrite,
              .bytes = op.len, .tag = op.kind == OpKind::kSend ? op.key : 0});
  }
}

void Engine::maybe_complete_ops(Connection& c) {
  // A slot is reusable once its completion was delivered and nothing of it is
  // still unacknowledged on the wire (tombstones of a failed op included).
  while (c.op_head != c.op_tail) {
    SendOp& op = c.op(c.op_head);
    if (op.kind != OpKind::kNone && !(op.completed && op.packets_acked >= op.packets_sent && op.packets_sent == op.packets))
      break;
    op = SendOp{};
    ++c.op_head;
  }
  if (c.op_tx < c.op_head) c.op_tx = c.op_head;
}

void Engine::advance_una(Connection& c) {
  while (c.snd_una < c.snd_nxt) {
    SentPacket& r = c.rec(c.snd_una);
    if (r.psn == c.snd_una && r.state != PktState::kAcked) break;
    r.state = PktState::kFree;
    ++c.snd_una;
  }
  c.acked.advance_to(c.snd_una);
  c.rack_scan = std::max(c.rack_scan, c.snd_una);
}

void Engine::arm_rto(Nanos now, Connection& c) {
  c.timer_is_tlp = false;
  if (c.snd_una == c.snd_nxt && !c.retx_pending()) {
    c.rto_deadline = Nanos::max();
    return;
  }
  // Tail-loss probe (RACK-TLP, RFC 8985): when the last packets of a burst
  // are lost nothing later arrives to let RACK see it, so after two SRTTs
  // (plus the receiver's ACK delay) of silence one packet is resent as a
  // probe; its ACK settles the tail. Only once per ACK progress, before the
  // real RTO, and not in go-back-N (RoCE v2 has no such thing).
  if (c.recovery == Recovery::kSelectiveRepeat && c.consecutive_rto == 0 && c.probe_xmit.count() == 0 &&
      c.rtt.has_sample()) {
    const Nanos pto = std::min(c.rtt.srtt() + c.rtt.srtt() + p_.ack_delay, c.rtt.rto());
    c.rto_deadline = now + pto;
    c.timer_is_tlp = true;
    return;
  }
  c.rto_deadline = now + c.rtt.rto();
}

void Engine::send_probe(Nanos now, Connection& c) {
  // The oldest packet still in flight: if it was lost it is the hole that
  // matters most; either way the ACK to it carries the SACK state after it.
  for (uint64_t p = c.snd_una; p < c.snd_nxt; ++p) {
    SentPacket& r = c.rec(p);
    if (r.psn == p && r.state == PktState::kInflight) {
      mark_lost(now, c, r, false);
      break;
    }
  }
  c.probe_xmit = now;  // the probe goes out at the next transmit, i.e. now
  c.lost_pending = Bytes(0);  // a probe is not a loss signal for CC
}

void Engine::on_ack(Nanos now, Connection& c, const wire::Packet& pkt) {
  const wire::AckExt& a = pkt.ack;
  if (a.cum_ack > c.snd_nxt) {  // acknowledges what was never sent
    drop(DropReason::kMalformed, &c);
    return;
  }
  c.stats.acks_received++;
  c.peer_cum = std::max(c.peer_cum, a.cum_ack);
  c.peer_rwnd = a.rwnd;
  const uint64_t ce_delta = a.ce_bytes > c.peer_ce_bytes ? a.ce_bytes - c.peer_ce_bytes : 0;
  c.peer_ce_bytes = std::max(c.peer_ce_bytes, a.ce_bytes);

  uint32_t newly = 0;
  Bytes bytes{0};
  Nanos latest_xmit{0};
  auto ack_range = [&](uint64_t lo, uint64_t hi) {
    lo = std::max(lo, c.snd_una);
    hi = std::min(hi, c.snd_nxt);
    for (uint64_t p = c.acked.find(lo, hi, false); p < hi; p = c.acked.find(p + 1, hi, false))
      mark_acked(now, c, p, newly, bytes, latest_xmit);
  };
  ack_range(c.snd_una, a.cum_ack);
  if (c.recovery == Recovery::kSelectiveRepeat)
    for (uint16_t i = 0; i < a.nranges; ++i) {
      const uint64_t lo = a.cum_ack + a.ranges[i].start;
      ack_range(lo, lo + a.ranges[i].len);
    }
  advance_una(c);

  Nanos rtt{0};
  // ts_ecr comes off the wire: only a stamp from our own past is a sample.
  if (pkt.h.ts_ecr != 0 && newly > 0 && pkt.h.ts_ecr - 1 <= static_cast<uint64_t>(now.count())) {
    rtt = now - Nanos(static_cast<int64_t>(pkt.h.ts_ecr - 1));
    if (rtt.count() > 0 && rtt < seconds(60)) {
      c.rtt.sample(now, rtt);
      c.paths.on_delivered(now, pkt.h.entropy % c.paths.size(), rtt);
    } else {
      rtt = Nanos(0);
    }
  }
  if (latest_xmit > c.rack_xmit_ts) {
    c.rack_xmit_ts = latest_xmit;
    c.rack_rtt = now - latest_xmit;
  }
  if (newly > 0) c.consecutive_rto = c.rnr_streak = 0;
  if (c.probe_xmit.count() > 0 && pkt.h.ts_ecr != 0 && pkt.h.ts_ecr - 1 >= static_cast<uint64_t>(c.probe_xmit.count())) {
    // The receiver answered the RTO probe, and this ACK's SACK state is from
    // after the probe arrived: whatever was sent long before the probe and
    // is still unacknowledged did not arrive. Without this, a burst lost at
    // the tail of a window costs one RTO per packet.
    const Nanos cutoff = c.probe_xmit - std::max(c.rtt.srtt(), micros(100));
    // An ACK lists at most the 31 lowest ranges (plus the newest arrival's);
    // when it is that full, it says nothing above the 31st, so judge nothing there.
    uint64_t known = c.snd_nxt;
    if (a.nranges >= wire::kMaxSackRanges - 1) {
      const wire::SackRange& r = a.ranges[wire::kMaxSackRanges - 2];
      known = std::min(known, a.cum_ack + r.start + r.len);
    }
    for (uint64_t p = c.snd_una; p < known; ++p) {
      SentPacket& r = c.rec(p);
      if (r.psn == p && r.state == PktState::kInflight && r.xmit_ts < cutoff) mark_lost(now, c, r, true);
    }
    c.probe_xmit = Nanos(0);
  }
  if (c.recovery == Recovery::kSelectiveRepeat) detect_losses(now, c);
  if (newly > 0) {
    std::array<cc::IntHop, wire::kMaxIntHops> hops;
    for (size_t i = 0; i < a.int_hops; ++i) {
      const wire::IntRecord& r = a.int_records[i];
      hops[i] = {.queue_len = Bytes(r.qlen_bytes), .tx_bytes = Bytes(r.tx_bytes),
                 .timestamp = Nanos(static_cast<int64_t>(r.timestamp_ns)),
                 .link_rate = BitsPerSec(uint64_t{r.rate_mbps} * 1000000)};
    }
    c.cc->on_ack({.now = now, .acked_bytes = bytes, .ecn_bytes = Bytes(std::min<uint64_t>(ce_delta, bytes.count())), .rtt = rtt, .min_rtt = c.rtt.min_rtt(),
                  .inflight = c.inflight, .path = static_cast<uint16_t>(pkt.h.entropy % c.paths.size()),
                  .int_hops = std::span<const cc::IntHop>(hops.data(), a.int_hops), .hops = a.int_hops});
    arm_rto(now, c);
    // A controller that sees path-local congestion (NSCC) asks for another
    // path: rest this one, the sprayer moves on.
    if (const uint64_t hints = c.cc->counters().repath_hints; hints != c.cc_repath_seen) {
      c.cc_repath_seen = hints;
      c.paths.penalize(now, static_cast<uint16_t>(pkt.h.entropy % c.paths.size()));
    }
    // An algorithm that cannot work on this path (HPCC without telemetry)
    // says so once it has seen enough ACKs: fail loudly rather than guess.
    if (Status h = c.cc->health(); !h.is_ok()) {
      fail(now, c, Status(h.code(), "congestion control " + std::string(c.cc->name()) + " on the connection to " +
                                        c.peer_name + ": " + h.message()));
      return;
    }
  }
  maybe_complete_ops(c);
}

void Engine::push_retx(Connection& c, SentPacket& r) {
  const size_t cap = c.retx_q.size();
  if (c.retx_tail - c.retx_head >= cap) {
    // Full of entries that went stale (acknowledged before being resent):
    // keep only the live ones. Live entries never exceed the window, which
    // is half the queue, so this always makes room.
    uint64_t w = c.retx_head;
    for (uint64_t i = c.retx_head; i < c.retx_tail; ++i) {
      const uint64_t psn = c.retx_q[i % cap];
      const SentPacket& q = c.rec(psn);
      if (q.psn == psn && q.queued && q.state == PktState::kLost) c.retx_q[w++ % cap] = psn;
    }
    c.retx_tail = w;
  }
  c.retx_q[c.retx_tail++ % cap] = r.psn;
  r.queued = true;
}

bool Engine::requeue(Connection& c, SentPacket& r) {
  if (r.state != PktState::kInflight) return false;
  c.inflight -= Bytes(r.len);
  r.state = PktState::kLost;
  if (!r.queued) push_retx(c, r);
  return true;
}

void Engine::mark_lost(Nanos now, Connection& c, SentPacket& r, bool rack) {
  if (!requeue(c, r)) return;
  if (rack) c.stats.rack_losses++;
  c.paths.on_lost(now, r.path);
  c.lost_pending += Bytes(r.len);
}

void Engine::detect_losses(Nanos now, Connection& c) {
  c.rack_deadline = Nanos::max();
  if (c.rack_xmit_ts.count() == 0) return;
  const Nanos reo = reorder_window(c);
  // A packet is judged only against deliveries on its own path.
  auto judge = [&](SentPacket& r, bool sent_before) {
    if (!sent_before) return false;
    const Nanos when = r.xmit_ts + c.rack_rtt + reo;
    if (now < when) {
      c.rack_deadline = std::min(c.rack_deadline, when);
      return false;
    }
    mark_lost(now, c, r, true);
    return true;
  };
  // First transmissions in PSN order. The cursor stops at the first packet
  // that cannot be judged yet; a bounded look-ahead past it still catches
  // holes on the other paths.
  constexpr uint32_t kLookAhead = 256;
  bool cursor_free = true;
  uint32_t ahead = 0;
  for (uint64_t p = c.rack_scan; p < c.snd_nxt && ahead < kLookAhead; ++p) {
    SentPacket& r = c.rec(p);
    const bool settled = r.psn != p || r.state != PktState::kInflight || r.retx > 0;
    if (!settled) {
      const auto& pr = c.path_rack[r.path % c.path_rack.size()];
      if (!judge(r, p < pr.delivered_psn)) cursor_free = false;
    }
    if (cursor_free)
      c.rack_scan = p + 1;
    else
      ++ahead;
  }
  // Retransmissions, in the order they were resent.
  while (c.fly_head != c.fly_tail) {
    const uint64_t psn = c.retx_fly[c.fly_head % c.retx_fly.size()];
    SentPacket& r = c.rec(psn);
    if (r.psn != psn || r.state != PktState::kInflight) {
      ++c.fly_head;
      continue;
    }
    const auto& pr = c.path_rack[r.path % c.path_rack.size()];
    if (!judge(r, r.xmit_ts < pr.delivered_xmit)) break;
    ++c.fly_head;
  }
  if (c.lost_pending.count() > 0) {
    c.cc->on_loss({.now = now, .lost_bytes = c.lost_pending, .inflight = c.inflight});
    c.lost_pending = Bytes(0);
  }
}

void Engine::gbn_rewind(Nanos now, Connection& c, uint64_t from) {
  from = std::max(from, c.snd_una);
  // One rewind per hole per RTT: the receiver NACKs once, but a NACK and an
  // RTO may both point at the same hole.
  if (from == c.gbn_rewound_to && now - c.gbn_rewind_ts < c.rtt.srtt()) return;
  c.gbn_rewound_to = from;
  c.gbn_rewind_ts = now;
  // Everything from the hole is resent in PSN order, like a RoCE NIC does.
  c.retx_head = c.retx_tail = 0;
  for (uint64_t p = c.snd_una; p < c.snd_nxt; ++p) c.rec(p).queued = false;
  for (uint64_t p = from; p < c.snd_nxt; ++p) {
    SentPacket& r = c.rec(p);
    if (r.state == PktState::kInflight) {
      c.inflight -= Bytes(r.len);
      r.state = PktState::kLost;
      c.lost_pending += Bytes(r.len);
    }
    if (r.state == PktState::kLost) {
      push_retx(c, r);
    }
  }
  c.fly_head = c.fly_tail;
  if (c.lost_pending.count() > 0) {
    c.cc->on_loss({.now = now, .lost_bytes = c.lost_pending, .inflight = c.inflight});
    c.lost_pending = Bytes(0);
  }
}

void Engine::on_rto(Nanos now, Connection& c) {
  if (c.snd_una == c.snd_nxt && !c.retx_pending()) {
    c.rto_deadline = Nanos::max();
    return;
  }
  if (c.timer_is_tlp) {
    c.timer_is_tlp = false;
    c.stats.tlp_probes++;
    send_probe(now, c);
    c.rto_deadline = now + c.rtt.rto();  // the real RTO, if the probe goes unanswered too
    return;
  }
  c.stats.rto_count++;
  c.consecutive_rto++;
  c.rtt.back_off();
  WEFT_LOG(kDebug, "conn {} ({}): RTO #{} , next in {} us", c.id, c.peer_name, c.consecutive_rto, c.rtt.rto().count() / 1000);
  if (c.recovery == Recovery::kGoBackN) {
    c.gbn_rewind_ts = Nanos(0);
    gbn_rewind(now, c, c.snd_una);
  } else if (c.consecutive_rto == 1) {
    // First timeout: probe again with the oldest outstanding packet. If the
    // peer was only slow (a descheduled thread), its ACK and SACKs come back
    // and RACK finds the real holes; a window-wide resend would be spurious.
    send_probe(now, c);
  } else {
    // Still silent: assume everything outstanding is gone.
    for (uint64_t p = c.snd_una; p < c.snd_nxt; ++p) mark_lost(now, c, c.rec(p), false);
    c.fly_head = c.fly_tail;
    c.lost_pending = Bytes(0);
  }
  c.cc->on_timeout({.now = now, .consecutive = c.consecutive_rto, .bytes = Bytes(c.rec(c.snd_una).len)});
  c.rto_deadline = now + c.rtt.rto();
}

void Engine::on_nack(Nanos now, Connection& c, const wire::Packet& pkt) {
  const wire::NackExt& n = pkt.nack;
  c.stats.nacks_received++;
  switch (n.reason) {
    case wire::NackReason::kSequence: {
      uint32_t newly = 0;
      Bytes bytes{0};
      Nanos latest{0};
      const uint64_t hi = std::min(n.cum_ack, c.snd_nxt);
      for (uint64_t p = c.acked.find(c.snd_una, hi, false); p < hi; p = c.acked.find(p + 1, hi, false))
        mark_acked(now, c, p, newly, bytes, latest);
      advance_una(c);
      if (newly > 0) arm_rto(now, c);
      gbn_rewind(now, c, n.psn);
      break;
    }
    case wire::NackReason::kReceiverNotReady: {
      // Like an RDMA RNR NAK: the receiver had nowhere to put it. Pause, then
      // resend; this is not congestion, so CC and path scores are untouched.
      if (n.psn >= c.snd_una && n.psn < c.snd_nxt) {
        SentPacket& r = c.rec(n.psn);
        if (r.psn == n.psn) requeue(c, r);
      }
      // Back off exponentially (100 µs .. 10 ms) while the receiver stays unready.
      const int64_t base = std::max(c.rtt.srtt(), micros(100)).count();
      const Nanos pause(std::min<int64_t>(base << std::min<uint32_t>(c.rnr_streak, 7), millis(10).count()));
      ++c.rnr_streak;
      c.next_send_ts = std::max(c.next_send_ts, now + pause);
      break;
    }
    case wire::NackReason::kTrimmed: {
      // A switch cut the payload rather than drop the packet: resend it now,
      // and tell CC (a trim is a congestion signal, not a path failure).
      if (n.psn >= c.snd_una && n.psn < c.snd_nxt) {
        SentPacket& r = c.rec(n.psn);
        if (r.psn == n.psn && requeue(c, r))
          c.cc->on_trim({.now = now, .trimmed_bytes = Bytes(r.len), .path = r.path});
      }
      break;
    }
    case wire::NackReason::kRemoteAccess: {
      SendOp& op = c.op(n.msg_id);
      if (op.kind == OpKind::kWrite && op.msg_id == n.msg_id && !op.completed) {
        op.completed = true;
        op.packets = op.packets_sent;  // stop packetizing it
        complete({.op = op.id, .conn = c.id, .type = CompletionType::kWrite,
                  .status = Status(Code::kRemoteAccess,
                                   "write of " + std::to_string(op.len) + " bytes to region key " + std::to_string(op.key) +
                                       " at offset " + std::to_string(op.aux) + " on " + c.peer_name +
                                       " was refused: the key is not registered for remote write there, or the range "
                                       "falls outside the region")});
        // Its unacknowledged packets become tombstones so their PSNs still close.
        for (uint64_t p = c.snd_una; p < c.snd_nxt; ++p) {
          SentPacket& r = c.rec(p);
          if (r.psn == p && r.msg_id == n.msg_id && r.state != PktState::kAcked) r.cancelled = true;
        }
      }
      if (n.psn >= c.snd_una && n.psn < c.snd_nxt) {
        SentPacket& r = c.rec(n.psn);
        // Only a packet of the write that was refused may become a tombstone.
        if (r.psn == n.psn && r.msg_id == n.msg_id && op.kind == OpKind::kWrite && op.msg_id == n.msg_id) {
          r.cancelled = true;
          mark_lost(now, c, r, false);
          c.lost_pending = Bytes(0);
        }
      }
      break;
    }
  }
}

}  // namespace weft::core
