// collectives/reduce.h — element-wise reduction kernels, picked at run time.
//
// One table per instruction set (portable, AVX2+F16C, AVX-512); kernels()
// returns the best the CPU has (__builtin_cpu_supports), chosen once. Every
// kernel computes dst[i] = a[i] op b[i] for n elements and allows dst == a or
// dst == b (in-place accumulation). Integers wrap (two's complement) like
// NCCL; f16/bf16 are widened to f32 per element and rounded back to nearest
// even. avg is sum followed by divide() on the finished elements.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/collectives.h"

namespace weft::coll {

using ReduceFn = void (*)(void* dst, const void* a, const void* b, size_t n);
using DivideFn = void (*)(void* dst, size_t n, uint32_t divisor);

struct Kernels {
  const char* isa = "portable";
  ReduceFn reduce[kDataTypeCount][4] = {};  // [dtype][sum, prod, min, max]
  DivideFn divide[kDataTypeCount] = {};
  ReduceFn get(DataType t, RedOp op) const {
    const int o = op == RedOp::kAvg ? 0 : static_cast<int>(op);
    return reduce[static_cast<int>(t)][o];
  }
};

const Kernels& kernels();            // the best this CPU supports
const Kernels& portable_kernels();   // plain C++ (still auto-vectorized for SSE2)
const Kernels* avx2_kernels();       // nullptr when the CPU lacks AVX2+F16C
const Kernels* avx512_kernels();     // nullptr when the CPU lacks AVX-512F/BW

// IEEE half and bfloat16 conversions (round to nearest even), for references and tests.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bf16_to_float(uint16_t b) {
  const uint32_t u = uint32_t{b} << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu)) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

}  // namespace weft::coll
