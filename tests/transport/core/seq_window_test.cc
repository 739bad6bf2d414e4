#include "transport/core/seq_window.h"

#include <gtest/gtest.h>

namespace weft::core {
namespace {

TEST(SeqWindow, SetTestFindAndSlide) {
  SeqWindow w(128);
  EXPECT_EQ(w.capacity(), 128u);
  w.set(3);
  w.set(70);
  EXPECT_TRUE(w.test(3));
  EXPECT_FALSE(w.test(4));
  EXPECT_EQ(w.find(0, 128, true), 3u);
  EXPECT_EQ(w.find(4, 128, true), 70u);
  EXPECT_EQ(w.find(71, 128, true), 128u);
  EXPECT_EQ(w.find(3, 128, false), 4u);
  w.advance_to(71);
  EXPECT_FALSE(w.in_window(70));
  EXPECT_TRUE(w.in_window(71 + 127));
  // Bits that left the window must not reappear when the ring wraps.
  for (uint64_t p = 71; p < 71 + 128; ++p) EXPECT_FALSE(w.test(p)) << p;
  w.set(150);
  w.advance_to(1000);
  EXPECT_EQ(w.find(1000, 1128, true), 1128u);
}

}  // namespace
}  // namespace weft::core
