// tests/support/pattern.h — deterministic pseudo-random bytes (xorshift32)
// for tests and benchmarks: the same seed gives the same bytes everywhere,
// so a data mismatch is always a transport bug, never the fixture.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weft::testing {

inline std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<uint8_t>(x);
  }
  return v;
}

}  // namespace weft::testing
