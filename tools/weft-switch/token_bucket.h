// tools/weft-switch/token_bucket.h — a port's line rate, in real time.
//
// Tokens are kept in "byte-seconds scaled by 1e9" (nano-bytes: 1 byte =
// 1e9 units), so refilling by `dt_ns * bytes_per_sec` and spending
// `len * 1e9` are exact integer operations with no rounding drift at any
// rate. The bucket depth (burst) bounds how far a late poll may catch up:
// the I/O loop wakes with some jitter, and a depth of a few frames / tens of
// microseconds lets it send what the link would have sent meanwhile without
// ever exceeding the rate over a longer window.
//
// A packet may start when the balance covers it (`ready`). The charge happens after the switch may have
// grown the packet (INT), so the balance can dip below zero; the next packet
// then waits for it to recover — the long-run rate stays exact.
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

  void refill(Nanos now) {
    if (unlimited() || now <= last_) return;
    // Past `full_after` the bucket is full anyway; clamping dt first keeps
    // the product far from overflow for any rate and any idle time.
    const int64_t full_after = (cap_ - tokens_) / bytes_per_sec_ + 1;
    const int64_t dt = std::min((now - last_).count(), full_after);
    tokens_ = std::min(cap_, tokens_ + dt * bytes_per_sec_);
    last_ = now;
  }

  // Whether `len` bytes may start now (call refill first).
  bool ready(uint32_t len) const { return unlimited() || tokens_ >= int64_t{len} * kScale; }

  void spend(uint32_t len) {
    if (!unlimited()) tokens_ -= int64_t{len} * kScale;
  }

  // Earliest time at which `len` bytes will be ready, assuming refill(now).
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
