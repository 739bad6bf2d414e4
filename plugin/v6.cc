// ncclNetPlugin_v6 (NCCL 2.18): int sizes everywhere, no device handles.
#include "plugin/abi/net_v6.h"
#include "plugin/adapt.h"

namespace weft::nccl {
namespace {
using namespace abi;

ncclResult_t get_properties_v6(int dev, ncclNetProperties_v6_t* props) {
  return get_properties(dev, props, [](const DeviceProps& d, ncclNetProperties_v6_t* p) { fill_common(d, p); });
}
ncclResult_t reg_mr_v6(void* comm, void* data, int size, int type, void** mhandle) {
  size_t n = 0;
  if (ncclResult_t r = size_from_int(size, &n, "regMr"); r != ncclSuccess) return r;
  return net_reg_mr(comm, data, n, type, mhandle);
}
ncclResult_t isend_v6(void* comm, void* data, int size, int tag, void* mhandle, void** request) {
  size_t n = 0;
  if (ncclResult_t r = size_from_int(size, &n, "isend"); r != ncclSuccess) return r;
  return net_isend(comm, data, n, tag, mhandle, request);
}
ncclResult_t irecv_v6(void* comm, int n, void** data, int* sizes, int* tags, void** mhandles, void** request) {
  return irecv_int_sizes(comm, n, data, sizes, tags, mhandles, request);
}
ncclResult_t connect_v6(int dev, void* handle, void** send_comm) { return net_connect(dev, handle, send_comm); }
ncclResult_t accept_v6(void* listen_comm, void** recv_comm) { return net_accept(listen_comm, recv_comm); }

}  // namespace
}  // namespace weft::nccl

using namespace weft::nccl;

WEFT_NCCL_EXPORT const abi::ncclNet_v6_t ncclNetPlugin_v6 = {
    "weft",          net_init,       net_devices,    get_properties_v6, net_listen,     connect_v6,
    accept_v6,       reg_mr_v6,      net_reg_mr_dmabuf, net_dereg_mr,   isend_v6,       irecv_v6,
    net_iflush,      net_test,       net_close_send, net_close_recv,    net_close_listen,
};
