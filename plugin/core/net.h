// plugin/core/net.h — the one implementation behind every ncclNetPlugin_vN.
//
// Signatures use the widest types any version uses (size_t sizes) so each
// adapter (plugin/vN.cc) only converts and forwards. Semantics follow the
// reference (../shared/reference/nccl-net-plugin.md §2.4): nothing blocks;
// connect/accept return success with a NULL comm until ready; isend/irecv
// return success with a NULL request when they cannot post now; test polls.
#pragma once

#include <cstddef>
#include <cstdint>

#include "plugin/abi/nccl_net_common.h"

namespace weft::nccl {

using abi::ncclResult_t;

// What getProperties reports, before each version picks its fields.
struct DeviceProps {
  const char* name;
  const char* pci_path;  // nullptr: not a PCI device
  uint64_t guid;
  int ptr_support;
  int reg_is_global;
  int force_flush;
  int speed_mbps;
  int port;
  float latency_us;
  int max_comms;
  int max_recvs;
  int dev;  // for vProps = {1, {dev}}
  size_t max_p2p_bytes;
  size_t max_coll_bytes;
  int max_multi_request_size;
  int16_t rail_id, plane_id;
};

// Ref-counted: every init needs one finalize (v6–v10 have none; the library
// destructor releases what is left).
ncclResult_t net_init(abi::ncclDebugLogger_t logger);
ncclResult_t net_finalize();

ncclResult_t net_devices(int* ndev);
ncclResult_t net_get_properties(int dev, DeviceProps* props);
ncclResult_t net_listen(int dev, void* handle, void** listen_comm);
ncclResult_t net_connect(int dev, void* handle, void** send_comm);
ncclResult_t net_accept(void* listen_comm, void** recv_comm);
ncclResult_t net_reg_mr(void* comm, void* data, size_t size, int type, void** mhandle);
ncclResult_t net_reg_mr_dmabuf(void* comm, void* data, size_t size, int type, uint64_t offset, int fd, void** mhandle);
ncclResult_t net_dereg_mr(void* comm, void* mhandle);
ncclResult_t net_isend(void* send_comm, void* data, size_t size, int tag, void* mhandle, void** request);
ncclResult_t net_irecv(void* recv_comm, int n, void** data, const size_t* sizes, const int* tags, void** mhandles,
                       void** request);
ncclResult_t net_iflush(void* recv_comm, int n, void** data, int* sizes, void** mhandles, void** request);
ncclResult_t net_test(void* request, int* done, int* sizes);
ncclResult_t net_close_send(void* send_comm);
ncclResult_t net_close_recv(void* recv_comm);
ncclResult_t net_close_listen(void* listen_comm);
ncclResult_t net_get_device_mr(void* comm, void* mhandle, void** dptr_mhandle);
ncclResult_t net_make_vdevice(int* d, int ndevs, const int* devs);

// v11+: per-communicator context from init, released by finalize.
ncclResult_t net_ctx_create(uint64_t comm_id, int traffic_class, void** ctx);
ncclResult_t net_ctx_destroy(void* ctx);
ncclResult_t net_set_attr(void* ctx, const abi::ncclNetAttr_t* attr);

}  // namespace weft::nccl
