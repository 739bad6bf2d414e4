// tests/plugin/net_api.h — drives any exported ncclNetPlugin_vN through one
// interface, the way NCCL's own per-version shims do: v6–v8 get int sizes,
// v7+ NULL device-handle pointers, v10 a NULL config, v11+ a ctx from init.
// The tests then run the same scenarios against every version, so each of
// the plugin's adapter files is exercised.
#pragma once

#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "plugin/abi/net_v10.h"
#include "plugin/abi/net_v11.h"
#include "plugin/abi/net_v12.h"
#include "plugin/abi/net_v6.h"
#include "plugin/abi/net_v7.h"
#include "plugin/abi/net_v8.h"
#include "plugin/abi/net_v9.h"

namespace weft::nccl::test {

using namespace weft::nccl::abi;

inline constexpr int kVersions[] = {6, 7, 8, 9, 10, 11, 12};

// Properties of any version, normalised; fields a version lacks keep -1.
struct Props {
  std::string name;
  bool has_pci = false;
  uint64_t guid = 0;
  int ptrSupport = -1, regIsGlobal = -1, forceFlush = -1, speed = -1, maxComms = -1, maxRecvs = -1;
  int netDeviceType = -1, netDeviceVersion = -1, vndevs = -1, vdev0 = -1, maxMultiRequestSize = -1;
  size_t maxP2pBytes = 0, maxCollBytes = 0;
  int railId = -2, planeId = -2;
};

// A printf logger, as NCCL passes one; counts WARN lines so tests can assert
// that an error came with a message.
inline int g_warnings = 0;
inline std::string g_last_warning;
inline void test_logger(ncclDebugLogLevel level, unsigned long, const char* file, int line, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (level == NCCL_LOG_WARN) {
    ++g_warnings;
    g_last_warning = buf;
    std::fprintf(stderr, "[plugin WARN %s:%d] %s\n", file, line, buf);
  }
}

class NetApi {
 public:
  // dlopen()s `path` like NCCL (RTLD_NOW | RTLD_LOCAL) and finds version `v`.
  NetApi(const char* path, int v) : v_(v) {
    lib_ = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib_ == nullptr) return;
    sym_ = dlsym(lib_, ("ncclNetPlugin_v" + std::to_string(v)).c_str());
  }
  ~NetApi() { unload(); }
  NetApi(const NetApi&) = delete;
  NetApi& operator=(const NetApi&) = delete;

  void unload() {
    if (lib_ != nullptr) dlclose(lib_);
    lib_ = nullptr;
    sym_ = nullptr;
  }
  bool loaded() const { return sym_ != nullptr; }
  int version() const { return v_; }
  const char* name() const { return *static_cast<const char* const*>(sym_); }  // every struct starts with it

  ncclResult_t init() {
    switch (v_) {
      case 6: return t<ncclNet_v6_t>()->init(test_logger);
      case 7: return t<ncclNet_v7_t>()->init(test_logger);
      case 8: return t<ncclNet_v8_t>()->init(test_logger);
      case 9: return t<ncclNet_v9_t>()->init(test_logger);
      case 10: return t<ncclNet_v10_t>()->init(test_logger, nullptr);
      case 11: {
        ncclNetCommConfig_t cfg{-1};
        return t<ncclNet_v11_t>()->init(&ctx_, 0x1234, &cfg, test_logger, nullptr);
      }
      default: {
        ncclNetCommConfig_t cfg{-1};
        return t<ncclNet_v12_t>()->init(&ctx_, 0x1234, &cfg, test_logger, nullptr);
      }
    }
  }
  bool has_finalize() const { return v_ >= 11; }
  ncclResult_t finalize() {
    if (v_ == 11) return t<ncclNet_v11_t>()->finalize(ctx_);
    if (v_ == 12) return t<ncclNet_v12_t>()->finalize(ctx_);
    return ncclSuccess;
  }
  void* ctx() const { return ctx_; }

  ncclResult_t devices(int* n) { return call([&](auto* s) { return s->devices(n); }); }

  // Fills `out` only on success: NCCL does not zero the struct, so on an
  // error its fields are whatever was there (0xEE here, to catch readers).
  ncclResult_t properties(int dev, Props* out) {
    switch (v_) {
      case 6: return props<ncclNetProperties_v6_t>(t<ncclNet_v6_t>(), dev, out, [](auto& p, Props* o) { common(p, o); });
      case 7: return props<ncclNetProperties_v7_t>(t<ncclNet_v7_t>(), dev, out, [](auto& p, Props* o) {
        common(p, o);
        dtype(p, o);
      });
      case 8: return props<ncclNetProperties_v8_t>(t<ncclNet_v8_t>(), dev, out, [](auto& p, Props* o) {
        common(p, o);
        dtype(p, o);
        o->regIsGlobal = p.regIsGlobal;
      });
      case 9: return props<ncclNetProperties_v9_t>(t<ncclNet_v9_t>(), dev, out, [](auto& p, Props* o) { v9(p, o); });
      case 10: return props<ncclNetProperties_v10_t>(t<ncclNet_v10_t>(), dev, out, [](auto& p, Props* o) { v9(p, o); });
      case 11: return props<ncclNetProperties_v11_t>(t<ncclNet_v11_t>(), dev, out, [](auto& p, Props* o) {
        v9(p, o);
        o->maxMultiRequestSize = p.maxMultiRequestSize;
      });
      default: return props<ncclNetProperties_v12_t>(t<ncclNet_v12_t>(), dev, out, [](auto& p, Props* o) {
        v9(p, o);
        o->maxMultiRequestSize = p.maxMultiRequestSize;
        o->railId = p.railId;
        o->planeId = p.planeId;
      });
    }
  }

  ncclResult_t listen(int dev, void* handle, void** comm) {
    if (v_ == 11) return t<ncclNet_v11_t>()->listen(ctx_, dev, handle, comm);
    if (v_ == 12) return t<ncclNet_v12_t>()->listen(ctx_, dev, handle, comm);
    switch (v_) {
      case 6: return t<ncclNet_v6_t>()->listen(dev, handle, comm);
      case 7: return t<ncclNet_v7_t>()->listen(dev, handle, comm);
      case 8: return t<ncclNet_v8_t>()->listen(dev, handle, comm);
      case 9: return t<ncclNet_v9_t>()->listen(dev, handle, comm);
      default: return t<ncclNet_v10_t>()->listen(dev, handle, comm);
    }
  }
  ncclResult_t connect(int dev, void* handle, void** comm) {
    switch (v_) {
      case 6: return t<ncclNet_v6_t>()->connect(dev, handle, comm);
      case 7: return t<ncclNet_v7_t>()->connect(dev, handle, comm, nullptr);  // NULL: as in ncclGpuGdrSupport
      case 8: { ncclNetDeviceHandle_t* dh = nullptr; return t<ncclNet_v8_t>()->connect(dev, handle, comm, &dh); }
      case 9: { ncclNetDeviceHandle_t* dh = nullptr; return t<ncclNet_v9_t>()->connect(dev, handle, comm, &dh); }
      case 10: return t<ncclNet_v10_t>()->connect(dev, nullptr, handle, comm, nullptr);
      case 11: return t<ncclNet_v11_t>()->connect(ctx_, dev, handle, comm, nullptr);
      default: { ncclNetDeviceHandle_t* dh = nullptr; return t<ncclNet_v12_t>()->connect(ctx_, dev, handle, comm, &dh); }
    }
  }
  ncclResult_t accept(void* listen, void** comm) {
    if (v_ == 6) return t<ncclNet_v6_t>()->accept(listen, comm);
    ncclNetDeviceHandle_t* dh = nullptr;
    return call7([&](auto* s) { return s->accept(listen, comm, &dh); });
  }
  ncclResult_t reg_mr(void* comm, void* data, size_t size, int type, void** mh) {
    if (v_ == 6) return t<ncclNet_v6_t>()->regMr(comm, data, static_cast<int>(size), type, mh);
    if (v_ == 7) return t<ncclNet_v7_t>()->regMr(comm, data, static_cast<int>(size), type, mh);
    return call8([&](auto* s) { return s->regMr(comm, data, size, type, mh); });
  }
  ncclResult_t reg_mr_dmabuf(void* comm, void* data, size_t size, int type, int fd, void** mh) {
    return call([&](auto* s) { return s->regMrDmaBuf(comm, data, size, type, 0, fd, mh); });
  }
  ncclResult_t dereg_mr(void* comm, void* mh) { return call([&](auto* s) { return s->deregMr(comm, mh); }); }

  ncclResult_t isend(void* comm, void* data, size_t size, int tag, void* mh, void** req) {
    switch (v_) {
      case 6: return t<ncclNet_v6_t>()->isend(comm, data, static_cast<int>(size), tag, mh, req);
      case 7: return t<ncclNet_v7_t>()->isend(comm, data, static_cast<int>(size), tag, mh, req);
      case 8: return t<ncclNet_v8_t>()->isend(comm, data, static_cast<int>(size), tag, mh, req);
      case 9: return t<ncclNet_v9_t>()->isend(comm, data, size, tag, mh, req);
      case 10: return t<ncclNet_v10_t>()->isend(comm, data, size, tag, mh, nullptr, req);
      case 11: return t<ncclNet_v11_t>()->isend(comm, data, size, tag, mh, nullptr, req);
      default: return t<ncclNet_v12_t>()->isend(comm, data, size, tag, mh, nullptr, req);
    }
  }
  ncclResult_t irecv(void* comm, int n, void** data, size_t* sizes, int* tags, void** mhs, void** req) {
    int isz[64];
    for (int i = 0; i < n && i < 64; ++i) isz[i] = static_cast<int>(sizes[i]);
    switch (v_) {
      case 6: return t<ncclNet_v6_t>()->irecv(comm, n, data, isz, tags, mhs, req);
      case 7: return t<ncclNet_v7_t>()->irecv(comm, n, data, isz, tags, mhs, req);
      case 8: return t<ncclNet_v8_t>()->irecv(comm, n, data, isz, tags, mhs, req);
      case 9: return t<ncclNet_v9_t>()->irecv(comm, n, data, sizes, tags, mhs, req);
      case 10: return t<ncclNet_v10_t>()->irecv(comm, n, data, sizes, tags, mhs, nullptr, req);
      case 11: return t<ncclNet_v11_t>()->irecv(comm, n, data, sizes, tags, mhs, nullptr, req);
      default: return t<ncclNet_v12_t>()->irecv(comm, n, data, sizes, tags, mhs, nullptr, req);
    }
  }
  ncclResult_t iflush(void* comm, int n, void** data, int* sizes, void** mhs, void** req) {
    return call([&](auto* s) { return s->iflush(comm, n, data, sizes, mhs, req); });
  }
  ncclResult_t test(void* req, int* done, int* sizes) { return call([&](auto* s) { return s->test(req, done, sizes); }); }
  ncclResult_t close_send(void* c) { return call([&](auto* s) { return s->closeSend(c); }); }
  ncclResult_t close_recv(void* c) { return call([&](auto* s) { return s->closeRecv(c); }); }
  ncclResult_t close_listen(void* c) { return call([&](auto* s) { return s->closeListen(c); }); }
  bool has_irecv_consumed() {
    if (v_ == 6) return false;
    return call7([&](auto* s) { return s->irecvConsumed != nullptr; });
  }
  ncclResult_t make_vdevice(int* d, int ndevs, const int* devs) {
    switch (v_) {
      case 9: return vdev<ncclNetVDeviceProps_v9_t>(t<ncclNet_v9_t>(), d, ndevs, devs);
      case 10: return vdev<ncclNetVDeviceProps_v10_t>(t<ncclNet_v10_t>(), d, ndevs, devs);
      case 11: return vdev<ncclNetVDeviceProps_v11_t>(t<ncclNet_v11_t>(), d, ndevs, devs);
      case 12: return vdev<ncclNetVDeviceProps_v12_t>(t<ncclNet_v12_t>(), d, ndevs, devs);
      default: return ncclInvalidUsage;  // no makeVDevice before v9
    }
  }

 private:
  template <typename P, typename S, typename F>
  static ncclResult_t props(S* s, int dev, Props* out, F normalise) {
    P p;
    std::memset(&p, 0xEE, sizeof p);
    const ncclResult_t r = s->getProperties(dev, &p);
    if (r == ncclSuccess) normalise(p, out);
    return r;
  }
  template <typename VP, typename S>
  static ncclResult_t vdev(S* s, int* d, int ndevs, const int* devs) {
    VP vp{};
    vp.ndevs = ndevs;
    constexpr int kWidth = static_cast<int>(sizeof vp.devs / sizeof vp.devs[0]);
    for (int i = 0; i < ndevs && i < kWidth; ++i) vp.devs[i] = devs[i];
    return s->makeVDevice(d, &vp);
  }

  template <typename T>
  T* t() const { return static_cast<T*>(sym_); }
  template <typename F>
  auto call(F f) -> decltype(f(static_cast<ncclNet_v12_t*>(nullptr))) {
    switch (v_) {
      case 6: return f(t<ncclNet_v6_t>());
      case 7: return f(t<ncclNet_v7_t>());
      default: return call8(f);
    }
  }
  template <typename F>
  auto call7(F f) -> decltype(f(static_cast<ncclNet_v12_t*>(nullptr))) {
    if (v_ == 7) return f(t<ncclNet_v7_t>());
    return call8(f);
  }
  template <typename F>
  auto call8(F f) -> decltype(f(static_cast<ncclNet_v12_t*>(nullptr))) {
    switch (v_) {
      case 8: return f(t<ncclNet_v8_t>());
      case 9: return f(t<ncclNet_v9_t>());
      case 10: return f(t<ncclNet_v10_t>());
      case 11: return f(t<ncclNet_v11_t>());
      default: return f(t<ncclNet_v12_t>());
    }
  }
  template <typename P>
  static void common(const P& p, Props* o) {
    o->name = p.name ? p.name : "";
    o->has_pci = p.pciPath != nullptr;
    o->guid = p.guid;
    o->ptrSupport = p.ptrSupport;
    o->speed = p.speed;
    o->maxComms = p.maxComms;
    o->maxRecvs = p.maxRecvs;
  }
  template <typename P>
  static void dtype(const P& p, Props* o) {
    o->netDeviceType = p.netDeviceType;
    o->netDeviceVersion = p.netDeviceVersion;
  }
  template <typename P>
  static void v9(const P& p, Props* o) {
    common(p, o);
    dtype(p, o);
    o->regIsGlobal = p.regIsGlobal;
    o->forceFlush = p.forceFlush;
    o->vndevs = p.vProps.ndevs;
    o->vdev0 = p.vProps.devs[0];
    o->maxP2pBytes = p.maxP2pBytes;
    o->maxCollBytes = p.maxCollBytes;
  }

  int v_;
  void* lib_ = nullptr;
  void* sym_ = nullptr;
  void* ctx_ = nullptr;
};

}  // namespace weft::nccl::test
