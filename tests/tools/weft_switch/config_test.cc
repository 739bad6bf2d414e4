// Rates and sizes as the command line and the testbed spell them.
#include "tools/weft-switch/config.h"

#include <gtest/gtest.h>

namespace weft::sw {
namespace {

TEST(Config, ParsesTcStyleRates) {
  EXPECT_EQ(parse_rate("1gbit")->count(), 1'000'000'000u);
  EXPECT_EQ(parse_rate("100mbit")->count(), 100'000'000u);
  EXPECT_EQ(parse_rate("2.5Gbit")->count(), 2'500'000'000u);
  EXPECT_EQ(parse_rate("125mbps")->count(), 1'000'000'000u);
  EXPECT_EQ(parse_rate("10g")->count(), 10'000'000'000u);
  EXPECT_EQ(parse_rate("none")->count(), 0u);
  EXPECT_EQ(parse_rate("0")->count(), 0u);
  EXPECT_FALSE(parse_rate("fast"));
  EXPECT_EQ(parse_rate("1gibit")->count(), 1073741824u);
  EXPECT_EQ(parse_rate("2kibit")->count(), 2048u);
  EXPECT_FALSE(parse_rate("1gibibit"));
  EXPECT_FALSE(parse_rate("-1gbit"));
}

TEST(Config, ParsesSizes) {
  EXPECT_EQ(parse_bytes("65536")->count(), 65536u);
  EXPECT_EQ(parse_bytes("64K")->count(), 65536u);
  EXPECT_EQ(parse_bytes("64KiB")->count(), 65536u);
  EXPECT_EQ(parse_bytes("100kb")->count(), 100000u);
  EXPECT_EQ(parse_bytes("1m")->count(), 1u << 20);
  EXPECT_FALSE(parse_bytes("lots"));
  EXPECT_FALSE(parse_bytes("1q"));
}

TEST(Config, CountersAreOneKeyValueLinePerPort) {
  PacketPool pool(256, 2048);
  SwitchCore core(Topology::dumbbell(2, 1, 2), {}, pool, Nanos(0));
  const std::string s = format_counters(core);
  EXPECT_NE(s.find("port=h0 node=s0 kind=host"), std::string::npos) << s;
  EXPECT_NE(s.find("port=s0>s1.1 node=s0 kind=link"), std::string::npos) << s;
  for (const char* key : {"forwarded=", "marked=", "trimmed=", "dropped=", "max_queue=", "ingress=h1"})
    EXPECT_NE(s.find(key), std::string::npos) << key;
}

}  // namespace
}  // namespace weft::sw
