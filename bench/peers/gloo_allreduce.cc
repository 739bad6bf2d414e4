// bench/peers/gloo_allreduce.cc — Gloo's ring-chunked all-reduce over its
// TCP transport on 127.0.0.1, the same sweep as weft-perf allreduce.
// Usage: weft_peer_gloo -np N [-b 8 -e 64M -f 4 -n 10 -w 2 --seconds 1]
// Forks N ranks that meet through a FileStore in a temporary directory.
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include <gloo/allreduce_ring_chunked.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include "bench/peers/peer_common.h"

namespace {

int rank_main(int rank, int n, const std::string& dir, const peers::Sweep& s) {
  gloo::transport::tcp::attr attr;
  attr.hostname = "127.0.0.1";
  auto dev = gloo::transport::tcp::CreateDevice(attr);
  gloo::rendezvous::FileStore store(dir);
  auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, n);
  ctx->connectFullMesh(store, dev);
  std::vector<float> buf(s.max_bytes / 4 + 1, 1.0f);
  std::vector<double> one(1);
  auto max_all = [&](double x) {
    one[0] = x;
    std::vector<double*> p{one.data()};
    gloo::AllreduceRingChunked<double> m(ctx, p, 1, gloo::ReductionFunction<double>::max);
    m.run();
    return one[0];
  };
  // Gloo's algorithm objects own their pairs' buffers: build one per size,
  // as a framework caches them, and reuse it across iterations.
  std::unique_ptr<gloo::AllreduceRingChunked<float>> algo;
  uint64_t algo_count = 0;
  auto run = [&](uint64_t count) {
    if (!algo || algo_count != count) {
      std::vector<float*> p{buf.data()};
      algo = std::make_unique<gloo::AllreduceRingChunked<float>>(ctx, p, static_cast<int>(count));
      algo_count = count;
    }
    algo->run();
  };
  peers::sweep("gloo", rank, n, s, run, max_all);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int np = 2;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "-np") np = std::atoi(argv[i + 1]);
  const peers::Sweep s = peers::parse(argc, argv);
  char tmpl[] = "/tmp/weft-gloo-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  std::fflush(stdout);
  std::vector<pid_t> kids;
  for (int r = 0; r < np; ++r) {
    const pid_t p = ::fork();
    if (p == 0) {
      int rc = 1;
      try {
        rc = rank_main(r, np, dir, s);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "gloo rank %d: %s\n", r, e.what());
      }
      std::fflush(stdout);
      ::_exit(rc);
    }
    kids.push_back(p);
  }
  int worst = 0;
  for (pid_t k : kids) {
    int st = 0;
    ::waitpid(k, &st, 0);
    worst = std::max(worst, WIFEXITED(st) ? WEXITSTATUS(st) : 1);
  }
  std::string rm = "rm -rf " + dir;
  (void)!std::system(rm.c_str());
  return worst;
}
