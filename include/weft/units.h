// weft/units.h — strong unit types. Time is integer nanoseconds, sizes are
// bytes, rates are bits per second. Mixing them is a compile error.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace weft {

template <typename Tag, typename Rep>
struct Quantity {
  Rep v = 0;
  constexpr Quantity() = default;
  constexpr explicit Quantity(Rep x) : v(x) {}
  constexpr Rep count() const { return v; }
  constexpr auto operator<=>(const Quantity&) const = default;
  constexpr Quantity operator+(Quantity o) const { return Quantity(v + o.v); }
  constexpr Quantity operator-(Quantity o) const { return Quantity(v - o.v); }
  constexpr Quantity& operator+=(Quantity o) { v += o.v; return *this; }
  constexpr Quantity& operator-=(Quantity o) { v -= o.v; return *this; }
  constexpr Quantity operator*(Rep k) const { return Quantity(v * k); }
  constexpr Quantity operator/(Rep k) const { return Quantity(v / k); }
  static constexpr Quantity max() { return Quantity(std::numeric_limits<Rep>::max()); }
  static constexpr Quantity zero() { return Quantity(0); }
};

struct BytesTag {};
struct NanosTag {};
struct BitsPerSecTag {};
using Bytes = Quantity<BytesTag, uint64_t>;
using Nanos = Quantity<NanosTag, int64_t>;  // signed: differences may be negative
using BitsPerSec = Quantity<BitsPerSecTag, uint64_t>;

constexpr Nanos nanos(int64_t n) { return Nanos(n); }
constexpr Nanos micros(int64_t us) { return Nanos(us * 1000); }
constexpr Nanos millis(int64_t ms) { return Nanos(ms * 1000000); }
constexpr Nanos seconds(int64_t s) { return Nanos(s * 1000000000); }
constexpr Bytes bytes(uint64_t n) { return Bytes(n); }
constexpr BitsPerSec gbps(uint64_t g) { return BitsPerSec(g * 1000000000ull); }

// Time to serialize `b` at `r`; zero rate means "unpaced".
constexpr Nanos transmit_time(Bytes b, BitsPerSec r) {
  if (r.v == 0) return Nanos(0);
  return Nanos(static_cast<int64_t>((static_cast<unsigned __int128>(b.v) * 8u * 1000000000u) / r.v));
}

}  // namespace weft
