// collectives/schedule.cc — hazard tracking and finalisation of schedules.
#include "collectives/schedule.h"

#include <algorithm>

#include <fmt/format.h>

namespace weft::coll {

ScheduleBuilder::ScheduleBuilder(std::string name, int nranks, DataType t, RedOp op) {
  s_.name = std::move(name);
  s_.nranks = nranks;
  s_.dtype = t;
  s_.op = op;
}

uint32_t ScheduleBuilder::add(Step st, std::initializer_list<Range> reads, std::initializer_list<Range> writes) {
  const uint32_t id = static_cast<uint32_t>(s_.steps.size());
  std::vector<uint32_t> deps;
  for (const Range& r : reads) {
    if (r.len == 0) continue;
    for (const Access& a : live_[static_cast<int>(r.buf)])
      if (a.write && a.r.overlaps(r)) deps.push_back(a.step);  // read after write
  }
  for (const Range& w : writes) {
    if (w.len == 0) continue;
    auto& live = live_[static_cast<int>(w.buf)];
    for (const Access& a : live)
      if (a.r.overlaps(w)) deps.push_back(a.step);  // write after read or write
    // Accesses the new write covers completely are now implied by it: any
    // later access that overlaps them overlaps this write, which waits for
    // them. Dropping them keeps the lists (and compile time) short.
    std::erase_if(live, [&](const Access& a) { return w.covers(a.r); });
  }
  for (const Range& r : reads)
    if (r.len > 0) live_[static_cast<int>(r.buf)].push_back({r, id, false});
  for (const Range& w : writes)
    if (w.len > 0) live_[static_cast<int>(w.buf)].push_back({w, id, true});
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  st.dep_begin = static_cast<uint32_t>(s_.deps.size());
  st.dep_count = static_cast<uint32_t>(deps.size());
  s_.deps.insert(s_.deps.end(), deps.begin(), deps.end());
  s_.steps.push_back(st);
  return id;
}

uint32_t ScheduleBuilder::send(int peer, int channel, Range src) {
  Step st;
  st.kind = StepKind::kSend;
  st.peer = peer;
  st.channel = static_cast<uint8_t>(channel);
  st.src = src;
  return add(st, {src}, {});
}
uint32_t ScheduleBuilder::recv(int peer, int channel, Range dst) {
  Step st;
  st.kind = StepKind::kRecv;
  st.peer = peer;
  st.channel = static_cast<uint8_t>(channel);
  st.dst = dst;
  return add(st, {}, {dst});
}
uint32_t ScheduleBuilder::reduce(Range dst, Range a, Range b) {
  Step st;
  st.kind = StepKind::kReduce;
  st.dst = dst;
  st.src = a;
  st.src2 = b;
  return add(st, {a, b}, {dst});
}
uint32_t ScheduleBuilder::copy(Range dst, Range src) {
  Step st;
  st.kind = StepKind::kCopy;
  st.dst = dst;
  st.src = src;
  return add(st, {src}, {dst});
}
uint32_t ScheduleBuilder::divide(Range dst, uint32_t divisor) {
  Step st;
  st.kind = StepKind::kDivide;
  st.dst = dst;
  s_.divisor = divisor;
  return add(st, {dst}, {dst});
}

Schedule ScheduleBuilder::finish() {
  s_.finalize();
  return std::move(s_);
}

void Schedule::finalize() {
  const uint32_t n = static_cast<uint32_t>(steps.size());
  std::vector<uint32_t> count(n + 1, 0);
  for (const Step& st : steps)
    for (uint32_t i = 0; i < st.dep_count; ++i) count[deps[st.dep_begin + i] + 1]++;
  for (uint32_t i = 0; i < n; ++i) count[i + 1] += count[i];
  dependents_begin = count;
  dependents.assign(deps.size(), 0);
  std::vector<uint32_t> fill(count.begin(), count.end() - 1);
  for (uint32_t s = 0; s < n; ++s)
    for (uint32_t i = 0; i < steps[s].dep_count; ++i) dependents[fill[deps[steps[s].dep_begin + i]]++] = s;
  const uint32_t queues = static_cast<uint32_t>(nranks * kChannels * 2);
  queue_head.assign(queues, UINT32_MAX);
  queue_next.assign(n, UINT32_MAX);
  queue_id.assign(n, UINT32_MAX);
  std::vector<uint32_t> tail(queues, UINT32_MAX);
  for (uint32_t s = 0; s < n; ++s) {
    const Step& st = steps[s];
    if (st.kind != StepKind::kSend && st.kind != StepKind::kRecv) continue;
    const uint32_t q = queue_of(st.peer, st.channel, st.kind == StepKind::kSend);
    queue_id[s] = q;
    if (tail[q] == UINT32_MAX) queue_head[q] = s;
    else queue_next[tail[q]] = s;
    tail[q] = s;
  }
}

std::string Schedule::describe() const {
  static constexpr const char* kBuf[] = {"in", "out", "scratch"};
  auto r = [](const Range& x) { return fmt::format("{}[{}+{}]", kBuf[static_cast<int>(x.buf)], x.off, x.len); };
  std::string out = fmt::format("{} ({} steps, scratch {} B)\n", name, steps.size(), scratch_bytes);
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& st = steps[i];
    switch (st.kind) {
      case StepKind::kSend: out += fmt::format("{}: send {} -> rank {} ch{}", i, r(st.src), st.peer, st.channel); break;
      case StepKind::kRecv: out += fmt::format("{}: recv {} <- rank {} ch{}", i, r(st.dst), st.peer, st.channel); break;
      case StepKind::kReduce: out += fmt::format("{}: {} = {} op {}", i, r(st.dst), r(st.src), r(st.src2)); break;
      case StepKind::kCopy: out += fmt::format("{}: {} = {}", i, r(st.dst), r(st.src)); break;
      case StepKind::kDivide: out += fmt::format("{}: {} /= {}", i, r(st.dst), divisor); break;
    }
    if (st.dep_count) {
      out += " after";
      for (uint32_t k = 0; k < st.dep_count; ++k) out += fmt::format(" {}", deps[st.dep_begin + k]);
    }
    out += '\n';
  }
  return out;
}

}  // namespace weft::coll
