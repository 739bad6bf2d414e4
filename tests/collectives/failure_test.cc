// tests/collectives/failure_test.cc — what happens when things go wrong:
// bootstrap errors say what is wrong (world size, duplicate rank, a rank
// that never joins, no rendezvous), launcher variables are read correctly,
// ranks that disagree on a call are told so, abort() fails the peers at once,
// and a rank killed in the middle of a collective (a real process, SIGKILL)
// makes the others fail, naming it, within the configured timeout.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "tests/collectives/world.h"

namespace weft::coll::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

BootstrapConfig bcfg(uint16_t port, int rank, int world, Nanos timeout = millis(1500)) {
  BootstrapConfig c;
  c.master_addr = "127.0.0.1";
  c.master_port = port;
  c.rank = rank;
  c.world_size = world;
  c.timeout = timeout;
  return c;
}

// Runs tcp_bootstrap for each config on its own thread; returns each status.
std::vector<Status> rendezvous(const std::vector<BootstrapConfig>& cfgs) {
  std::vector<Status> st(cfgs.size());
  std::vector<std::thread> ts;
  for (size_t i = 0; i < cfgs.size(); ++i)
    ts.emplace_back([&, i] {
      if (cfgs[i].rank != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50 * i));  // rank 0 listens first
      auto b = tcp_bootstrap(cfgs[i]);
      st[i] = b.status();
      if (b) (void)(*b)->barrier();
    });
  for (auto& t : ts) t.join();
  return st;
}

TEST(Bootstrap, TcpRendezvousExchangesDataInRankOrder) {
  const uint16_t p = free_port();
  std::vector<std::vector<int32_t>> got(4);
  std::vector<Status> st(4);
  std::vector<std::thread> ts;
  for (int r = 0; r < 4; ++r)
    ts.emplace_back([&, r] {
      auto b = tcp_bootstrap(bcfg(p, r, 4, seconds(10)));
      if (!b) {
        st[r] = b.status();
        return;
      }
      int32_t mine = 100 + r;
      got[r].resize(4);
      st[r] = (*b)->allgather(&mine, got[r].data(), 4);
    });
  for (auto& t : ts) t.join();
  for (int r = 0; r < 4; ++r) {
    ASSERT_TRUE(st[r].is_ok()) << st[r].to_string();
    EXPECT_EQ(got[r], (std::vector<int32_t>{100, 101, 102, 103}));
  }
}

TEST(Bootstrap, ARankThatNeverJoinsIsNamedAfterTheTimeout) {
  const uint16_t p = free_port();
  const auto t0 = Clock::now();
  auto st = rendezvous({bcfg(p, 0, 3), bcfg(p, 1, 3)});
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(st[0].code(), Code::kTimeout) << st[0].to_string();
  EXPECT_TRUE(contains(st[0].message(), "missing ranks: 2")) << st[0].message();
  EXPECT_FALSE(st[1].is_ok());
  EXPECT_TRUE(contains(st[1].message(), "missing ranks: 2") || contains(st[1].message(), "did not complete"))
      << st[1].message();
}

TEST(Bootstrap, WrongWorldSizeIsRefusedSayingSo) {
  const uint16_t p = free_port();
  auto st = rendezvous({bcfg(p, 0, 2), bcfg(p, 1, 3)});
  EXPECT_TRUE(contains(st[0].message(), "wrong world size")) << st[0].message();
  EXPECT_TRUE(contains(st[1].message(), "wrong world size")) << st[1].message();
}

TEST(Bootstrap, DuplicateRankIsRefusedSayingSo) {
  const uint16_t p = free_port();
  auto st = rendezvous({bcfg(p, 0, 3), bcfg(p, 1, 3), bcfg(p, 1, 3)});
  EXPECT_TRUE(contains(st[0].message(), "duplicate rank 1")) << st[0].message();
  EXPECT_TRUE(contains(st[1].message(), "duplicate rank 1") || contains(st[2].message(), "duplicate rank 1"));
}

TEST(Bootstrap, UnreachableRendezvousTimesOutSayingSo) {
  const uint16_t p = free_port();  // nobody listens there
  const auto t0 = Clock::now();
  auto b = tcp_bootstrap(bcfg(p, 1, 2, millis(300)));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kTimeout);
  EXPECT_TRUE(contains(b.status().message(), "unreachable")) << b.status().message();
}

TEST(Bootstrap, ConfigComesFromEveryLauncherConvention) {
  auto from = [](std::map<std::string, std::string> env) {
    return bootstrap_config_from_env([env](const char* n) -> const char* {
      auto it = env.find(n);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  };
  auto t = from({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29400"}});
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(t->source, "torchrun");
  EXPECT_EQ(t->rank, 3);
  EXPECT_EQ(t->world_size, 8);
  EXPECT_EQ(t->local_rank, 1);
  EXPECT_EQ(t->master_addr, "10.0.0.1");
  EXPECT_EQ(t->master_port, 29400);
  auto m = from({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                 {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->source, "ompi");
  EXPECT_EQ(m->local_rank, 1);
  auto pmi = from({{"PMI_RANK", "0"}, {"PMI_SIZE", "4"}, {"WEFT_MASTER_ADDR", "h"}, {"WEFT_MASTER_PORT", "5"}});
  ASSERT_TRUE(pmi.is_ok());
  EXPECT_EQ(pmi->source, "pmi");
  EXPECT_EQ(pmi->world_size, 4);
  auto s = from({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"SLURM_LOCALID", "2"}, {"MASTER_ADDR", "h"},
                 {"MASTER_PORT", "7"}});
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->source, "slurm");
  EXPECT_EQ(s->rank, 5);
  // WEFT_* wins over the launcher's, so a user can override.
  auto w = from({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"WEFT_RANK", "0"}, {"WEFT_WORLD_SIZE", "1"}});
  ASSERT_TRUE(w.is_ok());
  EXPECT_EQ(w->source, "weft");
  EXPECT_EQ(w->world_size, 1);
  auto none = from({});
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  auto noaddr = from({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}});
  EXPECT_TRUE(contains(noaddr.status().message(), "MASTER_ADDR")) << noaddr.status().message();
  auto bad = from({{"RANK", "x"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
  EXPECT_FALSE(bad.is_ok());
  auto out = from({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
  EXPECT_FALSE(out.is_ok());
}

// Each rank's status from one collective where rank `odd` passes different arguments.
std::vector<Status> mismatched(int n, const std::function<Status(int, Communicator&)>& call) {
  WorldOptions o;
  o.timeout = seconds(10);
  World w(n, o);
  EXPECT_TRUE(w.ok());
  std::vector<Status> st(n);
  w.run([&](int r, Communicator& c) { st[r] = call(r, c); });
  return st;
}

TEST(Mismatch, CountDifferingBetweenRanksIsDetectedNotReducedSilently) {
  std::vector<float> in(2048, 1.0f), out(2048);
  std::vector<std::vector<float>> bufs(3, in), outs(3, out);
  const auto t0 = Clock::now();
  auto st = mismatched(3, [&](int r, Communicator& c) {
    return c.all_reduce(bufs[r].data(), outs[r].data(), r == 1 ? 1024 : 1000, DataType::kF32, RedOp::kSum,
                        Algorithm::kRing);
  });
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(9)) << "should fail promptly, not by timeout";
  bool named = false;
  for (int r = 0; r < 3; ++r) {
    EXPECT_FALSE(st[r].is_ok()) << "rank " << r << " completed a mismatched all-reduce";
    named |= contains(st[r].message(), "mismatched collective");
  }
  EXPECT_TRUE(named) << st[0].message() << " | " << st[1].message() << " | " << st[2].message();
}

TEST(Mismatch, DatatypeOfTheSameSizeIsDetectedByTheHeader) {
  std::vector<std::vector<uint32_t>> bufs(3, std::vector<uint32_t>(100, 1)), outs(3, std::vector<uint32_t>(100));
  auto st = mismatched(3, [&](int r, Communicator& c) {
    return c.all_reduce(bufs[r].data(), outs[r].data(), 100, r == 2 ? DataType::kI32 : DataType::kF32, RedOp::kSum);
  });
  bool named = false;
  for (int r = 0; r < 3; ++r) {
    EXPECT_FALSE(st[r].is_ok()) << "rank " << r;
    named |= contains(st[r].message(), "int32") && contains(st[r].message(), "float");
  }
  EXPECT_TRUE(named) << st[0].message();
}

TEST(Failure, AbortFailsThePeersPromptlyNamingTheRankAndLaterCallsToo) {
  World w(3);
  ASSERT_TRUE(w.ok());
  std::vector<Status> st(3), later(3);
  std::vector<double> secs(3);
  w.run([&](int r, Communicator& c) {
    std::vector<float> v(1000, 1.0f);
    const auto t0 = Clock::now();
    if (r == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      c.abort("test says stop");
      st[r] = c.health();
    } else {
      st[r] = c.all_reduce(v.data(), v.data(), v.size(), DataType::kF32, RedOp::kSum);
    }
    secs[r] = std::chrono::duration<double>(Clock::now() - t0).count();
    later[r] = c.barrier();
  });
  // The neighbours of rank 0 name it; a rank further away may name the
  // neighbour that closed on it in turn (the failure cascades), but nobody
  // waits for the 30 s timeout.
  bool named = false;
  for (int r = 1; r < 3; ++r) {
    EXPECT_FALSE(st[r].is_ok());
    named |= contains(st[r].message(), "rank 0");
    EXPECT_TRUE(contains(st[r].message(), "closed")) << st[r].message();
    EXPECT_LT(secs[r], 5.0) << "should fail when rank 0 closes, not by timeout";
  }
  EXPECT_TRUE(named) << st[1].message() << " | " << st[2].message();
  for (int r = 0; r < 3; ++r) EXPECT_FALSE(later[r].is_ok()) << "a failed communicator must stay failed";
}

// Three processes over UDP with the TCP bootstrap; rank 2 starts an
// all-reduce and is SIGKILLed in the middle of it. Ranks 0 and 1 must report
// an error naming rank 2 within the timeout, and so must their next call.
TEST(Failure, ARankKilledMidCollectiveFailsTheOthersNamingIt) {
  const uint16_t port = free_port();
  constexpr int kRanks = 3;
  int pipes[kRanks][2];
  pid_t pids[kRanks];
  for (int r = 0; r < kRanks; ++r) {
    ASSERT_EQ(::pipe(pipes[r]), 0);
    pids[r] = ::fork();
    ASSERT_GE(pids[r], 0);
    if (pids[r] == 0) {
      ::close(pipes[r][0]);
      auto report = [&](const std::string& s) {
        (void)!::write(pipes[r][1], s.data(), s.size());
        ::_exit(0);
      };
      auto bs = tcp_bootstrap(bcfg(port, r, kRanks, seconds(20)));
      if (!bs) report("bootstrap: " + bs.status().to_string());
      CommConfig cfg;
      cfg.timeout = seconds(8);
      cfg.open_device = [] {
        DeviceParams dp = test_device_params();
        dp.engine.dead_peer_timeout = seconds(2);
        udp::UdpParams up;
        up.socket_buffer = 4u << 20;
        return udp::open_device(up, dp);
      };
      auto comm = Communicator::create(cfg, **bs);
      if (!comm) report("create: " + comm.status().to_string());
      std::vector<float> v(1 << 20, 1.0f);
      for (int it = 0; it < 2000; ++it) {
        if (r == 2 && it == 3) {
          auto q = (*comm)->iall_reduce(v.data(), v.data(), v.size(), DataType::kF32, RedOp::kSum, Algorithm::kRing);
          for (int k = 0; k < 3; ++k) (void)q->test();  // some chunks are out: now die
          ::kill(::getpid(), SIGKILL);
        }
        const auto t0 = Clock::now();
        Status st = (*comm)->all_reduce(v.data(), v.data(), v.size(), DataType::kF32, RedOp::kSum, Algorithm::kRing);
        if (!st.is_ok()) {
          const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
          const auto t1 = Clock::now();
          Status again = (*comm)->barrier();
          const double again_secs = std::chrono::duration<double>(Clock::now() - t1).count();
          report(fmt::format("{:.2f}|{}|{:.2f}|{}", secs, st.to_string(), again_secs, again.to_string()));
        }
      }
      report("never failed");
    }
    ::close(pipes[r][1]);
  }
  // Collect, with a deadline; never leave a child behind.
  std::string out[kRanks];
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (int r = 0; r < kRanks; ++r) {
    int status = 0;
    while (::waitpid(pids[r], &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pids[r], SIGKILL);
        ::waitpid(pids[r], &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    char buf[4096];
    ssize_t k;
    while ((k = ::read(pipes[r][0], buf, sizeof buf)) > 0) out[r].append(buf, static_cast<size_t>(k));
    ::close(pipes[r][0]);
  }
  EXPECT_TRUE(out[2].empty()) << "rank 2 should have died silently: " << out[2];
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r) + ": " + out[r]);
    ASSERT_NE(out[r].find('|'), std::string::npos);
    const double secs = std::stod(out[r]);
    EXPECT_LT(secs, 12.0) << "within the 8 s timeout (plus slack for a loaded machine)";
    EXPECT_TRUE(contains(out[r], "rank 2")) << "the error must name the dead rank";
    const std::string later = out[r].substr(out[r].rfind('|') + 1);
    EXPECT_FALSE(later.empty() || later == "Ok") << "the next call must fail too";
  }
}

}  // namespace
}  // namespace weft::coll::testing
