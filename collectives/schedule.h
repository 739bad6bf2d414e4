// collectives/schedule.h — a collective as data: steps over chunk ranges.
//
// A Schedule is what one rank does for one collective: send / recv / reduce /
// copy / divide steps over byte ranges of three symbolic buffers (the
// caller's input and output, and a scratch area the communicator owns), plus
// the dependencies between steps. It names no pointers, so one compiled
// schedule serves every call of the same shape, and the simulator can replay
// the exact traffic of a real collective.
//
// Matching: messages between a pair of ranks on one channel pair up in the
// order the two schedules list them (the transport's n-th send on a tag fills
// the n-th receive posted on it), so the executor posts the sends (and the
// receives) of each (peer, channel) in schedule order. Builders keep that
// order symmetric: sender and receiver walk the same global loop.
//
// Dependencies are derived, not written by hand: each step declares what it
// reads and writes, and the builder adds read-after-write, write-after-read
// and write-after-write edges on overlapping ranges. A send's read lasts until
// the send completes (every byte acknowledged), so a later receive into the
// same range waits for it: a retransmission never carries newer data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/collectives.h"

namespace weft::coll {

enum class Buf : uint8_t { kIn = 0, kOut = 1, kScratch = 2 };
inline constexpr int kBufCount = 3;

struct Range {
  Buf buf = Buf::kIn;
  uint64_t off = 0;  // bytes
  uint64_t len = 0;  // bytes
  bool overlaps(const Range& o) const { return buf == o.buf && off < o.off + o.len && o.off < off + len; }
  bool covers(const Range& o) const { return buf == o.buf && off <= o.off && o.off + o.len <= off + len; }
};

enum class StepKind : uint8_t {
  kSend,    // src -> peer
  kRecv,    // peer -> dst (exactly dst.len bytes expected)
  kReduce,  // dst = src op src2 (elements of the schedule's dtype)
  kCopy,    // dst = src
  kDivide,  // dst /= divisor (the avg reduction's final step)
};

inline constexpr int kChannels = 4;  // independent matching streams per peer

struct Step {
  StepKind kind = StepKind::kCopy;
  uint8_t channel = 0;
  int32_t peer = -1;
  Range dst, src, src2;
  uint32_t dep_begin = 0, dep_count = 0;  // into Schedule::deps (steps this one waits for)
};

struct Schedule {
  std::vector<Step> steps;
  std::vector<uint32_t> deps;
  uint64_t scratch_bytes = 0;
  DataType dtype = DataType::kU8;
  RedOp op = RedOp::kSum;
  uint32_t divisor = 1;  // for kDivide
  std::string name;      // "allreduce/ring", for logs and errors
  // Reverse edges and per-(peer, channel) posting order, filled by finalize().
  std::vector<uint32_t> dependents, dependents_begin;
  std::vector<uint32_t> queue_next;  // next send/recv step in the same queue, or UINT32_MAX
  std::vector<uint32_t> queue_head;  // first step of each queue, or UINT32_MAX; index queue_of()
  std::vector<uint32_t> queue_id;    // per step: its queue (send/recv) or UINT32_MAX
  int nranks = 1;
  uint32_t queue_of(int peer, int channel, bool send) const {
    return static_cast<uint32_t>((peer * kChannels + channel) * 2 + (send ? 1 : 0));
  }
  void finalize();
  std::string describe() const;  // one line per step, for debugging and tests
};

class ScheduleBuilder {
 public:
  ScheduleBuilder(std::string name, int nranks, DataType t, RedOp op);
  uint32_t send(int peer, int channel, Range src);
  uint32_t recv(int peer, int channel, Range dst);
  uint32_t reduce(Range dst, Range a, Range b);
  uint32_t copy(Range dst, Range src);
  uint32_t divide(Range dst, uint32_t divisor);
  void need_scratch(uint64_t bytes) { s_.scratch_bytes = std::max(s_.scratch_bytes, bytes); }
  Schedule finish();

 private:
  uint32_t add(Step st, std::initializer_list<Range> reads, std::initializer_list<Range> writes);
  struct Access {
    Range r;
    uint32_t step;
    bool write;
  };
  Schedule s_;
  std::vector<Access> live_[kBufCount];
  std::vector<std::vector<uint32_t>> step_deps_;
};

}  // namespace weft::coll
