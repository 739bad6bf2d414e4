// The control path: init, devices, properties, listen/connect/accept, close,
// v11 contexts. Runs on NCCL's application and service threads.
#include <cstring>
#include <random>

#include "common/log.h"
#include "plugin/core/net.h"
#include "plugin/core/report.h"
#include "plugin/core/state.h"

namespace weft::nccl {

using namespace abi;

Global& global() {
  static Global g;  // see state.h: forced by the context-free v6–v10 ABI
  return g;
}

Global::~Global() {
  std::lock_guard<std::mutex> lock(mu);
  while (!live.empty()) destroy_locked(*this, const_cast<void*>(live.begin()->first));
}

void destroy_locked(Global& g, void* p) {
  auto it = g.live.find(p);
  if (it == g.live.end()) return;
  const CommKind kind = it->second;
  g.live.erase(it);
  if (kind == CommKind::kListen) {
    auto* l = static_cast<ListenComm*>(p);
    l->ep->remove_listen(l);
    delete l;
    return;
  }
  auto* c = static_cast<Comm*>(p);
  if (c->ep != nullptr) c->ep->detach(c);
  if (kind == CommKind::kSend)
    delete static_cast<SendComm*>(c);
  else
    delete static_cast<RecvComm*>(c);
}

Result<Endpoint*> endpoint_locked(Global& g, int dev) {
  if (!g.eps[dev]) {
    auto ep = Endpoint::open(g.devs[dev], g.cfg);
    if (!ep) return ep.status();
    g.eps[dev] = std::move(*ep);
    WEFT_NCCL_INFO("device " + std::to_string(dev) + " (" + g.devs[dev].ifname + ") listening on " +
                   g.eps[dev]->address());
  }
  return g.eps[dev].get();
}

namespace {

constexpr size_t kMaxP2pBytes = size_t{1} << 30;  // test() reports sizes as int
constexpr uint32_t kCtxMagic = 0x43545831;          // "CTX1"

struct NetCtx {
  uint32_t magic = kCtxMagic;
  uint64_t comm_id = 0;
  int traffic_class = -1;
};

uint64_t random_nonce() {
  // Per listen comm; only has to differ between listens on one Device.
  static thread_local std::mt19937_64 rng{std::random_device{}() ^ reinterpret_cast<uintptr_t>(&rng)};
  uint64_t n = 0;
  while (n == 0) n = rng();
  return n;
}

bool valid_dev(const Global& g, int dev) { return dev >= 0 && static_cast<size_t>(dev) < g.devs.size(); }

std::string dev_range(const Global& g) {
  return g.devs.empty() ? std::string("none: call init first")
                        : "0.." + std::to_string(g.devs.size() - 1);
}

template <typename T>
T* live_as(Global& g, void* p, CommKind kind) {
  auto it = g.live.find(p);
  if (it == g.live.end() || it->second != kind) return nullptr;
  return static_cast<T*>(p);
}

}  // namespace

ncclResult_t net_init(ncclDebugLogger_t logger) {
  set_logger(logger);
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  if (g.refs == 0 && g.devs.empty()) {
    auto cfg = config_from_env();
    if (!cfg) return WEFT_NCCL_FAIL_STATUS(cfg.status(), "init");
    g.cfg = *cfg;
    log::set_threshold(log::level_from_env());
    set_verbose(g.cfg.debug > 0);
    g.devs = discover_netdevs(g.cfg.ifname);
    if (g.devs.empty())
      return WEFT_NCCL_FAIL(ncclSystemError,
                            "init: no usable IPv4 interface" +
                                (g.cfg.ifname.empty() ? std::string() : " matches WEFT_IFNAME=" + g.cfg.ifname) +
                                ": bring one up or change WEFT_IFNAME (e.g. WEFT_IFNAME=lo on a single host)");
    g.eps.clear();
    g.eps.resize(g.devs.size());
    std::string list;
    for (size_t i = 0; i < g.devs.size(); ++i)
      list += (i ? ", " : "") + std::to_string(i) + ":" + g.devs[i].ifname + "/" + g.devs[i].ip;
    WEFT_NCCL_INFO("using " + list + "; recovery " +
                   (g.cfg.recovery == Recovery::kGoBackN ? "gbn" : "sr") + ", paths " + std::to_string(g.cfg.paths) +
                   ", cc " + g.cfg.cc + ", peer timeout " + std::to_string(g.cfg.peer_timeout.count() / 1000000) + " ms");
  }
  g.refs++;
  return ncclSuccess;
}

ncclResult_t net_finalize() {
  Global& g = global();
  std::unique_lock<std::mutex> lock(g.mu);
  if (g.refs == 0) return WEFT_NCCL_FAIL(ncclInternalError, "finalize without a matching init");
  if (--g.refs > 0) return ncclSuccess;
  if (!g.live.empty()) {
    // Joining the Devices' threads now would pull the ground from under
    // open comms; the library destructor gets them instead.
    WEFT_NCCL_INFO(std::to_string(g.live.size()) + " comm(s) still open at the last finalize; kept until unload");
    return ncclSuccess;
  }
  std::vector<std::unique_ptr<Endpoint>> eps = std::move(g.eps);
  g.eps.clear();
  g.devs.clear();
  lock.unlock();
  eps.clear();  // joins progress threads outside the lock
  return ncclSuccess;
}

ncclResult_t net_devices(int* ndev) {
  if (ndev == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "devices: ndev is NULL");
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  *ndev = static_cast<int>(g.devs.size());
  return ncclSuccess;
}

ncclResult_t net_get_properties(int dev, DeviceProps* p) {
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  if (p == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "getProperties: props is NULL");
  if (!valid_dev(g, dev))
    return WEFT_NCCL_FAIL(ncclInvalidArgument,
                          "getProperties: device " + std::to_string(dev) + " does not exist (" + dev_range(g) + ")");
  const NetDev& d = g.devs[dev];
  // Pointers into g.devs: valid until the last finalize, as NCCL needs.
  p->name = d.ifname.c_str();
  p->pci_path = d.pci_path.empty() ? nullptr : d.pci_path.c_str();
  p->guid = d.guid;
  p->ptr_support = NCCL_PTR_HOST;  // no GPU memory path: NCCL stages through host
  p->reg_is_global = 0;            // registrations are per comm (no MR cache)
  p->force_flush = 0;
  p->speed_mbps = d.speed_mbps;
  p->port = 0;
  p->latency_us = 0;  // NCCL's defaults
  p->max_comms = 65536;
  p->max_recvs = kMaxRecvs;
  p->dev = dev;
  p->max_p2p_bytes = kMaxP2pBytes;
  p->max_coll_bytes = kMaxP2pBytes;
  p->max_multi_request_size = 1;
  p->rail_id = NCCL_NET_ID_UNDEF;
  p->plane_id = NCCL_NET_ID_UNDEF;
  return ncclSuccess;
}

ncclResult_t net_listen(int dev, void* handle, void** listen_comm) {
  if (handle == nullptr || listen_comm == nullptr)
    return WEFT_NCCL_FAIL(ncclInvalidArgument, "listen: handle or listenComm is NULL");
  *listen_comm = nullptr;
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  if (!valid_dev(g, dev))
    return WEFT_NCCL_FAIL(ncclInvalidArgument, "listen: device " + std::to_string(dev) + " does not exist (" +
                                                   dev_range(g) + ")");
  auto ep = endpoint_locked(g, dev);
  if (!ep) return WEFT_NCCL_FAIL_STATUS(ep.status(), "listen on " + g.devs[dev].ifname);
  auto l = std::make_unique<ListenComm>();
  l->dev = dev;
  l->ep = *ep;
  l->nonce = random_nonce();
  ListenHandle h{};
  h.magic = kHandleMagic;
  h.version = kHandleVersion;
  h.nonce = l->nonce;
  std::snprintf(h.address, sizeof h.address, "%s", l->ep->address().c_str());
  std::memset(handle, 0, NCCL_NET_HANDLE_MAXSIZE);
  std::memcpy(handle, &h, sizeof h);
  l->ep->add_listen(l.get());
  g.live.emplace(l.get(), CommKind::kListen);
  *listen_comm = l.release();
  return ncclSuccess;
}


ncclResult_t net_connect(int dev, void* handle, void** send_comm) {
  if (handle == nullptr || send_comm == nullptr)
    return WEFT_NCCL_FAIL(ncclInvalidArgument, "connect: handle or sendComm is NULL");
  *send_comm = nullptr;
  auto* h = static_cast<ListenHandle*>(handle);
  if (h->magic != kHandleMagic || h->version != kHandleVersion ||
      std::memchr(h->address, '\0', sizeof h->address) == nullptr)
    return WEFT_NCCL_FAIL(ncclInvalidArgument,
                          "connect: the handle was not written by weft's listen (bad magic/version): check that both "
                          "ranks load the same net plugin (NCCL_NET=weft)");
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  if (!valid_dev(g, dev))
    return WEFT_NCCL_FAIL(ncclInvalidArgument, "connect: device " + std::to_string(dev) + " does not exist (" +
                                                   dev_range(g) + ")");
  if (h->connecting == 0) {
    auto ep = endpoint_locked(g, dev);
    if (!ep) return WEFT_NCCL_FAIL_STATUS(ep.status(), "connect on " + g.devs[dev].ifname);
    auto c = std::make_unique<SendComm>();
    c->dev = dev;
    c->ep = *ep;
    c->hello = Hello{kHandleMagic, kHandleVersion, h->nonce};
    Status st = c->ep->start_connect(c.get(), h->address);
    if (!st.is_ok()) return WEFT_NCCL_FAIL_STATUS(st, std::string("connect to ") + h->address);
    g.live.emplace(c.get(), CommKind::kSend);
    h->connecting = reinterpret_cast<uintptr_t>(c.release());
    return ncclSuccess;  // NCCL calls again with the same handle
  }
  auto* c = live_as<SendComm>(g, reinterpret_cast<void*>(h->connecting), CommKind::kSend);
  if (c == nullptr)
    return WEFT_NCCL_FAIL(ncclInvalidArgument,
                          "connect: the handle refers to a connect that no longer exists (a copied or reused handle?)");
  c->ep->progress();
  Status why;
  switch (c->ep->connect_state(c, &why)) {
    case ConnectState::kConnecting: return ncclSuccess;
    case ConnectState::kReady:
      h->connecting = 0;
      *send_comm = c;
      return ncclSuccess;
    case ConnectState::kFailed: break;
  }
  h->connecting = 0;
  destroy_locked(g, c);
  return WEFT_NCCL_FAIL_STATUS(why, std::string("connect to ") + h->address);
}

ncclResult_t net_accept(void* listen_comm, void** recv_comm) {
  if (recv_comm == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "accept: recvComm is NULL");
  *recv_comm = nullptr;
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  auto* l = live_as<ListenComm>(g, listen_comm, CommKind::kListen);
  if (l == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "accept: not an open listen comm");
  l->ep->progress();
  const ConnId conn = l->ep->take_accepted(l);
  if (conn == 0) return ncclSuccess;  // nobody yet: NCCL calls again
  auto r = std::make_unique<RecvComm>();
  r->dev = l->dev;
  r->ep = l->ep;
  r->conn = conn;
  r->ep->attach(r.get());
  g.live.emplace(r.get(), CommKind::kRecv);
  *recv_comm = r.release();
  return ncclSuccess;
}

ncclResult_t net_close_send(void* send_comm) {
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  auto* c = live_as<SendComm>(g, send_comm, CommKind::kSend);
  if (c == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "closeSend: not an open send comm (closed twice?)");
  destroy_locked(g, c);
  return ncclSuccess;
}

ncclResult_t net_close_recv(void* recv_comm) {
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  auto* c = live_as<RecvComm>(g, recv_comm, CommKind::kRecv);
  if (c == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "closeRecv: not an open recv comm (closed twice?)");
  destroy_locked(g, c);
  return ncclSuccess;
}

ncclResult_t net_close_listen(void* listen_comm) {
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  auto* l = live_as<ListenComm>(g, listen_comm, CommKind::kListen);
  if (l == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "closeListen: not an open listen comm (closed twice?)");
  destroy_locked(g, l);
  return ncclSuccess;
}

ncclResult_t net_make_vdevice(int* d, int ndevs, const int* devs) {
  if (d == nullptr || devs == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "makeVDevice: NULL argument");
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  // A virtual device of one physical device is that device; fusing several
  // NICs into one would need striping across Devices, which weft lacks.
  if (ndevs == 1 && valid_dev(g, devs[0])) {
    *d = devs[0];
    return ncclSuccess;
  }
  return WEFT_NCCL_FAIL(ncclInvalidUsage, "makeVDevice: weft cannot fuse " + std::to_string(ndevs) +
                                              " devices into one; leave NCCL_NET_MERGE_LEVEL/NCCL_NET_FORCE_MERGE unset");
}

ncclResult_t net_ctx_create(uint64_t comm_id, int traffic_class, void** ctx) {
  if (ctx == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "init: ctx is NULL");
  auto* c = new NetCtx;
  c->comm_id = comm_id;
  c->traffic_class = traffic_class;
  *ctx = c;
  return ncclSuccess;
}

ncclResult_t net_ctx_destroy(void* ctx) {
  auto* c = static_cast<NetCtx*>(ctx);
  if (c == nullptr) return ncclSuccess;  // NCCL 2.28 finalizes a failed init with NULL
  if (c->magic != kCtxMagic) return WEFT_NCCL_FAIL(ncclInvalidArgument, "finalize: not a context from init");
  c->magic = 0;
  delete c;
  return net_finalize();
}

ncclResult_t net_set_attr(void* ctx, const ncclNetAttr_t* attr) {
  if (attr == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "setNetAttr: attr is NULL");
  // A hint only; weft's engine has no per-operation tuning to feed it yet.
  WEFT_NCCL_INFO("setNetAttr op " + std::to_string(attr->op) + " algo " + std::to_string(attr->algo) + " proto " +
                 std::to_string(attr->proto) + " (hint ignored)");
  return ncclSuccess;
}

}  // namespace weft::nccl
