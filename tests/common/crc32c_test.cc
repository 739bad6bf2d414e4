// CRC32C (Castagnoli), specified by published check values and by agreement
// between the hardware and portable paths.
#include "common/crc32c.h"

#include <cstring>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

namespace weft {
namespace {

uint32_t crc_of(std::string_view s) { return crc32c(0, s.data(), s.size()); }

std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(Crc32c, CheckValueOf123456789IsE3069283) {
  EXPECT_EQ(crc_of("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(0, "123456789", 9), 0xE3069283u);
}

// RFC 3720 (iSCSI) appendix B.4 test vectors.
TEST(Crc32c, ThirtyTwoZeroBytesGive8A9136AA) {
  const std::array<uint8_t, 32> z{};
  EXPECT_EQ(crc32c(0, z.data(), z.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c_portable(0, z.data(), z.size()), 0x8A9136AAu);
}

TEST(Crc32c, ThirtyTwoFFBytesGive62A8AB43) {
  std::array<uint8_t, 32> f;
  f.fill(0xFF);
  EXPECT_EQ(crc32c(0, f.data(), f.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c_portable(0, f.data(), f.size()), 0x62A8AB43u);
}

TEST(Crc32c, AscendingAndDescendingBytesMatchRfc3720) {
  std::array<uint8_t, 32> up, down;
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(crc32c(0, up.data(), up.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c(0, down.data(), down.size()), 0x113FDB5Cu);
  EXPECT_EQ(crc32c_portable(0, up.data(), up.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c_portable(0, down.data(), down.size()), 0x113FDB5Cu);
}

TEST(Crc32c, EmptyInputLeavesTheRunningValueUnchanged) {
  EXPECT_EQ(crc32c(0, nullptr, 0), 0u);
  EXPECT_EQ(crc32c_portable(0, nullptr, 0), 0u);
  EXPECT_EQ(crc32c(0xE3069283u, "", 0), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(0xE3069283u, "", 0), 0xE3069283u);
}

TEST(Crc32c, IncrementalOverAnySplitEqualsOneShot) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 300; ++iter) {
    const size_t n = rng() % 600;
    const auto buf = random_bytes(rng, n);
    const uint32_t whole = crc32c(0, buf.data(), n);
    // Two pieces.
    const size_t a = n == 0 ? 0 : rng() % (n + 1);
    EXPECT_EQ(crc32c(crc32c(0, buf.data(), a), buf.data() + a, n - a), whole) << "n=" << n << " split=" << a;
    EXPECT_EQ(crc32c_portable(crc32c_portable(0, buf.data(), a), buf.data() + a, n - a), whole)
        << "n=" << n << " split=" << a;
    // Many random pieces, including empty ones.
    uint32_t c = 0;
    size_t pos = 0;
    while (pos < n) {
      const size_t len = std::min(n - pos, static_cast<size_t>(rng() % 40));
      c = crc32c(c, buf.data() + pos, len);
      pos += len;
    }
    EXPECT_EQ(c, whole) << "n=" << n;
  }
}

TEST(Crc32c, ByteAtATimeEqualsOneShot) {
  std::mt19937_64 rng(11);
  const auto buf = random_bytes(rng, 257);
  uint32_t c = 0, cp = 0;
  for (uint8_t b : buf) {
    c = crc32c(c, &b, 1);
    cp = crc32c_portable(cp, &b, 1);
  }
  EXPECT_EQ(c, crc32c(0, buf.data(), buf.size()));
  EXPECT_EQ(cp, c);
}

TEST(Crc32c, HardwarePathEqualsPortablePathForEveryLengthAndAlignment) {
  // When the CPU lacks SSE4.2 both calls take the portable path; the test
  // still pins crc32c() to the reference.
  std::mt19937_64 rng(42);
  const auto pool = random_bytes(rng, 1000 + 16);
  for (size_t len = 0; len <= 1000; ++len) {
    const size_t start = len % 16;  // every misalignment, cycling
    const uint8_t* p = pool.data() + start;
    ASSERT_EQ(crc32c(0, p, len), crc32c_portable(0, p, len)) << "len=" << len << " start=" << start;
    const uint32_t seed = static_cast<uint32_t>(rng());
    ASSERT_EQ(crc32c(seed, p, len), crc32c_portable(seed, p, len)) << "len=" << len << " seed=" << seed;
  }
  for (int iter = 0; iter < 500; ++iter) {
    const size_t start = rng() % 16;
    const size_t len = rng() % 1001;
    const auto buf = random_bytes(rng, start + len);
    ASSERT_EQ(crc32c(0, buf.data() + start, len), crc32c_portable(0, buf.data() + start, len))
        << "len=" << len << " start=" << start;
  }
}

TEST(Crc32c, CopyVariantCopiesExactlyAndComputesTheSameCrc) {
  // Every length up to past the three-stream thresholds, every misalignment
  // of source and destination, a running seed; guard bytes catch overruns.
  std::mt19937_64 rng(5);
  const auto pool = random_bytes(rng, 20000 + 16);
  std::vector<uint8_t> dst(20000 + 32);
  auto check = [&](size_t len, size_t s_off, size_t d_off, uint32_t seed) {
    std::fill(dst.begin(), dst.end(), uint8_t{0xEE});
    const uint8_t* src = pool.data() + s_off;
    const uint32_t got = crc32c_copy(seed, dst.data() + d_off, src, len);
    ASSERT_EQ(got, crc32c_portable(seed, src, len)) << "len=" << len;
    ASSERT_EQ(std::memcmp(dst.data() + d_off, src, len), 0) << "len=" << len;
    for (size_t i = 0; i < d_off; ++i) ASSERT_EQ(dst[i], 0xEE) << "wrote before dst, len=" << len;
    for (size_t i = d_off + len; i < dst.size(); ++i) ASSERT_EQ(dst[i], 0xEE) << "wrote past dst, len=" << len;
  };
  for (size_t len = 0; len <= 1000; ++len) check(len, len % 16, (len * 7) % 16, static_cast<uint32_t>(rng()));
  for (size_t len : {size_t{6143}, size_t{6144}, size_t{6151}, size_t{8876}, size_t{8972}, size_t{20000}})
    check(len, rng() % 16, rng() % 16, static_cast<uint32_t>(rng()));
}

TEST(Crc32c, HardwarePathEqualsPortablePathForLongBuffers) {
  // Past 1000 bytes too: a hardware path may switch strategy (interleaved
  // streams, block sizes) at larger lengths, and a jumbo-frame payload is 9000.
  std::mt19937_64 rng(99);
  const auto pool = random_bytes(rng, 70000 + 16);
  std::vector<size_t> lens;
  for (size_t block : {8, 32, 64, 256, 512, 1024, 2048, 4096, 8192, 16384})
    for (size_t k : {1, 2, 3, 4, 6})
      for (int d = -9; d <= 9; ++d)
        if (static_cast<ptrdiff_t>(block * k) + d > 0) lens.push_back(block * k + d);
  for (size_t n : {9000, 8972, 65507, 65536, 70000}) lens.push_back(n);
  for (int i = 0; i < 100; ++i) lens.push_back(rng() % 70001);
  for (size_t len : lens) {
    if (len + 16 > pool.size()) continue;  // stay inside the pool at any start offset
    const size_t start = rng() % 16;
    const uint8_t* p = pool.data() + start;
    const uint32_t seed = (rng() & 1) ? 0 : static_cast<uint32_t>(rng());
    ASSERT_EQ(crc32c(seed, p, len), crc32c_portable(seed, p, len)) << "len=" << len << " start=" << start;
  }
}

TEST(Crc32c, DetectsEverySingleBitFlip) {
  std::mt19937_64 rng(3);
  auto buf = random_bytes(rng, 64);
  const uint32_t good = crc32c(0, buf.data(), buf.size());
  for (size_t bit = 0; bit < buf.size() * 8; ++bit) {
    buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_NE(crc32c(0, buf.data(), buf.size()), good) << "bit " << bit;
    buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  }
}

TEST(Crc32c, HardwareAvailabilityIsStable) {
  EXPECT_EQ(crc32c_hardware_available(), crc32c_hardware_available());
#if !defined(__x86_64__)
  EXPECT_FALSE(crc32c_hardware_available());
#endif
}

}  // namespace
}  // namespace weft
