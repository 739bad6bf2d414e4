// weft-perf p2p: point-to-point goodput, latency and CPU cost between two
// processes, weft's selective repeat beside go-back-N, under injected loss,
// against the raw UDP ceiling measured in the same run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::perf {

struct P2pOptions {
  std::vector<uint64_t> sizes;
  std::vector<double> losses;
  std::vector<std::string> modes;  // "sr", "gbn"
  uint32_t mtu = 8972;
  double seconds = 1.5;        // time budget per (mode, loss, size) point
  uint64_t bytes_per_point = 512ull << 20;
  uint32_t pingpongs = 200;    // latency samples per point (fewer for big sizes)
  std::string csv;             // write rows here too
  std::string bind = "127.0.0.1";
  bool raw_baseline = true;
  double raw_seconds = 1.5;
  uint32_t window_kib = 8192;  // fixed congestion window (when cc is empty)
  std::string cc;              // congestion control spec (registry), empty: fixed window
  std::string serve;  // IP:PORT: be the receiver for a remote --peer (TCP control there)
  std::string peer;   // IP:PORT: the remote --serve to measure against
  uint16_t paths = 8;         // entropy values sprayed over (sr)
  bool progress_thread = true;  // false: run to completion on the calling thread
};

// Forks the receiver, runs the sweep, prints the table. Returns exit code.
int run_p2p(const P2pOptions& opt);

}  // namespace weft::perf
