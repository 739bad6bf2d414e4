// bench/common/crc32c_bench.cc — CRC32C throughput (common/crc32c.h).
//
// Every weft packet is checksummed twice (encode at the sender, decode at the
// receiver) over headers and payload, so CRC speed bounds the per-byte cost
// of the engine. Compared here, over the same buffer:
//   Crc32c          the dispatching entry point (SSE4.2 crc32, three streams)
//   Crc32cPortable  the slicing-by-8 table fallback
//   Memcpy          copying the buffer: the floor any per-byte pass competes with
// Sizes: 64 B (a header), 1500 (Ethernet MTU), 8876 (a jumbo-frame payload),
// 64 KiB (a large datagram). bytes_per_second gives the GB/s column.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "common/crc32c.h"
#include "tests/support/pattern.h"

namespace {

std::vector<uint8_t> make_buffer(size_t n) { return weft::testing::pattern(n, 1); }

// Both implementations must agree, or the numbers compare different work.
bool implementations_agree(const std::vector<uint8_t>& buf) {
  return weft::crc32c(0, buf.data(), buf.size()) == weft::crc32c_portable(0, buf.data(), buf.size());
}

void BM_Crc32c(benchmark::State& state) {
  const auto buf = make_buffer(static_cast<size_t>(state.range(0)));
  if (!implementations_agree(buf)) {
    state.SkipWithError("crc32c and crc32c_portable disagree");
    return;
  }
  for (auto _ : state) {
    uint32_t c = weft::crc32c(0, buf.data(), buf.size());
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetLabel(weft::crc32c_hardware_available() ? "sse4.2" : "no sse4.2: portable fallback");
}

void BM_Crc32cPortable(benchmark::State& state) {
  const auto buf = make_buffer(static_cast<size_t>(state.range(0)));
  if (!implementations_agree(buf)) {
    state.SkipWithError("crc32c and crc32c_portable disagree");
    return;
  }
  for (auto _ : state) {
    uint32_t c = weft::crc32c_portable(0, buf.data(), buf.size());
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_Memcpy(benchmark::State& state) {
  const auto src = make_buffer(static_cast<size_t>(state.range(0)));
  std::vector<uint8_t> dst(src.size());
  for (auto _ : state) {
    benchmark::DoNotOptimize(dst.data());
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::ClobberMemory();
  }
  if (std::memcmp(dst.data(), src.data(), src.size()) != 0) state.SkipWithError("memcpy did not copy");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

// Receive placement: a packet lands in a bounce buffer (hot in cache) and
// must be checked and moved into the user's buffer (cold: a large message).
// The destination walks a 64 MiB buffer so it is not cache-resident, as in a
// real transfer. CheckThenCopy is two passes; CopyFused is crc32c_copy.
struct Placement {
  std::vector<uint8_t> src;
  std::vector<uint8_t> dst = std::vector<uint8_t>(64u << 20, 0);
  size_t pos = 0;
  explicit Placement(size_t n) : src(make_buffer(n)) {}
  uint8_t* next() {
    if (pos + src.size() > dst.size()) pos = 0;
    uint8_t* d = dst.data() + pos;
    pos += src.size();
    return d;
  }
};

void BM_CheckThenCopy(benchmark::State& state) {
  Placement pl(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    uint32_t c = weft::crc32c(0, pl.src.data(), pl.src.size());
    benchmark::DoNotOptimize(c);
    std::memcpy(pl.next(), pl.src.data(), pl.src.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_CopyFused(benchmark::State& state) {
  Placement pl(static_cast<size_t>(state.range(0)));
  if (weft::crc32c_copy(0, pl.dst.data(), pl.src.data(), pl.src.size()) != weft::crc32c(0, pl.src.data(), pl.src.size())) {
    state.SkipWithError("crc32c_copy disagrees with crc32c");
    return;
  }
  for (auto _ : state) {
    uint32_t c = weft::crc32c_copy(0, pl.next(), pl.src.data(), pl.src.size());
    benchmark::DoNotOptimize(c);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {64, 1500, 8876, 64 * 1024}) b->Arg(n);
}

}  // namespace

BENCHMARK(BM_Crc32c)->Apply(sizes);
BENCHMARK(BM_Crc32cPortable)->Apply(sizes);
BENCHMARK(BM_Memcpy)->Apply(sizes);
BENCHMARK(BM_CheckThenCopy)->Apply(sizes);
BENCHMARK(BM_CopyFused)->Apply(sizes);
