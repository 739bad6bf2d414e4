// weft-switch: a user-space switch between weft-testbed namespaces that does
// what the kernel's qdiscs here cannot: ECN marking by queue depth, INT
// stamping, trimming, ECMP over parallel links. See docs/weft-switch.md.
//
// One thread, one loop: receive a batch from every host port, let the core
// move frames as far as the line rates allow, send what leaves, then sleep in
// ppoll until a frame arrives or the next queued frame's line is free.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/clock.h"
#include "tools/weft-switch/afpacket_io.h"
#include "tools/weft-switch/config.h"
#include "tools/weft-switch/switch_core.h"

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_dump = 0;
// Frames whose kernel arrival time was already behind the core's clock when
// read (the kernel's backlog processing ran late): they enter the queues at
// the core's clock instead. Reported with their mean lateness.
uint64_t g_rx_late = 0, g_rx_late_ns = 0;
void on_stop(int) { g_stop = 1; }
void on_dump(int) { g_dump = 1; }

struct Options {
  std::string topology = "star";
  unsigned hosts = 0;
  std::string ifname_format = "h{}";
  unsigned left = 0, links = 1, leaves = 2, spines = 2;
  std::string rate = "1gbit", fabric_rate;
  std::string queue = "256K", prio_queue = "64K", burst = "0";
  std::string kmin = "20K", kmax = "200K";
  double pmax = 0.2;
  bool no_ecn = false, int_stamp = false, trim = false, fabric_only = false;
  double loss = 0;
  uint64_t seed = 1;
  unsigned pool_slots = 16384, slot_size = 2048;
  double stats_interval = 0;
  std::string stats_file;
  bool dry_run = false;
  bool no_rx_timestamps = false;
};

template <typename T>
T need(std::optional<T> v, const std::string& what, const std::string& text) {
  if (!v) throw CLI::ValidationError(what, fmt::format("cannot parse '{}'", text));
  return *v;
}

std::string io_counters(const std::vector<std::unique_ptr<weft::sw::AfPacketPort>>& io, const weft::sw::SwitchCore& core) {
  std::string out;
  for (const auto& p : io) {
    const auto& c = p->counters();
    out += fmt::format(
        "io={} rx_frames={} rx_batches={} tx_batches={} rx_oversize={} rx_csum_fixed={} rx_nobuf={} tx_errors={} "
        "kernel_drops={}\n",
        p->ifname(), c.rx_frames, c.rx_batches, c.tx_batches, c.rx_oversize, c.rx_csum_fixed, c.rx_nobuf, c.tx_errors,
        c.kernel_drops);
  }
  out += fmt::format("switch drop_nobuf={} rx_late={} rx_late_mean_us={}\n", core.drop_nobuf(), g_rx_late,
                     g_rx_late ? g_rx_late_ns / g_rx_late / 1000 : 0);
  return out;
}

void dump(const std::string& why, weft::Nanos uptime, std::vector<std::unique_ptr<weft::sw::AfPacketPort>>& io,
          const weft::sw::SwitchCore& core, const std::string& stats_file) {
  for (auto& p : io) p->poll_kernel_stats();
  const std::string text = fmt::format("# weft-switch counters ({}) uptime_s={:.3f}\n{}{}", why,
                                       static_cast<double>(uptime.count()) / 1e9, weft::sw::format_counters(core),
                                       io_counters(io, core));
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  if (!stats_file.empty()) {
    // Written whole, then renamed: a reader never sees half a dump.
    const std::string tmp = stats_file + ".tmp";
    { std::ofstream(tmp) << text; }
    std::rename(tmp.c_str(), stats_file.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace weft;
  using namespace weft::sw;
  Options o;
  CLI::App app{"weft-switch: user-space switch with ECN marking, INT, trimming and ECMP for weft-testbed"};
  // The last value wins, so options from 'weft-testbed --switch-args' override
  // the ones the testbed derives (--rate, --links, ...).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--topology", o.topology, "star | dumbbell | leafspine")
      ->check(CLI::IsMember({"star", "dumbbell", "leafspine"}))->capture_default_str();
  app.add_option("--hosts", o.hosts, "hosts; host I is reached through interface --ifname-format(I)")
      ->required()->check(CLI::Range(1u, 64u));
  app.add_option("--ifname-format", o.ifname_format, "interface of host I in this namespace ({} = I)")->capture_default_str();
  app.add_option("--left", o.left, "dumbbell: hosts on the left switch (default: half, rounded up)");
  app.add_option("--links", o.links, "parallel links per switch pair (dumbbell bottleneck, leaf-spine uplinks)")
      ->check(CLI::Range(1u, 16u))->capture_default_str();
  app.add_option("--leaves", o.leaves, "leafspine: leaf switches")->check(CLI::Range(1u, 16u))->capture_default_str();
  app.add_option("--spines", o.spines, "leafspine: spine switches")->check(CLI::Range(1u, 16u))->capture_default_str();
  app.add_option("--rate", o.rate, "line rate of ports towards hosts (tc syntax: 1gbit, 100mbit; none)")->capture_default_str();
  app.add_option("--fabric-rate", o.fabric_rate, "line rate of switch-to-switch links (default: --rate)");
  app.add_option("--queue", o.queue, "normal queue bound per port, bytes (64K, 1M)")->capture_default_str();
  app.add_option("--prio-queue", o.prio_queue, "trimmed-header queue bound per port")->capture_default_str();
  app.add_option("--burst", o.burst, "token-bucket depth; 0 = 50 us of line rate, at least two slots")->capture_default_str();
  app.add_option("--kmin", o.kmin, "ECN: marking starts above this queue occupancy")->capture_default_str();
  app.add_option("--kmax", o.kmax, "ECN: every ECT packet is marked from this occupancy")->capture_default_str();
  app.add_option("--pmax", o.pmax, "ECN: marking probability just below kmax")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_flag("--no-ecn", o.no_ecn, "never mark");
  app.add_flag("--int", o.int_stamp, "append INT hop records to weft v2 DATA packets");
  app.add_flag("--trim", o.trim, "trim weft v2 DATA packets to their header instead of dropping when a queue is full");
  app.add_flag("--fabric-only", o.fabric_only, "apply --int/--trim/--loss to switch-to-switch links only");
  app.add_option("--loss", o.loss, "probability a frame is lost at each egress port")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--seed", o.seed, "random seed (marking, loss, ECMP salt)")->capture_default_str();
  app.add_option("--pool-slots", o.pool_slots, "frames the switch can hold")->check(CLI::Range(256u, 1u << 20))->capture_default_str();
  app.add_option("--slot-size", o.slot_size, "bytes per frame slot (largest frame + 192 for INT)")
      ->check(CLI::Range(256u, 65536u))->capture_default_str();
  app.add_option("--stats-interval", o.stats_interval, "print counters every S seconds (0: only on SIGUSR1 and exit)")->capture_default_str();
  app.add_option("--stats-file", o.stats_file, "also write each counter dump to this file (atomically)");
  app.add_flag("--dry-run", o.dry_run, "print the topology and exit");
  app.add_flag("--no-rx-timestamps", o.no_rx_timestamps, "feed frames to the queues when read, not at their kernel arrival time");
  CLI11_PARSE(app, argc, argv);

  SwitchParams sp;
  try {
    PortParams base;
    base.rate = need(parse_rate(o.rate), "--rate", o.rate);
    base.burst = need(parse_bytes(o.burst), "--burst", o.burst);
    base.queue_limit = need(parse_bytes(o.queue), "--queue", o.queue);
    base.prio_limit = need(parse_bytes(o.prio_queue), "--prio-queue", o.prio_queue);
    base.kmin = need(parse_bytes(o.kmin), "--kmin", o.kmin);
    base.kmax = need(parse_bytes(o.kmax), "--kmax", o.kmax);
    if (base.kmax <= base.kmin) throw CLI::ValidationError("--kmax", "must be larger than --kmin");
    base.pmax = o.pmax;
    base.ecn = !o.no_ecn;
    sp.fabric_port = base;
    sp.fabric_port.int_stamp = o.int_stamp;
    sp.fabric_port.trim = o.trim;
    sp.fabric_port.loss = o.loss;
    if (!o.fabric_rate.empty()) sp.fabric_port.rate = need(parse_rate(o.fabric_rate), "--fabric-rate", o.fabric_rate);
    sp.host_port = base;
    if (!o.fabric_only) {
      sp.host_port.int_stamp = o.int_stamp;
      sp.host_port.trim = o.trim;
      sp.host_port.loss = o.loss;
    }
    sp.seed = o.seed;
  } catch (const CLI::Error& e) {
    return app.exit(e);
  }

  std::optional<Topology> topo;
  try {
    const auto h = static_cast<uint16_t>(o.hosts);
    if (o.topology == "star") topo = Topology::star(h);
    else if (o.topology == "dumbbell") topo = Topology::dumbbell(h, static_cast<uint16_t>(o.left ? o.left : (h + 1) / 2), static_cast<uint16_t>(o.links));
    else topo = Topology::leafspine(h, static_cast<uint16_t>(o.leaves), static_cast<uint16_t>(o.spines), static_cast<uint16_t>(o.links));
    for (uint16_t i = 0; i < h; ++i) topo->set_host_port_name(i, fmt::format(fmt::runtime(o.ifname_format), i));
  } catch (const std::exception& e) {
    fmt::print(stderr, "weft-switch: {}\n", e.what());
    return 2;
  }
  fmt::print("weft-switch: {} {}", o.topology, topo->describe());
  fmt::print("weft-switch: host ports rate={} Mb/s, fabric rate={} Mb/s, queue={} B, ecn={} (kmin={} kmax={} pmax={}), int={}, trim={}, loss={}\n",
             sp.host_port.rate.count() / 1000000, sp.fabric_port.rate.count() / 1000000, sp.host_port.queue_limit.count(),
             sp.host_port.ecn, sp.host_port.kmin.count(), sp.host_port.kmax.count(), sp.host_port.pmax, o.int_stamp, o.trim, o.loss);
  std::fflush(stdout);
  if (o.dry_run) return 0;

  // Signals are blocked except inside ppoll, so a flag set by a handler is
  // seen at once and never lost between the check and the sleep.
  sigset_t block, during_poll;
  sigemptyset(&block);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&block, s);
  sigprocmask(SIG_BLOCK, &block, &during_poll);
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);
  sa.sa_handler = on_dump;
  sigaction(SIGUSR1, &sa, nullptr);
  // Sleeps as short as one frame time (12 us at 1 Gb/s) need a tight timer.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

  MonotonicClock clock;
  const Nanos start = clock.now();
  PacketPool pool(o.pool_slots, o.slot_size);
  SwitchCore core(*topo, sp, pool, start);
  std::vector<std::unique_ptr<AfPacketPort>> io;
  std::vector<pollfd> pfds;
  for (uint16_t h = 0; h < o.hosts; ++h) {
    io.push_back(std::make_unique<AfPacketPort>());
    if (Status s = io.back()->open(topo->ports()[h].name); !s.is_ok()) {
      fmt::print(stderr, "weft-switch: {}\n", s.to_string());
      return 1;
    }
    pfds.push_back(pollfd{io.back()->fd(), POLLIN, 0});
  }
  fmt::print("weft-switch: forwarding on {} ports (pid {})\n", o.hosts, getpid());
  std::fflush(stdout);

  constexpr size_t kOut = 256;
  std::array<TxItem, kOut> out;
  std::array<Slot, AfPacketPort::kBatch> rx;
  std::array<int64_t, AfPacketPort::kBatch> rx_time;
  struct Arrival {
    Nanos t;
    uint16_t host;
    Slot slot;
  };
  constexpr size_t kMaxBatches = 16;
  std::vector<Arrival> arrivals;
  arrivals.reserve(size_t{o.hosts} * AfPacketPort::kBatch * kMaxBatches);
  std::vector<std::vector<Slot>> staged(o.hosts);
  for (auto& v : staged) v.reserve(kOut + AfPacketPort::kBatch);
  const Nanos interval(static_cast<int64_t>(o.stats_interval * 1e9));
  Nanos next_stats = interval.count() > 0 ? start + interval : Nanos::max();
  Nanos core_time = start;  // never goes backwards

  auto flush = [&](size_t at_least) {
    for (uint16_t h = 0; h < o.hosts; ++h)
      if (!staged[h].empty() && staged[h].size() >= at_least) {
        io[h]->send(pool, staged[h].data(), staged[h].size());
        staged[h].clear();
      }
  };
  // Lets the fabric run to `t` (switch_core.h), staging what leaves towards hosts.
  auto drain = [&](Nanos t) {
    for (;;) {
      const size_t n = core.advance(t, out.data(), out.size());
      for (size_t i = 0; i < n; ++i) staged[out[i].host].push_back(out[i].slot);
      flush(AfPacketPort::kBatch);
      if (n < out.size()) break;
    }
  };

  while (!g_stop) {
    Nanos now = clock.now();
    timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    const int64_t realtime_minus_mono = int64_t{rt.tv_sec} * 1000000000 + rt.tv_nsec - now.count();
    arrivals.clear();
    // Empty every socket (up to kMaxBatches each): the core's clock may only
    // run to `now` once it has seen every frame that arrived before `now`.
    bool unread = false;
    for (uint16_t h = 0; h < o.hosts; ++h) {
      for (size_t b = 0; b < kMaxBatches; ++b) {
        const size_t n = io[h]->receive(pool, rx.data(), rx_time.data(), rx.size());
        for (size_t i = 0; i < n; ++i) {
          Nanos t = rx_time[i] && !o.no_rx_timestamps ? Nanos(rx_time[i] - realtime_minus_mono) : now;
          if (t < core_time) {  // the kernel handed it over after the core's clock passed it
            ++g_rx_late;
            g_rx_late_ns += static_cast<uint64_t>((core_time - t).count());
          }
          t = std::clamp(t, core_time, now);
          arrivals.push_back({t, h, rx[i]});
        }
        if (n < rx.size()) break;
        unread |= b + 1 == kMaxBatches;
      }
    }
    // Frames enter the core in the order and at the time they reached the
    // switch; the lines run in between (see afpacket_io.h).
    std::sort(arrivals.begin(), arrivals.end(), [](const Arrival& a, const Arrival& b) { return a.t < b.t; });
    for (const Arrival& a : arrivals) {
      // Even at an equal time: an unlimited port passes each frame on
      // before the next arrives instead of queueing the whole batch.
      drain(a.t);
      core_time = a.t;
      core.receive(core_time, a.host, a.slot);
    }
    // With frames still unread, stop at the last one seen: the next pass
    // starts there.
    const Nanos until = unread ? core_time : now;
    drain(until);
    core_time = until;
    flush(1);
    if (g_dump) {
      g_dump = 0;
      dump("SIGUSR1", now - start, io, core, o.stats_file);
    }
    if (now >= next_stats) {
      next_stats = now + interval;
      dump("periodic", now - start, io, core, o.stats_file);
    }
    if (!arrivals.empty()) continue;
    // Nothing arrived: sleep until a frame does or a queued one may leave.
    const Nanos wake = std::min({core.next_deadline(now), next_stats, now + millis(200)});
    const int64_t wait = (wake - now).count();
    if (wait <= 0) continue;
    const timespec ts{static_cast<time_t>(wait / 1000000000), static_cast<long>(wait % 1000000000)};
    ppoll(pfds.data(), pfds.size(), &ts, &during_poll);
  }
  dump("exit", clock.now() - start, io, core, o.stats_file);
  return 0;
}
