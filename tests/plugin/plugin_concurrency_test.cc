// Many connections and many threads, as NCCL uses the plugin: one listen
// comm per connection (closed right after its accept), a connection per
// channel with traffic interleaved over all of them, setup on a service
// thread while a progress thread moves data, and several communicators
// (v11+ contexts) in parallel in one process.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "tests/plugin/harness.h"
#include "tests/support/pattern.h"

namespace weft::nccl::test {
namespace {

constexpr int kChannels = 16;
constexpr int kPerChannel = 8;  // NCCL_STEPS

size_t msg_size(int ch, int k) { return 1 + static_cast<size_t>(ch) * 7919 + static_cast<size_t>(k) * 65537; }
uint32_t msg_seed(int rank, int ch, int k) { return static_cast<uint32_t>(rank * 100000 + ch * 100 + k); }

// Sets up kChannels connections each way with all listens and connects in
// flight at once, then interleaves kPerChannel messages on every one.
void channels_role(int v, int fd, int rank) {
  Loaded l(v);
  load_and_init(l);
  std::vector<char> mine(kChannels * NCCL_NET_HANDLE_MAXSIZE), theirs(mine.size());
  std::vector<void*> listens(kChannels), sends(kChannels, nullptr), recvs(kChannels, nullptr);
  for (int c = 0; c < kChannels; ++c) {
    ASSERT_EQ(l.api.listen(0, &mine[c * NCCL_NET_HANDLE_MAXSIZE], &listens[c]), ncclSuccess);
  }
  ASSERT_TRUE(write_all(fd, mine.data(), mine.size()));
  ASSERT_TRUE(read_all(fd, theirs.data(), theirs.size()));
  int up = 0;
  const auto deadline = Clock::now() + 20s;
  while (up < 2 * kChannels) {
    ASSERT_LT(Clock::now(), deadline) << up << " of " << 2 * kChannels << " comms up";
    for (int c = 0; c < kChannels; ++c) {
      if (sends[c] == nullptr) {
        ASSERT_EQ(l.api.connect(0, &theirs[c * NCCL_NET_HANDLE_MAXSIZE], &sends[c]), ncclSuccess);
        up += sends[c] != nullptr;
      }
      if (recvs[c] == nullptr) {
        ASSERT_EQ(l.api.accept(listens[c], &recvs[c]), ncclSuccess);
        if (recvs[c] != nullptr) {
          ++up;
          ASSERT_EQ(l.api.close_listen(listens[c]), ncclSuccess);
        }
      }
    }
  }
  // Buffers and requests per (channel, step).
  struct Slot {
    std::vector<uint8_t> out, in;
    void *smh = nullptr, *rmh = nullptr, *sreq = nullptr, *rreq = nullptr;
  };
  std::vector<Slot> slots(kChannels * kPerChannel);
  const int peer = 1 - rank;
  for (int c = 0; c < kChannels; ++c) {
    for (int k = 0; k < kPerChannel; ++k) {
      Slot& s = slots[c * kPerChannel + k];
      s.out = weft::testing::pattern(msg_size(c, k), msg_seed(rank, c, k));
      s.in.assign(msg_size(c, k), 0);
      ASSERT_EQ(l.api.reg_mr(sends[c], s.out.data(), s.out.size(), NCCL_PTR_HOST, &s.smh), ncclSuccess);
      ASSERT_EQ(l.api.reg_mr(recvs[c], s.in.data(), s.in.size(), NCCL_PTR_HOST, &s.rmh), ncclSuccess);
      void* data = s.in.data();
      size_t cap = s.in.size();
      int tag = peer;
      ASSERT_EQ(l.api.irecv(recvs[c], 1, &data, &cap, &tag, &s.rmh, &s.rreq), ncclSuccess);
      ASSERT_NE(s.rreq, nullptr);
    }
  }
  barrier(fd);
  for (int k = 0; k < kPerChannel; ++k) {  // step-major: every channel busy at once
    for (int c = 0; c < kChannels; ++c) {
      Slot& s = slots[c * kPerChannel + k];
      ASSERT_EQ(l.api.isend(sends[c], s.out.data(), s.out.size(), rank, s.smh, &s.sreq), ncclSuccess);
      ASSERT_NE(s.sreq, nullptr);
    }
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    Slot& s = slots[i];
    int size = -1;
    ASSERT_EQ(wait_done(l.api, s.sreq, &size), ncclSuccess);
    int sizes[NCCL_NET_MAX_REQUESTS] = {};
    ASSERT_EQ(wait_done(l.api, s.rreq, sizes), ncclSuccess);
    const int c = static_cast<int>(i) / kPerChannel, k = static_cast<int>(i) % kPerChannel;
    EXPECT_EQ(sizes[0], static_cast<int>(msg_size(c, k)));
    const auto want = weft::testing::pattern(msg_size(c, k), msg_seed(peer, c, k));
    EXPECT_EQ(std::memcmp(s.in.data(), want.data(), want.size()), 0) << "channel " << c << " step " << k;
  }
  barrier(fd);
  for (int c = 0; c < kChannels; ++c) {
    for (int k = 0; k < kPerChannel; ++k) {
      EXPECT_EQ(l.api.dereg_mr(sends[c], slots[c * kPerChannel + k].smh), ncclSuccess);
      EXPECT_EQ(l.api.dereg_mr(recvs[c], slots[c * kPerChannel + k].rmh), ncclSuccess);
    }
    EXPECT_EQ(l.api.close_send(sends[c]), ncclSuccess);
    EXPECT_EQ(l.api.close_recv(recvs[c]), ncclSuccess);
  }
  if (l.api.has_finalize()) { EXPECT_EQ(l.api.finalize(), ncclSuccess); }
}

TEST(PluginConcurrency, SixteenChannelsEachWayCarryInterleavedTraffic) {
  run_roles({[](int fd) { channels_role(12, fd, 0); }, [](int fd) { channels_role(12, fd, 1); }});
}

// Per "communicator": its own ctx (v12 init), a service thread that sets up
// a self-loop connection and registers, and a progress thread that moves
// data on it. Several communicators run in parallel threads of one process.
void communicator(int id, std::atomic<int>* failures) {
  Loaded l(12);  // dlopen of a loaded library: same instance, new ctx
  if (!l.api.loaded() || l.api.init() != ncclSuccess) {
    ++*failures;
    return;
  }
  void *send = nullptr, *recv = nullptr, *smh = nullptr, *rmh = nullptr;
  std::vector<uint8_t> out = weft::testing::pattern(300000, 77 + id), in(300000);
  std::thread service([&] {
    char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
    void* listen = nullptr;
    if (l.api.listen(0, handle, &listen) != ncclSuccess) return;
    const auto deadline = Clock::now() + 10s;
    while ((send == nullptr || recv == nullptr) && Clock::now() < deadline) {
      if (send == nullptr && l.api.connect(0, handle, &send) != ncclSuccess) break;
      if (recv == nullptr && l.api.accept(listen, &recv) != ncclSuccess) break;
    }
    (void)l.api.close_listen(listen);
    if (send && recv) {
      (void)l.api.reg_mr(send, out.data(), out.size(), NCCL_PTR_HOST, &smh);
      (void)l.api.reg_mr(recv, in.data(), in.size(), NCCL_PTR_HOST, &rmh);
    }
  });
  service.join();  // NCCL's proxy hands the comm to the progress thread after setup
  if (smh == nullptr || rmh == nullptr) {
    ++*failures;
    return;
  }
  std::thread progress([&] {
    for (int round = 0; round < 20; ++round) {
      void* data = in.data();
      size_t cap = in.size();
      int tag = id;
      void *rreq = nullptr, *sreq = nullptr;
      if (l.api.irecv(recv, 1, &data, &cap, &tag, &rmh, &rreq) != ncclSuccess ||
          l.api.isend(send, out.data(), out.size() - round, id, smh, &sreq) != ncclSuccess || !rreq || !sreq) {
        ++*failures;
        return;
      }
      int sizes[NCCL_NET_MAX_REQUESTS] = {}, ss = 0;
      if (wait_done(l.api, rreq, sizes) != ncclSuccess || wait_done(l.api, sreq, &ss) != ncclSuccess ||
          sizes[0] != static_cast<int>(out.size()) - round || std::memcmp(in.data(), out.data(), sizes[0]) != 0) {
        ++*failures;
        return;
      }
    }
  });
  progress.join();
  if (l.api.dereg_mr(send, smh) != ncclSuccess || l.api.dereg_mr(recv, rmh) != ncclSuccess ||
      l.api.close_send(send) != ncclSuccess || l.api.close_recv(recv) != ncclSuccess ||
      l.api.finalize() != ncclSuccess)
    ++*failures;
}

TEST(PluginConcurrency, CommunicatorsInParallelThreadsWithSetupAndDataOnDifferentThreads) {
  run_roles({[](int) {
    std::atomic<int> failures{0};
    std::vector<std::thread> comms;
    for (int id = 0; id < 4; ++id) comms.emplace_back(communicator, id, &failures);
    for (auto& t : comms) t.join();
    EXPECT_EQ(failures.load(), 0);
  }});
}

// getProperties is called from several threads at once during topology
// detection: it must be consistent and race-free (run under TSan/ASan too).
TEST(PluginConcurrency, PropertiesFromManyThreadsAgree) {
  run_roles({[](int) {
    Loaded l(9);
    load_and_init(l);
    std::atomic<int> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t)
      ts.emplace_back([&] {
        for (int i = 0; i < 2000; ++i) {
          Props p;
          if (l.api.properties(0, &p) != ncclSuccess || p.name != "lo" || p.maxRecvs < 1) ++bad;
        }
      });
    for (auto& t : ts) t.join();
    EXPECT_EQ(bad.load(), 0);
  }});
}

}  // namespace
}  // namespace weft::nccl::test
