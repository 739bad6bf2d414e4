// collectives/reference.h — inputs and the reference reduction, for tests
// and for weft-perf's -c check. Computed element by element in int64/double,
// independent of the schedules and kernels it checks.
//
// Inputs are small integers (chosen per reduction so that sums, products,
// minima and maxima of up to 8 ranks are exactly representable in every
// datatype, f16 and bf16 included), so floating-point results are checked
// against a stated tolerance that only rounding of avg's division can use:
// f64 1e-12, f32 1e-6, f16 2e-3, bf16 1e-2 (relative, or absolute below 1).
// Integers are exact, with the same two's-complement wrap as the kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "collectives/reduce.h"
#include "weft/collectives.h"

namespace weft::coll::reference {

inline bool is_signed(DataType t) {
  return t == DataType::kI8 || t == DataType::kI32 || t == DataType::kI64 || t == DataType::kF32 ||
         t == DataType::kF64 || t == DataType::kF16 || t == DataType::kBF16;
}
inline bool is_float(DataType t) {
  return t == DataType::kF32 || t == DataType::kF64 || t == DataType::kF16 || t == DataType::kBF16;
}

// The value rank r contributes at element i (as an integer).
inline int64_t input_value(DataType t, RedOp op, int r, uint64_t i, uint64_t seed) {
  const uint64_t h = (i * 0x9E3779B97F4A7C15ull) ^ ((r + 1) * 0xBF58476D1CE4E5B9ull) ^ seed;
  const uint64_t x = (h ^ (h >> 29)) * 0x94D049BB133111EBull >> 33;
  const bool s = is_signed(t);
  switch (op) {
    case RedOp::kProd: {
      static constexpr int64_t kSigned[] = {1, 2, -1, 1, -2}, kUnsigned[] = {1, 2, 3, 1, 2};
      return s ? kSigned[x % 5] : kUnsigned[x % 5];
    }
    case RedOp::kMin:
    case RedOp::kMax:
      return s ? static_cast<int64_t>(x % 200) - 100 : static_cast<int64_t>(x % 200);
    default:
      return s ? static_cast<int64_t>(x % 9) - 4 : static_cast<int64_t>(x % 9);
  }
}

inline void store(DataType t, void* p, uint64_t i, double v) {
  auto* b = static_cast<uint8_t*>(p);
  switch (t) {
    case DataType::kF32: { float f = static_cast<float>(v); std::memcpy(b + 4 * i, &f, 4); break; }
    case DataType::kF64: std::memcpy(b + 8 * i, &v, 8); break;
    case DataType::kF16: { uint16_t h = float_to_half(static_cast<float>(v)); std::memcpy(b + 2 * i, &h, 2); break; }
    case DataType::kBF16: { uint16_t h = float_to_bf16(static_cast<float>(v)); std::memcpy(b + 2 * i, &h, 2); break; }
    case DataType::kI8: { int8_t x = static_cast<int8_t>(static_cast<int64_t>(v)); std::memcpy(b + i, &x, 1); break; }
    case DataType::kU8: { uint8_t x = static_cast<uint8_t>(static_cast<int64_t>(v)); std::memcpy(b + i, &x, 1); break; }
    case DataType::kI32: { int32_t x = static_cast<int32_t>(static_cast<int64_t>(v)); std::memcpy(b + 4 * i, &x, 4); break; }
    case DataType::kU32: { uint32_t x = static_cast<uint32_t>(static_cast<int64_t>(v)); std::memcpy(b + 4 * i, &x, 4); break; }
    case DataType::kI64: { int64_t x = static_cast<int64_t>(v); std::memcpy(b + 8 * i, &x, 8); break; }
    case DataType::kU64: { uint64_t x = static_cast<uint64_t>(static_cast<int64_t>(v)); std::memcpy(b + 8 * i, &x, 8); break; }
  }
}

inline double load(DataType t, const void* p, uint64_t i) {
  const auto* b = static_cast<const uint8_t*>(p);
  switch (t) {
    case DataType::kF32: { float f; std::memcpy(&f, b + 4 * i, 4); return f; }
    case DataType::kF64: { double f; std::memcpy(&f, b + 8 * i, 8); return f; }
    case DataType::kF16: { uint16_t h; std::memcpy(&h, b + 2 * i, 2); return half_to_float(h); }
    case DataType::kBF16: { uint16_t h; std::memcpy(&h, b + 2 * i, 2); return bf16_to_float(h); }
    case DataType::kI8: { int8_t x; std::memcpy(&x, b + i, 1); return x; }
    case DataType::kU8: { uint8_t x; std::memcpy(&x, b + i, 1); return x; }
    case DataType::kI32: { int32_t x; std::memcpy(&x, b + 4 * i, 4); return x; }
    case DataType::kU32: { uint32_t x; std::memcpy(&x, b + 4 * i, 4); return x; }
    case DataType::kI64: { int64_t x; std::memcpy(&x, b + 8 * i, 8); return static_cast<double>(x); }
    case DataType::kU64: { uint64_t x; std::memcpy(&x, b + 8 * i, 8); return static_cast<double>(x); }
  }
  return 0;
}

// Wraps an exact integer result to the datatype, as the kernels' arithmetic does.
inline double wrap(DataType t, int64_t v) {
  switch (t) {
    case DataType::kI8: return static_cast<int8_t>(v);
    case DataType::kU8: return static_cast<uint8_t>(v);
    case DataType::kI32: return static_cast<int32_t>(v);
    case DataType::kU32: return static_cast<uint32_t>(v);
    default: return static_cast<double>(v);
  }
}

// The reduction of element i over ranks [0, n).
inline double expected(DataType t, RedOp op, int n, uint64_t i, uint64_t seed) {
  int64_t acc = input_value(t, op, 0, i, seed);
  for (int r = 1; r < n; ++r) {
    const int64_t v = input_value(t, op, r, i, seed);
    switch (op) {
      case RedOp::kProd: acc *= v; break;
      case RedOp::kMin: acc = std::min(acc, v); break;
      case RedOp::kMax: acc = std::max(acc, v); break;
      default: acc += v; break;
    }
  }
  if (op != RedOp::kAvg) return wrap(t, acc);
  if (is_float(t)) return static_cast<double>(acc) / n;
  // Integer avg: the wrapped sum divided in the type (C++ truncation).
  const double w = wrap(t, acc);
  return static_cast<double>(static_cast<int64_t>(w) / n);
}

inline double tolerance(DataType t) {
  switch (t) {
    case DataType::kF64: return 1e-12;
    case DataType::kF32: return 1e-6;
    case DataType::kF16: return 2e-3;
    case DataType::kBF16: return 1e-2;
    default: return 0;
  }
}

inline bool close_enough(DataType t, double got, double want) {
  if (!is_float(t)) return got == want;
  return std::fabs(got - want) <= tolerance(t) * std::max(1.0, std::fabs(want));
}

// Fills `buf` with rank r's input for elements [0, count).
inline void fill_input(DataType t, RedOp op, int r, void* buf, uint64_t count, uint64_t seed, uint64_t first = 0) {
  for (uint64_t i = 0; i < count; ++i) store(t, buf, i, static_cast<double>(input_value(t, op, r, first + i, seed)));
}

// "" when every element matches; otherwise where and how many do not.
inline std::string check_reduced(DataType t, RedOp op, int n, const void* buf, uint64_t count, uint64_t seed,
                                 uint64_t first = 0) {
  uint64_t bad = 0, first_bad = 0;
  double got0 = 0, want0 = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const double want = expected(t, op, n, first + i, seed), got = load(t, buf, i);
    if (!close_enough(t, got, want)) {
      if (bad++ == 0) {
        first_bad = i;
        got0 = got;
        want0 = want;
      }
    }
  }
  if (!bad) return "";
  return fmt::format("{} of {} elements wrong, first at {} (got {}, want {})", bad, count, first_bad, got0, want0);
}

}  // namespace weft::coll::reference
