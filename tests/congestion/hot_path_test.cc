// The per-packet calls (on_ack, on_send, cwnd, pacing_rate) must not
// allocate. Global operator new is replaced for this binary with a counting
// wrapper; the count must not move across a burst of events.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "congestion/credit.h"
#include "congestion/registry.h"

namespace {
std::atomic<uint64_t> g_news{0};
}  // namespace

// GCC cannot see that these replace the global pair, and warns that free()
// meets operator new's pointer.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace weft::cc {
namespace {

class HotPath : public ::testing::TestWithParam<std::string> {};

TEST_P(HotPath, PerPacketCallsDoNotAllocate) {
  Context ctx;
  ctx.int_telemetry = true;
  const std::string spec = GetParam() == "plugin" ? std::string("plugin:") + WEFT_EXAMPLE_PLUGIN : GetParam();
  auto made = make(spec, ctx);
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  CongestionControl& cc = **made;
  IntHop hop{.queue_len = Bytes(0), .tx_bytes = Bytes(0), .timestamp = Nanos(0), .link_rate = gbps(100)};
  const uint64_t before = g_news.load();
  uint64_t sink = 0;
  for (int i = 1; i <= 10'000; ++i) {
    const Nanos now = micros(i);
    hop.timestamp = now;
    hop.tx_bytes += Bytes(8192);
    hop.queue_len = Bytes((i % 50) * 1000);
    cc.on_send({.now = now, .bytes = Bytes(4096), .inflight = Bytes(65536)});
    cc.on_ack({.now = now, .acked_bytes = Bytes(4096), .ecn_bytes = Bytes(i % 8 ? 0 : 4096),
               .rtt = micros(10 + i % 40), .min_rtt = micros(10), .inflight = Bytes(61440),
               .int_hops = {&hop, 1}});
    sink += cc.cwnd().count() + cc.pacing_rate().count();
  }
  EXPECT_EQ(g_news.load(), before) << "allocations during 10 000 send+ACK events";
  EXPECT_GT(sink, 0u);
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, HotPath,
                         ::testing::Values("fixed", "dcqcn", "timely", "swift", "hpcc", "nscc", "credit", "plugin"));

TEST(HotPath, CreditGranterRequestAndPollDoNotAllocate) {
  CreditGranter g({.link_rate = gbps(100)}, 16);
  const uint64_t before = g_news.load();
  uint64_t granted = 0;
  for (int i = 1; i <= 10'000; ++i) {
    g.on_request(static_cast<uint32_t>(i % 16), Bytes(static_cast<uint64_t>(i) * 4096));
    if (auto grant = g.poll(Nanos(i * 400))) granted += grant->credit.count();
  }
  EXPECT_EQ(g_news.load(), before);
  EXPECT_GT(granted, 0u);
}

}  // namespace
}  // namespace weft::cc
