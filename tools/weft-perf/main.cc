// weft-perf: weft's benchmark tool. `p2p` measures point-to-point transport
// performance; `allreduce`, `reducescatter`, `allgather`, `broadcast`,
// `reduce` and `alltoall` measure collectives in the nccl-tests format.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "tools/weft-perf/coll.h"
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
  // nccl-tests and mpirun spell it -np; CLI11 short options are one letter.
  std::vector<std::string> args(argv, argv + argc);
  for (auto& a : args)
    if (a == "-np") a = "--np";
  std::vector<char*> argv2;
  for (auto& a : args) argv2.push_back(a.data());
  argv = argv2.data();
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
  if (const char* env = std::getenv("WEFT_CC")) o.cc = env;  // the edge: --cc overrides it
  p2p->add_option("--cc", o.cc,
                  "congestion control, e.g. swift:target_delay_us=25, dcqcn, nscc, credit, plugin:/path/libx.so "
                  "(default: WEFT_CC, else a fixed window)");
  p2p->add_option("--paths", o.paths, "paths (UDP source ports) selective repeat sprays over")->capture_default_str()->check(CLI::Range(1, 8));
  p2p->add_option("--bind", o.bind, "local IPv4 address of both processes")->capture_default_str();
  p2p->add_option("--serve", o.serve, "act as the receiver for a remote --peer: IPv4:PORT to listen on (TCP control, weft on that IP)");
  p2p->add_option("--peer", o.peer, "measure against a remote `weft-perf p2p --serve IPv4:PORT`; also set --bind to a local address");
  p2p->add_option("--csv", o.csv, "also write rows to this CSV file");
  p2p->add_flag("--inline-progress", [&](int64_t) { o.progress_thread = false; },
                "no progress thread: the benchmark thread drives the engine while it waits (run to completion)");
  p2p->add_flag("--no-raw", [&](int64_t) { o.raw_baseline = false; }, "skip the raw UDP baseline");

  // Collective subcommands: nccl-tests flags.
  weft::perf::CollOptions co;
  std::string cbegin = "8", cend = "32M", cdtype = "float", cop = "sum", calgo = "auto", closs = "0", cmode = "sr";
  int ccheck = 1;
  struct CollCmd {
    const char* name;
    weft::coll::CollKind kind;
    const char* help;
  };
  static const CollCmd kColl[] = {
      {"allreduce", weft::coll::CollKind::kAllReduce, "all-reduce sweep, nccl-tests format (busbw = algbw x 2(n-1)/n)"},
      {"reducescatter", weft::coll::CollKind::kReduceScatter, "reduce-scatter sweep (busbw = algbw x (n-1)/n)"},
      {"allgather", weft::coll::CollKind::kAllGather, "all-gather sweep (busbw = algbw x (n-1)/n)"},
      {"broadcast", weft::coll::CollKind::kBroadcast, "broadcast sweep (busbw = algbw)"},
      {"reduce", weft::coll::CollKind::kReduce, "reduce sweep (busbw = algbw)"},
      {"alltoall", weft::coll::CollKind::kAllToAll, "all-to-all sweep (busbw = algbw x (n-1)/n)"},
  };
  std::vector<CLI::App*> coll_cmds;
  for (const CollCmd& cc : kColl) {
    auto* sc = app.add_subcommand(cc.name, cc.help);
    coll_cmds.push_back(sc);
    sc->add_option("-b,--minbytes", cbegin, "smallest size (e.g. 8, 64K)")->capture_default_str();
    sc->add_option("-e,--maxbytes", cend, "largest size (e.g. 256M)")->capture_default_str();
    sc->add_option("-f,--stepfactor", co.step_factor, "multiply size by this between points")->capture_default_str()->check(CLI::Range(2, 1024));
    sc->add_option("-n,--iters", co.iters, "timed iterations per size")->capture_default_str()->check(CLI::Range(1, 1000000));
    sc->add_option("-w,--warmup_iters", co.warmup, "untimed iterations first")->capture_default_str()->check(CLI::Range(0, 1000000));
    sc->add_option("-c,--check", ccheck, "verify every element against the reference once per size (0/1)")->capture_default_str();
    sc->add_option("-d,--datatype", cdtype, "float, double, half, bfloat16, int8, uint8, int32, uint32, int64, uint64")->capture_default_str();
    sc->add_option("-o,--op", cop, "sum, prod, min, max, avg")->capture_default_str();
    sc->add_option("-r,--root", co.root, "root rank (broadcast, reduce)")->capture_default_str();
    sc->add_option("-a,--algorithm", calgo, "auto, ring, rhd, dbt (tree), direct")->capture_default_str();
    sc->add_option("--np", co.np, "fork this many local ranks over UDP 127.0.0.1 (else: one rank per process under torchrun/mpirun/srun or WEFT_* variables)");
    sc->add_option("--loss", closs, "injected loss probability per datagram; comma-separated for several sweeps")->capture_default_str();
    sc->add_option("--mode", cmode, "sr (weft), gbn (go-back-N), or sr,gbn for both")->capture_default_str();
    sc->add_option("--seconds", co.seconds, "cap the timed loop of each size at about this many seconds (0: always -n)")->capture_default_str();
    sc->add_option("--csv", co.csv, "also write rows to this CSV file");
    sc->add_option("--json", co.json, "also write rows to this JSON file");
    sc->add_option("--svg", co.svg, "draw busbw against size into this SVG file");
    sc->add_option("--bind", co.bind, "IPv4 address of the ranks (and of the rendezvous with -np)")->capture_default_str();
    sc->add_option("--window-kib", co.window_kib, "fixed congestion window per connection")->capture_default_str();
    sc->add_option("--chunk", co.chunk_bytes, "pipelining chunk in bytes (0: tuning table)")->capture_default_str();
    sc->add_flag("--no-in-place", [&](int64_t) { co.in_place = false; }, "skip the in-place half of each row");
    sc->add_flag("--inline-progress", [&](int64_t) { co.progress_thread = false; }, "no progress thread per device");
    sc->add_option("-z,--blocking", co.blocking, "accepted for nccl-tests compatibility (calls are always blocking)");
  }

  CLI11_PARSE(app, argc, argv);

  for (size_t i = 0; i < coll_cmds.size(); ++i) {
    if (!coll_cmds[i]->parsed()) continue;
    co.kind = kColl[i].kind;
    co.check = ccheck != 0;
    try {
      co.min_bytes = parse_size(cbegin);
      co.max_bytes = parse_size(cend);
    } catch (const CLI::ValidationError& e) {
      std::fprintf(stderr, "weft-perf: %s\n", e.what());
      return 2;
    }
    if (co.min_bytes == 0 || co.min_bytes > co.max_bytes) {
      std::fprintf(stderr, "weft-perf: need 0 < -b <= -e\n");
      return 2;
    }
    auto dt = weft::coll::parse_dtype(cdtype);
    auto op = weft::coll::parse_redop(cop);
    auto al = weft::coll::parse_algorithm(calgo);
    for (const weft::Status& st : {dt.status(), op.status(), al.status()})
      if (!st.is_ok()) {
        std::fprintf(stderr, "weft-perf: %s\n", st.message().c_str());
        return 2;
      }
    co.dtype = *dt;
    co.op = *op;
    co.algo = *al;
    co.losses.clear();
    co.modes.clear();
    std::stringstream ls(closs), ms(cmode);
    for (std::string t; std::getline(ls, t, ',');) {
      char* endp = nullptr;
      const double p = std::strtod(t.c_str(), &endp);
      if (endp == t.c_str() || *endp != '\0' || p < 0 || p >= 1) {
        std::fprintf(stderr, "weft-perf: --loss '%s' is not a probability in [0, 1)\n", t.c_str());
        return 2;
      }
      co.losses.push_back(p);
    }
    for (std::string t; std::getline(ms, t, ',');) {
      if (t != "sr" && t != "gbn") {
        std::fprintf(stderr, "weft-perf: --mode '%s' unknown: use sr, gbn or sr,gbn\n", t.c_str());
        return 2;
      }
      co.modes.push_back(t);
    }
    if (co.losses.empty() || co.modes.empty()) {
      std::fprintf(stderr, "weft-perf: nothing to run (empty --loss or --mode)\n");
      return 2;
    }
    return weft::perf::run_coll(co);
  }

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
