// collectives/executor.cc — see executor.h.
#include "collectives/executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "collectives/reduce.h"

namespace weft::coll {

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
constexpr uint32_t kEnd = UINT32_MAX;
}  // namespace

std::string Header::describe() const {
  return fmt::format("{} of {} x {} ({}, root {}, algorithm {}) as collective #{}",
                     coll_name(static_cast<CollKind>(kind)), count, dtype_name(static_cast<DataType>(dtype)),
                     redop_name(static_cast<RedOp>(op)), root, algorithm_name(static_cast<Algorithm>(algo)), seq);
}

Executor::Executor(Device& dev, int rank, std::vector<ConnId> conns, std::vector<std::string> names, Nanos timeout)
    : dev_(dev), rank_(rank), conns_(std::move(conns)), names_(std::move(names)), timeout_(timeout) {
  for (size_t r = 0; r < conns_.size(); ++r) {
    if (conns_[r] >= rank_of_conn_.size()) rank_of_conn_.resize(conns_[r] + 1, -1);
    if (static_cast<int>(r) != rank_) rank_of_conn_[conns_[r]] = static_cast<int>(r);
  }
}

std::string Executor::rank_name(int r) const {
  return fmt::format("rank {} ({})", r, r >= 0 && r < static_cast<int>(names_.size()) ? names_[r] : "?");
}

void Executor::track(OpId op, uint32_t step) {
  size_t i = (op * 0x9E3779B97F4A7C15ull) & ops_mask_;
  while (ops_[i].second != kEnd) i = (i + 1) & ops_mask_;
  ops_[i] = {op, step};
}

uint32_t Executor::untrack(OpId op) {
  size_t i = (op * 0x9E3779B97F4A7C15ull) & ops_mask_;
  while (ops_[i].second != kEnd) {
    if (ops_[i].first == op) {
      const uint32_t step = ops_[i].second;
      // Backward-shift deletion keeps probe chains intact without tombstones.
      size_t hole = i, j = i;
      for (;;) {
        j = (j + 1) & ops_mask_;
        if (ops_[j].second == kEnd) break;
        const size_t home = (ops_[j].first * 0x9E3779B97F4A7C15ull) & ops_mask_;
        if (((j - home) & ops_mask_) >= ((j - hole) & ops_mask_)) {
          ops_[hole] = ops_[j];
          hole = j;
        }
      }
      ops_[hole] = {0, kEnd};
      return step;
    }
    i = (i + 1) & ops_mask_;
  }
  return kEnd;
}

int Executor::stage(const void* src, size_t len) {
  if (len > kStageBytes) return -1;
  for (size_t i = 0; i < kStageSlots; ++i) {
    if (stage_busy_[i]) continue;
    if (stage_buf_.empty()) stage_buf_.resize(kStageSlots * kStageBytes);
    stage_busy_[i] = true;
    std::memcpy(stage_buf_.data() + i * kStageBytes, src, len);
    return static_cast<int>(i);
  }
  return -1;
}

bool Executor::unstage(OpId op) {
  for (size_t i = 0; i < kStageSlots; ++i)
    if (stage_busy_[i] && stage_op_[i] == op) {
      stage_busy_[i] = false;
      return true;
    }
  return false;
}

void Executor::start(const Schedule& s, const void* in, void* out, uint8_t* scratch, const Header* hdr,
                     uint64_t tag_base) {
  s_ = &s;
  base_[static_cast<int>(Buf::kIn)] = const_cast<uint8_t*>(static_cast<const uint8_t*>(in));
  base_[static_cast<int>(Buf::kOut)] = static_cast<uint8_t*>(out);
  base_[static_cast<int>(Buf::kScratch)] = scratch;
  tag_base_ = tag_base;
  running_ = true;
  error_ = Status::ok();
  done_ = 0;
  const size_t n = s.steps.size();
  // Sized to the largest schedule seen: reallocation only when one grows.
  remaining_.resize(n);
  ready_.assign(n, 0);
  posted_.assign(n, 0);
  local_.clear();
  local_.reserve(n);
  blocked_.clear();
  head_.assign(s.queue_head.begin(), s.queue_head.end());
  size_t want = 64;
  while (want < 2 * n + 8) want *= 2;
  if (ops_.size() < want) ops_.resize(want);
  std::fill(ops_.begin(), ops_.end(), std::pair<OpId, uint32_t>{0, kEnd});
  ops_mask_ = ops_.size() - 1;
  last_progress_ns_ = now_ns();
  outstanding_hdr_ = 0;
  has_hdr_ = hdr != nullptr && s.nranks > 1;
  if (has_hdr_) {
    hdr_mine_ = *hdr;
    const int n_ranks = s.nranks;
    const int next = (rank_ + 1) % n_ranks, prev = (rank_ + n_ranks - 1) % n_ranks;
    auto r = dev_.post_recv(conns_[prev], kTagHeader, &hdr_peer_, sizeof hdr_peer_);
    if (!r) return fail(Status(r.status().code(), "from " + rank_name(prev) + ": " + r.status().message()));
    track(*r, kHeaderRecv);
    const int slot = stage(&hdr_mine_, sizeof hdr_mine_);
    const void* src = slot >= 0 ? static_cast<const void*>(stage_buf_.data() + slot * kStageBytes) : &hdr_mine_;
    auto w = dev_.post_send(conns_[next], kTagHeader, src, sizeof hdr_mine_);
    if (!w) {
      if (slot >= 0) stage_busy_[slot] = false;
      return fail(Status(w.status().code(), "to " + rank_name(next) + ": " + w.status().message()));
    }
    if (slot >= 0) {
      stage_op_[slot] = *w;
      outstanding_hdr_ = 1;
    } else {
      track(*w, kHeaderSend);
      outstanding_hdr_ = 2;
    }
  }
  for (size_t i = 0; i < n; ++i) remaining_[i] = s.steps[i].dep_count;
  // Receives first: a peer that gets our first send may finish and close
  // before we post a receive for a message it already delivered, and a
  // closed connection takes its undelivered data with it.
  // (dep_count, not remaining_: a staged send finishes inside make_ready and
  // may bring a dependent's count to zero, and that one is made ready there.)
  for (uint32_t i = 0; i < n; ++i)
    if (s.steps[i].dep_count == 0 && s.steps[i].kind == StepKind::kRecv) make_ready(i);
  for (uint32_t i = 0; i < n; ++i)
    if (s.steps[i].dep_count == 0 && s.steps[i].kind != StepKind::kRecv) make_ready(i);
  while (!local_.empty() && error_.is_ok()) {
    const uint32_t st = local_.back();
    local_.pop_back();
    run_local(st);
  }
}

void Executor::make_ready(uint32_t s) {
  const Step& st = s_->steps[s];
  if (st.kind == StepKind::kSend || st.kind == StepKind::kRecv) {
    ready_[s] = 1;
    try_post(s_->queue_id[s]);
  } else {
    local_.push_back(s);
  }
}

void Executor::try_post(uint32_t q) {
  while (error_.is_ok() && head_[q] != kEnd && ready_[head_[q]]) {
    const uint32_t s = head_[q];
    const Step& st = s_->steps[s];
    const ConnId c = conns_[st.peer];
    const uint64_t tag = tag_base_ + st.channel;
    const int slot = st.kind == StepKind::kSend ? stage(base_[static_cast<int>(st.src.buf)] + st.src.off, st.src.len) : -1;
    Result<OpId> r = st.kind == StepKind::kSend
                         ? dev_.post_send(c, tag,
                                          slot >= 0 ? stage_buf_.data() + slot * kStageBytes
                                                    : base_[static_cast<int>(st.src.buf)] + st.src.off,
                                          st.src.len)
                         : dev_.post_recv(c, tag, base_[static_cast<int>(st.dst.buf)] + st.dst.off, st.dst.len);
    if (!r && slot >= 0) stage_busy_[slot] = false;
    if (r && slot >= 0) {  // done as far as the schedule is concerned
      stage_op_[slot] = *r;
      posted_[s] = 2;
      head_[q] = s_->queue_next[s];
      finish_step(s);  // may post more of this queue (head_ already moved on)
      continue;
    }
    if (!r) {
      if (r.status().code() == Code::kResourceExhausted) {  // op limit: retry after completions
        if (std::find(blocked_.begin(), blocked_.end(), q) == blocked_.end()) blocked_.push_back(q);
        return;
      }
      return fail(Status(r.status().code(), fmt::format("{}: {} {}: {}", s_->name,
                                                        st.kind == StepKind::kSend ? "send to" : "receive from",
                                                        rank_name(st.peer), r.status().message())));
    }
    posted_[s] = 1;
    track(*r, s);
    head_[q] = s_->queue_next[s];
  }
}

void Executor::run_local(uint32_t s) {
  const Step& st = s_->steps[s];
  uint8_t* dst = base_[static_cast<int>(st.dst.buf)] + st.dst.off;
  const size_t esz = dtype_size(s_->dtype);
  switch (st.kind) {
    case StepKind::kReduce:
      kernels().get(s_->dtype, s_->op)(dst, base_[static_cast<int>(st.src.buf)] + st.src.off,
                                       base_[static_cast<int>(st.src2.buf)] + st.src2.off, st.dst.len / esz);
      break;
    case StepKind::kCopy: {
      const uint8_t* src = base_[static_cast<int>(st.src.buf)] + st.src.off;
      if (src != dst) std::memcpy(dst, src, st.dst.len);
      break;
    }
    case StepKind::kDivide:
      kernels().divide[static_cast<int>(s_->dtype)](dst, st.dst.len / esz, s_->divisor);
      break;
    default:
      break;
  }
  finish_step(s);
}

void Executor::finish_step(uint32_t s) {
  ++done_;
  for (uint32_t i = s_->dependents_begin[s]; i < s_->dependents_begin[s + 1]; ++i) {
    const uint32_t d = s_->dependents[i];
    if (--remaining_[d] == 0) make_ready(d);
  }
}

Status Executor::handle(const Completion& c) {
  const int peer = c.conn < rank_of_conn_.size() ? rank_of_conn_[c.conn] : -1;
  if (c.type == CompletionType::kConnFailed) {
    // A peer that closed cleanly (it finished and left, or aborted) fails
    // only what this rank still needs from it: its pending operations come
    // back with errors, and later posts to it fail. A peer that went silent
    // is dead: that fails the collective now.
    if (c.status.code() == Code::kClosed) return Status::ok();
    return Status(Code::kPeerFailed, fmt::format("{} failed: {}", rank_name(peer), c.status.message()));
  }
  if (c.type != CompletionType::kSend && c.type != CompletionType::kRecv) return Status::ok();
  const uint32_t s = untrack(c.op);
  if (s == kEnd) {
    // A staged send (its step is long done; a dead peer is reported by its
    // connection's failure), or a stale op of an abandoned schedule.
    if (c.type == CompletionType::kSend) unstage(c.op);
    return Status::ok();
  }
  const std::string_view what = s_ ? std::string_view(s_->name) : std::string_view("collective");  // no copy per step
  if (!c.status.is_ok() && c.type == CompletionType::kSend && c.status.code() == Code::kClosed) {
    // The peer closed cleanly while our send waited for its acknowledgement:
    // it received the data and left (the ACK lost the race with its close),
    // or it aborted, in which case the ranks that needed its data fail and
    // close in turn, and that reaches this rank as a failed receive.
    if (s == kHeaderSend) --outstanding_hdr_;
    else if (s != kHeaderRecv) finish_step(s);
    return Status::ok();
  }
  if (!c.status.is_ok()) {
    if (c.status.code() == Code::kTruncated && has_hdr_)
      return Status(Code::kInvalidArgument,
                    fmt::format("{}: {} sent more data than this rank expects ({}): do all ranks pass the same count "
                                "and datatype?",
                                what, rank_name(peer), c.status.message()));
    return Status(c.status.code() == Code::kOk ? Code::kPeerFailed : c.status.code(),
                  fmt::format("{}: {} failed: {}", what, rank_name(peer), c.status.message()));
  }
  if (s == kHeaderRecv || s == kHeaderSend) {
    if (s == kHeaderRecv && !(hdr_peer_ == hdr_mine_))
      return Status(Code::kInvalidArgument,
                    fmt::format("mismatched collective: {} called {}, but this rank ({}) called {}: every rank must "
                                "pass the same operation, count, datatype, reduction, root and algorithm",
                                rank_name(peer), hdr_peer_.describe(), rank_, hdr_mine_.describe()));
    --outstanding_hdr_;
    return Status::ok();
  }
  const Step& st = s_->steps[s];
  if (c.tag != tag_base_ + st.channel || (st.kind == StepKind::kRecv) != (c.type == CompletionType::kRecv) ||
      posted_[s] != 1)
    return Status(Code::kInternal, fmt::format("{}: completion of op {} (tag {}, type {}) does not fit step {} "
                                               "(channel {}, posted {}): a weft bug, please report it",
                                               what, c.op, c.tag, static_cast<int>(c.type), s, st.channel, posted_[s]));
  posted_[s] = 2;
  if (st.kind == StepKind::kRecv && c.bytes != st.dst.len)
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: {} sent {} bytes where this rank expects {}: do all ranks pass the same count and "
                              "datatype?",
                              what, rank_name(peer), c.bytes, st.dst.len));
  finish_step(s);
  return Status::ok();
}

std::string Executor::waiting_for() const {
  std::vector<int> peers;
  if (s_)
    for (size_t i = 0; i < s_->steps.size(); ++i) {
      const Step& st = s_->steps[i];
      if ((st.kind == StepKind::kRecv || st.kind == StepKind::kSend) && posted_[i] == 1 &&
          std::find(peers.begin(), peers.end(), st.peer) == peers.end())
        peers.push_back(st.peer);
    }
  std::string out;
  for (int p : peers) out += (out.empty() ? "" : ", ") + rank_name(p);
  return out.empty() ? "no peer (header exchange)" : out;
}

Status Executor::progress(bool block) {
  if (!running_) return Status::ok();
  if (!error_.is_ok()) {
    running_ = false;
    return error_;
  }
  if (done_ == s_->steps.size() && outstanding_hdr_ == 0) {
    running_ = false;
    return Status::ok();
  }
  // Completions polled but not handled stay for the next schedule: once
  // this one is done, a peer that finished first may already be closing its
  // connection, and that must not fail a collective that completed.
  if (pend_i_ == pend_n_) {
    pend_i_ = pend_n_ = 0;
    pend_n_ = dev_.poll(pending_);
    if (pend_n_ == 0 && block) {
      dev_.wait(millis(50));
      pend_n_ = dev_.poll(pending_);
    }
    if (pend_n_ > 0) last_progress_ns_ = now_ns();
  }
  while (pend_i_ < pend_n_ && error_.is_ok() && !(done_ == s_->steps.size() && outstanding_hdr_ == 0)) {
    Status st = handle(pending_[pend_i_++]);
    if (!st.is_ok()) fail(std::move(st));
    while (!local_.empty() && error_.is_ok()) {
      const uint32_t s = local_.back();
      local_.pop_back();
      run_local(s);
    }
  }
  if (!blocked_.empty() && error_.is_ok()) {
    std::vector<uint32_t> qs;
    qs.swap(blocked_);
    for (uint32_t q : qs) try_post(q);
    while (!local_.empty() && error_.is_ok()) {  // staged sends finish at post and may release local steps
      const uint32_t st = local_.back();
      local_.pop_back();
      run_local(st);
    }
  }
  if (error_.is_ok() && done_ == s_->steps.size() && outstanding_hdr_ == 0) {
    running_ = false;
    return Status::ok();
  }
  if (error_.is_ok() && now_ns() - last_progress_ns_ > timeout_.count())
    fail(Status(Code::kTimeout, fmt::format("{}: no progress for {} ms, waiting for {}: is that rank alive and in the "
                                            "same collective?",
                                            s_->name, timeout_.count() / 1000000, waiting_for())));
  if (!error_.is_ok()) {
    running_ = false;
    return error_;
  }
  return Status::ok();
}

Status Executor::poll_idle() {
  if (pend_i_ == pend_n_) {
    pend_i_ = 0;
    pend_n_ = dev_.poll(pending_);
  }
  for (; pend_i_ < pend_n_; ++pend_i_) {
    const Completion& c = pending_[pend_i_];
    if (c.type == CompletionType::kSend) unstage(c.op);
    if (c.type == CompletionType::kConnFailed && c.status.code() != Code::kClosed) {
      const int peer = c.conn < rank_of_conn_.size() ? rank_of_conn_[c.conn] : -1;
      return Status(Code::kPeerFailed, fmt::format("{} failed: {}", rank_name(peer), c.status.message()));
    }
  }
  return Status::ok();
}

}  // namespace weft::coll
