// transport/core/seq_window.h — a ring of bits over a sliding PSN window.
//
// The receiver uses one to suppress duplicates and build SACK ranges; the
// sender uses one to remember which PSNs were selectively acknowledged, so a
// SACK range that repeats in every ACK costs a word scan, not a packet walk.
// Bit i stands for PSN base+i; capacity is a power of two.
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace weft::core {

class SeqWindow {
 public:
  explicit SeqWindow(uint32_t capacity = 0) { reset(capacity); }

  void reset(uint32_t capacity) {
    cap_ = std::bit_ceil(capacity < 64 ? 64u : capacity);
    words_.assign(cap_ / 64, 0);
    base_ = 0;
  }
  uint32_t capacity() const { return cap_; }
  uint64_t base() const { return base_; }
  bool in_window(uint64_t psn) const { return psn >= base_ && psn - base_ < cap_; }

  bool test(uint64_t psn) const {
    assert(in_window(psn));
    return (words_[word(psn)] >> (psn & 63)) & 1u;
  }
  void set(uint64_t psn) {
    assert(in_window(psn));
    words_[word(psn)] |= uint64_t{1} << (psn & 63);
  }

  // Slides the window start to `new_base`, clearing the bits that leave.
  void advance_to(uint64_t new_base) {
    if (new_base <= base_) return;
    if (new_base - base_ >= cap_) {
      for (auto& w : words_) w = 0;
    } else {
      for (uint64_t p = base_; p < new_base;) {
        if ((p & 63) == 0 && new_base - p >= 64) {
          words_[word(p)] = 0;
          p += 64;
        } else {
          words_[word(p)] &= ~(uint64_t{1} << (p & 63));
          ++p;
        }
      }
    }
    base_ = new_base;
  }

  // First PSN in [from, to) whose bit equals `value`, or `to` if none.
  uint64_t find(uint64_t from, uint64_t to, bool value) const {
    uint64_t p = from;
    while (p < to) {
      uint64_t w = words_[word(p)];
      if (!value) w = ~w;
      w >>= (p & 63);
      if (w != 0) {
        uint64_t hit = p + static_cast<uint64_t>(std::countr_zero(w));
        return hit < to ? hit : to;
      }
      p = (p | 63) + 1;
    }
    return to;
  }

 private:
  size_t word(uint64_t psn) const { return static_cast<size_t>((psn & (cap_ - 1)) >> 6); }

  uint32_t cap_ = 64;
  uint64_t base_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace weft::core
