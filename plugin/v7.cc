// ncclNetPlugin_v7 (NCCL 2.19): v6 plus device handles (ignored by a host
// plugin; NCCL may pass a NULL pointer for them), getDeviceMr, irecvConsumed.
#include "plugin/abi/net_v7.h"
#include "plugin/adapt.h"

namespace weft::nccl {
namespace {
using namespace abi;

ncclResult_t get_properties_v7(int dev, ncclNetProperties_v7_t* props) {
  return get_properties(dev, props, [](const DeviceProps& d, ncclNetProperties_v7_t* p) {
    fill_common(d, p);
    fill_device_type(d, p);
  });
}
ncclResult_t connect_v7(int dev, void* handle, void** send_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_connect(dev, handle, send_comm);
}
ncclResult_t accept_v7(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_accept(listen_comm, recv_comm);
}
ncclResult_t reg_mr_v7(void* comm, void* data, int size, int type, void** mhandle) {
  size_t n = 0;
  if (ncclResult_t r = size_from_int(size, &n, "regMr"); r != ncclSuccess) return r;
  return net_reg_mr(comm, data, n, type, mhandle);
}
ncclResult_t isend_v7(void* comm, void* data, int size, int tag, void* mhandle, void** request) {
  size_t n = 0;
  if (ncclResult_t r = size_from_int(size, &n, "isend"); r != ncclSuccess) return r;
  return net_isend(comm, data, n, tag, mhandle, request);
}
ncclResult_t irecv_v7(void* comm, int n, void** data, int* sizes, int* tags, void** mhandles, void** request) {
  return irecv_int_sizes(comm, n, data, sizes, tags, mhandles, request);
}

}  // namespace
}  // namespace weft::nccl

using namespace weft::nccl;

// irecvConsumed stays NULL: when it is set NCCL hands every completed receive
// back later, and a host plugin has nothing to release then (reference §2.4).
WEFT_NCCL_EXPORT const abi::ncclNet_v7_t ncclNetPlugin_v7 = {
    "weft",         net_init,          net_devices,    get_properties_v7, net_listen,     connect_v7,
    accept_v7,      reg_mr_v7,         net_reg_mr_dmabuf, net_dereg_mr,   isend_v7,       irecv_v7,
    net_iflush,     net_test,          net_close_send, net_close_recv,    net_close_listen, net_get_device_mr,
    nullptr,
};
