// CPU cost of one ACK event for every congestion-control algorithm, the
// example C-ABI plugin included (target ≤ 50 ns). Each iteration is what the
// transport does per ACK: on_ack, then read cwnd() and pacing_rate().
// The ACK stream mixes the signals so every branch of the law runs: the RTT
// cycles through 1×..4× base, one ACK in eight is CE-marked, and the one INT
// hop's queue and counters move (HPCC).
#include <benchmark/benchmark.h>

#include <string>

#include "congestion/credit.h"
#include "congestion/registry.h"

namespace weft::cc {
namespace {

void BM_OnAck(benchmark::State& state, std::string spec) {
  Context ctx;
  ctx.link_rate = gbps(100);
  ctx.base_rtt = micros(10);
  ctx.mss = Bytes(4096);
  ctx.int_telemetry = true;
  auto made = make(spec, ctx);
  if (!made.is_ok()) {
    state.SkipWithError(made.status().to_string().c_str());
    return;
  }
  CongestionControl& cc = **made;
  IntHop hop{.queue_len = Bytes(0), .tx_bytes = Bytes(0), .timestamp = Nanos(0), .link_rate = gbps(100)};
  AckSample a{.now = Nanos(0), .acked_bytes = Bytes(4096), .ecn_bytes = Bytes(0), .rtt = micros(10),
              .min_rtt = micros(10), .inflight = Bytes(65536), .path = 0, .int_hops = {&hop, 1}};
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    a.now += Nanos(330);  // one 4 KiB packet at 100 Gb/s
    a.rtt = micros(10) * static_cast<int64_t>(1 + ((i >> 6) & 3));
    a.ecn_bytes = Bytes((i & 7) == 0 ? 4096 : 0);
    hop.timestamp = a.now;
    hop.tx_bytes += Bytes(4096);
    hop.queue_len = Bytes(((i >> 6) & 3) * 30'000);
    cc.on_ack(a);
    benchmark::DoNotOptimize(cc.cwnd());
    benchmark::DoNotOptimize(cc.pacing_rate());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_OnAck, fixed, std::string("fixed"));
BENCHMARK_CAPTURE(BM_OnAck, dcqcn, std::string("dcqcn"));
BENCHMARK_CAPTURE(BM_OnAck, timely, std::string("timely"));
BENCHMARK_CAPTURE(BM_OnAck, swift, std::string("swift"));
BENCHMARK_CAPTURE(BM_OnAck, hpcc, std::string("hpcc"));
BENCHMARK_CAPTURE(BM_OnAck, nscc, std::string("nscc"));
BENCHMARK_CAPTURE(BM_OnAck, credit, std::string("credit"));
BENCHMARK_CAPTURE(BM_OnAck, plugin_example_aimd, std::string("plugin:") + WEFT_EXAMPLE_PLUGIN);

// The receiver side of credits: one arrival's request plus one poll.
void BM_CreditGranterRequestAndPoll(benchmark::State& state) {
  CreditGranter g({.link_rate = gbps(100)}, 16);
  Nanos now{0};
  uint64_t req[16] = {};
  uint32_t s = 0;
  for (auto _ : state) {
    now += Nanos(330);
    s = (s + 1) & 15;
    req[s] += 4096;
    g.on_request(s, Bytes(req[s]));
    benchmark::DoNotOptimize(g.poll(now));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CreditGranterRequestAndPoll);

}  // namespace
}  // namespace weft::cc
