// plugin/abi/nccl_net_common.h — the types every NCCL net ABI version shares.
//
// Written from ../shared/reference/nccl-net-plugin.md §2.1 (not copied from
// NCCL's headers). Only the plugin's adapters and tests include this; the
// core (plugin/core/) sees these enums and the logger, nothing versioned.
// Names follow NCCL's so a reader can hold this next to NCCL's docs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::nccl::abi {

// int-sized enum: NCCL passes and returns it by value across the C ABI.
enum ncclResult_t : int {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,    // OS or network failure
  ncclInternalError = 3,  // NCCL misused the plugin, or a plugin bug
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,   // likely user error, e.g. a message larger than its receive
  ncclRemoteError = 6,    // the peer exited or the network failed
  ncclInProgress = 7,     // never returned by a plugin
};

enum ncclDebugLogLevel : int {
  NCCL_LOG_NONE = 0,
  NCCL_LOG_VERSION = 1,
  NCCL_LOG_WARN = 2,
  NCCL_LOG_INFO = 3,
  NCCL_LOG_ABORT = 4,
  NCCL_LOG_TRACE = 5,
};

// Subsystem flags for the logger (NCCL filters with NCCL_DEBUG_SUBSYS).
inline constexpr unsigned long NCCL_INIT = 1;
inline constexpr unsigned long NCCL_NET = 16;
inline constexpr unsigned long NCCL_ALL = ~0ul;

extern "C" {
typedef void (*ncclDebugLogger_t)(ncclDebugLogLevel level, unsigned long flags, const char* file, int line,
                                  const char* fmt, ...);
typedef ncclResult_t (*ncclProfilerCallback_t)(void** eHandle, int type, void* pHandle, int64_t pluginId,
                                               void* extData);
}

inline constexpr int NCCL_NET_HANDLE_MAXSIZE = 128;
inline constexpr int NCCL_PTR_HOST = 0x1;
inline constexpr int NCCL_PTR_CUDA = 0x2;
inline constexpr int NCCL_PTR_DMABUF = 0x4;
inline constexpr int NCCL_NET_MAX_REQUESTS = 32;  // in flight per comm since NCCL 2.19 (8 before)
inline constexpr int16_t NCCL_NET_ID_UNDEF = -1;
inline constexpr size_t NCCL_MAX_NET_SIZE_BYTES = size_t{1} << 40;  // upper bound for maxP2pBytes

enum ncclNetDeviceType : int { NCCL_NET_DEVICE_HOST = 0, NCCL_NET_DEVICE_UNPACK = 1 };
inline constexpr int NCCL_NET_DEVICE_INVALID_VERSION = 0;

// v7+: only device-offload ("unpack") plugins write one; host plugins never do.
struct ncclNetDeviceHandle_t {
  ncclNetDeviceType netDeviceType;
  int netDeviceVersion;
  void* handle;
  size_t size;
  int needsProxyProgress;
};
static_assert(sizeof(ncclNetDeviceHandle_t) == 32);

// v9–v11 carry 4 fused devices, v12 carries 8.
template <int N>
struct ncclNetVDeviceProps {
  int ndevs;
  int devs[N];
};
static_assert(sizeof(ncclNetVDeviceProps<4>) == 20 && sizeof(ncclNetVDeviceProps<8>) == 36);

// v10+: per-connection QoS hint; v11 moves it to init.
struct ncclNetCommConfig_t {
  int trafficClass;  // -1: undefined
};

// v11/v12 setNetAttr argument (identical layouts).
struct ncclNetCommAttr_t {
  int32_t maxConcurrentPeers, minConcurrentPeers, maxFlowsPerPeer, minFlowsPerPeer;
};
struct ncclNetAttr_t {
  ncclNetCommAttr_t sendCommAttr, recvCommAttr;
  uint32_t op, algo, proto;
};
static_assert(sizeof(ncclNetAttr_t) == 44);

}  // namespace weft::nccl::abi
