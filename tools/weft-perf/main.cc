// weft-perf: weft's benchmark tool. `p2p` measures point-to-point transport
// performance; collective subcommands join when collectives/ lands.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "tools/weft-perf/p2p.h"

namespace {

// "8", "64K", "1M", "256M" -> bytes; throws CLI::ValidationError.
uint64_t parse_size(const std::string& s) {
  size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(s, &pos);
  } catch (...) {
    throw CLI::ValidationError("size", "'" + s + "' is not a size (use e.g. 8, 64K, 1M, 256M)");
  }
  std::string unit = s.substr(pos);
  if (unit == "K" || unit == "k") v <<= 10;
  else if (unit == "M" || unit == "m") v <<= 20;
  else if (unit == "G" || unit == "g") v <<= 30;
  else if (!unit.empty() && unit != "B") throw CLI::ValidationError("size", "'" + s + "' has an unknown unit (K, M or G)");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  weft::log::set_threshold(weft::log::level_from_env());
  CLI::App app{"weft-perf: weft transport and collective benchmarks"};
  app.require_subcommand(1);

  weft::perf::P2pOptions o;
  std::string begin = "8", end = "256M", sizes_list, losses = "0,0.001,0.01,0.05", modes = "sr,gbn";
  unsigned factor = 8;
  auto* p2p = app.add_subcommand("p2p", "point-to-point goodput/latency/CPU, selective repeat vs go-back-N, under loss");
  p2p->add_option("-b,--minbytes", begin, "smallest message (e.g. 8, 64K)")->capture_default_str();
  p2p->add_option("-e,--maxbytes", end, "largest message (e.g. 256M)")->capture_default_str();
  p2p->add_option("-f,--stepfactor", factor, "multiply size by this between points")->capture_default_str()->check(CLI::Range(2u, 1024u));
  p2p->add_option("--sizes", sizes_list, "explicit comma-separated sizes, overrides -b/-e/-f");
  p2p->add_option("--loss", losses, "comma-separated loss probabilities injected on every send")->capture_default_str();
  p2p->add_option("--mode", modes, "recoveries to compare: sr (weft), gbn (RoCE-like go-back-N)")->capture_default_str();
  p2p->add_option("--seconds", o.seconds, "time budget per point")->capture_default_str()->check(CLI::PositiveNumber);
  p2p->add_option("--mtu", o.mtu, "UDP payload bytes per packet")->capture_default_str()->check(CLI::Range(1200u, 65000u));
  p2p->add_option("--window-kib", o.window_kib, "fixed congestion window")->capture_default_str()->check(CLI::Range(64u, 1u << 20));
  p2p->add_option("--paths", o.paths, "paths (UDP source ports) selective repeat sprays over")->capture_default_str()->check(CLI::Range(1, 8));
  p2p->add_option("--bind", o.bind, "local IPv4 address of both processes")->capture_default_str();
  p2p->add_option("--serve", o.serve, "act as the receiver for a remote --peer: IPv4:PORT to listen on (TCP control, weft on that IP)");
  p2p->add_option("--peer", o.peer, "measure against a remote `weft-perf p2p --serve IPv4:PORT`; also set --bind to a local address");
  p2p->add_option("--csv", o.csv, "also write rows to this CSV file");
  p2p->add_flag("--inline-progress", [&](int64_t) { o.progress_thread = false; },
                "no progress thread: the benchmark thread drives the engine while it waits (run to completion)");
  p2p->add_flag("--no-raw", [&](int64_t) { o.raw_baseline = false; }, "skip the raw UDP baseline");

  CLI11_PARSE(app, argc, argv);

  try {
    if (!sizes_list.empty()) {
      std::stringstream ss(sizes_list);
      for (std::string t; std::getline(ss, t, ',');) o.sizes.push_back(parse_size(t));
    } else {
      const uint64_t e = parse_size(end);
      for (uint64_t s = parse_size(begin); s <= e && s > 0; s *= factor) o.sizes.push_back(s);
      if (o.sizes.empty() || o.sizes.back() != e) o.sizes.push_back(e);  // the largest size is always measured
    }
  } catch (const CLI::ValidationError& e) {
    std::fprintf(stderr, "weft-perf: %s\n", e.what());
    return 2;
  }
  for (uint64_t s : o.sizes)
    if (s > (1ull << 32)) {
      std::fprintf(stderr, "weft-perf: sizes above 4 GiB are not supported by this benchmark\n");
      return 2;
    }
  {
    std::stringstream ss(losses);
    for (std::string t; std::getline(ss, t, ',');) {
      char* endp = nullptr;
      const double p = std::strtod(t.c_str(), &endp);
      if (endp == t.c_str() || *endp != '\0' || p < 0 || p >= 1) {
        std::fprintf(stderr, "weft-perf: --loss '%s' is not a probability in [0, 1)\n", t.c_str());
        return 2;
      }
      o.losses.push_back(p);
    }
  }
  {
    std::stringstream ss(modes);
    for (std::string t; std::getline(ss, t, ',');) {
      if (t != "sr" && t != "gbn") {
        std::fprintf(stderr, "weft-perf: --mode '%s' unknown: use sr, gbn or sr,gbn\n", t.c_str());
        return 2;
      }
      o.modes.push_back(t);
    }
  }
  if (o.sizes.empty() || o.losses.empty() || o.modes.empty()) {
    std::fprintf(stderr, "weft-perf: nothing to run (empty sizes, losses or modes)\n");
    return 2;
  }
  if (!o.serve.empty() && !o.peer.empty()) {
    std::fprintf(stderr, "weft-perf: use either --serve or --peer, not both\n");
    return 2;
  }
  return weft::perf::run_p2p(o);
}
