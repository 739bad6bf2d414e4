// The data path: memory registration, isend/irecv/iflush/test. isend, irecv
// and test run on NCCL's progress thread for every message: no allocation,
// no global lock; one Endpoint lock per post (to pair the weft op with its
// request before anyone can poll its completion) and per drain in test.
#include <climits>
#include <cstring>

#include "plugin/core/net.h"
#include "plugin/core/report.h"
#include "plugin/core/state.h"

namespace weft::nccl {

using namespace abi;

namespace {

// The largest message test() can report: its sizes are int in every version.
constexpr size_t kMaxMessage = INT_MAX;

bool is_comm(const void* p, CommKind kind) { return p != nullptr && static_cast<const Comm*>(p)->kind == kind; }

// Why `data`/`size` cannot be used with `mh` on `c`, or nullptr if they can.
const char* buffer_problem(const Comm* c, const void* data, size_t size, const void* mh) {
  if (mh == nullptr) return "no memory handle: register the buffer with regMr first";
  const auto* m = static_cast<const MemHandle*>(mh);
  if (m->magic != kMrMagic) return "the memory handle was not returned by regMr (or was deregistered)";
  if (m->comm != c) return "the memory handle was registered on another comm (weft's regIsGlobal is 0)";
  if (size == 0) return nullptr;
  if (data == nullptr) return "NULL buffer with a non-zero size";
  const auto a = reinterpret_cast<uintptr_t>(data);
  if (a < m->base || a + size > m->base + m->len || a + size < a)
    return "the buffer is not inside the registered range of its memory handle";
  if (size > kMaxMessage) return "more than INT_MAX bytes: test() could not report the size";
  return nullptr;
}

// Returns a finished request to its comm's pool.
void finish(Comm* c, Request* r) {
  c->ops_held -= r->n;
  c->pool.release(r);
}

ncclResult_t failed_comm(const Comm* c, const char* what) {
  return WEFT_NCCL_FAIL_STATUS(c->failure, std::string(what) + ": the connection failed earlier");
}

ncclResult_t register_host(void* comm, void* data, size_t size, void** mhandle, const char* what) {
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  auto it = g.live.find(comm);
  if (it == g.live.end() || it->second == CommKind::kListen)
    return WEFT_NCCL_FAIL(ncclInvalidArgument, std::string(what) + ": not an open send or recv comm");
  if (data == nullptr && size > 0) return WEFT_NCCL_FAIL(ncclInvalidArgument, std::string(what) + ": NULL data");
  auto* c = static_cast<Comm*>(comm);
  auto m = std::make_unique<MemHandle>();
  m->comm = c;
  m->base = reinterpret_cast<uintptr_t>(data);
  m->len = size;
  *mhandle = m.get();
  c->mrs.push_back(std::move(m));
  return ncclSuccess;
}

}  // namespace

ncclResult_t net_reg_mr(void* comm, void* data, size_t size, int type, void** mhandle) {
  if (mhandle == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "regMr: mhandle is NULL");
  *mhandle = nullptr;
  if (type & NCCL_PTR_CUDA)
    return WEFT_NCCL_FAIL(ncclInvalidArgument,
                          "regMr: CUDA memory is not supported (weft reports ptrSupport = NCCL_PTR_HOST); NCCL should "
                          "stage through host memory: do not force GPUDirect (NCCL_NET_GDR_LEVEL/NCCL_NET_GDR_READ)");
  if (type != NCCL_PTR_HOST)
    return WEFT_NCCL_FAIL(ncclInvalidArgument, "regMr: unknown memory type " + std::to_string(type) +
                                                   " (only NCCL_PTR_HOST is supported)");
  return register_host(comm, data, size, mhandle, "regMr");
}

ncclResult_t net_reg_mr_dmabuf(void* comm, void* data, size_t size, int type, uint64_t offset, int fd,
                               void** mhandle) {
  if (mhandle == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "regMrDmaBuf: mhandle is NULL");
  *mhandle = nullptr;
  // weft has no dma-buf import; only a host buffer (fd unused) can be honoured.
  if (type != NCCL_PTR_HOST)
    return WEFT_NCCL_FAIL(ncclInvalidArgument,
                          "regMrDmaBuf: dma-buf (GPU) memory is not supported (ptrSupport has no NCCL_PTR_DMABUF); "
                          "set NCCL_DMABUF_ENABLE=0 if NCCL tried it anyway");
  return register_host(comm, data, size, mhandle, "regMrDmaBuf");
}

ncclResult_t net_dereg_mr(void* comm, void* mhandle) {
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  auto it = g.live.find(comm);
  if (it == g.live.end() || it->second == CommKind::kListen)
    return WEFT_NCCL_FAIL(ncclInvalidArgument, "deregMr: not an open send or recv comm");
  auto* c = static_cast<Comm*>(comm);
  for (auto it = c->mrs.begin(); it != c->mrs.end(); ++it) {
    if (it->get() != mhandle) continue;
    (*it)->magic = 0;
    c->mrs.erase(it);
    return ncclSuccess;
  }
  return WEFT_NCCL_FAIL(ncclInvalidArgument, "deregMr: the handle is not registered on this comm (deregistered twice?)");
}

ncclResult_t net_isend(void* send_comm, void* data, size_t size, int tag, void* mhandle, void** request) {
  if (request == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "isend: request is NULL");
  *request = nullptr;
  if (!is_comm(send_comm, CommKind::kSend)) return WEFT_NCCL_FAIL(ncclInvalidArgument, "isend: not a send comm");
  auto* c = static_cast<SendComm*>(send_comm);
  if (c->failed.load(std::memory_order_acquire)) return failed_comm(c, "isend");
  if (const char* why = buffer_problem(c, data, size, mhandle))
    return WEFT_NCCL_FAIL(ncclInvalidArgument, std::string("isend: ") + why);
  if (c->ops_held + 1 > kOpsPerComm) return ncclSuccess;  // NCCL retries
  Request* r = c->pool.acquire();
  if (r == nullptr) return ncclSuccess;  // all requests in flight: NCCL retries
  r->kind = Request::Kind::kSend;
  r->comm = c;
  r->n = 0;
  Status st = c->ep->post_send(r, data, size, data_tag(tag));
  if (!st.is_ok()) {
    c->pool.release(r);
    if (st.code() == Code::kResourceExhausted) return ncclSuccess;  // weft's op queue is full: retry
    return WEFT_NCCL_FAIL_STATUS(st, "isend");
  }
  c->ops_held += 1;
  *request = r;
  return ncclSuccess;
}

ncclResult_t net_irecv(void* recv_comm, int n, void** data, const size_t* sizes, const int* tags, void** mhandles,
                       void** request) {
  if (request == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "irecv: request is NULL");
  *request = nullptr;  // v9+ may pass 0x1 in: never read it
  if (!is_comm(recv_comm, CommKind::kRecv)) return WEFT_NCCL_FAIL(ncclInvalidArgument, "irecv: not a recv comm");
  if (n < 1 || n > kMaxRecvs)
    return WEFT_NCCL_FAIL(ncclInvalidArgument,
                          "irecv: n = " + std::to_string(n) + " outside [1, maxRecvs = " + std::to_string(kMaxRecvs) + "]");
  if (data == nullptr || sizes == nullptr || tags == nullptr || mhandles == nullptr)
    return WEFT_NCCL_FAIL(ncclInvalidArgument, "irecv: data, sizes, tags or mhandles is NULL");
  auto* c = static_cast<RecvComm*>(recv_comm);
  if (c->failed.load(std::memory_order_acquire)) return failed_comm(c, "irecv");
  for (int i = 0; i < n; ++i)
    if (const char* why = buffer_problem(c, data[i], sizes[i], mhandles[i]))
      return WEFT_NCCL_FAIL(ncclInvalidArgument, "irecv: buffer " + std::to_string(i) + ": " + why);
  if (c->ops_held + n > kOpsPerComm) return ncclSuccess;  // NCCL retries
  Request* r = c->pool.acquire();
  if (r == nullptr) return ncclSuccess;
  r->kind = Request::Kind::kRecv;
  r->comm = c;
  Status st = c->ep->post_recvs(r, n, data, sizes, tags);
  if (!st.is_ok()) {
    c->pool.release(r);
    return WEFT_NCCL_FAIL_STATUS(st, "irecv");
  }
  c->ops_held += n;
  *request = r;
  return ncclSuccess;
}

ncclResult_t net_iflush(void* recv_comm, int n, void** data, int* sizes, void** mhandles, void** request) {
  if (request == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "iflush: request is NULL");
  *request = nullptr;
  if (!is_comm(recv_comm, CommKind::kRecv)) return WEFT_NCCL_FAIL(ncclInvalidArgument, "iflush: not a recv comm");
  if (n < 0 || n > kMaxRecvs) return WEFT_NCCL_FAIL(ncclInvalidArgument, "iflush: n outside [0, maxRecvs]");
  // Host memory: received bytes were written by the CPU and are already
  // visible. The flush is a request that is complete from the start (a NULL
  // request would also do for NCCL, but a pollable one suits every caller).
  auto* c = static_cast<RecvComm*>(recv_comm);
  Request* r = c->pool.acquire();
  if (r == nullptr) return ncclSuccess;  // NULL: NCCL treats it as done
  r->kind = Request::Kind::kFlush;
  r->comm = c;
  r->n = 0;
  r->pending.store(0, std::memory_order_relaxed);
  *request = r;
  return ncclSuccess;
}

ncclResult_t net_test(void* request, int* done, int* sizes) {
  if (request == nullptr || done == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "test: request or done is NULL");
  auto* r = static_cast<Request*>(request);
  if (r->magic != kRequestMagic)
    return WEFT_NCCL_FAIL(ncclInvalidArgument, "test: not a request in flight (tested after it completed?)");
  *done = 0;
  if (r->pending.load(std::memory_order_acquire) > 0) {
    r->comm->ep->progress(/*only_if_free=*/true);
    if (r->pending.load(std::memory_order_acquire) > 0) return ncclSuccess;
  }
  *done = 1;
  Comm* c = r->comm;
  if (!r->error.is_ok()) {
    const Status st = std::move(r->error);
    const char* what = r->kind == Request::Kind::kSend ? "send" : "receive";
    finish(c, r);
    return WEFT_NCCL_FAIL_STATUS(st, what);
  }
  if (sizes != nullptr) {
    if (r->kind == Request::Kind::kRecv) {
      for (int i = 0; i < r->n; ++i) sizes[i] = static_cast<int>(r->bytes[i]);
    } else if (r->kind == Request::Kind::kSend) {
      sizes[0] = static_cast<int>(r->bytes[0]);
    }
  }
  finish(c, r);
  return ncclSuccess;
}

ncclResult_t net_get_device_mr(void* comm, void* mhandle, void** dptr_mhandle) {
  if (dptr_mhandle == nullptr) return WEFT_NCCL_FAIL(ncclInvalidArgument, "getDeviceMr: dptr_mhandle is NULL");
  *dptr_mhandle = nullptr;  // a host plugin has no device-side handle
  return ncclSuccess;
}

}  // namespace weft::nccl
