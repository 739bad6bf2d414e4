// ncclNetPlugin_v11 (NCCL 2.28–2.29): init once per communicator returning a
// ctx (released by finalize), listen/connect take the ctx, the comm config
// moves to init, maxMultiRequestSize, setNetAttr.
#include "plugin/abi/net_v11.h"
#include "plugin/adapt.h"

namespace weft::nccl {
namespace {
using namespace abi;

ncclResult_t init_v11(void** ctx, uint64_t comm_id, ncclNetCommConfig_v11_t* config, ncclDebugLogger_t logger,
                      ncclProfilerCallback_t) {
  return init_with_ctx(ctx, comm_id, config, logger);
}
ncclResult_t get_properties_v11(int dev, ncclNetProperties_v11_t* props) {
  return get_properties(dev, props, [](const DeviceProps& d, ncclNetProperties_v11_t* p) {
    fill_common(d, p);
    fill_device_type(d, p);
    fill_v9_fields(d, p);
    p->maxMultiRequestSize = d.max_multi_request_size;
  });
}
// The ctx carries no device state (state.h): listen/connect ignore it.
ncclResult_t listen_v11(void*, int dev, void* handle, void** listen_comm) { return net_listen(dev, handle, listen_comm); }
ncclResult_t connect_v11(void*, int dev, void* handle, void** send_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_connect(dev, handle, send_comm);
}
ncclResult_t accept_v11(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_accept(listen_comm, recv_comm);
}
ncclResult_t isend_v11(void* comm, void* data, size_t size, int tag, void* mhandle, void*, void** request) {
  return net_isend(comm, data, size, tag, mhandle, request);
}
ncclResult_t irecv_v11(void* comm, int n, void** data, size_t* sizes, int* tags, void** mhandles, void**,
                       void** request) {
  return net_irecv(comm, n, data, sizes, tags, mhandles, request);
}
ncclResult_t make_vdevice_v11(int* d, ncclNetVDeviceProps_v11_t* props) { return make_vdevice(d, props); }
ncclResult_t finalize_v11(void* ctx) { return net_ctx_destroy(ctx); }
ncclResult_t set_net_attr_v11(void* ctx, ncclNetAttr_v11_t* attr) { return net_set_attr(ctx, attr); }

}  // namespace
}  // namespace weft::nccl

using namespace weft::nccl;

WEFT_NCCL_EXPORT const abi::ncclNet_v11_t ncclNetPlugin_v11 = {
    "weft",          init_v11,          net_devices,    get_properties_v11, listen_v11,     connect_v11,
    accept_v11,      net_reg_mr,        net_reg_mr_dmabuf, net_dereg_mr,    isend_v11,      irecv_v11,
    net_iflush,      net_test,          net_close_send, net_close_recv,     net_close_listen, net_get_device_mr,
    nullptr,  // irecvConsumed: see v7.cc
    make_vdevice_v11, finalize_v11,     set_net_attr_v11,
};
