// plugin/adapt.h — helpers shared by the per-version adapters (vN.cc).
//
// Each adapter converts its version's argument types to the core's (net.h)
// and fills its version's properties struct; nothing else. The struct
// layouts differ between versions (fields are inserted, not appended), so
// every version has its own fill function; these helpers cover the pieces
// that are the same.
#pragma once

#include <cstddef>

#include "plugin/core/net.h"
#include "plugin/core/report.h"
#include "plugin/core/request.h"

// The exported symbols: C linkage, default visibility (the build hides
// everything else and a version script lists exactly these).
#define WEFT_NCCL_EXPORT extern "C" __attribute__((visibility("default")))

namespace weft::nccl {

// Versions before v9 pass int sizes.
inline ncclResult_t size_from_int(int size, size_t* out, const char* what) {
  if (size < 0) return WEFT_NCCL_FAIL(abi::ncclInvalidArgument, std::string(what) + ": negative size " + std::to_string(size));
  *out = static_cast<size_t>(size);
  return abi::ncclSuccess;
}

// irecv of v6–v8: int sizes widened into a stack array (n <= kMaxRecvs).
inline ncclResult_t irecv_int_sizes(void* comm, int n, void** data, const int* sizes, int* tags, void** mhandles,
                                    void** request) {
  if (request != nullptr) *request = nullptr;
  if (n < 1 || n > kMaxRecvs || sizes == nullptr)
    return net_irecv(comm, n, data, nullptr, tags, mhandles, request);  // the core reports what is wrong
  size_t wide[kMaxRecvs];
  for (int i = 0; i < n; ++i)
    if (ncclResult_t r = size_from_int(sizes[i], &wide[i], "irecv"); r != abi::ncclSuccess) return r;
  return net_irecv(comm, n, data, wide, tags, mhandles, request);
}

// The fields every version has, in the core's words.
template <typename Props>
void fill_common(const DeviceProps& d, Props* p) {
  p->name = const_cast<char*>(d.name);
  p->pciPath = const_cast<char*>(d.pci_path);
  p->guid = d.guid;
  p->ptrSupport = d.ptr_support;
  p->speed = d.speed_mbps;
  p->port = d.port;
  p->latency = d.latency_us;
  p->maxComms = d.max_comms;
  p->maxRecvs = d.max_recvs;
}

// Fields of v7+ (device offload type) and v9+ (vProps, size limits).
template <typename Props>
void fill_device_type(const DeviceProps& d, Props* p) {
  p->netDeviceType = abi::NCCL_NET_DEVICE_HOST;
  p->netDeviceVersion = abi::NCCL_NET_DEVICE_INVALID_VERSION;
}
template <typename Props>
void fill_v9_fields(const DeviceProps& d, Props* p) {
  p->regIsGlobal = d.reg_is_global;
  p->forceFlush = d.force_flush;
  p->vProps.ndevs = 1;
  for (int& x : p->vProps.devs) x = 0;
  p->vProps.devs[0] = d.dev;
  p->maxP2pBytes = d.max_p2p_bytes;
  p->maxCollBytes = d.max_coll_bytes;
}

template <typename Props, typename Fill>
ncclResult_t get_properties(int dev, Props* props, Fill fill) {
  if (props == nullptr) return WEFT_NCCL_FAIL(abi::ncclInvalidArgument, "getProperties: props is NULL");
  DeviceProps d{};
  if (ncclResult_t r = net_get_properties(dev, &d); r != abi::ncclSuccess) return r;
  fill(d, props);
  return abi::ncclSuccess;
}

// makeVDevice of v9+: the core takes the device list, whatever its width.
template <typename VProps>
ncclResult_t make_vdevice(int* d, VProps* props) {
  if (props == nullptr) return WEFT_NCCL_FAIL(abi::ncclInvalidArgument, "makeVDevice: props is NULL");
  constexpr int kWidth = static_cast<int>(sizeof(props->devs) / sizeof(props->devs[0]));
  if (props->ndevs < 1 || props->ndevs > kWidth)
    return WEFT_NCCL_FAIL(abi::ncclInvalidArgument, "makeVDevice: ndevs = " + std::to_string(props->ndevs) +
                                                        " outside [1, " + std::to_string(kWidth) + "]");
  return net_make_vdevice(d, props->ndevs, props->devs);
}

// v11+ init: the first one initialises the core, each returns its own ctx.
inline ncclResult_t init_with_ctx(void** ctx, uint64_t comm_id, const abi::ncclNetCommConfig_t* config,
                                  abi::ncclDebugLogger_t logger) {
  if (ctx == nullptr) return WEFT_NCCL_FAIL(abi::ncclInvalidArgument, "init: ctx is NULL");
  *ctx = nullptr;
  if (ncclResult_t r = net_init(logger); r != abi::ncclSuccess) return r;
  ncclResult_t r = net_ctx_create(comm_id, config != nullptr ? config->trafficClass : -1, ctx);
  if (r != abi::ncclSuccess) (void)net_finalize();
  return r;
}

}  // namespace weft::nccl
