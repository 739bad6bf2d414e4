// Helpers for tests that drive a weft::Device in real time: Events gathers a
// device's completions by polling against a generous deadline, and pattern,
// Same and AllBytesAre make and check transferred data byte for byte.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "weft/transport.h"

namespace weft::testing {

// Long enough for a loaded 2-core machine; a healthy run takes a fraction.
inline constexpr std::chrono::milliseconds kTimeout{30000};

// ---------------------------------------------------------------- data ----

inline uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// `n` bytes no two (seed, offset) pairs are likely to share, so a misplaced
// packet or a message matched to the wrong receive shows up. `stream` picks
// an independent family of patterns (each test file keeps its own).
inline std::vector<uint8_t> pattern(size_t n, uint64_t seed, uint64_t stream) {
  std::vector<uint8_t> v(n);
  uint64_t x = seed * 0x2545F4914F6CDD1Dull + stream;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t z = splitmix(x);
    std::memcpy(v.data() + i, &z, 8);
  }
  const uint64_t z = splitmix(x);
  for (size_t k = 0; i < n; ++i, ++k) v[i] = static_cast<uint8_t>(z >> (8 * k));
  return v;
}

inline uint64_t fnv1a(std::span<const uint8_t> b) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : b) h = (h ^ c) * 1099511628211ull;
  return h;
}

// `got` starts with exactly `want`. Reports where they first differ rather
// than printing megabytes.
inline ::testing::AssertionResult Same(std::span<const uint8_t> want, std::span<const uint8_t> got) {
  if (got.size() < want.size())
    return ::testing::AssertionFailure() << "have " << got.size() << " bytes, want " << want.size();
  const auto mm = std::mismatch(want.begin(), want.end(), got.begin());
  if (mm.first == want.end()) return ::testing::AssertionSuccess();
  const size_t off = static_cast<size_t>(mm.first - want.begin());
  size_t bad = 0;
  for (size_t i = off; i < want.size(); ++i) bad += want[i] != got[i];
  return ::testing::AssertionFailure() << bad << " of " << want.size() << " bytes differ, the first at offset " << off
                                       << " (want 0x" << std::hex << int{want[off]} << ", got 0x" << int{got[off]}
                                       << std::dec << "); checksum want " << fnv1a(want) << " got "
                                       << fnv1a(got.first(want.size()));
}

// Every byte of `b` is `v`.
inline ::testing::AssertionResult AllBytesAre(std::span<const uint8_t> b, uint8_t v) {
  for (size_t i = 0; i < b.size(); ++i)
    if (b[i] != v)
      return ::testing::AssertionFailure() << "byte " << i << " is 0x" << std::hex << int{b[i]} << ", want 0x" << int{v};
  return ::testing::AssertionSuccess();
}

inline bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---------------------------------------------------------- completions ----

// Every completion a device has produced, gathered by polling with a
// deadline. One per device; used from the test thread only.
class Events {
 public:
  using milliseconds = std::chrono::milliseconds;

  explicit Events(Device& d) : d_(d) {}

  // Polls until `done()` holds; false if `timeout` passed first.
  template <typename Pred>
  bool wait(Pred done, milliseconds timeout = kTimeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      drain();
      if (done()) return true;
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  void drain() {
    std::array<Completion, 64> buf;
    for (size_t n; (n = d_.poll(buf)) > 0;) seen_.insert(seen_.end(), buf.begin(), buf.begin() + n);
  }
  // The completion of operation `id`, or null.
  const Completion* op(OpId id) const {
    for (const auto& c : seen_)
      if (c.op == id && id != 0) return &c;
    return nullptr;
  }
  const Completion* wait_op(OpId id, milliseconds timeout = kTimeout) {
    wait([&] { return op(id) != nullptr; }, timeout);
    return op(id);
  }
  // The first event of `type` (on `conn` unless 0), or null.
  const Completion* event(CompletionType type, ConnId conn = 0) const {
    for (const auto& c : seen_)
      if (c.type == type && (conn == 0 || c.conn == conn)) return &c;
    return nullptr;
  }
  const Completion* wait_event(CompletionType type, ConnId conn = 0, milliseconds timeout = kTimeout) {
    wait([&] { return event(type, conn) != nullptr; }, timeout);
    return event(type, conn);
  }
  size_t count(CompletionType type) const {
    return static_cast<size_t>(std::count_if(seen_.begin(), seen_.end(), [&](const Completion& c) { return c.type == type; }));
  }
  const std::vector<Completion>& all() const { return seen_; }

 private:
  Device& d_;
  std::vector<Completion> seen_;
};

}  // namespace weft::testing
