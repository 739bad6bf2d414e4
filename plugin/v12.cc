// ncclNetPlugin_v12 (NCCL 2.30): v11's functions; vProps holds 8 devices and
// the properties carry railId/planeId (unknown on a host: NCCL_NET_ID_UNDEF).
#include "plugin/abi/net_v12.h"
#include "plugin/adapt.h"

namespace weft::nccl {
namespace {
using namespace abi;

ncclResult_t init_v12(void** ctx, uint64_t comm_id, ncclNetCommConfig_v12_t* config, ncclDebugLogger_t logger,
                      ncclProfilerCallback_t) {
  return init_with_ctx(ctx, comm_id, config, logger);
}
ncclResult_t get_properties_v12(int dev, ncclNetProperties_v12_t* props) {
  return get_properties(dev, props, [](const DeviceProps& d, ncclNetProperties_v12_t* p) {
    fill_common(d, p);
    fill_device_type(d, p);
    fill_v9_fields(d, p);
    p->maxMultiRequestSize = d.max_multi_request_size;
    p->railId = d.rail_id;
    p->planeId = d.plane_id;
  });
}
// The ctx carries no device state (state.h): listen/connect ignore it.
ncclResult_t listen_v12(void*, int dev, void* handle, void** listen_comm) { return net_listen(dev, handle, listen_comm); }
ncclResult_t connect_v12(void*, int dev, void* handle, void** send_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_connect(dev, handle, send_comm);
}
ncclResult_t accept_v12(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_accept(listen_comm, recv_comm);
}
ncclResult_t isend_v12(void* comm, void* data, size_t size, int tag, void* mhandle, void*, void** request) {
  return net_isend(comm, data, size, tag, mhandle, request);
}
ncclResult_t irecv_v12(void* comm, int n, void** data, size_t* sizes, int* tags, void** mhandles, void**,
                       void** request) {
  return net_irecv(comm, n, data, sizes, tags, mhandles, request);
}
ncclResult_t make_vdevice_v12(int* d, ncclNetVDeviceProps_v12_t* props) { return make_vdevice(d, props); }
ncclResult_t finalize_v12(void* ctx) { return net_ctx_destroy(ctx); }
ncclResult_t set_net_attr_v12(void* ctx, ncclNetAttr_v12_t* attr) { return net_set_attr(ctx, attr); }

}  // namespace
}  // namespace weft::nccl

using namespace weft::nccl;

WEFT_NCCL_EXPORT const abi::ncclNet_v12_t ncclNetPlugin_v12 = {
    "weft",          init_v12,          net_devices,    get_properties_v12, listen_v12,     connect_v12,
    accept_v12,      net_reg_mr,        net_reg_mr_dmabuf, net_dereg_mr,    isend_v12,      irecv_v12,
    net_iflush,      net_test,          net_close_send, net_close_recv,     net_close_listen, net_get_device_mr,
    nullptr,  // irecvConsumed: see v7.cc
    make_vdevice_v12, finalize_v12,     set_net_attr_v12,
};
