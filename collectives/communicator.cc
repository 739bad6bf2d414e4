// collectives/communicator.cc — setup (connect everyone), plan cache, the
// request queue, and the collective entry points.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>

#include <fmt/format.h>

#include "collectives/algorithms.h"
#include "collectives/executor.h"
#include "common/log.h"
#include "weft/collectives.h"

namespace weft::coll {

struct Request::State {
  Communicator::Impl* comm = nullptr;
  std::shared_ptr<const Schedule> plan;
  const void* in = nullptr;
  void* out = nullptr;
  Header hdr;
  bool has_hdr = true;
  uint64_t tag_base = kTagCollective;
  bool done = false;
  Status status;
};

namespace {
constexpr size_t kAddrBytes = 64;
constexpr size_t kMaxCachedPlans = 256;
using Clock = std::chrono::steady_clock;
}  // namespace

struct Communicator::Impl {
  CommConfig cfg;
  int rank = 0, size = 1;
  // The executor owns staging buffers the device may still read while it
  // shuts down: declared first, destroyed after the device.
  std::unique_ptr<Executor> exec;
  std::unique_ptr<Device> dev;
  std::vector<ConnId> conns;
  std::vector<std::string> addrs;
  std::deque<std::shared_ptr<Request::State>> queue;
  Status failed;
  bool local_abort = false;
  int32_t hello_me = 0;
  std::vector<int32_t> hello_buf;  // sized once before any receive is posted into it
  uint32_t seq = 0;
  std::map<Shape, std::shared_ptr<const Schedule>> cache;
  std::vector<uint8_t> scratch;

  ~Impl() {
    for (auto& q : queue) {
      q->done = true;
      q->status = Status(Code::kClosed, "the communicator was destroyed before this request finished");
      q->comm = nullptr;
    }
  }

  // Every rank connects to the lower ranks and accepts the higher ones; an
  // accepted connection says who it is with a hello message.
  Status connect_all(const std::vector<std::string>& peer_addrs) {
    addrs = peer_addrs;
    conns.assign(size, 0);
    const auto deadline = Clock::now() + std::chrono::nanoseconds(cfg.timeout.count());
    std::vector<int32_t> hello_from(size, -1);
    std::vector<ConnId> accepted;
    std::vector<OpId> hello_ops;
    int connected = 0, greeted = 0;
    const int want_connected = rank, want_greeted = size - 1 - rank;
    for (int j = 0; j < rank; ++j) {
      auto c = dev->connect(addrs[j], cfg.conn);
      if (!c) return Status(c.status().code(), fmt::format("connecting to rank {} at {}: {}", j, addrs[j], c.status().message()));
      conns[j] = *c;
    }
    // Hello buffers live in the Impl: the transport reads a send's buffer
    // until it is acknowledged (and writes a receive's whenever it lands),
    // which may be after this function has returned.
    hello_me = rank;
    const int32_t& me = hello_me;
    hello_buf.assign(size, -1);
    std::array<Completion, 16> cs;
    while (connected < want_connected || greeted < want_greeted) {
      if (Clock::now() > deadline) {
        std::string missing;
        for (int j = 0; j < size; ++j)
          if (j != rank && (j < rank ? false : std::find(hello_from.begin(), hello_from.end(), j) == hello_from.end()))
            missing += (missing.empty() ? "" : ", ") + std::to_string(j);
        return Status(Code::kTimeout,
                      fmt::format("communicator setup: rank {} connected to {} of {} lower ranks and heard from {} of "
                                  "{} higher ranks within {} ms (missing: {}): are they running and reachable?",
                                  rank, connected, want_connected, greeted, want_greeted,
                                  cfg.timeout.count() / 1000000, missing.empty() ? "lower ranks" : missing));
      }
      const size_t n = dev->poll(cs);
      if (n == 0) {
        dev->wait(millis(20));
        continue;
      }
      for (size_t i = 0; i < n; ++i) {
        const Completion& c = cs[i];
        if (c.type == CompletionType::kConnected) {
          const auto it = std::find(conns.begin(), conns.end(), c.conn);
          if (it == conns.end()) continue;
          auto s = dev->post_send(c.conn, kTagHello, &me, sizeof me);
          if (!s) return s.status();
          ++connected;
        } else if (c.type == CompletionType::kConnFailed) {
          const auto it = std::find(conns.begin(), conns.end(), c.conn);
          const int who = it == conns.end() ? -1 : static_cast<int>(it - conns.begin());
          if (who >= 0 && who < rank)
            return Status(Code::kPeerFailed,
                          fmt::format("communicator setup: connection to rank {} at {} failed: {}", who, addrs[who],
                                      c.status.message()));
        } else if (c.type == CompletionType::kAccepted) {
          if (accepted.size() >= hello_buf.size())
            return Status(Code::kInvalidArgument,
                          fmt::format("communicator setup: more connections than the {} ranks", size));
          accepted.push_back(c.conn);
          auto r = dev->post_recv(c.conn, kTagHello, &hello_buf[accepted.size() - 1], sizeof(int32_t));
          if (!r) return r.status();
          hello_ops.push_back(*r);
        } else if (c.type == CompletionType::kRecv) {
          const auto it = std::find(hello_ops.begin(), hello_ops.end(), c.op);
          if (it == hello_ops.end()) continue;
          const size_t k = static_cast<size_t>(it - hello_ops.begin());
          const int32_t who = hello_buf[k];
          if (!c.status.is_ok()) continue;
          if (who <= rank || who >= size || conns[who] != 0)
            return Status(Code::kInvalidArgument,
                          fmt::format("communicator setup: unexpected hello from rank {} (this is rank {} of {})", who,
                                      rank, size));
          conns[who] = accepted[k];
          hello_from[who] = who;
          ++greeted;
        }
      }
    }
    std::vector<std::string> names = addrs;
    exec = std::make_unique<Executor>(*dev, rank, conns, names, cfg.timeout);
    return Status::ok();
  }

  // A failure this rank found (a mismatch, abort(), a peer that closed under
  // it) closes every connection, so the peers fail at once instead of
  // waiting for a timeout. A dead or silent peer does not: every survivor
  // finds the dead rank itself through its own connection's keepalives
  // (dead_peer_timeout) and names the culprit rather than a bystander.
  void fail_all(const Status& st) {
    if (failed.is_ok()) {
      failed = st;
      WEFT_LOG(kWarn, "communicator rank {}/{} failed: {}", rank, size, st.message());
      const bool caused_by_peer = st.code() == Code::kPeerFailed || st.code() == Code::kTimeout;
      if (!caused_by_peer || local_abort)
        for (int j = 0; j < size; ++j)
          if (j != rank && conns[j] != 0) (void)dev->close(conns[j]);
    }
    for (auto& q : queue) {
      q->done = true;
      q->status = failed;
    }
    queue.clear();
  }

  void start_front() {
    auto& q = *queue.front();
    if (scratch.size() < q.plan->scratch_bytes) scratch.resize(q.plan->scratch_bytes);
    exec->start(*q.plan, q.in, q.out, scratch.data(), q.has_hdr ? &q.hdr : nullptr, q.tag_base);
  }

  // One round of progress: advance the running schedule; start the next.
  void progress_once(bool block) {
    if (queue.empty()) return;
    if (!exec->running()) start_front();
    Status st = exec->progress(block);
    if (!st.is_ok()) return fail_all(st);
    while (!queue.empty() && !exec->running()) {
      queue.front()->done = true;
      queue.pop_front();
      if (queue.empty()) break;
      start_front();
      st = exec->progress(false);
      if (!st.is_ok()) return fail_all(st);
    }
  }

  Result<Request> submit(std::shared_ptr<const Schedule> plan, const void* in, void* out, const Header* hdr,
                         uint64_t tag_base) {
    if (!failed.is_ok()) return failed;
    if (queue.empty()) {
      // A peer may have died while we were idle: say so now, not later.
      Status st = exec->poll_idle();
      if (!st.is_ok()) {
        fail_all(st);
        return failed;
      }
    }
    auto s = std::make_shared<Request::State>();
    s->comm = this;
    s->plan = std::move(plan);
    s->in = in;
    s->out = out;
    s->has_hdr = hdr != nullptr;
    if (hdr) s->hdr = *hdr;
    s->tag_base = tag_base;
    queue.push_back(s);
    progress_once(false);  // post the first steps now: the peers may already wait for them
    return Request(s);
  }

  Result<std::shared_ptr<const Schedule>> plan(Shape sh) {
    if (sh.algo == Algorithm::kAuto) sh.algo = auto_select(sh.kind, sh.count * dtype_size(sh.dtype), size);
    if (sh.chunk_bytes == 0) sh.chunk_bytes = auto_chunk_bytes(sh.kind, sh.count * dtype_size(sh.dtype), size);
    if (auto it = cache.find(sh); it != cache.end()) return it->second;
    auto s = compile(sh);
    if (!s) return s.status();
    if (cache.size() >= kMaxCachedPlans) cache.clear();
    auto p = std::make_shared<const Schedule>(std::move(*s));
    cache.emplace(sh, p);
    return p;
  }

  Result<Request> collective(CollKind k, const void* in, void* out, size_t count, DataType t, RedOp op, int root,
                             Algorithm a, bool in_place) {
    if (!failed.is_ok()) return failed;
    if (root < 0 || root >= size)
      return Status(Code::kInvalidArgument, fmt::format("{}: root {} is outside [0, {})", coll_name(k), root, size));
    if (count > 0 && ((in == nullptr && k != CollKind::kBroadcast) || out == nullptr) && k != CollKind::kReduce &&
        k != CollKind::kBarrier)
      return Status(Code::kInvalidArgument, fmt::format("{}: null buffer for {} elements", coll_name(k), count));
    Shape sh;
    sh.kind = k;
    sh.dtype = t;
    sh.op = op;
    sh.count = count;
    sh.root = root;
    sh.in_place = in_place;
    sh.algo = a == Algorithm::kAuto ? cfg.algorithm : a;
    sh.chunk_bytes = cfg.chunk_bytes;
    sh.rank = rank;
    sh.nranks = size;
    auto p = plan(sh);
    if (!p) return p.status();
    Header h;
    h.seq = seq++;
    h.kind = static_cast<uint8_t>(k);
    h.dtype = static_cast<uint8_t>(t);
    h.op = static_cast<uint8_t>(op);
    h.algo = static_cast<uint8_t>(sh.algo == Algorithm::kAuto ? auto_select(k, count * dtype_size(t), size) : sh.algo);
    h.root = root;
    h.count = count;
    return submit(*p, in, out, &h, kTagCollective);
  }
};

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
// Destruction is collective, like NCCL's finalize: a last barrier makes
// sure no peer still waits for data from this rank, because closing a
// connection discards what the peer received but has not yet claimed.
Communicator::~Communicator() {
  if (impl_ && impl_->dev && impl_->exec && impl_->failed.is_ok() && impl_->size > 1) (void)barrier();
  if (impl_ && impl_->dev)
    for (int j = 0; j < impl_->size; ++j)
      if (j != impl_->rank && impl_->conns.size() > static_cast<size_t>(j) && impl_->conns[j] != 0)
        (void)impl_->dev->close(impl_->conns[j]);
}

Result<std::unique_ptr<Communicator>> Communicator::create(const CommConfig& cfg, Bootstrap& bs) {
  if (!cfg.open_device) return Status(Code::kInvalidArgument, "CommConfig::open_device is not set");
  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  impl->rank = bs.rank();
  impl->size = bs.size();
  auto dev = cfg.open_device();
  if (!dev) return dev.status();
  impl->dev = std::move(*dev);
  std::array<char, kAddrBytes> mine{};
  const std::string a = impl->dev->address();
  if (a.size() >= kAddrBytes) return Status(Code::kInternal, "device address longer than 63 bytes: " + a);
  std::memcpy(mine.data(), a.data(), a.size());
  std::vector<char> all(kAddrBytes * impl->size);
  WEFT_RETURN_IF_ERROR(bs.allgather(mine.data(), all.data(), kAddrBytes));
  std::vector<std::string> addrs;
  for (int r = 0; r < impl->size; ++r) addrs.emplace_back(all.data() + r * kAddrBytes);
  WEFT_RETURN_IF_ERROR(impl->connect_all(addrs));
  WEFT_RETURN_IF_ERROR(bs.barrier());
  WEFT_LOG(kDebug, "communicator rank {}/{} up at {}", impl->rank, impl->size, a);
  return std::unique_ptr<Communicator>(new Communicator(std::move(impl)));
}

int Communicator::rank() const { return impl_->rank; }
int Communicator::size() const { return impl_->size; }
Status Communicator::health() const { return impl_->failed; }

void Communicator::abort(std::string_view why) {
  impl_->local_abort = true;
  impl_->fail_all(Status(Code::kClosed, fmt::format("rank {} aborted the communicator: {}", impl_->rank, why)));
}

Result<std::unique_ptr<Communicator>> Communicator::split(int color, int key) {
  // Everyone says (color, key) and, if joining, the address of a fresh device.
  struct Entry {
    int32_t color, key;
    char addr[kAddrBytes];
  };
  Entry mine{color, key, {}};
  std::unique_ptr<Device> dev;
  if (color >= 0) {
    auto d = impl_->cfg.open_device();
    if (!d) return d.status();
    dev = std::move(*d);
    const std::string a = dev->address();
    std::snprintf(mine.addr, sizeof mine.addr, "%s", a.c_str());
  }
  std::vector<Entry> all(impl_->size);
  WEFT_RETURN_IF_ERROR(all_gather(&mine, all.data(), sizeof(Entry), DataType::kU8));
  if (color < 0) return std::unique_ptr<Communicator>();
  std::vector<int> members;
  for (int r = 0; r < impl_->size; ++r)
    if (all[r].color == color) members.push_back(r);
  std::stable_sort(members.begin(), members.end(), [&](int a, int b) { return all[a].key < all[b].key; });
  auto impl = std::make_unique<Impl>();
  impl->cfg = impl_->cfg;
  impl->size = static_cast<int>(members.size());
  impl->rank = static_cast<int>(std::find(members.begin(), members.end(), impl_->rank) - members.begin());
  impl->dev = std::move(dev);
  std::vector<std::string> addrs;
  for (int m : members) addrs.emplace_back(all[m].addr);
  WEFT_RETURN_IF_ERROR(impl->connect_all(addrs));
  std::unique_ptr<Communicator> c(new Communicator(std::move(impl)));
  WEFT_RETURN_IF_ERROR(c->barrier());
  return c;
}

Algorithm Communicator::select(CollKind k, size_t bytes) const {
  if (impl_->cfg.algorithm != Algorithm::kAuto) return impl_->cfg.algorithm;
  return auto_select(k, bytes, impl_->size);
}

Result<ConnStats> Communicator::conn_stats(int peer) const {
  if (peer < 0 || peer >= impl_->size || peer == impl_->rank)
    return Status(Code::kInvalidArgument, fmt::format("conn_stats: {} is not another rank", peer));
  return impl_->dev->stats(impl_->conns[peer]);
}

// ---- requests ----

Status Request::wait() {
  if (!state_) return Status(Code::kInvalidArgument, "wait on an empty Request");
  while (!state_->done) {
    if (!state_->comm) break;
    state_->comm->progress_once(true);
  }
  return state_->status;
}

bool Request::test() {
  if (!state_) return true;
  if (!state_->done && state_->comm) state_->comm->progress_once(false);
  return state_->done;
}

// ---- entry points ----

Result<Request> Communicator::iall_reduce(const void* send, void* recv, size_t count, DataType t, RedOp op, Algorithm a) {
  return impl_->collective(CollKind::kAllReduce, send, recv, count, t, op, 0, a, send == recv);
}
Result<Request> Communicator::ireduce_scatter(const void* send, void* recv, size_t count, DataType t, RedOp op,
                                              Algorithm a) {
  const bool in_place = static_cast<const uint8_t*>(send) + impl_->rank * count * dtype_size(t) == recv;
  return impl_->collective(CollKind::kReduceScatter, send, recv, count, t, op, 0, a, in_place);
}
Result<Request> Communicator::iall_gather(const void* send, void* recv, size_t count, DataType t, Algorithm a) {
  const bool in_place = static_cast<const uint8_t*>(recv) + impl_->rank * count * dtype_size(t) == send;
  return impl_->collective(CollKind::kAllGather, send, recv, count, t, RedOp::kSum, 0, a, in_place);
}
Result<Request> Communicator::ibroadcast(const void* send, void* recv, size_t count, DataType t, int root, Algorithm a) {
  return impl_->collective(CollKind::kBroadcast, send, recv, count, t, RedOp::kSum, root, a, send == recv);
}
Result<Request> Communicator::ireduce(const void* send, void* recv, size_t count, DataType t, RedOp op, int root,
                                      Algorithm a) {
  return impl_->collective(CollKind::kReduce, send, recv, count, t, op, root, a, send == recv);
}
Result<Request> Communicator::iall_to_all(const void* send, void* recv, size_t count, DataType t) {
  return impl_->collective(CollKind::kAllToAll, send, recv, count, t, RedOp::kSum, 0, Algorithm::kDirect, send == recv);
}
Result<Request> Communicator::iall_to_allv(const void* send, std::span<const size_t> send_counts,
                                           std::span<const size_t> send_displs, void* recv,
                                           std::span<const size_t> recv_counts, std::span<const size_t> recv_displs,
                                           DataType t) {
  const size_t n = static_cast<size_t>(impl_->size);
  if (send_counts.size() != n || send_displs.size() != n || recv_counts.size() != n || recv_displs.size() != n)
    return Status(Code::kInvalidArgument, fmt::format("alltoallv: counts and displacements need {} entries each", n));
  if (send_counts[impl_->rank] != recv_counts[impl_->rank])
    return Status(Code::kInvalidArgument, "alltoallv: this rank's send and receive counts to itself differ");
  if (!impl_->failed.is_ok()) return impl_->failed;
  // The v variant's shape is the counts themselves: compiled per call.
  auto p = std::make_shared<const Schedule>(
      compile_all_to_allv(impl_->rank, impl_->size, t, send_counts, send_displs, recv_counts, recv_displs));
  Header h;
  h.seq = impl_->seq++;
  h.kind = static_cast<uint8_t>(CollKind::kAllToAllV);
  h.dtype = static_cast<uint8_t>(t);
  h.algo = static_cast<uint8_t>(Algorithm::kDirect);
  return impl_->submit(std::move(p), send, recv, &h, kTagCollective);
}
Result<Request> Communicator::ibarrier() {
  return impl_->collective(CollKind::kBarrier, nullptr, nullptr, 0, DataType::kU8, RedOp::kSum, 0, Algorithm::kRing,
                           false);
}

Result<Request> Communicator::isend(const void* buf, size_t count, DataType t, int peer, uint32_t tag) {
  if (peer < 0 || peer >= impl_->size || peer == impl_->rank)
    return Status(Code::kInvalidArgument, fmt::format("send: peer {} is not another rank of {}", peer, impl_->size));
  ScheduleBuilder sb(fmt::format("send to rank {} tag {}", peer, tag), impl_->size, t, RedOp::kSum);
  sb.send(peer, 0, {Buf::kIn, 0, count * dtype_size(t)});
  return impl_->submit(std::make_shared<const Schedule>(sb.finish()), buf, nullptr, nullptr,
                       kTagP2P + (uint64_t{tag} << 2));
}
Result<Request> Communicator::irecv(void* buf, size_t count, DataType t, int peer, uint32_t tag) {
  if (peer < 0 || peer >= impl_->size || peer == impl_->rank)
    return Status(Code::kInvalidArgument, fmt::format("recv: peer {} is not another rank of {}", peer, impl_->size));
  ScheduleBuilder sb(fmt::format("recv from rank {} tag {}", peer, tag), impl_->size, t, RedOp::kSum);
  sb.recv(peer, 0, {Buf::kOut, 0, count * dtype_size(t)});
  return impl_->submit(std::make_shared<const Schedule>(sb.finish()), nullptr, buf, nullptr,
                       kTagP2P + (uint64_t{tag} << 2));
}

namespace {
Status run(Result<Request> r) {
  if (!r) return r.status();
  return r->wait();
}
}  // namespace

Status Communicator::all_reduce(const void* s, void* r, size_t n, DataType t, RedOp op, Algorithm a) {
  return run(iall_reduce(s, r, n, t, op, a));
}
Status Communicator::reduce_scatter(const void* s, void* r, size_t n, DataType t, RedOp op, Algorithm a) {
  return run(ireduce_scatter(s, r, n, t, op, a));
}
Status Communicator::all_gather(const void* s, void* r, size_t n, DataType t, Algorithm a) {
  return run(iall_gather(s, r, n, t, a));
}
Status Communicator::broadcast(const void* s, void* r, size_t n, DataType t, int root, Algorithm a) {
  return run(ibroadcast(s, r, n, t, root, a));
}
Status Communicator::reduce(const void* s, void* r, size_t n, DataType t, RedOp op, int root, Algorithm a) {
  return run(ireduce(s, r, n, t, op, root, a));
}
Status Communicator::all_to_all(const void* s, void* r, size_t n, DataType t) { return run(iall_to_all(s, r, n, t)); }
Status Communicator::barrier() { return run(ibarrier()); }
Status Communicator::send(const void* b, size_t n, DataType t, int peer, uint32_t tag) {
  return run(isend(b, n, t, peer, tag));
}
Status Communicator::recv(void* b, size_t n, DataType t, int peer, uint32_t tag) {
  return run(irecv(b, n, t, peer, tag));
}

}  // namespace weft::coll
