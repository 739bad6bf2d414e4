// Status, Result<T>, WEFT_RETURN_IF_ERROR (weft/status.h) and the strong unit
// types (weft/units.h).
#include "weft/status.h"

#include <gtest/gtest.h>

#include <compare>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <type_traits>

#include "weft/units.h"

namespace weft {
namespace {

constexpr Code kAllCodes[] = {
    Code::kOk,           Code::kInvalidArgument, Code::kResourceExhausted, Code::kNotFound,
    Code::kAlreadyExists, Code::kFailedPrecondition, Code::kPeerFailed,   Code::kRejected,
    Code::kTimeout,      Code::kClosed,          Code::kRemoteAccess,      Code::kTruncated,
    Code::kIoError,      Code::kUnavailable,     Code::kInternal,
};

// ---------------------------------------------------------------- Status

TEST(Status, DefaultConstructedIsOk) {
  Status s;
  EXPECT_TRUE(s.is_ok());
  EXPECT_TRUE(static_cast<bool>(s));
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_TRUE(s.message().empty());
  EXPECT_TRUE(Status::ok().is_ok());
  EXPECT_EQ(Status::ok().code(), Code::kOk);
}

TEST(Status, ErrorKeepsItsCodeAndMessage) {
  Status s(Code::kPeerFailed, "peer 127.0.0.1:5000 silent for 3000 ms");
  EXPECT_FALSE(s.is_ok());
  EXPECT_FALSE(static_cast<bool>(s));
  EXPECT_EQ(s.code(), Code::kPeerFailed);
  EXPECT_EQ(s.message(), "peer 127.0.0.1:5000 silent for 3000 ms");
}

TEST(Status, ToStringIsCodeNameColonMessage) {
  EXPECT_EQ(Status(Code::kPeerFailed, "peer 127.0.0.1:5000 silent for 3000 ms").to_string(),
            "PeerFailed: peer 127.0.0.1:5000 silent for 3000 ms");
  EXPECT_EQ(Status(Code::kInvalidArgument, "mtu too small").to_string(), "InvalidArgument: mtu too small");
  EXPECT_EQ(Status(Code::kInternal, "").to_string(), "Internal: ");
}

TEST(Status, OkToStringIsOk) {
  EXPECT_EQ(Status().to_string(), "Ok");
  EXPECT_EQ(Status::ok().to_string(), "Ok");
}

TEST(Status, StatusIsNotImplicitlyConvertibleToBool) {
  static_assert(!std::is_convertible_v<Status, bool>);
  static_assert(std::is_constructible_v<bool, Status>);
}

TEST(CodeName, NamesEveryCodeUniquely) {
  std::set<std::string> names;
  for (Code c : kAllCodes) {
    const std::string n(code_name(c));
    EXPECT_FALSE(n.empty());
    EXPECT_NE(n, "Unknown") << static_cast<int>(c);
    EXPECT_EQ(n.find(' '), std::string::npos) << n;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), std::size(kAllCodes));
}

TEST(CodeName, SpellsTheDocumentedNames) {
  EXPECT_EQ(code_name(Code::kOk), "Ok");
  EXPECT_EQ(code_name(Code::kInvalidArgument), "InvalidArgument");
  EXPECT_EQ(code_name(Code::kResourceExhausted), "ResourceExhausted");
  EXPECT_EQ(code_name(Code::kNotFound), "NotFound");
  EXPECT_EQ(code_name(Code::kAlreadyExists), "AlreadyExists");
  EXPECT_EQ(code_name(Code::kFailedPrecondition), "FailedPrecondition");
  EXPECT_EQ(code_name(Code::kPeerFailed), "PeerFailed");
  EXPECT_EQ(code_name(Code::kRejected), "Rejected");
  EXPECT_EQ(code_name(Code::kTimeout), "Timeout");
  EXPECT_EQ(code_name(Code::kClosed), "Closed");
  EXPECT_EQ(code_name(Code::kRemoteAccess), "RemoteAccess");
  EXPECT_EQ(code_name(Code::kTruncated), "Truncated");
  EXPECT_EQ(code_name(Code::kIoError), "IoError");
  EXPECT_EQ(code_name(Code::kUnavailable), "Unavailable");
  EXPECT_EQ(code_name(Code::kInternal), "Internal");
}

TEST(CodeName, OutOfRangeCodeIsUnknown) {
  EXPECT_EQ(code_name(static_cast<Code>(999)), "Unknown");
  EXPECT_EQ(code_name(static_cast<Code>(-1)), "Unknown");
}

// ---------------------------------------------------------------- Result<T>

TEST(Result, HoldsAValueAndAnOkStatus) {
  Result<int> r(42);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  EXPECT_TRUE(r.status().is_ok());
  r.value() = 7;
  EXPECT_EQ(*r, 7);
}

TEST(Result, HoldsAnErrorStatus) {
  Result<int> r(Status(Code::kNotFound, "no tag 9"));
  EXPECT_FALSE(r.is_ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "no tag 9");
}

TEST(Result, ArrowAndConstAccessReachTheValue) {
  Result<std::string> r(std::string("hello"));
  EXPECT_EQ(r->size(), 5u);
  const Result<std::string>& cr = r;
  EXPECT_EQ(cr->size(), 5u);
  EXPECT_EQ(*cr, "hello");
  EXPECT_EQ(cr.value(), "hello");
}

TEST(Result, MoveOnlyValueCanBeMovedOut) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(5));
  ASSERT_TRUE(r.is_ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 5);
}

TEST(Result, ZeroValueIsStillOk) {
  Result<uint64_t> r(uint64_t{0});
  EXPECT_TRUE(r.is_ok());
  EXPECT_EQ(*r, 0u);
}

// ---------------------------------------------------------------- WEFT_RETURN_IF_ERROR

Status fail_if(bool fail, int* calls) {
  ++*calls;
  return fail ? Status(Code::kTimeout, "deadline passed") : Status::ok();
}

Status two_steps(bool fail_first, bool fail_second, int* calls, bool* reached_end) {
  WEFT_RETURN_IF_ERROR(fail_if(fail_first, calls));
  WEFT_RETURN_IF_ERROR(fail_if(fail_second, calls));
  *reached_end = true;
  return Status::ok();
}

TEST(ReturnIfError, ContinuesPastOkStatuses) {
  int calls = 0;
  bool end = false;
  Status s = two_steps(false, false, &calls, &end);
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(end);
}

TEST(ReturnIfError, ReturnsTheFirstErrorUnchanged) {
  int calls = 0;
  bool end = false;
  Status s = two_steps(true, false, &calls, &end);
  EXPECT_EQ(s.code(), Code::kTimeout);
  EXPECT_EQ(s.message(), "deadline passed");
  EXPECT_EQ(calls, 1);  // the second step never ran
  EXPECT_FALSE(end);

  calls = 0;
  s = two_steps(false, true, &calls, &end);
  EXPECT_EQ(s.code(), Code::kTimeout);
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(end);
}

Result<int> result_caller(bool fail) {
  int calls = 0;
  WEFT_RETURN_IF_ERROR(fail_if(fail, &calls));
  return calls;
}

TEST(ReturnIfError, WorksInFunctionsReturningResult) {
  Result<int> ok = result_caller(false);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, 1);
  Result<int> bad = result_caller(true);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), Code::kTimeout);
}

TEST(ReturnIfError, EvaluatesItsExpressionExactlyOnce) {
  int calls = 0;
  auto f = [&]() -> Status {
    WEFT_RETURN_IF_ERROR(fail_if(true, &calls));
    return Status::ok();
  };
  (void)f();
  EXPECT_EQ(calls, 1);
}

// ---------------------------------------------------------------- units

template <typename A, typename B>
concept Addable = requires(A a, B b) { a + b; };
template <typename A, typename B>
concept LessComparable = requires(A a, B b) { a < b; };

TEST(TransmitTime, FifteenHundredBytesAtTenGbpsTake1200Ns) {
  EXPECT_EQ(transmit_time(bytes(1500), gbps(10)), nanos(1200));
  static_assert(transmit_time(bytes(1500), gbps(10)) == nanos(1200));
}

TEST(TransmitTime, ZeroRateMeansUnpacedAndTakesNoTime) {
  EXPECT_EQ(transmit_time(bytes(1500), BitsPerSec(0)), nanos(0));
  EXPECT_EQ(transmit_time(Bytes::max(), BitsPerSec(0)), Nanos::zero());
}

TEST(TransmitTime, ScalesWithSizeAndRate) {
  EXPECT_EQ(transmit_time(bytes(0), gbps(100)), nanos(0));
  EXPECT_EQ(transmit_time(bytes(1), gbps(1)), nanos(8));
  EXPECT_EQ(transmit_time(bytes(1500), gbps(100)), nanos(120));
  EXPECT_EQ(transmit_time(bytes(125), BitsPerSec(1000)), seconds(1));
  // Rounds down to whole nanoseconds: 1 byte at 3 Gb/s = 2.67 ns.
  EXPECT_EQ(transmit_time(bytes(1), gbps(3)), nanos(2));
}

TEST(TransmitTime, LargeSizesDoNotOverflowTheIntermediateProduct) {
  // 2^40 bytes * 8e9 overflows 64 bits; the 128-bit intermediate must not.
  EXPECT_EQ(transmit_time(bytes(uint64_t{1} << 40), gbps(1)), nanos(int64_t{8} << 40));
  EXPECT_EQ(transmit_time(bytes(uint64_t{1} << 40), gbps(8)), nanos(int64_t{1} << 40));
}

TEST(Units, HelpersConvertToNanoseconds) {
  EXPECT_EQ(nanos(5).count(), 5);
  EXPECT_EQ(micros(5).count(), 5000);
  EXPECT_EQ(millis(5).count(), 5000000);
  EXPECT_EQ(seconds(5).count(), 5000000000);
  EXPECT_EQ(bytes(9).count(), 9u);
  EXPECT_EQ(gbps(25).count(), 25000000000u);
}

TEST(Quantity, DefaultAndZeroAreZero) {
  EXPECT_EQ(Nanos().count(), 0);
  EXPECT_EQ(Bytes::zero().count(), 0u);
  EXPECT_EQ(Nanos::max().count(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Bytes::max().count(), std::numeric_limits<uint64_t>::max());
}

TEST(Quantity, ArithmeticStaysInTheSameUnit) {
  Nanos a = millis(3), b = micros(500);
  EXPECT_EQ(a + b, micros(3500));
  EXPECT_EQ(a - b, micros(2500));
  EXPECT_EQ(a * 4, millis(12));
  EXPECT_EQ(a / 3, millis(1));
  Nanos c = a;
  c += b;
  EXPECT_EQ(c, micros(3500));
  c -= millis(1);
  EXPECT_EQ(c, micros(2500));
  static_assert(std::is_same_v<decltype(a + b), Nanos>);
  static_assert(std::is_same_v<decltype(bytes(1) * 3), Bytes>);
}

TEST(Quantity, SignedTimeDifferencesMayBeNegative) {
  EXPECT_EQ(millis(1) - millis(3), millis(-2));
  EXPECT_LT(millis(1) - millis(3), Nanos::zero());
}

TEST(Quantity, ComparesByValue) {
  EXPECT_LT(nanos(1), nanos(2));
  EXPECT_LE(nanos(2), nanos(2));
  EXPECT_GT(seconds(1), millis(999));
  EXPECT_GE(bytes(10), bytes(10));
  EXPECT_EQ(micros(1), nanos(1000));
  EXPECT_NE(bytes(1), bytes(2));
  EXPECT_EQ(millis(1) <=> micros(1000), std::strong_ordering::equal);
}

TEST(Quantity, UnitsDoNotMix) {
  static_assert(!std::is_constructible_v<Nanos, Bytes>);
  static_assert(!std::is_constructible_v<Bytes, BitsPerSec>);
  static_assert(!std::is_convertible_v<int64_t, Nanos>);  // explicit construction only
  static_assert(!std::is_convertible_v<Nanos, int64_t>);
  static_assert(!Addable<Bytes, Nanos>);
  static_assert(!Addable<Nanos, BitsPerSec>);
  static_assert(!LessComparable<Bytes, Nanos>);
  static_assert(Addable<Nanos, Nanos>);
  static_assert(LessComparable<Bytes, Bytes>);
}

}  // namespace
}  // namespace weft
