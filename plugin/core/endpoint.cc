#include "plugin/core/endpoint.h"

#include <algorithm>
#include <array>

#include "plugin/core/report.h"
#include "transport/udp/udp_driver.h"

namespace weft::nccl {

namespace {
// weft header + payload per datagram: the interface MTU minus IPv4 and UDP
// headers (28 B), capped at weft's jumbo default so loopback's 64 KiB MTU does
// not make datagrams the kernel would have to fragment elsewhere.
uint32_t datagram_size(uint32_t if_mtu) { return std::clamp<uint32_t>(if_mtu > 28 ? if_mtu - 28 : 0, 1200, 8972); }
// Table slots a comm reserves: its operations, plus the hello on a send comm.
constexpr size_t kSendOps = kOpsPerComm;
constexpr size_t kRecvOps = kOpsPerComm;
}  // namespace

Result<std::unique_ptr<Endpoint>> Endpoint::open(const NetDev& nd, const Config& cfg) {
  udp::UdpParams up;
  up.bind_address = nd.ip;
  up.source_ports = std::max<uint16_t>(cfg.paths, 1);
  DeviceParams dp;
  dp.busy_poll = cfg.busy_poll;
  dp.engine.job_token = kJobToken;
  dp.engine.cc = cfg.cc;
  dp.engine.mtu = datagram_size(nd.mtu);
  dp.engine.dead_peer_timeout = cfg.peer_timeout;
  dp.engine.handshake_timeout = std::max(cfg.peer_timeout, seconds(5));
  // NCCL pre-posts receives, but a sender may run ahead by NCCL_STEPS
  // messages of up to several MiB: buffer that much instead of pausing it.
  dp.engine.unexpected_budget = Bytes(256u << 20);
  udp::UdpInfo info;
  auto dev = udp::open_device(up, dp, &info);
  if (!dev) return dev.status();
  std::unique_ptr<Endpoint> ep(new Endpoint());
  ep->dev_ = std::move(*dev);
  ep->address_ = ep->dev_->address();
  ep->conn_params_.recovery = cfg.recovery;
  ep->conn_params_.paths = cfg.paths;
  if (!info.warnings.empty()) WEFT_NCCL_INFO(nd.ifname + ": " + info.warnings);
  return ep;
}

Endpoint::~Endpoint() = default;

void Endpoint::bind_locked(ConnId id, Comm* c) {
  if (id >= by_conn_.size()) by_conn_.resize(static_cast<size_t>(id) + 1, nullptr);
  by_conn_[id] = c;
}

void Endpoint::add_listen(ListenComm* l) {
  std::lock_guard<std::mutex> g(mu_);
  listens_[l->nonce] = l;
}

void Endpoint::remove_listen(ListenComm* l) {
  std::lock_guard<std::mutex> g(mu_);
  listens_.erase(l->nonce);
  for (ConnId id : l->ready) (void)dev_->close(id);
  l->ready.clear();
}

ConnId Endpoint::take_accepted(ListenComm* l) {
  std::lock_guard<std::mutex> g(mu_);
  if (l->ready.empty()) return 0;
  const ConnId id = l->ready.front();
  l->ready.pop_front();
  return id;
}

Status Endpoint::start_connect(SendComm* c, const std::string& peer) {
  std::lock_guard<std::mutex> g(mu_);
  auto id = dev_->connect(peer, conn_params_);
  if (!id) return id.status();
  c->conn = *id;
  c->state = ConnectState::kConnecting;
  bind_locked(*id, c);
  ops_.reserve(kSendOps + 1);  // + the hello
  return Status::ok();
}

ConnectState Endpoint::connect_state(SendComm* c, Status* why) {
  std::lock_guard<std::mutex> g(mu_);
  if (c->state == ConnectState::kFailed && why != nullptr) *why = c->failure;
  return c->state;
}

void Endpoint::attach(RecvComm* c) {
  std::lock_guard<std::mutex> g(mu_);
  bind_locked(c->conn, c);
  ops_.reserve(kRecvOps);
}

void Endpoint::detach(Comm* c) {
  std::lock_guard<std::mutex> g(mu_);
  if (c->conn != 0) {
    (void)dev_->close(c->conn);  // closing a failed connection is harmless
    if (comm_of_locked(c->conn) == c) by_conn_[c->conn] = nullptr;
  }
  if (c->kind == CommKind::kSend) (void)ops_.take(static_cast<SendComm*>(c)->hello_op, nullptr);
  c->pool.for_each_in_flight([&](Request& r) {
    for (int i = 0; i < r.n; ++i) (void)ops_.take(r.ops[i], nullptr);
  });
  ops_.release(c->kind == CommKind::kSend ? kSendOps + 1 : kRecvOps);
}

Status Endpoint::post_send(Request* r, const void* buf, size_t len, uint64_t tag) {
  std::lock_guard<std::mutex> g(mu_);
  auto op = dev_->post_send(r->comm->conn, tag, buf, len);
  if (!op) return op.status();
  r->n = 1;
  r->ops[0] = *op;
  r->bytes[0] = len;
  r->pending.store(1, std::memory_order_relaxed);
  if (!ops_.insert(*op, OpTarget{r, 0, OpTarget::Kind::kRequest}))
    return Status(Code::kInternal, "plugin op table full: more sends in flight than the comm reserved");
  return Status::ok();
}

Status Endpoint::post_recvs(Request* r, int n, void* const* bufs, const size_t* sizes, const int* tags) {
  std::lock_guard<std::mutex> g(mu_);
  r->n = static_cast<uint8_t>(n);
  r->pending.store(n, std::memory_order_relaxed);
  for (int i = 0; i < n; ++i) {
    auto op = dev_->post_recv(r->comm->conn, data_tag(tags[i]), bufs[i], sizes[i]);
    Status st = op ? Status::ok() : op.status();
    if (op && !ops_.insert(*op, OpTarget{r, static_cast<uint32_t>(i), OpTarget::Kind::kRequest}))
      st = Status(Code::kInternal, "plugin op table full: more receives in flight than the comm reserved");
    if (!st.is_ok()) {
      // weft cannot withdraw a posted receive; detach the ones already posted
      // so their eventual completions cannot touch a recycled request.
      for (int j = 0; j < i; ++j) (void)ops_.take(r->ops[j], nullptr);
      return st;
    }
    r->ops[i] = *op;
    r->bytes[i] = 0;
  }
  return Status::ok();
}

void Endpoint::progress(bool only_if_free) {
  std::unique_lock<std::mutex> g(mu_, std::defer_lock);
  if (only_if_free) {
    if (!g.try_lock()) return;
  } else {
    g.lock();
  }
  for (;;) {
    const size_t n = dev_->poll(batch_);
    for (size_t i = 0; i < n; ++i) dispatch_locked(batch_[i]);
    if (n < batch_.size()) break;
  }
}

void Endpoint::dispatch_locked(Completion& c) {
  switch (c.type) {
    case CompletionType::kSend:
    case CompletionType::kRecv: {
      OpTarget t;
      if (!ops_.take(c.op, &t)) return;  // its comm was closed
      if (t.kind == OpTarget::Kind::kRequest) {
        auto* r = static_cast<Request*>(t.target);
        if (c.type == CompletionType::kRecv) r->bytes[t.index] = c.bytes;
        if (!c.status.is_ok() && r->error.is_ok()) r->error = std::move(c.status);
        r->pending.fetch_sub(1, std::memory_order_release);
      } else if (t.kind == OpTarget::Kind::kHelloRecv) {
        on_hello_locked(static_cast<PendingAccept*>(t.target), c);
      } else if (!c.status.is_ok()) {  // kHelloSend failed: the connection is gone
        auto* s = static_cast<SendComm*>(t.target);
        s->failure = c.status;
        s->failed.store(true, std::memory_order_release);
      }
      return;
    }
    case CompletionType::kConnected: {
      Comm* comm = comm_of_locked(c.conn);
      if (comm == nullptr || comm->kind != CommKind::kSend) return;
      auto* s = static_cast<SendComm*>(comm);
      if (s->state != ConnectState::kConnecting) return;
      // The hello names the listen comm this connection is for; its buffer
      // lives in the comm, which outlives the send (detach forgets the op).
      auto op = dev_->post_send(c.conn, kHelloTag, &s->hello, sizeof s->hello);
      if (!op) {
        s->failure = op.status();
        s->state = ConnectState::kFailed;
        return;
      }
      (void)ops_.insert(*op, OpTarget{s, 0, OpTarget::Kind::kHelloSend});
      s->hello_op = *op;
      s->state = ConnectState::kReady;
      return;
    }
    case CompletionType::kAccepted: {
      auto pa = std::make_unique<PendingAccept>();
      pa->conn = c.conn;
      auto op = dev_->post_recv(c.conn, kHelloTag, &pa->hello, sizeof pa->hello);
      if (!op) return;  // already failed; weft reports kConnFailed too
      pa->op = *op;
      ops_.reserve(1);  // setup path: growing the table here is fine
      (void)ops_.insert(*op, OpTarget{pa.get(), 0, OpTarget::Kind::kHelloRecv});
      accepting_[c.conn] = std::move(pa);
      return;
    }
    case CompletionType::kConnFailed: {
      if (Comm* comm = comm_of_locked(c.conn)) {
        if (!comm->failed.load(std::memory_order_relaxed)) comm->failure = c.status;
        comm->failed.store(true, std::memory_order_release);
        if (comm->kind == CommKind::kSend) {
          auto* s = static_cast<SendComm*>(comm);
          if (s->state == ConnectState::kConnecting) s->state = ConnectState::kFailed;
        }
      }
      if (auto it = accepting_.find(c.conn); it != accepting_.end()) {
        (void)ops_.take(it->second->op, nullptr);
        accepting_.erase(it);
        ops_.release(1);
      }
      for (auto& [nonce, l] : listens_) std::erase(l->ready, c.conn);
      return;
    }
    case CompletionType::kWrite:
    case CompletionType::kWriteImm: return;  // the plugin posts no writes
  }
}

void Endpoint::on_hello_locked(PendingAccept* pa, const Completion& c) {
  const ConnId conn = pa->conn;
  const Hello h = pa->hello;
  accepting_.erase(conn);  // frees pa
  ops_.release(1);
  if (!c.status.is_ok()) return;  // the connection failed before saying hello
  auto it = listens_.find(h.nonce);
  if (c.bytes != sizeof(Hello) || h.magic != kHandleMagic || it == listens_.end()) {
    // A stale connect (its listen comm was closed) or a stranger: refuse it.
    WEFT_NCCL_INFO("refusing a connection whose hello names no open listen comm");
    (void)dev_->close(conn);
    return;
  }
  it->second->ready.push_back(conn);
}

}  // namespace weft::nccl
