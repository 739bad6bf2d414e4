// weft-perf collective benchmarks (see coll.h). Rank 0 prints; every rank
// measures, and a point's time is the slowest rank's (an all-reduce max),
// as a training step waits for the slowest rank too.
//
// algbw = size / time. busbw = algbw x the nccl-tests factor, which makes
// every collective comparable to the link speed: all-reduce 2(n-1)/n,
// reduce-scatter, all-gather and all-to-all (n-1)/n, broadcast and reduce 1.
// `size` is the larger buffer (nccl-tests: all-gather's output,
// reduce-scatter's input, all-to-all's whole send buffer).
#include "tools/weft-perf/coll.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "collectives/reference.h"
#include "transport/fault/fault_driver.h"
#include "transport/udp/udp_driver.h"

namespace weft::perf {

namespace {

using coll::CollKind;
using coll::DataType;
using Clock = std::chrono::steady_clock;

double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

double bus_factor(CollKind k, int n) {
  switch (k) {
    case CollKind::kAllReduce: return n > 1 ? 2.0 * (n - 1) / n : 0;
    case CollKind::kReduceScatter:
    case CollKind::kAllGather:
    case CollKind::kAllToAll: return n > 1 ? static_cast<double>(n - 1) / n : 0;
    default: return 1;
  }
}
bool has_root(CollKind k) { return k == CollKind::kBroadcast || k == CollKind::kReduce; }
bool has_op(CollKind k) {
  return k == CollKind::kAllReduce || k == CollKind::kReduceScatter || k == CollKind::kReduce;
}
// Per-rank element count for a point of `size` bytes, and the bytes reported.
uint64_t per_rank_count(CollKind k, uint64_t size, size_t esz, int n) {
  const uint64_t total = size / esz;
  switch (k) {
    case CollKind::kReduceScatter:
    case CollKind::kAllGather:
    case CollKind::kAllToAll: return total / n;
    default: return total;
  }
}
uint64_t reported_bytes(CollKind k, uint64_t count, size_t esz, int n) {
  switch (k) {
    case CollKind::kReduceScatter:
    case CollKind::kAllGather:
    case CollKind::kAllToAll: return count * n * esz;
    default: return count * esz;
  }
}

struct Half {
  double us = 0, algbw = 0, busbw = 0;
  uint64_t wrong = 0;
};
struct Row {
  std::string mode;
  double loss = 0;
  uint64_t size = 0, count = 0;
  Half oop, ip;
  uint64_t retransmits = 0;
};

struct Bench {
  const CollOptions& o;
  coll::Communicator& c;
  int r, n;
  size_t esz;
  std::vector<uint8_t> send, recv;

  Status op(uint64_t count, bool in_place) {
    uint8_t* s = send.data();
    uint8_t* d = recv.data();
    switch (o.kind) {
      case CollKind::kAllReduce: return c.all_reduce(s, in_place ? s : d, count, o.dtype, o.op, o.algo);
      case CollKind::kReduceScatter:
        return c.reduce_scatter(s, in_place ? s + r * count * esz : d, count, o.dtype, o.op, o.algo);
      case CollKind::kAllGather: return c.all_gather(in_place ? d + r * count * esz : s, d, count, o.dtype, o.algo);
      case CollKind::kBroadcast: return c.broadcast(s, in_place ? s : d, count, o.dtype, o.root, o.algo);
      case CollKind::kReduce: return c.reduce(s, in_place ? s : d, count, o.dtype, o.op, o.root, o.algo);
      case CollKind::kAllToAll: return c.all_to_all(s, in_place ? s : d, count, o.dtype);
      default: return Status(Code::kInvalidArgument, "not a benchmarkable collective");
    }
  }

  double max_over_ranks(double v) {
    double out = v;
    (void)c.all_reduce(&v, &out, 1, DataType::kF64, coll::RedOp::kMax, coll::Algorithm::kRecursiveHalvingDoubling);
    return out;
  }

  // Fills inputs with the reference pattern, runs once, counts wrong elements
  // (all ranks' counts summed).
  Result<uint64_t> check(uint64_t count, bool in_place) {
    namespace ref = coll::reference;
    const DataType t = o.dtype;
    const auto op = o.kind == CollKind::kAllReduce || o.kind == CollKind::kReduceScatter || o.kind == CollKind::kReduce
                        ? o.op
                        : coll::RedOp::kSum;
    const uint64_t seed = count * 31 + in_place;
    const uint64_t in_elems = o.kind == CollKind::kReduceScatter || o.kind == CollKind::kAllToAll ? count * n : count;
    if (o.kind == CollKind::kAllGather && in_place) ref::fill_input(t, op, r, recv.data() + r * count * esz, count, seed);
    else ref::fill_input(t, op, r, send.data(), in_elems, seed);
    WEFT_RETURN_IF_ERROR(this->op(count, in_place));
    const uint8_t* out = in_place && o.kind != CollKind::kAllGather ? send.data() : recv.data();
    uint64_t wrong = 0;
    auto cmp = [&](const uint8_t* p, uint64_t i, double want) {
      if (!ref::close_enough(t, ref::load(t, p, i), want)) ++wrong;
    };
    switch (o.kind) {
      case CollKind::kAllReduce:
        for (uint64_t i = 0; i < count; ++i) cmp(out, i, ref::expected(t, op, n, i, seed));
        break;
      case CollKind::kReduceScatter: {
        const uint8_t* mine = in_place ? send.data() + r * count * esz : out;
        for (uint64_t i = 0; i < count; ++i) cmp(mine, i, ref::expected(t, op, n, r * count + i, seed));
        break;
      }
      case CollKind::kReduce:
        if (r == o.root)
          for (uint64_t i = 0; i < count; ++i) cmp(out, i, ref::expected(t, op, n, i, seed));
        break;
      case CollKind::kAllGather:
        for (int j = 0; j < n; ++j)
          for (uint64_t i = 0; i < count; ++i)
            cmp(out + j * count * esz, i, static_cast<double>(ref::input_value(t, op, j, i, seed)));
        break;
      case CollKind::kBroadcast:
        for (uint64_t i = 0; i < count; ++i) cmp(out, i, static_cast<double>(ref::input_value(t, op, o.root, i, seed)));
        break;
      case CollKind::kAllToAll:
        for (int s = 0; s < n; ++s)
          for (uint64_t i = 0; i < count; ++i)
            cmp(out + s * count * esz, i, static_cast<double>(ref::input_value(t, op, s, r * count + i, seed)));
        break;
      default:
        break;
    }
    uint64_t total = wrong;
    WEFT_RETURN_IF_ERROR(c.all_reduce(&wrong, &total, 1, DataType::kU64, coll::RedOp::kSum));
    return total;
  }

  Result<Half> measure(uint64_t count, bool in_place, uint64_t bytes) {
    Half h;
    for (int i = 0; i < o.warmup; ++i) WEFT_RETURN_IF_ERROR(op(count, in_place));
    int iters = std::max(1, o.iters);
    if (o.seconds > 0) {  // cap the timed loop; every rank must agree on the count
      WEFT_RETURN_IF_ERROR(c.barrier());
      const double t0 = now_s();
      WEFT_RETURN_IF_ERROR(op(count, in_place));
      const double one = max_over_ranks(now_s() - t0);
      iters = std::clamp(static_cast<int>(o.seconds / std::max(one, 1e-7)), 1, iters);
    }
    WEFT_RETURN_IF_ERROR(c.barrier());
    const double t0 = now_s();
    for (int i = 0; i < iters; ++i) WEFT_RETURN_IF_ERROR(op(count, in_place));
    const double secs = max_over_ranks((now_s() - t0) / iters);
    h.us = secs * 1e6;
    h.algbw = secs > 0 ? static_cast<double>(bytes) / secs / 1e9 : 0;
    h.busbw = h.algbw * bus_factor(o.kind, n);
    if (o.check) {
      auto w = check(count, in_place);
      if (!w) return w.status();
      h.wrong = *w;
    }
    return h;
  }
};

std::string human(uint64_t b) {
  if (b >= (1u << 30) && b % (1u << 30) == 0) return fmt::format("{}G", b >> 30);
  if (b >= (1u << 20) && b % (1u << 20) == 0) return fmt::format("{}M", b >> 20);
  if (b >= (1u << 10) && b % (1u << 10) == 0) return fmt::format("{}K", b >> 10);
  return fmt::format("{}", b);
}

std::string sweep_label(const std::string& mode, double loss) {
  return fmt::format("{} loss {:g}%", mode == "gbn" ? "go-back-N" : "weft sr", loss * 100);
}

// busbw against size, one line per sweep; log2 x axis. Self-contained SVG.
void write_svg(const std::string& path, const CollOptions& o, int n, const std::vector<Row>& rows) {
  std::vector<std::pair<std::string, std::vector<const Row*>>> series;
  for (const Row& r : rows) {
    const std::string l = sweep_label(r.mode, r.loss);
    if (series.empty() || series.back().first != l) series.push_back({l, {}});
    series.back().second.push_back(&r);
  }
  double xmin = 1e300, xmax = 0, ymax = 0;
  for (const Row& r : rows) {
    if (r.size == 0) continue;
    xmin = std::min(xmin, std::log2(static_cast<double>(r.size)));
    xmax = std::max(xmax, std::log2(static_cast<double>(r.size)));
    ymax = std::max(ymax, r.oop.busbw);
  }
  if (xmax <= xmin) xmax = xmin + 1;
  if (ymax <= 0) ymax = 1;
  ymax *= 1.1;
  const double W = 720, H = 420, L = 70, R = 190, T = 40, B = 50;
  auto X = [&](double x) { return L + (x - xmin) / (xmax - xmin) * (W - L - R); };
  auto Y = [&](double y) { return H - B - y / ymax * (H - T - B); };
  static constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"22\" font-size=\"14\">weft-perf {}: {} ranks, {} {}, out-of-place busbw</text>\n",
      W, H, L, coll::coll_name(o.kind), n, coll::dtype_name(o.dtype), coll::redop_name(o.op));
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", L, H - B, W - R, H - B);
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", L, T, L, H - B);
  for (int k = 0; k <= 5; ++k) {
    const double y = ymax * k / 5;
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.2f}</text>\n", L - 6, Y(y) + 4, y);
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>\n", L, Y(y), W - R, Y(y));
  }
  for (double x = std::ceil(xmin); x <= xmax; x += std::max(1.0, std::floor((xmax - xmin) / 8)))
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", X(x), H - B + 16,
                     human(static_cast<uint64_t>(std::exp2(x))));
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">message size (bytes)</text>\n", (L + W - R) / 2,
                   H - 10);
  s += fmt::format("<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">busbw (GB/s)</text>\n",
                   (T + H - B) / 2, (T + H - B) / 2);
  for (size_t i = 0; i < series.size(); ++i) {
    const char* col = kColors[i % 6];
    std::string pts;
    for (const Row* r : series[i].second)
      if (r->size) pts += fmt::format("{:.1f},{:.1f} ", X(std::log2(static_cast<double>(r->size))), Y(r->oop.busbw));
    s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", col, pts);
    s += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>\n", W - R + 10, T + 18 * (i + 1), col,
                     series[i].first);
  }
  s += "</svg>\n";
  std::ofstream(path) << s;
}

int rank_main(const CollOptions& o, const coll::BootstrapConfig& bcfg) {
  auto bs = coll::tcp_bootstrap(bcfg);
  if (!bs) {
    std::fprintf(stderr, "weft-perf: rank %d: %s\n", bcfg.rank, bs.status().to_string().c_str());
    return 1;
  }
  const int r = bcfg.rank, n = bcfg.world_size;
  const size_t esz = coll::dtype_size(o.dtype);
  std::vector<uint64_t> sizes;
  for (uint64_t s = o.min_bytes; s <= o.max_bytes && s > 0; s *= o.step_factor) sizes.push_back(s);
  if (sizes.empty() || sizes.back() != o.max_bytes) sizes.push_back(o.max_bytes);
  std::vector<Row> rows;
  const size_t total_points = sizes.size() * o.modes.size() * o.losses.size();
  size_t done_points = 0;
  const double start = now_s();
  const bool tty = ::isatty(2);
  double last_progress = start;
  bool failed = false;
  for (const std::string& mode : o.modes)
    for (double loss : o.losses) {
      coll::CommConfig cfg;
      cfg.timeout = seconds(60);
      cfg.algorithm = o.algo;
      cfg.chunk_bytes = o.chunk_bytes;
      cfg.conn.recovery = mode == "gbn" ? Recovery::kGoBackN : Recovery::kSelectiveRepeat;
      cfg.conn.paths = mode == "gbn" ? 1 : 8;
      std::vector<fault::LossyDriver*> lossy;
      cfg.open_device = [&]() -> Result<std::unique_ptr<Device>> {
        udp::UdpParams up;
        up.bind_address = o.bind;
        auto drv = udp::open_driver(up);
        if (!drv) return drv.status();
        auto l = std::make_unique<fault::LossyDriver>(std::move(*drv), loss, 1000 + r);
        lossy.push_back(l.get());
        DeviceParams dp;
        dp.progress_thread = o.progress_thread;
        dp.engine.job_token = bcfg.job_token;
        dp.engine.window_packets = 16384;
        dp.engine.cc_window = Bytes(uint64_t{o.window_kib} << 10);
        dp.engine.unexpected_budget = Bytes(1ull << 30);
        dp.engine.dead_peer_timeout = seconds(10);
        dp.engine.handshake_timeout = seconds(20);
        return Device::open(std::move(l), dp);
      };
      auto comm = coll::Communicator::create(cfg, **bs);
      if (!comm) {
        std::fprintf(stderr, "weft-perf: rank %d: %s\n", r, comm.status().to_string().c_str());
        return 1;
      }
      Bench b{o, **comm, r, n, esz, {}, {}};
      b.send.assign(o.max_bytes + 64, 0);
      b.recv.assign(o.max_bytes + 64, 0);
      if (r == 0) {
        fmt::print("#\n# weft-perf {}: {} ranks over UDP {} ({}), {} (algorithm {}{}), -n {} -w {}{}\n#\n",
                   coll::coll_name(o.kind), n, o.bind, sweep_label(mode, loss), coll::dtype_name(o.dtype),
                   coll::algorithm_name(o.algo),
                   o.algo == coll::Algorithm::kAuto ? ": by size from the tuning table" : "", o.iters, o.warmup,
                   o.seconds > 0 ? fmt::format(", at most {:g} s per size", o.seconds) : "");
        fmt::print("# {:>10} {:>12} {:>8} {:>6} {:>6}   {:>9} {:>7} {:>7} {:>6}   {:>9} {:>7} {:>7} {:>6}\n", "", "", "",
                   "", "", "out-of-place", "", "", "", "in-place", "", "", "");
        fmt::print("# {:>10} {:>12} {:>8} {:>6} {:>6}   {:>9} {:>7} {:>7} {:>6}   {:>9} {:>7} {:>7} {:>6}\n", "size",
                   "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw",
                   "#wrong");
        fmt::print("# {:>10} {:>12} {:>8} {:>6} {:>6}   {:>9} {:>7} {:>7} {:>6}   {:>9} {:>7} {:>7} {:>6}\n", "(B)",
                   "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
        std::fflush(stdout);
      }
      double bw_sum = 0;
      int bw_points = 0;
      uint64_t wrong_total = 0;
      for (uint64_t size : sizes) {
        const uint64_t count = per_rank_count(o.kind, size, esz, n);
        const uint64_t bytes = reported_bytes(o.kind, count, esz, n);
        Row row{mode, loss, bytes, o.kind == CollKind::kAllReduce || o.kind == CollKind::kBroadcast ||
                                           o.kind == CollKind::kReduce
                                       ? count
                                       : count * n};
        auto oop = b.measure(count, false, bytes);
        Result<Half> ip = Half{};
        if (oop && o.in_place) ip = b.measure(count, true, bytes);
        if (!oop || !ip) {
          std::fprintf(stderr, "weft-perf: rank %d: size %llu: %s\n", r, static_cast<unsigned long long>(size),
                       (!oop ? oop.status() : ip.status()).to_string().c_str());
          failed = true;
          break;
        }
        row.oop = *oop;
        row.ip = *ip;
        for (int p = 0; p < n; ++p)
          if (p != r)
            if (auto st = (*comm)->conn_stats(p)) row.retransmits += st->retransmits;
        wrong_total += row.oop.wrong + row.ip.wrong;
        bw_sum += row.oop.busbw;
        ++bw_points;
        if (r == 0) {
          const std::string root = has_root(o.kind) ? std::to_string(o.root) : "-1";
          auto half = [&](const Half& h) {
            return fmt::format("{:>9.1f} {:>7.2f} {:>7.2f} {:>6}", h.us, h.algbw, h.busbw,
                               o.check ? std::to_string(h.wrong) : "N/A");
          };
          fmt::print("  {:>10} {:>12} {:>8} {:>6} {:>6}   {}   {}\n", bytes, row.count, coll::dtype_name(o.dtype),
                     has_op(o.kind) ? coll::redop_name(o.op) : "none", root, half(row.oop),
                     o.in_place ? half(row.ip) : fmt::format("{:>9} {:>7} {:>7} {:>6}", "N/A", "N/A", "N/A", "N/A"));
          std::fflush(stdout);
          rows.push_back(row);
          ++done_points;
          const double t = now_s();
          if (tty || t - last_progress > 10) {
            std::fprintf(stderr, "%s# progress: %zu/%zu points, %.0f s elapsed%s", tty ? "\r" : "", done_points,
                         total_points, t - start, tty ? "   \r" : "\n");
            last_progress = t;
          }
        }
      }
      if (r == 0) {
        uint64_t dropped = 0;
        for (auto* l : lossy) dropped += l->dropped();
        fmt::print("# Out of bounds values : {} {}\n", wrong_total, wrong_total == 0 ? "OK" : "FAILED");
        fmt::print("# Avg bus bandwidth    : {:.3f}\n", bw_points ? bw_sum / bw_points : 0.0);
        fmt::print("# rank 0: {} datagrams dropped by --loss, {} retransmissions\n#\n", dropped,
                   rows.empty() ? 0 : rows.back().retransmits);
      }
      if (failed) return 1;
      // The communicator's destructor is collective (a final barrier).
    }
  if (r != 0) return 0;
  if (tty) std::fprintf(stderr, "\n");
  // Side by side: every sweep's out-of-place busbw per size, as a ratio to the first sweep's.
  if (o.modes.size() * o.losses.size() > 1) {
    std::vector<std::string> labels;
    for (const std::string& m : o.modes)
      for (double l : o.losses) labels.push_back(sweep_label(m, l));
    fmt::print("# out-of-place busbw (GB/s), and its ratio to '{}'\n# {:>10}", labels[0], "size");
    for (const auto& l : labels) fmt::print(" {:>22}", l);
    fmt::print("\n");
    const size_t per = sizes.size();
    for (size_t i = 0; i < per && i < rows.size(); ++i) {
      fmt::print("  {:>10}", rows[i].size);
      for (size_t s = 0; s < labels.size(); ++s) {
        const size_t k = s * per + i;
        if (k >= rows.size()) break;
        const double base = rows[i].oop.busbw;
        fmt::print(" {:>13.2f} {:>7}", rows[k].oop.busbw,
                   s == 0 ? "" : fmt::format("({:.2f}x)", base > 0 ? rows[k].oop.busbw / base : 0));
      }
      fmt::print("\n");
    }
  }
  if (!o.csv.empty()) {
    std::ofstream f(o.csv);
    f << "collective,ranks,mode,loss,size,count,type,redop,root,oop_time_us,oop_algbw,oop_busbw,oop_wrong,ip_time_us,"
         "ip_algbw,ip_busbw,ip_wrong\n";
    for (const Row& x : rows)
      f << fmt::format("{},{},{},{},{},{},{},{},{},{:.2f},{:.4f},{:.4f},{},{:.2f},{:.4f},{:.4f},{}\n",
                       coll::coll_name(o.kind), n, x.mode, x.loss, x.size, x.count, coll::dtype_name(o.dtype),
                       coll::redop_name(o.op), has_root(o.kind) ? o.root : -1, x.oop.us, x.oop.algbw, x.oop.busbw,
                       x.oop.wrong, x.ip.us, x.ip.algbw, x.ip.busbw, x.ip.wrong);
  }
  if (!o.json.empty()) {
    std::ofstream f(o.json);
    f << "[\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& x = rows[i];
      f << fmt::format(
          "  {{\"collective\": \"{}\", \"ranks\": {}, \"mode\": \"{}\", \"loss\": {}, \"size\": {}, \"count\": {}, "
          "\"type\": \"{}\", \"redop\": \"{}\", \"root\": {}, \"out_of_place\": {{\"time_us\": {:.2f}, \"algbw\": "
          "{:.4f}, \"busbw\": {:.4f}, \"wrong\": {}}}, \"in_place\": {{\"time_us\": {:.2f}, \"algbw\": {:.4f}, "
          "\"busbw\": {:.4f}, \"wrong\": {}}}}}{}\n",
          coll::coll_name(o.kind), n, x.mode, x.loss, x.size, x.count, coll::dtype_name(o.dtype),
          coll::redop_name(o.op), has_root(o.kind) ? o.root : -1, x.oop.us, x.oop.algbw, x.oop.busbw, x.oop.wrong,
          x.ip.us, x.ip.algbw, x.ip.busbw, x.ip.wrong, i + 1 < rows.size() ? "," : "");
    }
    f << "]\n";
  }
  if (!o.svg.empty()) write_svg(o.svg, o, n, rows);
  return failed ? 1 : 0;
}

uint16_t free_tcp_port(const std::string& bind) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

int run_coll(const CollOptions& o) {
  if (o.np <= 0) {
    auto cfg = coll::bootstrap_config_from_env();
    if (!cfg) {
      std::fprintf(stderr, "weft-perf: %s\n  (or pass -np N to fork N local ranks)\n", cfg.status().message().c_str());
      return 2;
    }
    return rank_main(o, *cfg);
  }
  coll::BootstrapConfig base;
  base.master_addr = o.bind;
  base.master_port = free_tcp_port(o.bind);
  base.world_size = o.np;
  base.timeout = seconds(60);
  std::fflush(stdout);
  std::vector<pid_t> kids;
  for (int r = 0; r < o.np; ++r) {
    const pid_t p = ::fork();
    if (p < 0) {
      std::perror("weft-perf: fork");
      for (pid_t k : kids) ::kill(k, SIGKILL);
      return 1;
    }
    if (p == 0) {
      coll::BootstrapConfig c = base;
      c.rank = r;
      const int rc = rank_main(o, c);
      std::fflush(stdout);
      ::_exit(rc);
    }
    kids.push_back(p);
  }
  // A rank that fails makes the others fail within their timeout; if one
  // dies outright, give the rest a minute and then stop them.
  int worst = 0;
  size_t left = kids.size();
  double first_exit = 0;
  while (left > 0) {
    int st = 0;
    const pid_t p = ::waitpid(-1, &st, WNOHANG);
    if (p > 0) {
      --left;
      const int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      worst = std::max(worst, rc);
      if (rc != 0 && first_exit == 0) first_exit = now_s();
      continue;
    }
    if (first_exit > 0 && now_s() - first_exit > 60) {
      for (pid_t k : kids) ::kill(k, SIGKILL);
    }
    ::usleep(20000);
  }
  return worst;
}

}  // namespace weft::perf
