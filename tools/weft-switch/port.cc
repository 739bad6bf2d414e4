// tools/weft-switch/port.cc — see port.h for the model.
#include "tools/weft-switch/port.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "tools/weft-switch/frame.h"

namespace weft::sw {

Bytes auto_burst(BitsPerSec rate, uint32_t slot_size) {
  const uint64_t fifty_us = rate.count() / 8 / 20000;
  return Bytes(std::max<uint64_t>(fifty_us, 2ull * slot_size));
}

EgressPort::EgressPort(std::string name, const PortParams& p, PacketPool& pool, uint64_t seed, Nanos now)
    : name_(std::move(name)),
      p_(p),
      pool_(pool),
      rng_(seed),
      bucket_(p.rate, p.burst.count() ? p.burst : auto_burst(p.rate, pool.slot_size()), now),
      // Either queue may hold every slot of the pool: a ring never refuses
      // a frame the byte bound admits.
      normal_(std::bit_ceil(pool.capacity())),
      prio_(std::bit_ceil(pool.capacity())),
      rate_mbps_(static_cast<uint32_t>(std::min<uint64_t>(p.rate.count() / 1000000, UINT32_MAX))) {}

double EgressPort::mark_probability(uint64_t q) const {
  // An unlimited port never really queues: what sits in it is one I/O batch
  // on its way through, not congestion.
  if (!p_.ecn || bucket_.unlimited() || q <= p_.kmin.count()) return 0.0;
  if (q >= p_.kmax.count()) return 1.0;
  return p_.pmax * static_cast<double>(q - p_.kmin.count()) / static_cast<double>(p_.kmax.count() - p_.kmin.count());
}

EgressPort::Verdict EgressPort::enqueue(Nanos now, Slot s) {
  PacketMeta& m = pool_.meta(s);
  if (p_.loss > 0 && rng_.uniform() < p_.loss) {
    ++c_.drop_loss;
    pool_.free(s);
    return Verdict::kDropped;
  }
  // An idle port's saved credit is capped from here on (token_bucket.h).
  if (empty()) bucket_.refill(now, /*backlogged=*/false);
  uint8_t* f = pool_.data(s);
  FrameInfo info = parse_frame(f, m.len);
  if (normal_bytes_ + m.len > p_.queue_limit.count()) {
    if (p_.trim && info.trimmable()) {
      m.len = static_cast<uint32_t>(trim_payload(f, info));
      if (prio_bytes_ + m.len > p_.prio_limit.count()) {
        ++c_.drop_prio;
        pool_.free(s);
        return Verdict::kDropped;
      }
      prio_.push(s);
      prio_bytes_ += m.len;
      ++c_.trimmed;
      ++c_.enqueued;
      c_.max_queue_bytes = std::max(c_.max_queue_bytes, queue_bytes());
      return Verdict::kTrimmed;
    }
    ++c_.drop_tail;
    pool_.free(s);
    return Verdict::kDropped;
  }
  if (info.ect()) {
    const double p = mark_probability(queue_bytes());
    if (p > 0 && (p >= 1.0 || rng_.uniform() < p)) {
      mark_ce(f, info);
      ++c_.marked;
    }
  }
  normal_.push(s);
  normal_bytes_ += m.len;
  ++c_.enqueued;
  c_.max_queue_bytes = std::max(c_.max_queue_bytes, queue_bytes());
  return Verdict::kQueued;
}

Nanos EgressPort::ready_at(Nanos now) {
  if (empty()) return Nanos::max();
  bucket_.refill(now, /*backlogged=*/true);
  const Slot head = prio_.empty() ? normal_.front() : prio_.front();
  return bucket_.ready_at(now, pool_.meta(head).len);
}

Slot EgressPort::dequeue(Nanos now) {
  if (empty()) return kNoSlot;
  bucket_.refill(now, /*backlogged=*/true);
  SlotRing& q = prio_.empty() ? normal_ : prio_;
  uint64_t& qbytes = prio_.empty() ? normal_bytes_ : prio_bytes_;
  const Slot s = q.front();
  PacketMeta& m = pool_.meta(s);
  if (!bucket_.ready(m.len)) return kNoSlot;
  q.pop();
  qbytes -= m.len;
  if (p_.int_stamp) {
    uint8_t* f = pool_.data(s);
    FrameInfo info = parse_frame(f, m.len);
    if (info.weft && info.weft_type == kWeftTypeData && info.int_hops < kMaxIntHops) {
      const IntRecord rec{static_cast<uint64_t>(now.count()), c_.tx_bytes,
                          static_cast<uint32_t>(std::min<uint64_t>(queue_bytes(), UINT32_MAX)), rate_mbps_};
      if (const size_t n = append_int(f, pool_.slot_size(), info, rec)) {
        m.len = static_cast<uint32_t>(n);
        ++c_.int_stamped;
      }
    }
  }
  bucket_.spend(m.len);
  ++c_.tx_pkts;
  c_.tx_bytes += m.len;
  return s;
}

}  // namespace weft::sw
