// bench/collectives/reduce_bench.cc — the reduction kernels against memory
// bandwidth: dst = a op b over n bytes reads 2n and writes n, so the ceiling
// is memcpy's rate for the same traffic (BM_Memcpy moves n, counted as 2n
// bytes: read + write). Each kernel table the CPU has is measured
// (portable, AVX2+F16C, AVX-512), at an L2-resident and a DRAM-sized buffer.
// bytes_per_second counts bytes moved (3 per element byte for a reduction).
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "collectives/reduce.h"

namespace weft::coll {
namespace {

const Kernels* table(int isa) {
  switch (isa) {
    case 0: return &portable_kernels();
    case 1: return avx2_kernels();
    default: return avx512_kernels();
  }
}

void BM_Memcpy(benchmark::State& st) {
  const size_t n = static_cast<size_t>(st.range(0));
  std::vector<uint8_t> a(n, 1), d(n, 0);
  for (auto _ : st) {
    std::memcpy(d.data(), a.data(), n);
    benchmark::DoNotOptimize(d.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(2 * n));
}
BENCHMARK(BM_Memcpy)->Arg(256 << 10)->Arg(64 << 20);

void BM_Reduce(benchmark::State& st) {
  const Kernels* k = table(static_cast<int>(st.range(2)));
  if (!k) {
    st.SkipWithError("this CPU lacks the instruction set");
    return;
  }
  const auto t = static_cast<DataType>(st.range(1));
  const size_t bytes = static_cast<size_t>(st.range(0)), n = bytes / dtype_size(t);
  std::vector<uint8_t> a(bytes, 0), b(bytes, 0), d(bytes, 0);
  // Small finite values (0x3C00 is 1.0 in half, 0x3F80 is 1.0 in bfloat16).
  for (size_t i = 0; i + 1 < bytes; i += 2) {
    a[i + 1] = b[i + 1] = 0x3C;
  }
  const ReduceFn f = k->get(t, RedOp::kSum);
  for (auto _ : st) {
    f(d.data(), a.data(), b.data(), n);
    benchmark::DoNotOptimize(d.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(3 * bytes));
  st.SetLabel(std::string(k->isa) + " " + std::string(dtype_name(t)) + " sum");
}

void Args(benchmark::internal::Benchmark* b) {
  for (int64_t bytes : {int64_t{256} << 10, int64_t{64} << 20})
    for (DataType t : {DataType::kF32, DataType::kF64, DataType::kF16, DataType::kBF16, DataType::kI8, DataType::kI32})
      for (int isa : {0, 1, 2}) b->Args({bytes, static_cast<int64_t>(t), isa});
}
BENCHMARK(BM_Reduce)->Apply(Args);

}  // namespace
}  // namespace weft::coll
