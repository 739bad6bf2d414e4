// Two processes on this host: the parent sends, a forked child receives.
// They agree on each measurement over a socketpair, then move data through
// weft (UDP loopback, loss injected by a LossyDriver on both ends' sends).
//
// Per point: goodput streams messages with up to `depth` in flight and ends
// with an acknowledgement from the receiver; latency is half the round trip
// of a ping-pong; CPU is user+system time of both processes while streaming.
#include "tools/weft-perf/p2p.h"

#include "congestion/registry.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "congestion/registry.h"
#include "tools/weft-perf/raw_udp.h"
#include "transport/fault/fault_driver.h"
#include "transport/udp/udp_driver.h"

namespace weft::perf {

namespace {

enum class Op : int32_t { kRun = 1, kRaw = 2, kQuit = 3 };
constexpr uint64_t kTagData = 1, kTagStop = 2, kTagAck = 3, kTagPing = 4, kTagGo = 5;
constexpr Nanos kStuck = seconds(10);  // nothing in a benchmark may wait longer

struct Cmd {
  Op op;
  int32_t gbn;
  double loss;
  uint64_t size;
  uint32_t depth;
  uint32_t pingpongs;
  uint32_t segment;
};
struct Reply {
  int32_t ok;
  double cpu;
  uint64_t wrong;
  uint64_t count;
  char text[128];
};

double cpu_now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}
double wall() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <typename T>
bool put(int fd, const T& v) { return ::write(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v); }
template <typename T>
bool get(int fd, T& v) {
  size_t got = 0;
  while (got < sizeof v) {
    const ssize_t r = ::read(fd, reinterpret_cast<char*>(&v) + got, sizeof v - got);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

// Message i carries i in its first and last 8 bytes (when it has room), so
// the receiver can tell a misplaced or stale buffer.
void stamp(uint8_t* p, uint64_t size, uint64_t i) {
  if (size >= 8) std::memcpy(p, &i, 8);
  if (size >= 16) {
    const uint64_t t = ~i;
    std::memcpy(p + size - 8, &t, 8);
  }
}
bool check(const uint8_t* p, uint64_t size, uint64_t i) {
  uint64_t a = i, b = ~i;
  if (size >= 8) std::memcpy(&a, p, 8);
  if (size >= 16) std::memcpy(&b, p + size - 8, 8);
  return a == i && b == ~i;
}

DeviceParams device_params(const P2pOptions& o) {
  DeviceParams dp;
  dp.progress_thread = o.progress_thread;
  dp.engine.job_token = 0x7E57;
  dp.engine.mtu = o.mtu;
  dp.engine.window_packets = 16384;
  dp.engine.cc_window = Bytes(uint64_t{o.window_kib} << 10);
  dp.engine.cc = o.cc;
  dp.engine.unexpected_budget = Bytes(1ull << 30);
  dp.engine.dead_peer_timeout = seconds(10);
  dp.engine.handshake_timeout = seconds(10);
  return dp;
}

struct Endpoint {
  std::unique_ptr<Device> dev;
  fault::LossyDriver* lossy = nullptr;
};

Result<Endpoint> open_endpoint(const P2pOptions& o, uint64_t seed) {
  udp::UdpParams up;
  up.bind_address = o.bind;
  auto drv = udp::open_driver(up);
  if (!drv) return drv.status();
  auto lossy = std::make_unique<fault::LossyDriver>(std::move(*drv), 0.0, seed);
  Endpoint e;
  e.lossy = lossy.get();
  auto dev = Device::open(std::move(lossy), device_params(o));
  if (!dev) return dev.status();
  e.dev = std::move(*dev);
  return e;
}

// Waits for one completion matching `pred`; the ones before it go to
// `other`. Takes completions one at a time so none is lost.
template <typename Pred, typename Other>
bool await(Device& d, Pred pred, Other other, Completion* out = nullptr) {
  const double end = wall() + static_cast<double>(kStuck.count()) * 1e-9;
  std::array<Completion, 1> c;
  while (wall() < end) {
    if (d.poll(c) == 0) {
      d.wait(millis(100));
      continue;
    }
    if (pred(c[0])) {
      if (out) *out = std::move(c[0]);
      return true;
    }
    other(c[0]);
  }
  return false;
}

// ---- receiver (child) ----
Reply serve_run(Endpoint& ep, const Cmd& cmd) {
  Reply rep{};
  Device& d = *ep.dev;
  ep.lossy->set_drop(cmd.loss);
  // Twice the sender's depth, touched before the clock starts: receives are
  // posted ahead of the data (as NCCL and MPI users do), so messages land in
  // place instead of the unexpected-message buffer, and page faults of fresh
  // buffers are not billed to the transport.
  const uint32_t depth = cmd.depth * 2;
  std::vector<std::vector<uint8_t>> bufs(depth, std::vector<uint8_t>(cmd.size, 0));
  Completion acc;
  if (!await(d, [](const Completion& c) { return c.type == CompletionType::kAccepted; }, [](const Completion&) {}, &acc)) {
    std::snprintf(rep.text, sizeof rep.text, "receiver: no connection arrived");
    return rep;
  }
  const ConnId conn = acc.conn;
  const double cpu0 = cpu_now();
  // Receives match messages in posting order, but complete in any order
  // (delivery is unordered), so each slot remembers which message it holds.
  std::vector<OpId> slot_op(depth);
  std::vector<uint64_t> slot_msg(depth);
  uint64_t posted = 0, received = 0, expect = UINT64_MAX;
  for (; posted < depth; ++posted) {
    slot_op[posted] = *d.post_recv(conn, kTagData, bufs[posted].data(), cmd.size);
    slot_msg[posted] = posted;
  }
  uint64_t stop_count = 0;
  auto stop_op = d.post_recv(conn, kTagStop, &stop_count, sizeof stop_count);
  // Receives are posted: tell the sender to start its clock.
  const uint64_t go = depth;
  (void)d.post_send(conn, kTagGo, &go, sizeof go);
  bool failed = false;
  while (received < expect && !failed) {
    Completion c;
    if (!await(d, [](const Completion&) { return true; }, [](const Completion&) {}, &c)) {
      failed = true;
      break;
    }
    if (!c.status.is_ok()) {
      std::snprintf(rep.text, sizeof rep.text, "receiver: %s", c.status.to_string().c_str());
      failed = true;
      break;
    }
    if (c.op == *stop_op) {
      expect = stop_count;
      continue;
    }
    if (c.type != CompletionType::kRecv) continue;
    const auto it = std::find(slot_op.begin(), slot_op.end(), c.op);
    if (it == slot_op.end()) {
      rep.wrong++;
      continue;
    }
    const size_t slot = static_cast<size_t>(it - slot_op.begin());
    if (c.bytes != cmd.size || !check(bufs[slot].data(), cmd.size, slot_msg[slot])) rep.wrong++;
    ++received;
    // Keep `depth` receives posted ahead of the data.
    slot_op[slot] = *d.post_recv(conn, kTagData, bufs[slot].data(), cmd.size);
    slot_msg[slot] = posted++;
  }
  const uint64_t ack = received;
  if (!failed) (void)d.post_send(conn, kTagAck, &ack, sizeof ack);
  rep.cpu = cpu_now() - cpu0;
  rep.count = received;
  // Ping-pong: echo every ping back.
  std::vector<uint8_t> pp(std::max<uint64_t>(cmd.size, 1));
  for (uint32_t i = 0; i < cmd.pingpongs && !failed; ++i) {
    auto r = d.post_recv(conn, kTagPing, pp.data(), cmd.size);
    if (!r || !await(d, [&](const Completion& c) { return c.op == *r; }, [](const Completion&) {})) break;
    (void)d.post_send(conn, kTagPing, pp.data(), cmd.size);
  }
  // Let the last echo be acknowledged before the connection goes.
  Completion c;
  await(d, [](const Completion& c) { return c.type == CompletionType::kConnFailed; }, [](const Completion&) {}, &c);
  rep.ok = failed ? 0 : 1;
  return rep;
}

int child_main(int ctl, const P2pOptions& o) {
  auto ep = open_endpoint(o, 2);
  if (!ep) {
    std::fprintf(stderr, "weft-perf: receiver: %s\n", ep.status().to_string().c_str());
    return 1;
  }
  char addr[64] = {};
  std::snprintf(addr, sizeof addr, "%s", ep->dev->address().c_str());
  put(ctl, addr);
  Cmd cmd;
  while (get(ctl, cmd)) {
    if (cmd.op == Op::kQuit) break;
    if (cmd.op == Op::kRaw) {
      auto rr = RawReceiver::open(o.bind, cmd.segment);
      Reply rep{};
      rep.count = rr ? rr->port() : 0;
      put(ctl, rep);
      const double cpu0 = cpu_now();
      rep.count = rr ? rr->run(o.raw_seconds + 10) : 0;
      rep.cpu = cpu_now() - cpu0;
      rep.ok = rr.is_ok();
      if (rr) rr->close();
      put(ctl, rep);
      continue;
    }
    put(ctl, serve_run(*ep, cmd));
  }
  return 0;
}

// ---- sender (parent) ----
struct Row {
  std::string mode;
  double loss = 0;
  uint64_t size = 0;
  uint64_t messages = 0;
  double gbps = 0;
  double p50_us = 0, p99_us = 0;
  double cpu_per_gb = 0;
  uint64_t retransmits = 0, rtos = 0, spurious = 0, wrong = 0;
  bool ok = true;
  bool time_limited = false;
  std::string error;
};

Row run_point(Endpoint& ep, int ctl, const P2pOptions& o, const std::string& mode, double loss, uint64_t size,
              const std::string& peer) {
  Row row{mode, loss, size};
  Device& d = *ep.dev;
  const uint32_t depth = static_cast<uint32_t>(std::clamp<uint64_t>((64ull << 20) / std::max<uint64_t>(size, 1), 2, 64));
  const uint64_t target = std::clamp<uint64_t>(o.bytes_per_point / std::max<uint64_t>(size, 1), 4, 200000);
  const uint32_t pingpongs = size >= (16u << 20) ? 5 : size >= (1u << 20) ? 30 : o.pingpongs;
  Cmd cmd{Op::kRun, mode == "gbn", loss, size, depth, pingpongs, 0};
  put(ctl, cmd);
  ep.lossy->set_drop(loss);
  ConnParams cp;
  cp.recovery = mode == "gbn" ? Recovery::kGoBackN : Recovery::kSelectiveRepeat;
  cp.paths = mode == "gbn" ? 1 : o.paths;
  auto conn = d.connect(peer, cp);
  auto fail = [&](std::string why) {
    row.ok = false;
    row.error = std::move(why);
    return row;
  };
  if (!conn) return fail(conn.status().to_string());
  if (!await(d, [](const Completion& c) { return c.type == CompletionType::kConnected || c.type == CompletionType::kConnFailed; },
             [](const Completion&) {}))
    return fail("connect timed out");

  std::vector<std::vector<uint8_t>> bufs(depth, std::vector<uint8_t>(size, 0xA5));
  // Start once the receiver has posted its receives (a real application's
  // receiver is ready before data comes; the race is not what we measure).
  uint64_t go = 0;
  auto go_op = d.post_recv(*conn, kTagGo, &go, sizeof go);
  if (!go_op || !await(d, [&](const Completion& c) { return c.op == *go_op || c.type == CompletionType::kConnFailed; },
                       [](const Completion&) {}) ||
      go == 0)
    return fail("receiver never said it was ready");
  const double cpu0 = cpu_now();
  const double t0 = wall();
  uint64_t sent = 0, done = 0;
  bool stopped = false;
  uint64_t ack = 0;
  auto ack_op = d.post_recv(*conn, kTagAck, &ack, sizeof ack);
  // Sends complete in any order: a buffer is reused only once its own send completed.
  std::vector<OpId> slot_op(depth, 0);
  auto post_one = [&](size_t slot) {
    uint8_t* b = bufs[slot].data();
    stamp(b, size, sent);
    auto r = d.post_send(*conn, kTagData, b, size);
    if (r) {
      slot_op[slot] = *r;
      ++sent;
    }
    return r.is_ok();
  };
  for (uint32_t i = 0; i < depth && sent < target; ++i)
    if (!post_one(i)) break;
  bool got_ack = false;
  std::string err;
  while (!got_ack && err.empty()) {
    Completion c;
    if (!await(d, [](const Completion&) { return true; }, [](const Completion&) {}, &c)) {
      err = "stuck: no completion for 60 s";
      if (auto st = d.stats(*conn))
        err += fmt::format(" (sent {} packets, {} retransmits, {} acks in, srtt {} us, inflight {} B)", st->packets_sent,
                           st->retransmits, st->acks_received, st->srtt.count() / 1000, st->inflight.count());
      break;
    }
    if (!c.status.is_ok()) {
      err = c.status.to_string();
      break;
    }
    if (ack_op && c.op == *ack_op) {
      got_ack = true;
      break;
    }
    if (c.type != CompletionType::kSend) continue;
    const auto slot_it = std::find(slot_op.begin(), slot_op.end(), c.op);
    if (slot_it == slot_op.end()) continue;  // the stop message
    ++done;
    const bool over_time = wall() - t0 > o.seconds;
    if (!stopped && sent < target && !over_time) {
      if (!post_one(static_cast<size_t>(slot_it - slot_op.begin()))) err = "post_send failed";
    } else if (!stopped && done == sent) {
      row.time_limited = over_time && sent < target;
      const uint64_t n = sent;
      (void)d.post_send(*conn, kTagStop, &n, sizeof n);
      stopped = true;
    }
  }
  const double t1 = wall();
  const double cpu1 = cpu_now();
  Reply rep{};
  if (!err.empty()) {
    (void)d.close(*conn);
    get(ctl, rep);
    return fail(err);
  }
  row.messages = sent;
  row.gbps = static_cast<double>(sent * size) * 8 / (t1 - t0) / 1e9;

  std::vector<uint8_t> pp(std::max<uint64_t>(size, 1));
  std::vector<double> lat;
  for (uint32_t i = 0; i < pingpongs; ++i) {
    const double s = wall();
    auto r = d.post_recv(*conn, kTagPing, pp.data(), size);
    (void)d.post_send(*conn, kTagPing, pp.data(), size);
    if (!r || !await(d, [&](const Completion& c) { return c.op == *r; }, [](const Completion&) {})) break;
    lat.push_back((wall() - s) / 2 * 1e6);
  }
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    row.p50_us = lat[lat.size() / 2];
    row.p99_us = lat[std::min(lat.size() - 1, static_cast<size_t>(std::ceil(0.99 * lat.size())) - 1)];
  }
  if (auto st = d.stats(*conn)) {
    row.retransmits = st->retransmits;
    row.rtos = st->rto_count;
    row.spurious = st->spurious_retransmits;
  }
  (void)d.close(*conn);
  if (!get(ctl, rep)) return fail("receiver process died");
  row.wrong = rep.wrong + (rep.count != sent ? 1 : 0);
  if (!rep.ok) return fail(rep.text);
  const double gb = static_cast<double>(sent * size) / 1e9;
  row.cpu_per_gb = gb > 0 ? ((cpu1 - cpu0) + rep.cpu) / gb : 0;
  return row;
}

std::string human(uint64_t b) {
  if (b >= (1u << 30) && b % (1u << 30) == 0) return fmt::format("{}G", b >> 30);
  if (b >= (1u << 20) && b % (1u << 20) == 0) return fmt::format("{}M", b >> 20);
  if (b >= (1u << 10) && b % (1u << 10) == 0) return fmt::format("{}K", b >> 10);
  return fmt::format("{}", b);
}

}  // namespace

namespace {
bool split_hostport(const std::string& s, sockaddr_in& a) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(s.c_str() + colon + 1)));
  return inet_pton(AF_INET, s.substr(0, colon).c_str(), &a.sin_addr) == 1;
}
}  // namespace

// Receiver for a remote sender: TCP control on --serve, weft on the same IP.
int serve_p2p(const P2pOptions& o) {
  sockaddr_in a;
  if (!split_hostport(o.serve, a)) {
    std::fprintf(stderr, "weft-perf: --serve '%s' is not IPv4:PORT\n", o.serve.c_str());
    return 2;
  }
  const int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  const int on = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 1) != 0) {
    std::fprintf(stderr, "weft-perf: cannot listen on %s: %s\n", o.serve.c_str(), std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "weft-perf: serving on %s\n", o.serve.c_str());
  const int ctl = ::accept(ls, nullptr, nullptr);
  ::close(ls);
  if (ctl < 0) return 1;
  ::setsockopt(ctl, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  P2pOptions local = o;
  local.bind = o.serve.substr(0, o.serve.rfind(':'));
  const int rc = child_main(ctl, local);
  ::close(ctl);
  return rc;
}

int run_p2p(const P2pOptions& o) {
  if (o.cc == "help") {  // `--cc help`: what the registry has, with every key and default
    fmt::print("{}", cc::Registry::global().help());
    return 0;
  }
  if (!o.serve.empty()) return serve_p2p(o);
  int ctl = -1;
  pid_t pid = -1;
  if (!o.peer.empty()) {
    sockaddr_in a;
    if (!split_hostport(o.peer, a)) {
      std::fprintf(stderr, "weft-perf: --peer '%s' is not IPv4:PORT\n", o.peer.c_str());
      return 2;
    }
    ctl = ::socket(AF_INET, SOCK_STREAM, 0);
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {  // the server may still be starting
      up = ::connect(ctl, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      if (!up) usleep(100000);
    }
    if (!up) {
      std::fprintf(stderr, "weft-perf: cannot reach the --serve side at %s: %s (is `weft-perf p2p --serve %s` running there?)\n",
                   o.peer.c_str(), std::strerror(errno), o.peer.c_str());
      return 1;
    }
    const int on = 1;
    ::setsockopt(ctl, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  } else {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
      std::perror("weft-perf: socketpair");
      return 1;
    }
    std::fflush(stdout);
    pid = ::fork();
    if (pid == 0) {
      ::close(sv[0]);
      _exit(child_main(sv[1], o));
    }
    ::close(sv[1]);
    ctl = sv[0];
  }
  char peer[64] = {};
  if (!get(ctl, peer)) {
    std::fprintf(stderr, "weft-perf: the receiver process failed to start\n");
    return 1;
  }
  auto ep = open_endpoint(o, 1);
  if (!ep) {
    std::fprintf(stderr, "weft-perf: %s\n", ep.status().to_string().c_str());
    return 1;
  }

  std::FILE* csv = nullptr;
  if (!o.csv.empty()) {
    csv = std::fopen(o.csv.c_str(), "w");
    if (csv == nullptr) {
      std::fprintf(stderr, "weft-perf: cannot write %s\n", o.csv.c_str());
      return 1;
    }
    std::fprintf(csv, "mode,loss,size,messages,goodput_gbps,vs_raw,vs_lossless,p50_us,p99_us,cpu_s_per_gb,cpu_vs_raw,retransmits,rtos,spurious,wrong,note\n");
  }

  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  double load[3] = {0, 0, 0};
  (void)getloadavg(load, 3);
  fmt::print("# weft-perf p2p: 2 processes over UDP, {} -> {} (this host: {} cores, load {:.2f})\n", o.bind, o.peer.empty() ? o.bind + " (forked)" : o.peer, cores, load[0]);
  const std::string cc_text = o.cc.empty() ? fmt::format("fixed window {} KiB", o.window_kib) : "cc " + o.cc;
  fmt::print("# mtu {} B, {}, {:.1f} s or {} MiB per point; loss injected on both directions' sends\n", o.mtu, cc_text,
             o.seconds, o.bytes_per_point >> 20);

  double raw_gbps = 0, raw_cpu = 0;
  if (o.raw_baseline) {
    Cmd cmd{Op::kRaw, 0, 0, 0, 0, 0, o.mtu};
    put(ctl, cmd);
    Reply first{};
    get(ctl, first);
    const double cpu0 = cpu_now();
    const double t0 = wall();
    const std::string raw_ip = o.peer.empty() ? o.bind : o.peer.substr(0, o.peer.rfind(':'));
    const uint64_t sent = raw_send(raw_ip, static_cast<uint16_t>(first.count), o.mtu, o.raw_seconds);
    const double t1 = wall();
    const double cpu1 = cpu_now();
    Reply rep{};
    get(ctl, rep);
    raw_gbps = static_cast<double>(rep.count) * 8 / (t1 - t0) / 1e9;
    const double gb = static_cast<double>(rep.count) / 1e9;
    raw_cpu = gb > 0 ? ((cpu1 - cpu0) + rep.cpu) / gb : 0;
    fmt::print("# raw UDP ceiling (sendmmsg+GSO -> recvmmsg+GRO, {} B datagrams): {:.2f} Gb/s received ({:.1f}% of sent), {:.3f} CPU s/GB\n",
               o.mtu, raw_gbps, sent ? 100.0 * static_cast<double>(rep.count) / static_cast<double>(sent) : 0, raw_cpu);
    if (csv) std::fprintf(csv, "raw-udp,0,%u,0,%.4f,1,1,0,0,%.4f,1,0,0,0,0,baseline\n", o.mtu, raw_gbps, raw_cpu);
  }

  fmt::print("\n{:>5} {:>6} {:>7} {:>8} {:>9} {:>7} {:>8} {:>9} {:>9} {:>8} {:>7} {:>7} {:>5} {:>6}\n", "mode", "loss", "size",
             "msgs", "Gb/s", "vs-raw", "vs-clean", "p50(us)", "p99(us)", "cpu s/GB", "cpu/raw", "retx", "rto", "wrong");
  int bad = 0;
  for (const auto& mode : o.modes) {
    std::vector<double> clean(o.sizes.size(), 0);
    for (double loss : o.losses) {
      for (size_t si = 0; si < o.sizes.size(); ++si) {
        const uint64_t size = o.sizes[si];
        Row r = run_point(*ep, ctl, o, mode, loss, size, peer);
        if (loss == 0) clean[si] = r.gbps;
        const double vs_raw = raw_gbps > 0 ? r.gbps / raw_gbps : 0;
        const double vs_clean = clean[si] > 0 ? r.gbps / clean[si] : 0;
        const double cpu_vs = raw_cpu > 0 ? r.cpu_per_gb / raw_cpu : 0;
        if (!r.ok) {
          ++bad;
          fmt::print("{:>5} {:>6.3f} {:>7}  FAILED: {}\n", mode, loss * 100, human(size), r.error);
        } else {
          fmt::print("{:>5} {:>5.1f}% {:>7} {:>8} {:>9.3f} {:>7.2f} {:>8.2f} {:>9.1f} {:>9.1f} {:>8.3f} {:>7.2f} {:>7} {:>5} {:>6}{}\n",
                     mode, loss * 100, human(size), r.messages, r.gbps, vs_raw, vs_clean, r.p50_us, r.p99_us,
                     r.cpu_per_gb, cpu_vs, r.retransmits, r.rtos, r.wrong, r.time_limited ? "  (time-limited)" : "");
          bad += r.wrong > 0 ? 1 : 0;
        }
        std::fflush(stdout);
        if (csv)
          std::fprintf(csv, "%s,%g,%llu,%llu,%.4f,%.4f,%.4f,%.1f,%.1f,%.4f,%.4f,%llu,%llu,%llu,%llu,%s\n", mode.c_str(), loss,
                       static_cast<unsigned long long>(size), static_cast<unsigned long long>(r.messages), r.gbps,
                       vs_raw, vs_clean, r.p50_us, r.p99_us, r.cpu_per_gb, cpu_vs,
                       static_cast<unsigned long long>(r.retransmits), static_cast<unsigned long long>(r.rtos),
                       static_cast<unsigned long long>(r.spurious), static_cast<unsigned long long>(r.wrong),
                       r.ok ? (r.time_limited ? "time-limited" : "") : r.error.c_str());
      }
    }
  }
  Cmd quit{Op::kQuit};
  put(ctl, quit);
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  ::close(ctl);
  if (csv) {
    std::fclose(csv);
    fmt::print("\n# rows written to {}\n", o.csv);
  }
  fmt::print("# vs-raw: goodput / raw UDP ceiling; vs-clean: goodput / same mode and size without loss; cpu/raw: CPU per GB / raw UDP's\n");
  return bad == 0 ? 0 : 2;
}

}  // namespace weft::perf
