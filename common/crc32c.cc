#include "common/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace weft {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? kPoly : 0u);
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};
constexpr Tables kTables;

#if defined(__x86_64__)
// Three interleaved streams hide the crc32 instruction's 3-cycle latency
// (one stream runs at a third of the instruction's throughput). The three
// partial CRCs are merged with "append N zero bytes" operators: CRC is linear
// over GF(2), so crc(A||B) = zeros(crc(A), |B|) ^ crc(B) when B's register
// starts at 0. The operators are 4x256 tables built once from the polynomial.
constexpr size_t kLong = 2048;  // bytes per stream in the long loop
constexpr size_t kShort = 256;  // bytes per stream in the short loop

uint32_t gf2_times(const uint32_t* mat, uint32_t vec) {
  uint32_t sum = 0;
  while (vec) {
    if (vec & 1) sum ^= *mat;
    vec >>= 1;
    ++mat;
  }
  return sum;
}

// Operator that appends `len` zero bytes to a CRC register.
struct ZerosTable {
  uint32_t t[4][256];
  explicit ZerosTable(size_t len) {
    uint32_t op[32], sq[32];
    op[0] = kPoly;  // one zero bit
    for (int n = 1; n < 32; ++n) op[n] = 1u << (n - 1);
    // Square up to one zero byte (8 bits): op^2, op^4, op^8.
    for (int k = 0; k < 3; ++k) {
      for (int n = 0; n < 32; ++n) sq[n] = gf2_times(op, op[n]);
      std::memcpy(op, sq, sizeof op);
    }
    // op is now "one zero byte"; raise it to the power len by squaring.
    uint32_t acc[32];
    for (int n = 0; n < 32; ++n) acc[n] = 1u << n;  // identity
    for (size_t l = len; l; l >>= 1) {
      if (l & 1) {
        uint32_t tmp[32];
        for (int n = 0; n < 32; ++n) tmp[n] = gf2_times(op, acc[n]);
        std::memcpy(acc, tmp, sizeof acc);
      }
      for (int n = 0; n < 32; ++n) sq[n] = gf2_times(op, op[n]);
      std::memcpy(op, sq, sizeof op);
    }
    for (uint32_t n = 0; n < 256; ++n) {
      t[0][n] = gf2_times(acc, n);
      t[1][n] = gf2_times(acc, n << 8);
      t[2][n] = gf2_times(acc, n << 16);
      t[3][n] = gf2_times(acc, n << 24);
    }
  }
  uint32_t shift(uint32_t crc) const {
    return t[0][crc & 0xFF] ^ t[1][(crc >> 8) & 0xFF] ^ t[2][(crc >> 16) & 0xFF] ^ t[3][crc >> 24];
  }
};

__attribute__((target("sse4.2"))) inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// With kCopy the loop also stores every word it loads to `d`: receive
// placement checks the payload and moves it in one pass over the bytes.
template <size_t kBlock, bool kCopy>
__attribute__((target("sse4.2"))) uint64_t three_way(uint64_t c0, const uint8_t*& p, uint8_t*& d, size_t& n,
                                                     const ZerosTable& z) {
  while (n >= 3 * kBlock) {
    uint64_t c1 = 0, c2 = 0;
    const uint8_t* end = p + kBlock;
    do {
      const uint64_t w0 = load64(p), w1 = load64(p + kBlock), w2 = load64(p + 2 * kBlock);
      c0 = _mm_crc32_u64(c0, w0);
      c1 = _mm_crc32_u64(c1, w1);
      c2 = _mm_crc32_u64(c2, w2);
      if constexpr (kCopy) {
        std::memcpy(d, &w0, 8);
        std::memcpy(d + kBlock, &w1, 8);
        std::memcpy(d + 2 * kBlock, &w2, 8);
        d += 8;
      }
      p += 8;
    } while (p < end);
    c0 = z.shift(static_cast<uint32_t>(c0)) ^ c1;
    c0 = z.shift(static_cast<uint32_t>(c0)) ^ c2;
    p += 2 * kBlock;
    if constexpr (kCopy) d += 2 * kBlock;
    n -= 3 * kBlock;
  }
  return c0;
}

template <bool kCopy>
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t crc, uint8_t* d, const uint8_t* p, size_t n) {
  static const ZerosTable long_zeros(kLong), short_zeros(kShort);
  uint64_t c = static_cast<uint32_t>(~crc);
  c = three_way<kLong, kCopy>(c, p, d, n, long_zeros);
  c = three_way<kShort, kCopy>(c, p, d, n, short_zeros);
  while (n >= 8) {
    const uint64_t w = load64(p);
    c = _mm_crc32_u64(c, w);
    if constexpr (kCopy) {
      std::memcpy(d, &w, 8);
      d += 8;
    }
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) {
    if constexpr (kCopy) *d++ = *p;
    c32 = _mm_crc32_u8(c32, *p++);
  }
  return ~c32;
}

bool detect_sse42() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & bit_SSE4_2) != 0;
}
#endif

}  // namespace

uint32_t crc32c_portable(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  const auto& t = kTables.t;
  while (n >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return ~c;
}

bool crc32c_hardware_available() {
#if defined(__x86_64__)
  static const bool have = detect_sse42();
  return have;
#else
  return false;
#endif
}

uint32_t crc32c(uint32_t crc, const void* data, size_t n) {
#if defined(__x86_64__)
  if (crc32c_hardware_available()) return crc32c_sse42<false>(crc, nullptr, static_cast<const uint8_t*>(data), n);
#endif
  return crc32c_portable(crc, data, n);
}

uint32_t crc32c_copy(uint32_t crc, void* dst, const void* src, size_t n) {
#if defined(__x86_64__)
  if (crc32c_hardware_available())
    return crc32c_sse42<true>(crc, static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), n);
#endif
  if (n > 0) std::memcpy(dst, src, n);
  return crc32c_portable(crc, src, n);
}

}  // namespace weft
