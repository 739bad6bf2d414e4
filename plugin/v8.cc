// ncclNetPlugin_v8 (NCCL 2.20–2.23): regMr takes size_t; regIsGlobal appears
// in the properties (inserted after ptrSupport).
#include "plugin/abi/net_v8.h"
#include "plugin/adapt.h"

namespace weft::nccl {
namespace {
using namespace abi;

ncclResult_t get_properties_v8(int dev, ncclNetProperties_v8_t* props) {
  return get_properties(dev, props, [](const DeviceProps& d, ncclNetProperties_v8_t* p) {
    fill_common(d, p);
    fill_device_type(d, p);
    p->regIsGlobal = d.reg_is_global;
  });
}
ncclResult_t connect_v8(int dev, void* handle, void** send_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_connect(dev, handle, send_comm);
}
ncclResult_t accept_v8(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_accept(listen_comm, recv_comm);
}
ncclResult_t isend_v8(void* comm, void* data, int size, int tag, void* mhandle, void** request) {
  size_t n = 0;
  if (ncclResult_t r = size_from_int(size, &n, "isend"); r != ncclSuccess) return r;
  return net_isend(comm, data, n, tag, mhandle, request);
}
ncclResult_t irecv_v8(void* comm, int n, void** data, int* sizes, int* tags, void** mhandles, void** request) {
  return irecv_int_sizes(comm, n, data, sizes, tags, mhandles, request);
}

}  // namespace
}  // namespace weft::nccl

using namespace weft::nccl;

WEFT_NCCL_EXPORT const abi::ncclNet_v8_t ncclNetPlugin_v8 = {
    "weft",         net_init,          net_devices,    get_properties_v8, net_listen,     connect_v8,
    accept_v8,      net_reg_mr,        net_reg_mr_dmabuf, net_dereg_mr,   isend_v8,       irecv_v8,
    net_iflush,     net_test,          net_close_send, net_close_recv,    net_close_listen, net_get_device_mr,
    nullptr,  // irecvConsumed: see v7.cc
};
