// tools/weft-switch/packet_pool.h — every frame the switch holds lives in one
// fixed slot of one preallocated arena, named by a 32-bit index. Queues hold
// indices; nothing is allocated or copied per packet (a flood copy of an
// ARP broadcast is the only memcpy).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace weft::sw {

using Slot = uint32_t;
inline constexpr Slot kNoSlot = UINT32_MAX;

struct PacketMeta {
  uint32_t len = 0;        // frame bytes
  uint16_t dst_host = 0;   // where the switch is taking it
};

class PacketPool {
 public:
  // slot_size: the largest frame plus room for INT growth.
  PacketPool(uint32_t slots, uint32_t slot_size)
      : slot_size_(slot_size), arena_(size_t{slots} * slot_size), meta_(slots) {
    free_.reserve(slots);
    for (Slot s = slots; s-- > 0;) free_.push_back(s);
  }
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  Slot alloc() {
    if (free_.empty()) return kNoSlot;
    const Slot s = free_.back();
    free_.pop_back();
    return s;
  }
  void free(Slot s) { free_.push_back(s); }  // capacity reserved: never reallocates

  uint8_t* data(Slot s) { return arena_.data() + size_t{s} * slot_size_; }
  const uint8_t* data(Slot s) const { return arena_.data() + size_t{s} * slot_size_; }
  PacketMeta& meta(Slot s) { return meta_[s]; }
  uint32_t slot_size() const { return slot_size_; }
  uint32_t capacity() const { return static_cast<uint32_t>(meta_.size()); }
  uint32_t available() const { return static_cast<uint32_t>(free_.size()); }

 private:
  uint32_t slot_size_;
  std::vector<uint8_t> arena_;
  std::vector<PacketMeta> meta_;
  std::vector<Slot> free_;
};

// A FIFO of slots with a fixed capacity (a power of two), allocated once.
class SlotRing {
 public:
  explicit SlotRing(uint32_t capacity_pow2 = 0) : buf_(capacity_pow2), mask_(capacity_pow2 ? capacity_pow2 - 1 : 0) {}
  bool empty() const { return head_ == tail_; }
  bool full() const { return tail_ - head_ == buf_.size(); }
  uint32_t size() const { return static_cast<uint32_t>(tail_ - head_); }
  bool push(Slot s) {
    if (full()) return false;
    buf_[tail_++ & mask_] = s;
    return true;
  }
  Slot front() const { return buf_[head_ & mask_]; }
  Slot pop() { return buf_[head_++ & mask_]; }

 private:
  std::vector<Slot> buf_;
  uint64_t mask_;
  uint64_t head_ = 0, tail_ = 0;
};

}  // namespace weft::sw
