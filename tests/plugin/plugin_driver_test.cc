// The plugin driven as NCCL's proxy drives it, once per exported ABI version:
// properties, single-thread loopback setup, two-process bidirectional data
// with many requests in flight (0 B … 64 MiB, receives larger than sends,
// sends before and after receives), grouped receives, flush, close.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "tests/plugin/harness.h"
#include "tests/support/pattern.h"

namespace weft::nccl::test {
namespace {

class EveryVersion : public ::testing::TestWithParam<int> {};

std::string version_name(const ::testing::TestParamInfo<int>& info) { return "v" + std::to_string(info.param); }

TEST_P(EveryVersion, ReportsHostOnlyPropertiesForEveryDevice) {
  run_roles({[v = GetParam()](int) {
    Loaded l(v);
    ASSERT_TRUE(l.api.loaded()) << dlerror();
    ASSERT_STREQ(l.api.name(), "weft");  // NCCL reads the name before init
    ASSERT_EQ(l.api.init(), ncclSuccess);
    int n = 0;
    ASSERT_EQ(l.api.devices(&n), ncclSuccess);
    ASSERT_EQ(n, 1) << "WEFT_IFNAME==lo selects exactly loopback";
    std::set<std::string> names;
    for (int d = 0; d < n; ++d) {
      Props p;
      ASSERT_EQ(l.api.properties(d, &p), ncclSuccess);
      EXPECT_EQ(p.name, "lo");
      EXPECT_TRUE(names.insert(p.name).second) << "device names must be unique (NCCL's topology key)";
      EXPECT_FALSE(p.has_pci) << "loopback is not a PCI device";
      EXPECT_EQ(p.ptrSupport, NCCL_PTR_HOST);
      EXPECT_GT(p.speed, 0);
      EXPECT_GT(p.maxComms, 0);
      EXPECT_GT(p.maxRecvs, 1);
      EXPECT_NE(p.guid, 0u);
      if (v >= 7) { EXPECT_EQ(p.netDeviceType, NCCL_NET_DEVICE_HOST); }
      if (v >= 7) { EXPECT_EQ(p.netDeviceVersion, 0); }
      if (v >= 8) { EXPECT_EQ(p.regIsGlobal, 0); }
      if (v >= 9) {
        EXPECT_EQ(p.forceFlush, 0);
        EXPECT_EQ(p.vndevs, 1);
        EXPECT_EQ(p.vdev0, d);
        EXPECT_GT(p.maxP2pBytes, 0u);
        EXPECT_LE(p.maxP2pBytes, NCCL_MAX_NET_SIZE_BYTES);
        EXPECT_GT(p.maxCollBytes, 0u);
        int vd = -1;
        EXPECT_EQ(l.api.make_vdevice(&vd, 1, &d), ncclSuccess);
        EXPECT_EQ(vd, d);
      }
      if (v >= 11) { EXPECT_EQ(p.maxMultiRequestSize, 1); }
      if (v >= 12) {
        EXPECT_EQ(p.railId, NCCL_NET_ID_UNDEF);
        EXPECT_EQ(p.planeId, NCCL_NET_ID_UNDEF);
      }
    }
    EXPECT_FALSE(l.api.has_irecv_consumed()) << "a host plugin leaves irecvConsumed NULL";
    Props bad;
    EXPECT_EQ(l.api.properties(n, &bad), ncclInvalidArgument);
    if (l.api.has_finalize()) {
      // NCCL 2.28+ inits once per communicator: a second ctx, finalized
      // separately, and a finalize(NULL) after a failed init.
      Loaded second(v);
      ASSERT_EQ(second.api.init(), ncclSuccess);
      EXPECT_NE(second.api.ctx(), l.api.ctx());
      EXPECT_EQ(second.api.finalize(), ncclSuccess);
      EXPECT_EQ(l.api.finalize(), ncclSuccess);
    }
  }});
}

// ncclGpuGdrSupport alternates connect and accept of a loopback connection
// on one thread: any blocking call deadlocks it.
TEST_P(EveryVersion, ConnectsToItselfFromOneThreadWithoutBlocking) {
  run_roles({[v = GetParam()](int) {
    Loaded l(v);
    load_and_init(l);
    char handle[NCCL_NET_HANDLE_MAXSIZE];
    std::memset(handle, 0xCD, sizeof handle);
    void* listen = nullptr;
    ASSERT_EQ(l.api.listen(0, handle, &listen), ncclSuccess);
    void *send = nullptr, *recv = nullptr;
    const auto deadline = Clock::now() + 10s;
    int calls = 0;
    while (send == nullptr || recv == nullptr) {
      ASSERT_LT(Clock::now(), deadline);
      const auto t0 = Clock::now();
      if (send == nullptr) { ASSERT_EQ(l.api.connect(0, handle, &send), ncclSuccess); }
      if (recv == nullptr) { ASSERT_EQ(l.api.accept(listen, &recv), ncclSuccess); }
      ASSERT_LT(Clock::now() - t0, kMaxSetupCall);
      ++calls;
    }
    EXPECT_GT(calls, 1) << "connect should need more than one call (non-blocking)";
    ASSERT_EQ(l.api.close_listen(listen), ncclSuccess);

    auto out = weft::testing::pattern(3000, 7);
    std::vector<uint8_t> in(4096, 0);
    void *smh = nullptr, *rmh = nullptr;
    ASSERT_EQ(l.api.reg_mr(send, out.data(), out.size(), NCCL_PTR_HOST, &smh), ncclSuccess);
    ASSERT_EQ(l.api.reg_mr(recv, in.data(), in.size(), NCCL_PTR_HOST, &rmh), ncclSuccess);
    void* data = in.data();
    size_t cap = in.size();
    int tag = 0;
    void *rreq = nullptr, *sreq = nullptr;
    ASSERT_EQ(l.api.irecv(recv, 1, &data, &cap, &tag, &rmh, &rreq), ncclSuccess);
    ASSERT_NE(rreq, nullptr);
    ASSERT_EQ(l.api.isend(send, out.data(), out.size(), 0, smh, &sreq), ncclSuccess);
    ASSERT_NE(sreq, nullptr);
    int rs[NCCL_NET_MAX_REQUESTS] = {}, ss = -1;
    ASSERT_EQ(wait_done(l.api, rreq, rs), ncclSuccess);
    ASSERT_EQ(wait_done(l.api, sreq, &ss), ncclSuccess);
    EXPECT_EQ(rs[0], 3000);
    EXPECT_EQ(ss, 3000);
    EXPECT_EQ(std::memcmp(in.data(), out.data(), out.size()), 0);
    EXPECT_EQ(in[3000], 0) << "wrote past the message";
    EXPECT_EQ(l.api.dereg_mr(send, smh), ncclSuccess);
    EXPECT_EQ(l.api.dereg_mr(recv, rmh), ncclSuccess);
    EXPECT_EQ(l.api.close_send(send), ncclSuccess);
    EXPECT_EQ(l.api.close_recv(recv), ncclSuccess);
    if (l.api.has_finalize()) { EXPECT_EQ(l.api.finalize(), ncclSuccess); }
  }});
}

// One message of the exchange: its own registered buffers on both sides.
struct Msg {
  size_t size = 0;
  std::vector<uint8_t> out, in;
  void *smh = nullptr, *rmh = nullptr, *sreq = nullptr, *rreq = nullptr;
  bool sent = false, received = false;
};
constexpr size_t kSlack = 64;  // receives are larger than their messages, like NCCL's

std::vector<size_t> exchange_sizes() {
  std::vector<size_t> s = {0, 1, 7, 4096, 4097, 65536, 512u << 10, (1u << 20) + 13, 4u << 20, 64u << 20};
  for (size_t i = 0; i < 32; ++i) s.push_back(1000 + 37 * i);  // 32 more in flight at once
  for (size_t x : {size_t{3}, size_t{100000}, size_t{2u << 20}}) s.push_back(x);  // phase 2: sent before posted
  return s;
}

void post_recv(NetApi& api, void* comm, Msg& m, int peer, bool optional_flag) {
  void* data = m.in.data();
  size_t cap = m.in.size();
  int tag = peer;  // NCCL's receive tag is the sender's rank
  const auto deadline = Clock::now() + 10s;
  do {
    // v9+: NCCL may preset 0x1 (optional completion); the plugin must overwrite it.
    m.rreq = optional_flag ? reinterpret_cast<void*>(0x1) : nullptr;
    ASSERT_EQ(api.irecv(comm, 1, &data, &cap, &tag, &m.rmh, &m.rreq), ncclSuccess);
    ASSERT_LT(Clock::now(), deadline);
  } while (m.rreq == nullptr);  // NULL: cannot post now, retry
  ASSERT_NE(m.rreq, reinterpret_cast<void*>(0x1));
}

void post_send(NetApi& api, void* comm, Msg& m, int rank) {
  const auto deadline = Clock::now() + 10s;
  do {
    ASSERT_EQ(api.isend(comm, m.out.data(), m.size, rank, m.smh, &m.sreq), ncclSuccess);
    ASSERT_LT(Clock::now(), deadline);
  } while (m.sreq == nullptr);
}

// Tests every outstanding request round-robin, as NCCL's progress thread does.
void drain(NetApi& api, std::vector<Msg>& msgs, size_t first, size_t last) {
  const auto deadline = Clock::now() + 60s;
  size_t left = 0;
  for (size_t i = first; i < last; ++i) left += 2 - msgs[i].sent - msgs[i].received;
  while (left > 0) {
    ASSERT_LT(Clock::now(), deadline) << left << " requests not done";
    for (size_t i = first; i < last; ++i) {
      Msg& m = msgs[i];
      int done = 0;
      if (!m.sent) {
        int size = -1;
        ASSERT_EQ(api.test(m.sreq, &done, &size), ncclSuccess) << "send " << i;
        if (done) {
          EXPECT_EQ(size, static_cast<int>(m.size)) << "send " << i;
          m.sent = true;
          --left;
        }
      }
      if (!m.received) {
        int sizes[NCCL_NET_MAX_REQUESTS] = {};
        ASSERT_EQ(api.test(m.rreq, &done, sizes), ncclSuccess) << "receive " << i;
        if (done) {
          EXPECT_EQ(sizes[0], static_cast<int>(m.size)) << "receive " << i;
          m.received = true;
          --left;
        }
      }
    }
  }
}

void verify(const std::vector<Msg>& msgs, int peer) {
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Msg& m = msgs[i];
    const auto want = weft::testing::pattern(m.size, static_cast<uint32_t>(peer * 1000 + i));
    EXPECT_TRUE(same_bytes(m.in.data(), want.data(), m.size)) << "message " << i << " (" << m.size << " B) corrupted";
    for (size_t k = m.size; k < m.in.size(); ++k)
      if (m.in[k] != 0) {
        ADD_FAILURE() << "message " << i << " wrote past its end at " << k;
        break;
      }
  }
}

void exchange_role(int v, int fd, int rank) {
  Loaded l(v);
  load_and_init(l);
  Pair p;
  connect_pair(l.api, 0, fd, &p);
  if (::testing::Test::HasFatalFailure()) return;
  const int peer = 1 - rank;
  const auto sizes = exchange_sizes();
  std::vector<Msg> msgs(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    Msg& m = msgs[i];
    m.size = sizes[i];
    m.out = weft::testing::pattern(m.size, static_cast<uint32_t>(rank * 1000 + i));
    m.in.assign(m.size + kSlack, 0);
    // A zero-byte message still has a (possibly empty) registered buffer.
    ASSERT_EQ(l.api.reg_mr(p.send, m.out.data(), m.out.size(), NCCL_PTR_HOST, &m.smh), ncclSuccess);
    ASSERT_EQ(l.api.reg_mr(p.recv, m.in.data(), m.in.size(), NCCL_PTR_HOST, &m.rmh), ncclSuccess);
  }
  // Phase 1, NCCL's usual order: receives pre-posted, then the sends.
  const size_t split = sizes.size() - 3;
  for (size_t i = 0; i < split; ++i) post_recv(l.api, p.recv, msgs[i], peer, v >= 9 && i % 2 == 0);
  barrier(fd);
  for (size_t i = 0; i < split; ++i) post_send(l.api, p.send, msgs[i], rank);
  drain(l.api, msgs, 0, split);
  // Phase 2: sends first, receives only after the peer's sends are posted
  // (the receiver must buffer or hold them back, never drop or reorder).
  for (size_t i = split; i < sizes.size(); ++i) post_send(l.api, p.send, msgs[i], rank);
  barrier(fd);
  for (size_t i = split; i < sizes.size(); ++i) post_recv(l.api, p.recv, msgs[i], peer, false);
  drain(l.api, msgs, split, sizes.size());
  verify(msgs, peer);

  // Flush of host memory: nothing to wait for, but a pollable (or NULL) request.
  void* fdata = msgs[9].in.data();
  int fsize = static_cast<int>(msgs[9].size);
  void* freq = nullptr;
  ASSERT_EQ(l.api.iflush(p.recv, 1, &fdata, &fsize, &msgs[9].rmh, &freq), ncclSuccess);
  if (freq != nullptr) { EXPECT_EQ(wait_done(l.api, freq, nullptr), ncclSuccess); }

  barrier(fd);  // both sides received everything before anyone closes
  for (Msg& m : msgs) {
    EXPECT_EQ(l.api.dereg_mr(p.send, m.smh), ncclSuccess);
    EXPECT_EQ(l.api.dereg_mr(p.recv, m.rmh), ncclSuccess);
  }
  EXPECT_EQ(l.api.close_send(p.send), ncclSuccess);
  EXPECT_EQ(l.api.close_recv(p.recv), ncclSuccess);
  if (l.api.has_finalize()) { EXPECT_EQ(l.api.finalize(), ncclSuccess); }
}

TEST_P(EveryVersion, MovesEveryByteBothWaysBetweenTwoProcesses) {
  const int v = GetParam();
  run_roles({[v](int fd) { exchange_role(v, fd, 0); }, [v](int fd) { exchange_role(v, fd, 1); }}, 120s);
}

// A grouped receive: one request, n buffers, each filled by the send whose
// tag it names, whatever order the sends come in; test() reports each size.
void grouped_role(int v, int fd, int rank) {
  Loaded l(v);
  load_and_init(l);
  Pair p;
  connect_pair(l.api, 0, fd, &p);
  if (::testing::Test::HasFatalFailure()) return;
  Props props;
  ASSERT_EQ(l.api.properties(0, &props), ncclSuccess);
  const int n = props.maxRecvs;
  ASSERT_GE(n, 2);
  std::vector<int> tags(n);
  std::vector<size_t> caps(n), lens(n);
  for (int i = 0; i < n; ++i) {
    tags[i] = 100 + i;
    lens[i] = i == 1 ? 0 : 1 + static_cast<size_t>(i) * 50001;  // one empty buffer, uneven sizes
    caps[i] = lens[i] + 100;
  }
  std::vector<std::vector<uint8_t>> bufs(n);
  std::vector<void*> data(n), mhs(n);
  for (int i = 0; i < n; ++i) {
    bufs[i] = rank == 0 ? weft::testing::pattern(lens[i], 500 + i) : std::vector<uint8_t>(caps[i], 0);
    data[i] = bufs[i].data();
    ASSERT_EQ(l.api.reg_mr(rank == 0 ? p.send : p.recv, bufs[i].data(), bufs[i].size(), NCCL_PTR_HOST, &mhs[i]),
              ncclSuccess);
  }
  if (rank == 1) {
    void* req = nullptr;
    ASSERT_EQ(l.api.irecv(p.recv, n, data.data(), caps.data(), tags.data(), mhs.data(), &req), ncclSuccess);
    ASSERT_NE(req, nullptr);
    barrier(fd);
    int sizes[NCCL_NET_MAX_REQUESTS] = {};
    ASSERT_EQ(wait_done(l.api, req, sizes), ncclSuccess);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(sizes[i], static_cast<int>(lens[i])) << "buffer " << i;
      const auto want = weft::testing::pattern(lens[i], 500 + i);
      EXPECT_TRUE(same_bytes(bufs[i].data(), want.data(), lens[i])) << "buffer " << i << " holds the wrong message";
    }
    // n larger than maxRecvs is refused, not truncated.
    std::vector<void*> many(n + 1, data[0]);
    std::vector<size_t> mcaps(n + 1, 1);
    std::vector<int> mtags(n + 1, 7);
    std::vector<void*> mmh(n + 1, mhs[0]);
    void* r2 = nullptr;
    EXPECT_EQ(l.api.irecv(p.recv, n + 1, many.data(), mcaps.data(), mtags.data(), mmh.data(), &r2), ncclInvalidArgument);
    EXPECT_EQ(r2, nullptr);
  } else {
    barrier(fd);
    std::vector<void*> reqs(n, nullptr);
    for (int k = n - 1; k >= 0; --k) {  // reverse tag order
      ASSERT_EQ(l.api.isend(p.send, data[k], lens[k], tags[k], mhs[k], &reqs[k]), ncclSuccess);
      ASSERT_NE(reqs[k], nullptr);
    }
    for (int k = 0; k < n; ++k) {
      int size = -1;
      ASSERT_EQ(wait_done(l.api, reqs[k], &size), ncclSuccess);
      EXPECT_EQ(size, static_cast<int>(lens[k]));
    }
  }
  barrier(fd);
  for (int i = 0; i < n; ++i) EXPECT_EQ(l.api.dereg_mr(rank == 0 ? p.send : p.recv, mhs[i]), ncclSuccess);
  EXPECT_EQ(l.api.close_send(p.send), ncclSuccess);
  EXPECT_EQ(l.api.close_recv(p.recv), ncclSuccess);
  if (l.api.has_finalize()) { EXPECT_EQ(l.api.finalize(), ncclSuccess); }
}

TEST_P(EveryVersion, GroupedReceiveFillsEachBufferFromTheSendWithItsTag) {
  const int v = GetParam();
  run_roles({[v](int fd) { grouped_role(v, fd, 0); }, [v](int fd) { grouped_role(v, fd, 1); }});
}

INSTANTIATE_TEST_SUITE_P(Plugin, EveryVersion, ::testing::ValuesIn(kVersions), version_name);

// Go-back-N (RoCE-like recovery) is a per-connection mode picked by
// WEFT_RECOVERY; the same exchange must hold under it.
TEST(PluginRecovery, GoBackNMovesEveryByte) {
  auto role = [](int fd, int rank) {
    setenv("WEFT_RECOVERY", "gbn", 1);
    exchange_role(12, fd, rank);
  };
  run_roles({[&](int fd) { role(fd, 0); }, [&](int fd) { role(fd, 1); }}, 120s);
}

// NCCL 2.22–2.25 and 2.28 dlclose the plugin after the last communicator
// and may load it again: the second life must work like the first.
TEST(PluginLifetime, WorksAgainAfterDlcloseAndReload) {
  run_roles({[](int) {
    for (int round = 0; round < 2; ++round) {
      for (int v : {6, 12}) {
        Loaded l(v);
        load_and_init(l);
        char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
        void *listen = nullptr, *send = nullptr, *recv = nullptr;
        ASSERT_EQ(l.api.listen(0, handle, &listen), ncclSuccess);
        const auto deadline = Clock::now() + 10s;
        while (send == nullptr || recv == nullptr) {
          ASSERT_LT(Clock::now(), deadline);
          if (send == nullptr) { ASSERT_EQ(l.api.connect(0, handle, &send), ncclSuccess); }
          if (recv == nullptr) { ASSERT_EQ(l.api.accept(listen, &recv), ncclSuccess); }
        }
        EXPECT_EQ(l.api.close_listen(listen), ncclSuccess);
        EXPECT_EQ(l.api.close_send(send), ncclSuccess);
        EXPECT_EQ(l.api.close_recv(recv), ncclSuccess);
        if (l.api.has_finalize()) { EXPECT_EQ(l.api.finalize(), ncclSuccess); }
      }  // ~Loaded: dlclose
    }
  }});
}

}  // namespace
}  // namespace weft::nccl::test
