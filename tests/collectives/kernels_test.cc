// tests/collectives/kernels_test.cc — every SIMD kernel table the CPU has
// agrees with the portable one on every datatype and reduction (bit-exact:
// the same operation in the same order per element), including the tails
// that do not fill a vector; and the half/bfloat16 conversions are right.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "collectives/reduce.h"

namespace weft::coll {
namespace {

TEST(Kernels, HalfConversionRoundTripsEveryFiniteValueAndKnowsKeyPoints) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t x = static_cast<uint16_t>(h);
    if ((x & 0x7C00) == 0x7C00 && (x & 0x3FF)) continue;  // NaN payloads
    EXPECT_EQ(float_to_half(half_to_float(x)), x) << std::hex << h;
  }
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);  // overflow rounds to infinity
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_float(0xC000), -2.0f);
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);  // tie to even
}

TEST(Kernels, SimdTablesMatchThePortableOneBitForBit) {
  std::vector<const Kernels*> tables;
  if (avx2_kernels()) tables.push_back(avx2_kernels());
  if (avx512_kernels()) tables.push_back(avx512_kernels());
  if (tables.empty()) GTEST_SKIP() << "this CPU has neither AVX2+F16C nor AVX-512: only the portable kernels exist";
  std::mt19937_64 rng(1);
  for (const Kernels* k : tables)
    for (int t = 0; t < kDataTypeCount; ++t)
      for (int op = 0; op < 4; ++op)
        for (size_t n : {size_t{1}, size_t{7}, size_t{8}, size_t{33}, size_t{1000}}) {
          const size_t esz = dtype_size(static_cast<DataType>(t));
          std::vector<uint8_t> a(n * esz), b(n * esz), want(n * esz), got(n * esz);
          for (auto& x : a) x = static_cast<uint8_t>(rng());
          for (auto& x : b) x = static_cast<uint8_t>(rng());
          if (t == static_cast<int>(DataType::kF16) || t == static_cast<int>(DataType::kBF16) ||
              t == static_cast<int>(DataType::kF32) || t == static_cast<int>(DataType::kF64)) {
            // Finite values only: NaN payloads may legitimately differ.
            for (size_t i = 0; i < n; ++i) {
              const float fa = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 8;
              const float fb = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 8;
              auto put = [&](std::vector<uint8_t>& v, float f) {
                if (t == static_cast<int>(DataType::kF16)) { uint16_t h = float_to_half(f); std::memcpy(&v[i * 2], &h, 2); }
                else if (t == static_cast<int>(DataType::kBF16)) { uint16_t h = float_to_bf16(f); std::memcpy(&v[i * 2], &h, 2); }
                else if (t == static_cast<int>(DataType::kF32)) std::memcpy(&v[i * 4], &f, 4);
                else { double d = f; std::memcpy(&v[i * 8], &d, 8); }
              };
              put(a, fa);
              put(b, fb);
            }
          }
          portable_kernels().reduce[t][op](want.data(), a.data(), b.data(), n);
          k->reduce[t][op](got.data(), a.data(), b.data(), n);
          EXPECT_EQ(want, got) << k->isa << " " << dtype_name(static_cast<DataType>(t)) << " op " << op << " n " << n;
          // In place (dst == a) gives the same.
          std::vector<uint8_t> ip = a;
          k->reduce[t][op](ip.data(), ip.data(), b.data(), n);
          EXPECT_EQ(want, ip) << k->isa << " in place";
          std::vector<uint8_t> d1 = want, d2 = want;
          portable_kernels().divide[t](d1.data(), n, 3);
          k->divide[t](d2.data(), n, 3);
          EXPECT_EQ(d1, d2) << k->isa << " divide " << dtype_name(static_cast<DataType>(t));
        }
}

TEST(Kernels, IntegersWrapAndFloatsReduceAsSpecified) {
  const Kernels& k = kernels();
  int8_t a[3] = {100, -128, 5}, b[3] = {100, -1, -7}, d[3];
  k.get(DataType::kI8, RedOp::kSum)(d, a, b, 3);
  EXPECT_EQ(d[0], static_cast<int8_t>(200 - 256));
  EXPECT_EQ(d[1], 127);
  EXPECT_EQ(d[2], -2);
  k.get(DataType::kI8, RedOp::kMin)(d, a, b, 3);
  EXPECT_EQ(d[1], -128);
  float x[9], y[9], z[9];
  for (int i = 0; i < 9; ++i) {
    x[i] = static_cast<float>(i);
    y[i] = 2.5f;
  }
  k.get(DataType::kF32, RedOp::kProd)(z, x, y, 9);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(z[i], 2.5f * i);
  k.get(DataType::kF32, RedOp::kMax)(z, x, y, 9);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(z[i], std::max(2.5f, static_cast<float>(i)));
  k.divide[static_cast<int>(DataType::kF32)](z, 9, 2);
  EXPECT_EQ(z[8], 4.0f);
  uint16_t h[9], g[9], o[9];
  for (int i = 0; i < 9; ++i) {
    h[i] = float_to_half(static_cast<float>(i) * 0.5f);
    g[i] = float_to_half(-1.0f);
  }
  k.get(DataType::kF16, RedOp::kSum)(o, h, g, 9);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(half_to_float(o[i]), static_cast<float>(i) * 0.5f - 1.0f);
}

}  // namespace
}  // namespace weft::coll
