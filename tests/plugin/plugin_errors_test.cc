// Error paths: every misuse is refused with an NCCL error code and a WARN
// message, never a crash; a dead peer surfaces as an error from test()
// within the peer timeout, never a hang; closing twice is refused.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/plugin/harness.h"
#include "tests/support/pattern.h"

namespace weft::nccl::test {
namespace {

// A connected send/recv pair inside one process (self loop), for the
// misuse tests that need live comms but no second process.
struct SelfLoop {
  void *send = nullptr, *recv = nullptr;
};
void self_loop(NetApi& api, SelfLoop* s) {
  char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
  void* listen = nullptr;
  ASSERT_EQ(api.listen(0, handle, &listen), ncclSuccess);
  const auto deadline = Clock::now() + 10s;
  while (s->send == nullptr || s->recv == nullptr) {
    ASSERT_LT(Clock::now(), deadline);
    if (s->send == nullptr) { ASSERT_EQ(api.connect(0, handle, &s->send), ncclSuccess); }
    if (s->recv == nullptr) { ASSERT_EQ(api.accept(listen, &s->recv), ncclSuccess); }
  }
  ASSERT_EQ(api.close_listen(listen), ncclSuccess);
}

TEST(PluginErrors, HandleNotWrittenByListenIsRefused) {
  run_roles({[](int) {
    Loaded l(12);
    load_and_init(l);
    char garbage[NCCL_NET_HANDLE_MAXSIZE];
    std::memset(garbage, 0x5A, sizeof garbage);
    void* send = reinterpret_cast<void*>(0xdead);
    g_warnings = 0;
    EXPECT_EQ(l.api.connect(0, garbage, &send), ncclInvalidArgument);
    EXPECT_EQ(send, nullptr);
    EXPECT_GT(g_warnings, 0) << "an error must come with a message";
    // A real handle whose connect state was tampered with (stale pointer).
    char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
    void* listen = nullptr;
    ASSERT_EQ(l.api.listen(0, handle, &listen), ncclSuccess);
    ASSERT_EQ(l.api.connect(0, handle, &send), ncclSuccess);  // starts the connect
    char copy[NCCL_NET_HANDLE_MAXSIZE];
    std::memcpy(copy, handle, sizeof copy);
    std::memset(copy + 16, 0x11, 8);  // the connect-state pointer
    EXPECT_EQ(l.api.connect(0, copy, &send), ncclInvalidArgument);
    EXPECT_EQ(l.api.connect(5, handle, &send), ncclInvalidArgument) << "device 5 does not exist";
    EXPECT_EQ(l.api.close_listen(listen), ncclSuccess);
    // The connect started above is abandoned, as by an aborted NCCL job:
    // finalize keeps it, dlclose frees it (LeakSanitizer checks, ASan build).
    EXPECT_EQ(l.api.finalize(), ncclSuccess);
  }});
}

TEST(PluginErrors, NullPointersAreRefusedNotDereferenced) {
  run_roles({[](int) {
    Loaded l(9);
    load_and_init(l);
    void* listen = nullptr;
    char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
    EXPECT_EQ(l.api.devices(nullptr), ncclInvalidArgument);
    EXPECT_EQ(l.api.listen(0, nullptr, &listen), ncclInvalidArgument);
    EXPECT_EQ(l.api.listen(0, handle, nullptr), ncclInvalidArgument);
    EXPECT_EQ(l.api.connect(0, nullptr, &listen), ncclInvalidArgument);
    EXPECT_EQ(l.api.accept(nullptr, &listen), ncclInvalidArgument);
    int done = 0;
    EXPECT_EQ(l.api.test(nullptr, &done, nullptr), ncclInvalidArgument);
    SelfLoop s;
    self_loop(l.api, &s);
    std::vector<uint8_t> buf(64);
    void* mh = nullptr;
    EXPECT_EQ(l.api.reg_mr(s.send, buf.data(), buf.size(), NCCL_PTR_HOST, nullptr), ncclInvalidArgument);
    EXPECT_EQ(l.api.reg_mr(nullptr, buf.data(), buf.size(), NCCL_PTR_HOST, &mh), ncclInvalidArgument);
    ASSERT_EQ(l.api.reg_mr(s.send, buf.data(), buf.size(), NCCL_PTR_HOST, &mh), ncclSuccess);
    EXPECT_EQ(l.api.isend(s.send, buf.data(), 8, 0, mh, nullptr), ncclInvalidArgument);
    EXPECT_EQ(l.api.isend(nullptr, buf.data(), 8, 0, mh, &listen), ncclInvalidArgument);
    EXPECT_EQ(l.api.isend(s.recv, buf.data(), 8, 0, mh, &listen), ncclInvalidArgument) << "a recv comm is not a send comm";
    void* req = nullptr;
    size_t cap = 8;
    int tag = 0;
    EXPECT_EQ(l.api.irecv(s.recv, 1, nullptr, &cap, &tag, &mh, &req), ncclInvalidArgument);
    EXPECT_EQ(l.api.dereg_mr(s.send, mh), ncclSuccess);
    EXPECT_EQ(l.api.close_send(s.send), ncclSuccess);
    EXPECT_EQ(l.api.close_recv(s.recv), ncclSuccess);
  }});
}

TEST(PluginErrors, BuffersOutsideARegistrationAreRefused) {
  run_roles({[](int) {
    Loaded l(8);
    load_and_init(l);
    SelfLoop s;
    self_loop(l.api, &s);
    std::vector<uint8_t> buf(4096), other(4096);
    void *mh = nullptr, *rmh = nullptr, *req = nullptr;
    ASSERT_EQ(l.api.reg_mr(s.send, buf.data(), 1024, NCCL_PTR_HOST, &mh), ncclSuccess);
    ASSERT_EQ(l.api.reg_mr(s.recv, buf.data() + 2048, 1024, NCCL_PTR_HOST, &rmh), ncclSuccess);
    EXPECT_EQ(l.api.isend(s.send, buf.data(), 100, 0, nullptr, &req), ncclInvalidArgument) << "no handle";
    EXPECT_EQ(l.api.isend(s.send, other.data(), 100, 0, mh, &req), ncclInvalidArgument) << "other buffer";
    EXPECT_EQ(l.api.isend(s.send, buf.data() + 1000, 100, 0, mh, &req), ncclInvalidArgument) << "runs past the end";
    EXPECT_EQ(l.api.isend(s.send, buf.data(), 100, 0, rmh, &req), ncclInvalidArgument) << "handle of another comm";
    std::vector<uint8_t> fake(64, 0);
    EXPECT_EQ(l.api.isend(s.send, buf.data(), 100, 0, fake.data(), &req), ncclInvalidArgument) << "not a handle";
    EXPECT_EQ(req, nullptr);
    // CUDA and dma-buf memory are refused with a message: no GPU path.
    void* cuda = nullptr;
    g_warnings = 0;
    EXPECT_EQ(l.api.reg_mr(s.send, buf.data(), 64, NCCL_PTR_CUDA, &cuda), ncclInvalidArgument);
    EXPECT_EQ(l.api.reg_mr_dmabuf(s.send, buf.data(), 64, NCCL_PTR_DMABUF, 3, &cuda), ncclInvalidArgument);
    EXPECT_EQ(cuda, nullptr);
    EXPECT_NE(g_last_warning.find("not supported"), std::string::npos) << g_last_warning;
    EXPECT_EQ(g_warnings, 2);
    // Deregistered handles are refused too.
    ASSERT_EQ(l.api.dereg_mr(s.send, mh), ncclSuccess);
    EXPECT_EQ(l.api.dereg_mr(s.send, mh), ncclInvalidArgument);
    EXPECT_EQ(l.api.dereg_mr(s.recv, rmh), ncclSuccess);
    EXPECT_EQ(l.api.close_send(s.send), ncclSuccess);
    EXPECT_EQ(l.api.close_recv(s.recv), ncclSuccess);
  }});
}

TEST(PluginErrors, MessageLargerThanItsReceiveFailsTheReceive) {
  run_roles({[](int) {
    Loaded l(11);
    load_and_init(l);
    SelfLoop s;
    self_loop(l.api, &s);
    auto out = weft::testing::pattern(1000, 3);
    std::vector<uint8_t> in(100, 0);
    void *smh = nullptr, *rmh = nullptr, *sreq = nullptr, *rreq = nullptr;
    ASSERT_EQ(l.api.reg_mr(s.send, out.data(), out.size(), NCCL_PTR_HOST, &smh), ncclSuccess);
    ASSERT_EQ(l.api.reg_mr(s.recv, in.data(), in.size(), NCCL_PTR_HOST, &rmh), ncclSuccess);
    void* data = in.data();
    size_t cap = in.size();
    int tag = 0;
    ASSERT_EQ(l.api.irecv(s.recv, 1, &data, &cap, &tag, &rmh, &rreq), ncclSuccess);
    ASSERT_EQ(l.api.isend(s.send, out.data(), out.size(), 0, smh, &sreq), ncclSuccess);
    EXPECT_EQ(wait_done(l.api, rreq, nullptr, 10s), ncclInvalidUsage);
    EXPECT_NE(g_last_warning.find("Truncated"), std::string::npos) << g_last_warning;
    (void)wait_done(l.api, sreq, nullptr, 10s);  // the sender may see it either way
    EXPECT_EQ(l.api.close_send(s.send), ncclSuccess);
    EXPECT_EQ(l.api.close_recv(s.recv), ncclSuccess);
    EXPECT_EQ(l.api.finalize(), ncclSuccess);
  }});
}

TEST(PluginErrors, ClosingTwiceIsRefusedAndClosingWithRequestsInFlightReturns) {
  run_roles({[](int) {
    Loaded l(10);
    load_and_init(l);
    SelfLoop s;
    self_loop(l.api, &s);
    // Receives posted that will never be matched: close must not wait for them.
    std::vector<uint8_t> in(1 << 20);
    void* rmh = nullptr;
    ASSERT_EQ(l.api.reg_mr(s.recv, in.data(), in.size(), NCCL_PTR_HOST, &rmh), ncclSuccess);
    for (int i = 0; i < 8; ++i) {
      void* data = in.data();
      size_t cap = in.size();
      int tag = 42;
      void* req = nullptr;
      ASSERT_EQ(l.api.irecv(s.recv, 1, &data, &cap, &tag, &rmh, &req), ncclSuccess);
    }
    ASSERT_EQ(l.api.dereg_mr(s.recv, rmh), ncclSuccess);
    const auto t0 = Clock::now();
    EXPECT_EQ(l.api.close_recv(s.recv), ncclSuccess);
    EXPECT_EQ(l.api.close_send(s.send), ncclSuccess);
    EXPECT_LT(Clock::now() - t0, kMaxSetupCall) << "close waited for something";
    EXPECT_EQ(l.api.close_recv(s.recv), ncclInvalidArgument);
    EXPECT_EQ(l.api.close_send(s.send), ncclInvalidArgument);
    char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
    void* listen = nullptr;
    ASSERT_EQ(l.api.listen(0, handle, &listen), ncclSuccess);
    EXPECT_EQ(l.api.close_listen(listen), ncclSuccess);
    EXPECT_EQ(l.api.close_listen(listen), ncclInvalidArgument);
    // And the plugin still works afterwards.
    SelfLoop again;
    self_loop(l.api, &again);
    EXPECT_EQ(l.api.close_send(again.send), ncclSuccess);
    EXPECT_EQ(l.api.close_recv(again.recv), ncclSuccess);
  }});
}

// More requests than a comm can hold is back-pressure, not an error: NCCL
// gets a NULL request and retries after test() has returned some.
TEST(PluginErrors, RunningOutOfRequestsAnswersNotNowUntilOneIsTested) {
  run_roles({[](int) {
    Loaded l(12);
    load_and_init(l);
    SelfLoop s;
    self_loop(l.api, &s);
    std::vector<uint8_t> in(64), out = weft::testing::pattern(64, 9);
    void *rmh = nullptr, *smh = nullptr;
    ASSERT_EQ(l.api.reg_mr(s.recv, in.data(), in.size(), NCCL_PTR_HOST, &rmh), ncclSuccess);
    ASSERT_EQ(l.api.reg_mr(s.send, out.data(), out.size(), NCCL_PTR_HOST, &smh), ncclSuccess);
    std::vector<void*> reqs;
    for (;;) {
      void* data = in.data();
      size_t cap = in.size();
      int tag = 3;
      void* req = nullptr;
      ASSERT_EQ(l.api.irecv(s.recv, 1, &data, &cap, &tag, &rmh, &req), ncclSuccess);
      if (req == nullptr) break;
      reqs.push_back(req);
      ASSERT_LT(reqs.size(), 100000u) << "irecv never pushed back";
    }
    EXPECT_GE(reqs.size(), static_cast<size_t>(NCCL_NET_MAX_REQUESTS)) << "NCCL needs 32 in flight per comm";
    // Complete the oldest receive; then one more can be posted.
    void* sreq = nullptr;
    ASSERT_EQ(l.api.isend(s.send, out.data(), out.size(), 3, smh, &sreq), ncclSuccess);
    int sizes[NCCL_NET_MAX_REQUESTS] = {};
    ASSERT_EQ(wait_done(l.api, reqs.front(), sizes), ncclSuccess);
    EXPECT_EQ(sizes[0], 64);
    EXPECT_TRUE(same_bytes(in.data(), out.data(), 64));
    ASSERT_EQ(wait_done(l.api, sreq, nullptr), ncclSuccess);
    void* data = in.data();
    size_t cap = in.size();
    int tag = 3;
    void* again = nullptr;
    EXPECT_EQ(l.api.irecv(s.recv, 1, &data, &cap, &tag, &rmh, &again), ncclSuccess);
    EXPECT_NE(again, nullptr);
    EXPECT_EQ(l.api.close_send(s.send), ncclSuccess);  // with receives still posted
    EXPECT_EQ(l.api.close_recv(s.recv), ncclSuccess);
    EXPECT_EQ(l.api.finalize(), ncclSuccess);
  }});
}

TEST(PluginErrors, UnknownEnvironmentValuesFailInitWithAMessage) {
  auto expect_init_fails = [](const char* var, const char* value, const char* needle) {
    run_roles({[=](int) {
      setenv(var, value, 1);
      Loaded l(12);
      ASSERT_TRUE(l.api.loaded());
      g_warnings = 0;
      EXPECT_NE(l.api.init(), ncclSuccess) << var << "=" << value;
      EXPECT_NE(g_last_warning.find(needle), std::string::npos) << g_last_warning;
      EXPECT_EQ(l.api.finalize(), ncclSuccess) << "finalize(NULL) after a failed init is allowed";
    }});
  };
  expect_init_fails("WEFT_CC", "cubicle", "dcqcn");  // unknown: the message lists what exists
  expect_init_fails("WEFT_CC", "swift:no_such_key=1", "no_such_key");
  expect_init_fails("WEFT_RECOVERY", "fast", "WEFT_RECOVERY");
  expect_init_fails("WEFT_IFNAME", "=nosuchif0", "WEFT_IFNAME");
  expect_init_fails("WEFT_PEER_TIMEOUT_MS", "soon", "WEFT_PEER_TIMEOUT_MS");
  expect_init_fails("WEFT_BUSY_POLL", "yes", "WEFT_BUSY_POLL");
}

// The peer dies (SIGKILL) in the middle of a 64 MiB stream in both
// directions: every pending send and receive must fail from test() within
// the peer timeout (kPeerTimeoutMs), with ncclRemoteError, never hang.
TEST(PluginErrors, PeerKilledMidTransferFailsPendingRequestsWithinTheTimeout) {
  int kill_pipe[2];
  ASSERT_EQ(pipe(kill_pipe), 0);
  pid_t victim = -1;
  auto survivor = [&](int fd) {
    ::close(kill_pipe[0]);
    Loaded l(12);
    load_and_init(l);
    Pair p;
    connect_pair(l.api, 0, fd, &p);
    if (::testing::Test::HasFatalFailure()) return;
    constexpr size_t kBig = 64u << 20;
    std::vector<uint8_t> out(kBig, 0xAB), in(kBig);
    void *smh = nullptr, *rmh = nullptr;
    ASSERT_EQ(l.api.reg_mr(p.send, out.data(), out.size(), NCCL_PTR_HOST, &smh), ncclSuccess);
    ASSERT_EQ(l.api.reg_mr(p.recv, in.data(), in.size(), NCCL_PTR_HOST, &rmh), ncclSuccess);
    std::vector<void*> reqs;
    for (int i = 0; i < 4; ++i) {
      void* r = nullptr;
      ASSERT_EQ(l.api.isend(p.send, out.data(), out.size(), 0, smh, &r), ncclSuccess);
      reqs.push_back(r);
      void* data = in.data();
      size_t cap = in.size();
      int tag = 1;
      ASSERT_EQ(l.api.irecv(p.recv, 1, &data, &cap, &tag, &rmh, &r), ncclSuccess);
      reqs.push_back(r);
    }
    barrier(fd);  // the victim is receiving and sending now
    char k = 'k';
    ASSERT_TRUE(write_all(kill_pipe[1], &k, 1));
    const auto killed = Clock::now();
    int failed = 0;
    for (void* r : reqs) {
      const ncclResult_t res = wait_done(l.api, r, nullptr, 20s);
      if (res != ncclSuccess) {
        EXPECT_TRUE(res == ncclRemoteError || res == ncclSystemError) << res;
        ++failed;
      }
    }
    const auto took = Clock::now() - killed;
    EXPECT_GT(failed, 0) << "nothing failed after the peer died";
    EXPECT_LT(took, std::chrono::milliseconds(kPeerTimeoutMs) + 3s)
        << "errors took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms (peer timeout "
        << kPeerTimeoutMs << " ms)";
    // A failed connection stays failed, and says so on every later call.
    void* r = nullptr;
    EXPECT_NE(l.api.isend(p.send, out.data(), 10, 0, smh, &r), ncclSuccess);
    EXPECT_EQ(l.api.dereg_mr(p.send, smh), ncclSuccess);
    EXPECT_EQ(l.api.dereg_mr(p.recv, rmh), ncclSuccess);
    EXPECT_EQ(l.api.close_send(p.send), ncclSuccess);
    EXPECT_EQ(l.api.close_recv(p.recv), ncclSuccess);
    EXPECT_EQ(l.api.finalize(), ncclSuccess);
  };
  auto victim_role = [&](int fd) {
    Loaded l(12);
    load_and_init(l);
    Pair p;
    connect_pair(l.api, 0, fd, &p);
    constexpr size_t kBig = 64u << 20;
    std::vector<uint8_t> out(kBig, 0xCD), in(kBig);
    void *smh = nullptr, *rmh = nullptr, *r = nullptr;
    ASSERT_EQ(l.api.reg_mr(p.send, out.data(), out.size(), NCCL_PTR_HOST, &smh), ncclSuccess);
    ASSERT_EQ(l.api.reg_mr(p.recv, in.data(), in.size(), NCCL_PTR_HOST, &rmh), ncclSuccess);
    void* data = in.data();
    size_t cap = in.size();
    int tag = 0;
    ASSERT_EQ(l.api.irecv(p.recv, 1, &data, &cap, &tag, &rmh, &r), ncclSuccess);
    ASSERT_EQ(l.api.isend(p.send, out.data(), out.size(), 1, smh, &r), ncclSuccess);
    barrier(fd);
    for (;;) {  // keeps the transfer going until killed
      int done = 0;
      (void)l.api.test(r, &done, nullptr);
      usleep(100);
    }
  };
  // The parent plays the job launcher: it kills the victim when the
  // survivor asks, while the survivor waits for its requests to fail.
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  victim = spawn([&] {
    ::close(sv[0]);
    ::close(kill_pipe[0]);
    ::close(kill_pipe[1]);
    victim_role(sv[1]);
  });
  ASSERT_GE(victim, 0);
  const pid_t surv = spawn([&] {
    ::close(sv[1]);
    survivor(sv[0]);
  });
  ASSERT_GE(surv, 0);
  ::close(sv[0]);
  ::close(sv[1]);
  ::close(kill_pipe[1]);
  pollfd pfd{kill_pipe[0], POLLIN, 0};
  const bool asked = poll(&pfd, 1, 30000) == 1;
  kill(victim, SIGKILL);
  int status = 0;
  waitpid(victim, &status, 0);
  ::close(kill_pipe[0]);
  EXPECT_TRUE(asked) << "the survivor never got to the point of killing the victim";
  expect_clean_exit(surv, Clock::now() + 30s, "survivor");
}

}  // namespace
}  // namespace weft::nccl::test
