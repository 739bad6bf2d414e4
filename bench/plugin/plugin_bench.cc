// weft-plugin-bench: libnccl-net-weft.so against weft's Device API, two
// processes on loopback, in the same run.
//
//   throughput  64 KiB … 64 MiB, `depth` messages in flight (as NCCL keeps
//               NCCL_STEPS per connection, here more for small sizes), GB/s
//               from the first post to the last send completion (a weft send
//               completes when every byte is acknowledged, so delivered).
//   round trip  8 B and 4 KiB ping-pong, median µs, receives pre-posted.
//
// Modes alternate within each repetition (and which goes first alternates
// between repetitions) and the best of `--reps` is kept,
// so a neighbour's burst on a shared machine hits both sides alike. Prints a
// table and writes CSV (kind,size_bytes,raw,plugin,ratio).
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/plugin/links.h"

namespace weft::bench {
namespace {

enum class Op : int32_t { kStream = 1, kPingPong = 2, kQuit = 3 };
struct Cmd {
  Op op;
  int32_t plugin;  // 0 raw, 1 plugin
  uint64_t size, count, depth;
};
struct Reply {
  int32_t ok;
  uint64_t wrong;
  char text[120];
};

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
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Message i carries i in its first and last 8 bytes, so a misplaced buffer shows.
void stamp(uint8_t* p, size_t size, uint64_t i) {
  if (size >= 8) std::memcpy(p, &i, 8);
  if (size >= 16) std::memcpy(p + size - 8, &i, 8);
}
bool check(const uint8_t* p, size_t size, uint64_t i) {
  uint64_t a = i, b = i;
  if (size >= 8) std::memcpy(&a, p, 8);
  if (size >= 16) std::memcpy(&b, p + size - 8, 8);
  return a == i && b == i;
}

// Posts until the link takes it (the plugin answers "not now" with NULL).
template <typename F>
uintptr_t post(Link& l, F f) {
  for (int i = 0; i < 1000000; ++i)
    if (uintptr_t t = f()) return t;
  return 0;
}
// Polls done() like NCCL's progress thread: spin, but yield the CPU after a
// fruitless poll so the Devices' progress threads run on a busy machine.
bool wait(Link& l, uintptr_t t, size_t* bytes = nullptr) {
  const double end = now_s() + 20;
  for (;;) {
    const int d = l.done(t, bytes);
    if (d != 0) return d > 0;
    std::this_thread::yield();
    if (now_s() > end) {
      l.error = "stuck for 20 s";
      return false;
    }
  }
}

struct Buffers {
  Buffers(Link& l, size_t n, size_t size, bool for_send) : link(l), send(for_send) {
    for (size_t i = 0; i < n; ++i) {
      bufs.emplace_back(std::max<size_t>(size, 1), 0xA5);
      mhs.push_back(l.reg(bufs.back().data(), bufs.back().size(), for_send));
    }
  }
  ~Buffers() {
    for (void* m : mhs) link.unreg(m, send);
  }
  Link& link;
  bool send;
  std::vector<std::vector<uint8_t>> bufs;
  std::vector<void*> mhs;
};

// ---- receiver / echo (child) ----
Reply serve_stream(Link& l, const Cmd& c, int ctl) {
  Reply rep{};
  Buffers b(l, c.depth, c.size, false);
  std::vector<uintptr_t> tok(c.depth);
  std::vector<uint64_t> msg(c.depth);
  uint64_t posted = 0, received = 0;
  for (; posted < std::min(c.depth, c.count); ++posted) {
    tok[posted] = post(l, [&] { return l.recv(b.bufs[posted].data(), c.size, b.mhs[posted]); });
    msg[posted] = posted;
  }
  put(ctl, int32_t{1});  // receives are posted: start
  while (received < c.count) {
    const uint64_t before = received;
    for (size_t s = 0; s < c.depth && received < c.count; ++s) {
      if (tok[s] == 0) continue;
      size_t bytes = 0;
      const int d = l.done(tok[s], &bytes);
      if (d < 0) {
        std::snprintf(rep.text, sizeof rep.text, "receiver: %s", l.error.c_str());
        return rep;
      }
      if (d == 0) continue;
      if (bytes != c.size || !check(b.bufs[s].data(), c.size, msg[s])) rep.wrong++;
      ++received;
      tok[s] = 0;
      if (posted < c.count) {
        tok[s] = post(l, [&] { return l.recv(b.bufs[s].data(), c.size, b.mhs[s]); });
        msg[s] = posted++;
      }
    }
    if (received == before) std::this_thread::yield();
  }
  rep.ok = 1;
  return rep;
}

Reply serve_pingpong(Link& l, const Cmd& c, int ctl) {
  Reply rep{};
  Buffers rb(l, 2, c.size, false), sb(l, 1, c.size, true);
  uintptr_t r = post(l, [&] { return l.recv(rb.bufs[0].data(), c.size, rb.mhs[0]); });
  put(ctl, int32_t{1});
  for (uint64_t i = 0; i < c.count; ++i) {
    if (!wait(l, r)) {
      std::snprintf(rep.text, sizeof rep.text, "echo: %s", l.error.c_str());
      return rep;
    }
    const size_t next = (i + 1) & 1;
    if (i + 1 < c.count) r = post(l, [&] { return l.recv(rb.bufs[next].data(), c.size, rb.mhs[next]); });
    const uintptr_t s = post(l, [&] { return l.send(sb.bufs[0].data(), c.size, sb.mhs[0]); });
    if (!wait(l, s)) {
      std::snprintf(rep.text, sizeof rep.text, "echo: %s", l.error.c_str());
      return rep;
    }
  }
  rep.ok = 1;
  return rep;
}

// ---- sender (parent) ----
double run_stream(Link& l, const Cmd& c, int ctl, std::string* err) {
  Buffers b(l, c.depth, c.size, true);
  std::vector<uintptr_t> tok(c.depth, 0);
  put(ctl, c);
  int32_t go = 0;
  if (!get(ctl, go)) {
    *err = "receiver gone";
    return 0;
  }
  const double t0 = now_s();
  uint64_t sent = 0, done = 0;
  auto send_one = [&](size_t s) {
    stamp(b.bufs[s].data(), c.size, sent);
    tok[s] = post(l, [&] { return l.send(b.bufs[s].data(), c.size, b.mhs[s]); });
    ++sent;
  };
  for (size_t s = 0; s < c.depth && sent < c.count; ++s) send_one(s);
  while (done < c.count) {
    const uint64_t before = done;
    for (size_t s = 0; s < c.depth; ++s) {
      if (tok[s] == 0) continue;
      const int d = l.done(tok[s], nullptr);
      if (d < 0) {
        *err = l.error;
        return 0;
      }
      if (d == 0) continue;
      ++done;
      tok[s] = 0;
      if (sent < c.count) send_one(s);
    }
    if (done == before) std::this_thread::yield();
  }
  const double t1 = now_s();
  Reply rep{};
  get(ctl, rep);
  if (!rep.ok || rep.wrong) {
    *err = rep.ok ? std::to_string(rep.wrong) + " messages arrived wrong" : rep.text;
    return 0;
  }
  return static_cast<double>(c.count * c.size) / (t1 - t0) / 1e9;
}

double run_pingpong(Link& l, const Cmd& c, int ctl, std::string* err) {
  Buffers rb(l, 1, c.size, false), sb(l, 1, c.size, true);
  put(ctl, c);
  int32_t go = 0;
  get(ctl, go);
  std::vector<double> rtt;
  rtt.reserve(c.count);
  for (uint64_t i = 0; i < c.count; ++i) {
    const double t0 = now_s();
    const uintptr_t r = post(l, [&] { return l.recv(rb.bufs[0].data(), c.size, rb.mhs[0]); });
    const uintptr_t s = post(l, [&] { return l.send(sb.bufs[0].data(), c.size, sb.mhs[0]); });
    if (!wait(l, s) || !wait(l, r)) {
      *err = l.error;
      return 0;
    }
    rtt.push_back((now_s() - t0) * 1e6);
  }
  Reply rep{};
  get(ctl, rep);
  if (!rep.ok) {
    *err = rep.text;
    return 0;
  }
  std::sort(rtt.begin(), rtt.end());
  return rtt[rtt.size() / 2];
}

struct Options {
  std::string plugin = WEFT_NCCL_PLUGIN_PATH;
  uint64_t bytes_per_point = 256ull << 20;
  int reps = 3;
  uint64_t iters = 2000;
  std::string csv = "plugin_bench.csv";
};

int usage() {
  std::fprintf(stderr,
               "usage: weft-plugin-bench [--plugin PATH] [--mib-per-point N] [--reps N] [--iters N] [--csv FILE]\n");
  return 2;
}

int child_main(int ctl, RawLink& raw, PluginLink& plug) {
  Cmd c{};
  while (get(ctl, c) && c.op != Op::kQuit) {
    Link& l = c.plugin ? static_cast<Link&>(plug) : raw;
    put(ctl, c.op == Op::kStream ? serve_stream(l, c, ctl) : serve_pingpong(l, c, ctl));
  }
  return 0;
}

}  // namespace
}  // namespace weft::bench

int main(int argc, char** argv) {
  using namespace weft::bench;
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const char* v = argv[++i];
    if (a == "--plugin") o.plugin = v;
    else if (a == "--mib-per-point") o.bytes_per_point = std::strtoull(v, nullptr, 10) << 20;
    else if (a == "--reps") o.reps = std::max(1, std::atoi(v));
    else if (a == "--iters") o.iters = std::max<uint64_t>(10, std::strtoull(v, nullptr, 10));
    else if (a == "--csv") o.csv = v;
    else return usage();
  }
  setenv("WEFT_IFNAME", "=lo", 0);  // loopback unless the caller says otherwise

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  const pid_t child = fork();  // before any Device exists: no thread crosses the fork
  const bool parent = child != 0;
  const int ctl = sv[parent ? 0 : 1];
  ::close(sv[parent ? 1 : 0]);

  std::string err;
  auto raw = RawLink::open(&err);
  auto plug = raw ? PluginLink::open(o.plugin.c_str(), &err) : nullptr;
  if (!raw || !plug) {
    std::fprintf(stderr, "weft-plugin-bench: %s\n", err.c_str());
    return 1;
  }
  // Raw: the parent accepts, the child connects. Plugin: both listen, swap
  // handles, then poll connect/accept (NCCL's ring setup).
  char addr[64] = {};
  char mine[128] = {}, theirs[128] = {};
  bool up = plug->listen(mine);
  if (parent) {
    std::snprintf(addr, sizeof addr, "%s", raw->address().c_str());
    put(ctl, addr);
    up = up && raw->accept();
  } else {
    get(ctl, addr);
    up = up && raw->connect(addr);
  }
  put(ctl, mine);
  get(ctl, theirs);
  up = up && plug->connect(theirs);
  if (!up) {
    std::fprintf(stderr, "weft-plugin-bench: setup failed: %s%s\n", raw->error.c_str(), plug->error.c_str());
    return 1;
  }
  if (!parent) return child_main(ctl, *raw, *plug);

  struct Row {
    std::string kind;
    uint64_t size;
    double raw = 0, plugin = 0;
  };
  std::vector<Row> rows;
  bool failed = false;
  for (uint64_t size = 64u << 10; size <= (64u << 20); size *= 4) {
    Row row{"throughput_GBps", size};
    const uint64_t depth = std::clamp<uint64_t>((16ull << 20) / size, 2, 32);
    const uint64_t count = std::clamp<uint64_t>(o.bytes_per_point / size, 2 * depth, 1u << 20);
    for (int rep = 0; rep < o.reps && !failed; ++rep) {
      for (int k = 0; k < 2; ++k) {
        const int mode = k ^ (rep & 1);  // who goes first alternates per repetition
        Link& l = mode ? static_cast<Link&>(*plug) : *raw;
        const double g = run_stream(l, Cmd{Op::kStream, mode, size, count, depth}, ctl, &err);
        if (!err.empty()) {
          std::fprintf(stderr, "%s %llu B: %s\n", mode ? "plugin" : "raw", static_cast<unsigned long long>(size),
                       err.c_str());
          failed = true;
          break;
        }
        (mode ? row.plugin : row.raw) = std::max(mode ? row.plugin : row.raw, g);
      }
    }
    rows.push_back(row);
  }
  for (uint64_t size : {uint64_t{8}, uint64_t{4096}}) {
    Row row{"round_trip_us", size, 1e30, 1e30};
    for (int rep = 0; rep < o.reps && !failed; ++rep) {
      for (int k = 0; k < 2; ++k) {
        const int mode = k ^ (rep & 1);
        Link& l = mode ? static_cast<Link&>(*plug) : *raw;
        const double us = run_pingpong(l, Cmd{Op::kPingPong, mode, size, o.iters, 1}, ctl, &err);
        if (!err.empty()) {
          std::fprintf(stderr, "%s ping-pong: %s\n", mode ? "plugin" : "raw", err.c_str());
          failed = true;
          break;
        }
        (mode ? row.plugin : row.raw) = std::min(mode ? row.plugin : row.raw, us);
      }
    }
    rows.push_back(row);
  }
  put(ctl, Cmd{Op::kQuit, 0, 0, 0, 0});
  int status = 0;
  waitpid(child, &status, 0);

  std::printf("%-16s %10s %10s %10s %10s\n", "kind", "size", "raw", "plugin", "plugin/raw");
  std::ofstream csv(o.csv);
  csv << "kind,size_bytes,raw,plugin,ratio\n";
  for (const Row& r : rows) {
    const double ratio = r.raw > 0 ? r.plugin / r.raw : 0;
    std::printf("%-16s %10llu %10.3f %10.3f %10.3f%s\n", r.kind.c_str(), static_cast<unsigned long long>(r.size), r.raw,
                r.plugin, ratio,
                r.kind == "round_trip_us" ? ("   (+" + std::to_string(r.plugin - r.raw) + " us)").c_str() : "");
    csv << r.kind << ',' << r.size << ',' << r.raw << ',' << r.plugin << ',' << ratio << '\n';
  }
  std::printf("csv: %s\n", o.csv.c_str());
  return failed ? 1 : 0;
}
