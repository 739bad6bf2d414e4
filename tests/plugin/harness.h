// tests/plugin/harness.h — plays NCCL's proxy in separate processes.
//
// Every scenario runs in forked children that dlopen the plugin themselves,
// so each starts from a fresh library (no progress thread crosses a fork)
// and a crash or a hang in one is a failed test, not a dead test binary.
// Children talk over a socketpair: the out-of-band channel NCCL's bootstrap
// would be (listen handles, barriers).
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "tests/plugin/net_api.h"

namespace weft::nccl::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline const char* plugin_path() { return WEFT_NCCL_PLUGIN_PATH; }

// Loopback only, and a short dead-peer timeout so failure tests stay fast
// (but not so short that a process descheduled on a loaded 2-core CI host
// looks dead: keepalives go every 200 ms).
inline constexpr int kPeerTimeoutMs = 2000;
inline void test_environment() {
  setenv("WEFT_IFNAME", "=lo", 1);
  setenv("WEFT_PEER_TIMEOUT_MS", std::to_string(kPeerTimeoutMs).c_str(), 1);
}

inline bool write_all(int fd, const void* p, size_t n) {
  auto* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, c, n);
    if (w <= 0) return false;
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}
inline bool read_all(int fd, void* p, size_t n) {
  auto* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = ::read(fd, c, n);
    if (r <= 0) return false;
    c += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}
// memcmp that accepts empty ranges (an empty vector's data() may be NULL,
// which memcmp may not be given even for n == 0).
inline bool same_bytes(const void* a, const void* b, size_t n) { return n == 0 || std::memcmp(a, b, n) == 0; }

// Both sides reach this point before either goes on.
inline void barrier(int fd) {
  char x = 'b';
  ASSERT_TRUE(write_all(fd, &x, 1));
  ASSERT_TRUE(read_all(fd, &x, 1));
}

#if defined(__SANITIZE_ADDRESS__)
extern "C" int __lsan_do_recoverable_leak_check();
// Children leave with _exit (no atexit, so no automatic leak check): ask
// LeakSanitizer explicitly, after the role has closed and unloaded the plugin.
inline void check_leaks() { EXPECT_EQ(__lsan_do_recoverable_leak_check(), 0) << "LeakSanitizer found leaks"; }
#else
inline void check_leaks() {}
#endif

// Forks a child that sets the test environment, runs `role` and exits 0
// unless it recorded a failure.
inline pid_t spawn(const std::function<void()>& role) {
  const pid_t pid = fork();
  if (pid == 0) {
    test_environment();
    role();
    check_leaks();
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  return pid;
}

// Waits for `pid` until `deadline`; kills it then. Records a failure unless
// it exited with 0.
inline void expect_clean_exit(pid_t pid, Clock::time_point deadline, const std::string& what) {
  int status = 0;
  for (;;) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << what << " hung and was killed";
      return;
    }
    usleep(2000);
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << what << (WIFSIGNALED(status) ? " died of signal " + std::to_string(WTERMSIG(status))
                                      : " failed (exit " + std::to_string(WEXITSTATUS(status)) + ")");
}

// Runs each role in its own child; role i gets end i of one socketpair.
// Waits at most `timeout` for all of them.
inline void run_roles(const std::vector<std::function<void(int fd)>>& roles, std::chrono::seconds timeout = 60s) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::vector<pid_t> pids;
  for (size_t i = 0; i < roles.size(); ++i) {
    const int mine = sv[i & 1], other = sv[1 - (i & 1)];
    const pid_t pid = spawn([&, mine, other] {
      ::close(other);
      roles[i](mine);
    });
    ASSERT_GE(pid, 0);
    pids.push_back(pid);
  }
  ::close(sv[0]);
  ::close(sv[1]);
  const auto deadline = Clock::now() + timeout;
  for (size_t i = 0; i < pids.size(); ++i) expect_clean_exit(pids[i], deadline, "role " + std::to_string(i));
}

// Loads version `v` and inits it; the first device must be loopback.
struct Loaded {
  explicit Loaded(int v) : api(plugin_path(), v) {}
  NetApi api;
  int dev = 0;
};
inline void load_and_init(Loaded& l) {
  ASSERT_TRUE(l.api.loaded()) << dlerror();
  ASSERT_EQ(l.api.init(), ncclSuccess);
  int n = 0;
  ASSERT_EQ(l.api.devices(&n), ncclSuccess);
  ASSERT_GE(n, 1);
}

// Every setup call must return promptly: NCCL drives many of them from one
// thread, and a blocking one deadlocks it. A blocking connect in the
// one-thread self loop would wait out weft's 5 s handshake timeout, so 1 s
// catches it while leaving room for a loaded host's scheduling delays.
inline constexpr auto kMaxSetupCall = 1000ms;

struct Pair {
  void* send = nullptr;  // to the peer
  void* recv = nullptr;  // from the peer
};

// Listen, swap handles with the peer, then poll connect and accept in one
// loop until both return a comm (NCCL's ring setup).
inline void connect_pair(NetApi& api, int dev, int fd, Pair* out) {
  char mine[NCCL_NET_HANDLE_MAXSIZE] = {}, theirs[NCCL_NET_HANDLE_MAXSIZE] = {};
  void* listen = nullptr;
  ASSERT_EQ(api.listen(dev, mine, &listen), ncclSuccess);
  ASSERT_NE(listen, nullptr);
  ASSERT_TRUE(write_all(fd, mine, sizeof mine));
  ASSERT_TRUE(read_all(fd, theirs, sizeof theirs));
  const auto deadline = Clock::now() + 10s;
  while (out->send == nullptr || out->recv == nullptr) {
    ASSERT_LT(Clock::now(), deadline) << "connect/accept did not complete in 10 s";
    auto t0 = Clock::now();
    if (out->send == nullptr) { ASSERT_EQ(api.connect(dev, theirs, &out->send), ncclSuccess); }
    if (out->recv == nullptr) { ASSERT_EQ(api.accept(listen, &out->recv), ncclSuccess); }
    ASSERT_LT(Clock::now() - t0, kMaxSetupCall) << "connect/accept blocked";
  }
  ASSERT_EQ(api.close_listen(listen), ncclSuccess);  // NCCL closes it right after accept
}

// Polls test() until done or error; returns the result, fills sizes.
inline ncclResult_t wait_done(NetApi& api, void* req, int* sizes, std::chrono::seconds limit = 30s) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    int done = 0;
    const ncclResult_t r = api.test(req, &done, sizes);
    if (r != ncclSuccess || done) return r;
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "request not done after " << limit.count() << " s";
      return ncclInternalError;
    }
  }
}

}  // namespace weft::nccl::test
