// ncclNetPlugin_v9 (NCCL 2.24–2.25): size_t sizes in isend/irecv, forceFlush,
// vProps and size limits in the properties, makeVDevice.
#include "plugin/abi/net_v9.h"
#include "plugin/adapt.h"

namespace weft::nccl {
namespace {
using namespace abi;

ncclResult_t get_properties_v9(int dev, ncclNetProperties_v9_t* props) {
  return get_properties(dev, props, [](const DeviceProps& d, ncclNetProperties_v9_t* p) {
    fill_common(d, p);
    fill_device_type(d, p);
    fill_v9_fields(d, p);
  });
}
ncclResult_t connect_v9(int dev, void* handle, void** send_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_connect(dev, handle, send_comm);
}
ncclResult_t accept_v9(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_t** dev_comm) {
  if (dev_comm != nullptr) *dev_comm = nullptr;
  return net_accept(listen_comm, recv_comm);
}
ncclResult_t irecv_v9(void* comm, int n, void** data, size_t* sizes, int* tags, void** mhandles, void** request) {
  return net_irecv(comm, n, data, sizes, tags, mhandles, request);
}
ncclResult_t make_vdevice_v9(int* d, ncclNetVDeviceProps_v9_t* props) { return make_vdevice(d, props); }

}  // namespace
}  // namespace weft::nccl

using namespace weft::nccl;

WEFT_NCCL_EXPORT const abi::ncclNet_v9_t ncclNetPlugin_v9 = {
    "weft",         net_init,          net_devices,    get_properties_v9, net_listen,     connect_v9,
    accept_v9,      net_reg_mr,        net_reg_mr_dmabuf, net_dereg_mr,   net_isend,      irecv_v9,
    net_iflush,     net_test,          net_close_send, net_close_recv,    net_close_listen, net_get_device_mr,
    nullptr,  // irecvConsumed: see v7.cc
    make_vdevice_v9,
};
