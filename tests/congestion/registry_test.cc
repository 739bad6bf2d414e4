// Registry: selection by name, Params strings, refusals with the valid list.
#include "congestion/registry.h"

#include <gtest/gtest.h>

#include "congestion/fixed_window.h"
#include "congestion/swift.h"

namespace weft::cc {
namespace {

Context ctx_with_int() {
  Context c;
  c.int_telemetry = true;
  return c;
}

TEST(Registry, ListsEveryBuiltinSorted) {
  const std::vector<std::string> want = {"credit", "dcqcn", "fixed", "hpcc", "nscc", "plugin", "swift", "timely"};
  EXPECT_EQ(Registry::global().names(), want);
}

TEST(Registry, MakesEachBuiltinByNameWithItsDefaults) {
  for (const char* name : {"fixed", "dcqcn", "timely", "swift", "hpcc", "nscc", "credit"}) {
    auto cc = make(name, ctx_with_int());
    ASSERT_TRUE(cc.is_ok()) << name << ": " << cc.status().to_string();
    EXPECT_EQ((*cc)->name(), name);
    EXPECT_GT((*cc)->cwnd().count(), 0u) << name;
  }
}

TEST(Registry, KeyValuesSetTheParams) {
  auto cc = make("swift:target_delay_us=30,ai_pkts=2,init_cwnd_pkts=10,fs_range_us=0", Context{});
  ASSERT_TRUE(cc.is_ok()) << cc.status().to_string();
  auto* swift = dynamic_cast<Swift*>(cc->get());
  ASSERT_NE(swift, nullptr);
  EXPECT_EQ(swift->fabric_target(10, 0), micros(30));      // base target 30 µs, no flow scaling
  EXPECT_DOUBLE_EQ(swift->fabric_cwnd(), 10.0);
  // ai_pkts=2: one packet ACKed below target adds 2·1/10 packets.
  (*cc)->on_ack({.now = micros(1), .acked_bytes = Bytes(4096), .rtt = micros(12)});
  EXPECT_DOUBLE_EQ(swift->fabric_cwnd(), 10.2);
}

TEST(Registry, FractionalMicrosecondsRoundToNanoseconds) {
  auto cc = make("swift:target_delay_us=2.5,fs_range_us=0", Context{});
  ASSERT_TRUE(cc.is_ok());
  EXPECT_EQ(dynamic_cast<Swift*>(cc->get())->fabric_target(10, 0), Nanos(2500));
}

TEST(Registry, FixedTakesWindowBytesAndRateMbps) {
  auto cc = make("fixed:window_bytes=65536,rate_mbps=1000", Context{});
  ASSERT_TRUE(cc.is_ok());
  EXPECT_EQ((*cc)->cwnd(), Bytes(65536));
  EXPECT_EQ((*cc)->pacing_rate(), BitsPerSec(1'000'000'000));
}

TEST(Registry, UnknownNameIsRefusedWithTheValidNames) {
  auto cc = make("cubic:beta=0.7", Context{});
  ASSERT_FALSE(cc.is_ok());
  EXPECT_EQ(cc.status().code(), Code::kNotFound);
  const std::string m = cc.status().message();
  EXPECT_NE(m.find("'cubic'"), std::string::npos) << m;
  for (const char* n : {"dcqcn", "timely", "swift", "hpcc", "nscc", "credit", "fixed", "plugin:"}) {
    EXPECT_NE(m.find(n), std::string::npos) << n << " missing from: " << m;
  }
}

TEST(Registry, UnknownKeyIsRefusedWithTheValidKeys) {
  auto cc = make("swift:speed=3", Context{});
  ASSERT_FALSE(cc.is_ok());
  EXPECT_EQ(cc.status().code(), Code::kInvalidArgument);
  const std::string m = cc.status().message();
  EXPECT_NE(m.find("'speed'"), std::string::npos) << m;
  EXPECT_NE(m.find("target_delay_us"), std::string::npos) << m;
  EXPECT_NE(m.find("ai_pkts"), std::string::npos) << m;
}

TEST(Registry, BadValuesAreRefusedWithTheRange) {
  for (const char* spec : {"swift:beta=abc", "swift:beta=2", "swift:beta=-0.1", "swift:beta=", "swift:beta=nan",
                           "swift:beta=0.5x", "dcqcn:g=1e999", "nscc:qa_gate=31"}) {
    auto cc = make(spec, Context{});
    ASSERT_FALSE(cc.is_ok()) << spec;
    EXPECT_EQ(cc.status().code(), Code::kInvalidArgument) << spec;
    EXPECT_NE(cc.status().message().find(" in ["), std::string::npos) << cc.status().message();
  }
}

TEST(Registry, CountsAndByteSizesMustBeWholeNumbers) {
  auto cc = make("dcqcn:fast_recovery_stages=2.5", Context{});
  ASSERT_FALSE(cc.is_ok());
  EXPECT_NE(cc.status().message().find("is not a whole number in [0"), std::string::npos) << cc.status().message();
  EXPECT_FALSE(make("fixed:window_bytes=1000.5", Context{}).is_ok());
  EXPECT_TRUE(make("fixed:window_bytes=1e6", Context{}).is_ok());  // 1 000 000 is whole
}

TEST(Registry, MalformedAndRepeatedPairsAreRefused) {
  for (const char* spec : {"swift:beta", "swift:=3", "swift:beta=0.5,,ai_pkts=1", "swift:beta=0.5,beta=0.6"}) {
    auto cc = make(spec, Context{});
    ASSERT_FALSE(cc.is_ok()) << spec;
    EXPECT_EQ(cc.status().code(), Code::kInvalidArgument) << spec;
  }
  EXPECT_NE(make("swift:beta=0.5,beta=0.6", Context{}).status().message().find("given twice"), std::string::npos);
}

TEST(Registry, CrossParameterChecksRefuseContradictions) {
  auto t = make("timely:t_low_us=600", Context{});  // above the default t_high 500 µs
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("t_low_us"), std::string::npos);
  EXPECT_FALSE(make("swift:min_cwnd_pkts=300", Context{}).is_ok());  // above max_cwnd 256
}

TEST(Registry, DuplicateRegistrationIsRefused) {
  EXPECT_EQ(Registry::global().add(swift_algorithm()).code(), Code::kAlreadyExists);
  Registry r;
  ASSERT_TRUE(r.add(swift_algorithm()).is_ok());
  Status again = r.add(swift_algorithm());
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_NE(again.message().find("'swift'"), std::string::npos);
}

TEST(Registry, MalformedNamesAndMissingFactoriesAreRefused) {
  Registry r;
  EXPECT_EQ(r.add({"Bad-Name", "", "", swift_algorithm().factory}).code(), Code::kInvalidArgument);
  EXPECT_EQ(r.add({"", "", "", swift_algorithm().factory}).code(), Code::kInvalidArgument);
  EXPECT_EQ(r.add({"nofactory", "", "", nullptr}).code(), Code::kInvalidArgument);
  EXPECT_TRUE(r.names().empty());
}

TEST(Registry, UserAlgorithmsRegisterBesideTheBuiltins) {
  Registry r;
  ASSERT_TRUE(r.add({"mine", "test", "", [](std::string_view args, const Context&) -> Result<CcPtr> {
                       return CcPtr(std::make_unique<FixedWindow>(FixedWindow::Params{.window = Bytes(args.size())}));
                     }})
                  .is_ok());
  auto cc = r.make("mine:abc", Context{});
  ASSERT_TRUE(cc.is_ok());
  EXPECT_EQ((*cc)->cwnd(), Bytes(3));  // the factory saw the text after "mine:"
  EXPECT_EQ(r.names(), std::vector<std::string>{"mine"});
}

TEST(Registry, ContextWithoutMssOrRateIsRefused) {
  Context c;
  c.mss = Bytes(0);
  EXPECT_EQ(make("swift", c).status().code(), Code::kInvalidArgument);
  c = Context{};
  c.base_rtt = Nanos(0);
  EXPECT_EQ(make("swift", c).status().code(), Code::kInvalidArgument);
}

TEST(Registry, EachEntryDescribesItsParamsWithDefaults) {
  const Algorithm* a = Registry::global().find("swift");
  ASSERT_NE(a, nullptr);
  EXPECT_NE(a->params.find("target_delay_us = 25"), std::string::npos) << a->params;
  EXPECT_NE(Registry::global().find("dcqcn")->params.find("cnp_interval_us = 50"), std::string::npos);
  EXPECT_EQ(Registry::global().find("nosuch"), nullptr);
}

TEST(Registry, HelpListsEveryAlgorithmAndItsKeys) {
  const std::string h = Registry::global().help();
  for (const char* s : {"dcqcn:", "timely:", "swift:", "hpcc:", "nscc:", "credit:", "fixed:", "plugin:",
                        "cnp_interval_us = 50", "eta = 0.95", "spec_bdp = 1"}) {
    EXPECT_NE(h.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace weft::cc
