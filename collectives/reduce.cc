// collectives/reduce.cc — builds the kernel tables (reduce_impl.inc once per
// instruction set) and picks one at run time with __builtin_cpu_supports.
#include "collectives/reduce.h"

#include <immintrin.h>

#include <cstring>
#include <type_traits>

namespace weft::coll {

// Software half conversion: the portable path and the tails of the F16C loop.
float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t u;
  if (exp == 0x1F) {
    u = sign | 0x7F800000u | (mant << 13);
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    u = sign;
  } else {  // subnormal: normalise
    exp = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    u = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a >= 0x7F800000u) return static_cast<uint16_t>(sign | 0x7C00u | (a > 0x7F800000u ? 0x200u : 0));  // inf/NaN
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to >= 65520: overflow to inf
  if (a < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    if (a < 0x33000000u) return sign;  // < 2^-25 rounds to zero
    const uint32_t e = a >> 23;
    const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - e;  // so the result counts units of 2^-24
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = ((a - 0x38000000u) >> 13);  // rebias exponent 127 -> 15
  const uint32_t rem = a & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<uint16_t>(sign | r);
}

namespace portable {
#define WEFT_KERNEL_F16C 0
#include "collectives/reduce_impl.inc"
#undef WEFT_KERNEL_F16C
}  // namespace portable

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,f16c,fma")
namespace avx2 {
#define WEFT_KERNEL_F16C 1
#include "collectives/reduce_impl.inc"
#undef WEFT_KERNEL_F16C
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,f16c,fma")
namespace avx512 {
#define WEFT_KERNEL_F16C 1
#include "collectives/reduce_impl.inc"
#undef WEFT_KERNEL_F16C
}  // namespace avx512
#pragma GCC pop_options
#endif

const Kernels& portable_kernels() {
  static const Kernels k = portable::make_table("portable");
  return k;
}

const Kernels* avx2_kernels() {
#if defined(__x86_64__)
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
  if (!ok) return nullptr;
  static const Kernels k = avx2::make_table("avx2+f16c");
  return &k;
#else
  return nullptr;
#endif
}

const Kernels* avx512_kernels() {
#if defined(__x86_64__)
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c");
  if (!ok) return nullptr;
  static const Kernels k = avx512::make_table("avx512");
  return &k;
#else
  return nullptr;
#endif
}

const Kernels& kernels() {
  static const Kernels* best = [] {
    if (const Kernels* k = avx512_kernels()) return k;
    if (const Kernels* k = avx2_kernels()) return k;
    return &portable_kernels();
  }();
  return *best;
}

}  // namespace weft::coll
