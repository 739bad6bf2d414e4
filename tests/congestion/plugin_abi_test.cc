// The C ABI: loading by path and by name, refusing broken plugins with the
// cause and the remedy, and clamping bad outputs instead of trusting them.
// Broken plugins are built from fixtures/fixture_plugin.c (see CMakeLists.txt).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "congestion/plugin_loader.h"
#include "congestion/registry.h"

namespace weft::cc {
namespace {

std::string fixture(const char* mode) {
  return std::string(WEFT_FIXTURE_DIR) + "/libweft_cc_fixture_" + mode + ".so";
}

Status load(const std::string& spec, const Context& c = Context{}) { return make(spec, c).status(); }

bool contains(const Status& s, const std::string& what) { return s.message().find(what) != std::string::npos; }

TEST(PluginAbi, ExamplePluginLoadsByPathAndRuns) {
  auto cc = make(std::string("plugin:") + WEFT_EXAMPLE_PLUGIN + ":init_mss=10,ai_mss=1,beta=0.5", Context{});
  ASSERT_TRUE(cc.is_ok()) << cc.status().to_string();
  EXPECT_EQ((*cc)->name(), "plugin:example_aimd");
  EXPECT_EQ((*cc)->cwnd(), Bytes(40'960));  // init_mss = 10 × 4096
  // One unmarked ACK of 4096 B: cwnd += 1·4096·4096/40 960 = 409.6 B.
  (*cc)->on_ack({.now = micros(1), .acked_bytes = Bytes(4096), .rtt = micros(12)});
  EXPECT_EQ((*cc)->cwnd(), Bytes(41'369));
  // A marked ACK: × beta = 0.5.
  (*cc)->on_ack({.now = micros(2), .acked_bytes = Bytes(4096), .ecn_bytes = Bytes(4096), .rtt = micros(12)});
  EXPECT_EQ((*cc)->cwnd(), Bytes(20'684));
}

TEST(PluginAbi, EachConnectionGetsItsOwnPluginState) {
  const std::string spec = std::string("plugin:") + WEFT_EXAMPLE_PLUGIN + ":init_mss=10";
  auto a = make(spec, Context{});
  auto b = make(spec, Context{});
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  (*a)->on_timeout({.now = micros(1), .consecutive = 1});
  EXPECT_EQ((*a)->cwnd(), Bytes(4096));
  EXPECT_EQ((*b)->cwnd(), Bytes(40'960));
}

TEST(PluginAbi, LoadsByNameFromTheContextSearchPath) {
  Context c;
  c.plugin_path = std::string("/nonexistent:") + WEFT_EXAMPLE_PLUGIN_DIR;
  auto cc = make("plugin:example_aimd:init_mss=4", c);
  ASSERT_TRUE(cc.is_ok()) << cc.status().to_string();
  EXPECT_EQ((*cc)->cwnd(), Bytes(4 * 4096));
}

TEST(PluginAbi, LoadsByNameFromTheEnvironmentSearchPath) {
  ASSERT_EQ(::setenv("WEFT_CC_PLUGIN_PATH", WEFT_EXAMPLE_PLUGIN_DIR, 1), 0);
  auto cc = make("plugin:example_aimd", Context{});
  ::unsetenv("WEFT_CC_PLUGIN_PATH");
  EXPECT_TRUE(cc.is_ok()) << cc.status().to_string();
}

TEST(PluginAbi, UnknownNameSaysWhereItLookedAndHowToFixIt) {
  Context c;
  c.plugin_path = "/nonexistent/dir";
  Status s = load("plugin:nosuchcc", c);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_TRUE(contains(s, "libweft_cc_nosuchcc.so")) << s.message();
  EXPECT_TRUE(contains(s, "/nonexistent/dir")) << s.message();
  EXPECT_TRUE(contains(s, "WEFT_CC_PLUGIN_PATH")) << s.message();
}

TEST(PluginAbi, UnloadableFileReportsTheDlerrorText) {
  Status s = load("plugin:/nonexistent/libmycc.so");
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_TRUE(contains(s, "/nonexistent/libmycc.so")) << s.message();
  EXPECT_TRUE(contains(s, "No such file")) << s.message();  // dlerror's words
  EXPECT_TRUE(contains(s, "-shared -fPIC")) << s.message();  // the remedy
}

TEST(PluginAbi, NotASharedObjectIsRefused) {
  Status s = load(std::string("plugin:") + __FILE__);  // this very source file
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_TRUE(contains(s, "cannot load CC plugin")) << s.message();
}

TEST(PluginAbi, WrongVersionIsRefusedWithFoundAndExpected) {
  Status s = load("plugin:" + fixture("bad_version"));
  EXPECT_EQ(s.code(), Code::kRejected);
  EXPECT_TRUE(contains(s, "ABI version 99, this weft expects 1")) << s.message();
  EXPECT_TRUE(contains(s, "rebuild")) << s.message();
}

TEST(PluginAbi, MissingEntrySymbolIsNamed) {
  Status s = load("plugin:" + fixture("no_entry"));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_TRUE(contains(s, "does not export 'weft_cc_plugin_entry'")) << s.message();
  EXPECT_TRUE(contains(s, "docs/cc-plugin-abi.md")) << s.message();
}

TEST(PluginAbi, NullFunctionPointerIsRefusedByFieldName) {
  Status s = load("plugin:" + fixture("null_pointer"));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(contains(s, "'on_ack' is NULL")) << s.message();
}

TEST(PluginAbi, NullTableIsRefused) {
  Status s = load("plugin:" + fixture("null_table"));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(contains(s, "returned NULL")) << s.message();
}

TEST(PluginAbi, TooSmallTableIsRefused) {
  Status s = load("plugin:" + fixture("small_struct"));
  EXPECT_EQ(s.code(), Code::kRejected);
  EXPECT_TRUE(contains(s, "struct_size 16")) << s.message();
}

TEST(PluginAbi, PluginRefusingItsParametersIsReportedWithItsReason) {
  Status s = load(std::string("plugin:") + WEFT_EXAMPLE_PLUGIN + ":beta=7");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(contains(s, "refused parameters 'beta=7'")) << s.message();
  EXPECT_TRUE(contains(s, "0<beta<1")) << s.message();  // the plugin's own text
}

TEST(PluginAbi, MissingTargetIsRefused) {
  Status s = load("plugin");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(contains(s, "plugin:/path/libmycc.so")) << s.message();
}

TEST(PluginAbi, BadOutputsAreClampedAndCounted) {
  auto r = make("plugin:" + fixture("bad_outputs"), Context{});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  CongestionControl& cc = **r;
  EXPECT_EQ(cc.cwnd(), Bytes(10'000));  // the fixture starts valid
  EXPECT_EQ(cc.pacing_rate(), BitsPerSec(1'000'000'000));
  EXPECT_EQ(cc.counters().invalid_outputs, 0u);

  auto ack = [&](uint64_t acked, uint64_t ecn) {
    cc.on_ack({.now = micros(1), .acked_bytes = Bytes(acked), .ecn_bytes = Bytes(ecn)});
  };
  ack(0, 0);  // window −1000: replaced by one MSS
  EXPECT_EQ(cc.cwnd(), Bytes(4096));
  EXPECT_EQ(cc.counters().invalid_outputs, 1u);
  ack(1000, 0);  // window 0
  EXPECT_EQ(cc.cwnd(), Bytes(4096));
  EXPECT_EQ(cc.counters().invalid_outputs, 2u);
  ack(6000, 1);  // window 5000 is fine; rate NaN keeps the last valid 1 Gb/s
  EXPECT_EQ(cc.cwnd(), Bytes(5000));
  EXPECT_EQ(cc.pacing_rate(), BitsPerSec(1'000'000'000));
  EXPECT_EQ(cc.counters().invalid_outputs, 3u);
  ack(6000, 2);  // +inf
  ack(6000, 3);  // −5 b/s
  EXPECT_EQ(cc.pacing_rate(), BitsPerSec(1'000'000'000));
  EXPECT_EQ(cc.counters().invalid_outputs, 5u);
  ack(uint64_t{1} << 42, 0);  // 4 TiB window: capped at 1 TiB
  EXPECT_EQ(cc.cwnd(), Bytes(uint64_t{1} << 40));
  EXPECT_EQ(cc.counters().invalid_outputs, 6u);
}

}  // namespace
}  // namespace weft::cc
