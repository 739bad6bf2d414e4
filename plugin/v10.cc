// ncclNetPlugin_v10 (NCCL 2.26–2.27): init takes a profiler callback (weft
// emits no profiler events yet), connect a comm config (may be NULL), and
// isend/irecv profiler handles (ignored).
#include "plugin/abi/net_v10.h"
#include "plugin/adapt.h"

namespace weft::nccl {
namespace {
using namespace abi;

ncclResult_t init_v10(ncclDebugLogger_t logger, ncclProfilerCallback_t) { return net_init(logger); }
ncclResult_t get_properties_v10(int dev, ncclNetProperties_v10_t* props) {
  return get_properties(dev, props, [](const DeviceProps& d, ncclNetProperties_v10_t* p) {
    fill_common(d, p);
    fill_device_type(d, p);
    fill_v9_fields(d, p);
  });
}
ncclResult_t connect_v10(int dev, ncclNetCommConfig_v10_t*, void* handle, void** send_comm,
                         ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_connect(dev, handle, send_comm);
}
ncclResult_t accept_v10(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_accept(listen_comm, recv_comm);
}
ncclResult_t isend_v10(void* comm, void* data, size_t size, int tag, void* mhandle, void*, void** request) {
  return net_isend(comm, data, size, tag, mhandle, request);
}
ncclResult_t irecv_v10(void* comm, int n, void** data, size_t* sizes, int* tags, void** mhandles, void**,
                       void** request) {
  return net_irecv(comm, n, data, sizes, tags, mhandles, request);
}
ncclResult_t make_vdevice_v10(int* d, ncclNetVDeviceProps_v10_t* props) { return make_vdevice(d, props); }

}  // namespace
}  // namespace weft::nccl

using namespace weft::nccl;

WEFT_NCCL_EXPORT const abi::ncclNet_v10_t ncclNetPlugin_v10 = {
    "weft",         init_v10,          net_devices,    get_properties_v10, net_listen,    connect_v10,
    accept_v10,     net_reg_mr,        net_reg_mr_dmabuf, net_dereg_mr,    isend_v10,     irecv_v10,
    net_iflush,     net_test,          net_close_send, net_close_recv,     net_close_listen, net_get_device_mr,
    nullptr,  // irecvConsumed: see v7.cc
    make_vdevice_v10,
};
