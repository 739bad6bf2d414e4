// bench/peers/peer_common.h — the sweep every peer benchmark runs, so weft,
// Gloo and Open MPI are measured the same way: for each size, warm-up
// iterations, then timed iterations (capped at about `seconds`), the time
// being the slowest rank's; rank 0 prints CSV rows
// "library,ranks,size,time_us,algbw,busbw" (busbw = algbw x 2(n-1)/n).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace peers {

struct Sweep {
  uint64_t min_bytes = 8, max_bytes = 64u << 20, factor = 4;
  int iters = 10, warmup = 2;
  double seconds = 1;
};

inline uint64_t parse_size(const char* s) {
  char* end = nullptr;
  uint64_t v = std::strtoull(s, &end, 10);
  if (*end == 'K' || *end == 'k') v <<= 10;
  else if (*end == 'M' || *end == 'm') v <<= 20;
  else if (*end == 'G' || *end == 'g') v <<= 30;
  return v;
}

// -b -e -f -n -w --seconds, as weft-perf takes them.
inline Sweep parse(int argc, char** argv) {
  Sweep s;
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-b") s.min_bytes = parse_size(argv[++i]);
    else if (a == "-e") s.max_bytes = parse_size(argv[++i]);
    else if (a == "-f") s.factor = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "-n") s.iters = std::atoi(argv[++i]);
    else if (a == "-w") s.warmup = std::atoi(argv[++i]);
    else if (a == "--seconds") s.seconds = std::atof(argv[++i]);
  }
  return s;
}

inline std::vector<uint64_t> sizes(const Sweep& s) {
  std::vector<uint64_t> v;
  for (uint64_t b = s.min_bytes; b <= s.max_bytes; b *= s.factor) v.push_back(b);
  if (v.empty() || v.back() != s.max_bytes) v.push_back(s.max_bytes);
  return v;
}

inline double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// `run()` does one all-reduce of `count` floats; `max_all(x)` returns the
// maximum of x over ranks (and synchronises them).
template <typename Run, typename MaxAll>
void sweep(const char* lib, int rank, int n, const Sweep& s, Run run, MaxAll max_all) {
  if (rank == 0) std::printf("library,ranks,size,time_us,algbw,busbw\n");
  for (uint64_t bytes : sizes(s)) {
    const uint64_t count = std::max<uint64_t>(1, bytes / 4);
    for (int i = 0; i < s.warmup; ++i) run(count);
    double t0 = now();
    run(count);
    const double one = max_all(now() - t0);
    const int iters = std::clamp(static_cast<int>(s.seconds / std::max(one, 1e-7)), 1, s.iters);
    max_all(0);
    t0 = now();
    for (int i = 0; i < iters; ++i) run(count);
    const double secs = max_all((now() - t0) / iters);
    const double algbw = static_cast<double>(count * 4) / secs / 1e9;
    if (rank == 0) {
      std::printf("%s,%d,%llu,%.2f,%.4f,%.4f\n", lib, n, static_cast<unsigned long long>(count * 4), secs * 1e6, algbw,
                  n > 1 ? algbw * 2.0 * (n - 1) / n : 0.0);
      std::fflush(stdout);
    }
  }
}

}  // namespace peers
