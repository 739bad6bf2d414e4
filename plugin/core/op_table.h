// plugin/core/op_table.h — which request a weft completion belongs to.
//
// A weft Device has one completion queue shared by every comm on it, and
// completions name only the OpId. This map from OpId to (target, index) is
// open addressing with linear probing and backward-shift deletion: a fixed
// array, so posting and completing never allocate. Capacity is reserved at
// setup (reserve()), when a comm is created, for the most operations that
// comm can have in flight; the hot path never grows it.
// Not thread-safe: Endpoint::mu_ guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "weft/transport.h"

namespace weft::nccl {

struct OpTarget {
  enum class Kind : uint8_t { kRequest, kHelloSend, kHelloRecv };
  void* target = nullptr;  // Request*, SendComm* or PendingAccept* by kind
  uint32_t index = 0;      // which of a grouped request's receives
  Kind kind = Kind::kRequest;
};

class OpTable {
 public:
  // Makes room for `ops` more entries at a load factor of at most 1/2.
  void reserve(size_t ops) {
    wanted_ += ops;
    if (wanted_ * 2 <= slots_.size()) return;
    size_t cap = 64;
    while (cap < wanted_ * 2) cap <<= 1;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    size_ = 0;
    for (const Slot& s : old)
      if (s.op != 0) insert(s.op, s.t);
  }
  // The comm that reserved `ops` is gone; its slots may be reused.
  void release(size_t ops) { wanted_ -= ops < wanted_ ? ops : wanted_; }

  // False when full: a caller bug (more in flight than reserved).
  bool insert(OpId op, OpTarget t) {
    if (slots_.empty() || size_ + 1 > slots_.size() / 2 + slots_.size() / 4) return false;
    size_t i = hash(op);
    while (slots_[i].op != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{op, t};
    ++size_;
    return true;
  }

  // Removes `op` and returns its target; false if unknown (cancelled by a close).
  bool take(OpId op, OpTarget* out) {
    if (slots_.empty() || op == 0) return false;
    size_t i = hash(op);
    while (slots_[i].op != op) {
      if (slots_[i].op == 0) return false;
      i = (i + 1) & mask_;
    }
    if (out != nullptr) *out = slots_[i].t;
    erase_at(i);
    return true;
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    OpId op = 0;  // weft op ids start at 1, so 0 marks an empty slot
    OpTarget t;
  };
  size_t hash(OpId op) const { return static_cast<size_t>((op * 0x9E3779B97F4A7C15ull) >> 17) & mask_; }
  // Backward shift: pull later entries of the probe run into the hole so
  // lookups never need tombstones.
  void erase_at(size_t hole) {
    size_t j = hole;
    for (;;) {
      j = (j + 1) & mask_;
      if (slots_[j].op == 0) break;
      const size_t home = hash(slots_[j].op);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      slots_[hole] = slots_[j];
      hole = j;
    }
    slots_[hole] = Slot{};
    --size_;
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  size_t wanted_ = 0;
};

}  // namespace weft::nccl
