#include "bench/plugin/links.h"

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <thread>

namespace weft::bench {

using namespace nccl::abi;

namespace {
constexpr uint64_t kTag = 1;
DeviceParams device_params() {
  // Mirrors plugin/core/endpoint.cc so the comparison is like for like.
  DeviceParams dp;
  dp.engine.job_token = 0xBE9C;
  dp.engine.mtu = 8972;
  dp.engine.dead_peer_timeout = seconds(3);
  dp.engine.handshake_timeout = seconds(5);
  dp.engine.unexpected_budget = Bytes(256u << 20);
  return dp;
}
}  // namespace

std::unique_ptr<RawLink> RawLink::open(std::string* err) {
  udp::UdpParams up;
  up.bind_address = "127.0.0.1";
  auto dev = udp::open_device(up, device_params());
  if (!dev) {
    *err = dev.status().to_string();
    return nullptr;
  }
  auto l = std::make_unique<RawLink>();
  l->dev_ = std::move(*dev);
  return l;
}

bool RawLink::await_type(CompletionType t) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Completion c;
  while (std::chrono::steady_clock::now() < end) {
    if (dev_->poll({&c, 1}) == 0) {
      dev_->wait(millis(10));
      continue;
    }
    if (c.type == t) {
      conn_ = c.conn;
      return true;
    }
    if (c.type == CompletionType::kConnFailed) {
      error = c.status.to_string();
      return false;
    }
  }
  error = "no connection in 10 s";
  return false;
}

bool RawLink::connect(const std::string& peer) {
  auto c = dev_->connect(peer);
  if (!c) {
    error = c.status().to_string();
    return false;
  }
  return await_type(CompletionType::kConnected);
}
bool RawLink::accept() { return await_type(CompletionType::kAccepted); }

uintptr_t RawLink::send(const void* buf, size_t len, void*) {
  auto op = dev_->post_send(conn_, kTag, buf, len);
  return op ? static_cast<uintptr_t>(*op) : 0;
}
uintptr_t RawLink::recv(void* buf, size_t cap, void*) {
  auto op = dev_->post_recv(conn_, kTag, buf, cap);
  return op ? static_cast<uintptr_t>(*op) : 0;
}

int RawLink::done(uintptr_t token, size_t* bytes) {
  const size_t slot = token & (kRing - 1);
  if (!done_[slot]) {
    Completion batch[32];
    size_t n;
    while ((n = dev_->poll(batch)) > 0) {
      for (size_t i = 0; i < n; ++i) {
        if (!batch[i].status.is_ok()) {
          error = batch[i].status.to_string();
          return -1;
        }
        if (batch[i].op == 0) continue;
        done_[batch[i].op & (kRing - 1)] = 1;
        bytes_[batch[i].op & (kRing - 1)] = batch[i].bytes;
      }
    }
    if (!done_[slot]) return 0;
  }
  done_[slot] = 0;
  if (bytes != nullptr) *bytes = bytes_[slot];
  return 1;
}

namespace {
void quiet_logger(ncclDebugLogLevel level, unsigned long, const char*, int, const char* fmt, ...) {
  if (level != NCCL_LOG_WARN) return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}
}  // namespace

std::unique_ptr<PluginLink> PluginLink::open(const char* path, std::string* err) {
  auto l = std::make_unique<PluginLink>();
  l->lib_ = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (l->lib_ == nullptr) {
    *err = dlerror();
    return nullptr;
  }
  l->net_ = static_cast<const ncclNet_v12_t*>(dlsym(l->lib_, "ncclNetPlugin_v12"));
  if (l->net_ == nullptr) {
    *err = "no ncclNetPlugin_v12 in " + std::string(path);
    return nullptr;
  }
  ncclNetCommConfig_t cfg{-1};
  if (l->net_->init(&l->ctx_, 1, &cfg, quiet_logger, nullptr) != ncclSuccess) {
    *err = "plugin init failed";
    return nullptr;
  }
  return l;
}

PluginLink::~PluginLink() {
  if (net_ != nullptr) {
    if (send_) (void)net_->closeSend(send_);
    if (recv_) (void)net_->closeRecv(recv_);
    if (listen_) (void)net_->closeListen(listen_);
    (void)net_->finalize(ctx_);
  }
  if (lib_ != nullptr) dlclose(lib_);
}

bool PluginLink::listen(char handle[128]) { return net_->listen(ctx_, 0, handle, &listen_) == ncclSuccess; }

bool PluginLink::connect(char peer[128]) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (send_ == nullptr || recv_ == nullptr) {
    if (std::chrono::steady_clock::now() > end) {
      error = "connect/accept did not finish in 10 s";
      return false;
    }
    if (send_ == nullptr && net_->connect(ctx_, 0, peer, &send_, nullptr) != ncclSuccess) return false;
    if (recv_ == nullptr && net_->accept(listen_, &recv_, nullptr) != ncclSuccess) return false;
  }
  (void)net_->closeListen(listen_);
  listen_ = nullptr;
  return true;
}

void* PluginLink::reg(void* buf, size_t len, bool for_send) {
  void* mh = nullptr;
  (void)net_->regMr(for_send ? send_ : recv_, buf, len, NCCL_PTR_HOST, &mh);
  return mh;
}
void PluginLink::unreg(void* mh, bool for_send) { (void)net_->deregMr(for_send ? send_ : recv_, mh); }

uintptr_t PluginLink::send(const void* buf, size_t len, void* mh) {
  void* req = nullptr;
  if (net_->isend(send_, const_cast<void*>(buf), len, 0, mh, nullptr, &req) != ncclSuccess) error = "isend failed";
  return reinterpret_cast<uintptr_t>(req);
}
uintptr_t PluginLink::recv(void* buf, size_t cap, void* mh) {
  void* req = nullptr;
  int tag = 0;
  if (net_->irecv(recv_, 1, &buf, &cap, &tag, &mh, nullptr, &req) != ncclSuccess) error = "irecv failed";
  return reinterpret_cast<uintptr_t>(req);
}
int PluginLink::done(uintptr_t token, size_t* bytes) {
  int done = 0;
  int sizes[64] = {};
  if (net_->test(reinterpret_cast<void*>(token), &done, sizes) != ncclSuccess) {
    error = "test failed (see the plugin's warning)";
    return -1;
  }
  if (done && bytes != nullptr) *bytes = static_cast<size_t>(sizes[0]);
  return done;
}

}  // namespace weft::bench
