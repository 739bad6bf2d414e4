// Device threading modes: a busy-polling progress thread, and no progress
// thread at all (the caller drives progress inside wait()). Both must move
// data intact; the conformance suite covers the default sleeping thread.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "transport/udp/udp_driver.h"

namespace weft {
namespace {

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 r(seed);
  for (auto& b : v) b = static_cast<uint8_t>(r());
  return v;
}

void exchange(DeviceParams dp) {
  dp.engine.job_token = 0xD3;
  auto a = udp::open_device({}, dp);
  auto b = udp::open_device({}, dp);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  auto c = (*a)->connect((*b)->address());
  ASSERT_TRUE(c.is_ok());
  Completion acc;
  // Without a progress thread, each side only moves while someone waits on it.
  for (int i = 0; i < 200 && acc.conn == 0; ++i) {
    (*a)->wait(millis(5));
    std::array<Completion, 4> cs;
    (*b)->wait(millis(5));
    for (size_t n = (*b)->poll(cs), k = 0; k < n; ++k)
      if (cs[k].type == CompletionType::kAccepted) acc = cs[k];
  }
  ASSERT_NE(acc.conn, 0u) << "no connection accepted";
  const auto msg = pattern(4 << 20, 7);
  std::vector<uint8_t> got(msg.size());
  auto r = (*b)->post_recv(acc.conn, 5, got.data(), got.size());
  auto s = (*a)->post_send(*c, 5, msg.data(), msg.size());
  ASSERT_TRUE(r.is_ok() && s.is_ok());
  bool sent = false, received = false;
  std::array<Completion, 8> cs;
  for (int i = 0; i < 20000 && !(sent && received); ++i) {
    (*a)->wait(micros(500));
    for (size_t n = (*a)->poll(cs), k = 0; k < n; ++k) sent |= cs[k].op == *s && cs[k].status.is_ok();
    (*b)->wait(micros(500));
    for (size_t n = (*b)->poll(cs), k = 0; k < n; ++k) received |= cs[k].op == *r && cs[k].status.is_ok();
  }
  EXPECT_TRUE(sent);
  ASSERT_TRUE(received);
  EXPECT_EQ(got, msg);
}

TEST(DeviceModes, BusyPollingProgressThreadDeliversIntact) {
  DeviceParams dp;
  dp.busy_poll = true;
  exchange(dp);
}

TEST(DeviceModes, WithoutAProgressThreadWaitDrivesTheEngine) {
  DeviceParams dp;
  dp.progress_thread = false;
  exchange(dp);
}

TEST(DeviceModes, WaitTimesOutWhenNothingHappens) {
  DeviceParams dp;
  dp.engine.job_token = 1;
  auto a = udp::open_device({}, dp);
  ASSERT_TRUE(a.is_ok());
  EXPECT_FALSE((*a)->wait(millis(20)));
}

TEST(DeviceModes, InvalidParametersAreRefusedAtOpen) {
  DeviceParams dp;
  dp.engine.mtu = 10;
  auto a = udp::open_device({}, dp);
  ASSERT_FALSE(a.is_ok());
  EXPECT_EQ(a.status().code(), Code::kInvalidArgument);
  EXPECT_NE(a.status().message().find("mtu"), std::string::npos);
}

}  // namespace
}  // namespace weft
