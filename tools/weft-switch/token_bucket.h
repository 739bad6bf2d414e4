// tools/weft-switch/token_bucket.h — a port's line rate, in real time.
//
// Tokens are kept in "byte-seconds scaled by 1e9" (nano-bytes: 1 byte =
// 1e9 units), so refilling by `dt_ns * bytes_per_sec` and spending
// `len * 1e9` are exact integer operations with no rounding drift at any
// rate.
//
// The depth (burst) caps only the credit a port saves up while *idle*: a
// backlogged port's credit grows uncapped, because a real link that has
// frames queued sends at exactly its rate however late the I/O loop polls
// it (a late poll sends what the wire would have sent meanwhile, at once).
// A plain capped bucket would lose capacity whenever the loop is late by
// more than burst/rate, which on a shared machine is often.
//
// A packet may start when the balance covers it (`ready`). The charge
// happens after the switch may have grown the packet (INT), so the balance
// can dip below zero; the next packet then waits for it to recover — the
// long-run rate stays exact.
#pragma once

#include <algorithm>
#include <cstdint>

#include "weft/units.h"

namespace weft::sw {

class TokenBucket {
 public:
  static constexpr int64_t kScale = 1'000'000'000;  // units per byte

  TokenBucket() = default;
  // rate 0 = unlimited. The bucket starts full.
  TokenBucket(BitsPerSec rate, Bytes burst, Nanos now)
      : bytes_per_sec_(static_cast<int64_t>(rate.count() / 8)),
        cap_(static_cast<int64_t>(burst.count()) * kScale),
        tokens_(cap_),
        last_(now) {}

  bool unlimited() const { return bytes_per_sec_ == 0; }

  // Adds the credit earned since the last refill. `backlogged`: frames
  // were waiting all that time, so nothing is capped (see above).
  void refill(Nanos now, bool backlogged) {
    if (unlimited() || now <= last_) return;
    int64_t dt = (now - last_).count();
    last_ = now;
    if (!backlogged) {
      // Past `full_after` the bucket is full anyway; clamping dt first
      // keeps the product far from overflow for any rate and idle time.
      const int64_t full_after = tokens_ >= cap_ ? 0 : (cap_ - tokens_) / bytes_per_sec_ + 1;
      dt = std::min(dt, full_after);
      tokens_ = std::min(cap_, tokens_ + dt * bytes_per_sec_);
      return;
    }
    // Backlogged: at most ~1 s of credit (9.2e18 / 1.25e9 B/s at 10 Gb/s
    // leaves room for 7 s), far beyond any scheduling delay.
    dt = std::min<int64_t>(dt, 1'000'000'000);
    tokens_ += dt * bytes_per_sec_;
  }

  // Whether `len` bytes may start now (call refill first).
  bool ready(uint32_t len) const { return unlimited() || tokens_ >= int64_t{len} * kScale; }

  void spend(uint32_t len) {
    if (!unlimited()) tokens_ -= int64_t{len} * kScale;
  }

  // Earliest time at which `len` bytes will be ready, assuming refill(now, ...).
  Nanos ready_at(Nanos now, uint32_t len) const {
    if (ready(len)) return now;
    const int64_t missing = int64_t{len} * kScale - tokens_;
    return now + Nanos((missing + bytes_per_sec_ - 1) / bytes_per_sec_);
  }

  int64_t tokens_bytes() const { return tokens_ / kScale; }

 private:
  int64_t bytes_per_sec_ = 0;
  int64_t cap_ = 0;
  int64_t tokens_ = 0;
  Nanos last_{0};
};

}  // namespace weft::sw
