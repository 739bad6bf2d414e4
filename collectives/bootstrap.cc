// collectives/bootstrap.cc — how ranks first meet.
//
// TCP: a star at rank 0. Every other rank connects (retrying while rank 0 is
// not up yet), introduces itself (magic, version, job token, rank, world
// size), and rank 0 answers once everyone is there, or with the reason the
// job cannot start. The sockets stay open for allgather(), which rank 0
// relays. Every wait is bounded by the configured timeout.
//
// In-process: N bootstraps sharing a mutex, for tests whose ranks are threads.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "weft/collectives.h"

namespace weft::coll {

Status Bootstrap::barrier() {
  uint8_t mine = 1;
  std::vector<uint8_t> all(static_cast<size_t>(size()));
  return allgather(&mine, all.data(), 1);
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kMagic = 0x57425354;  // "WBST"
constexpr uint32_t kVersion = 1;

struct Hello {
  uint32_t magic, version;
  uint64_t token;
  int32_t rank, world;
};
struct Reply {
  int32_t ok;
  char why[300];
};

int remaining_ms(Clock::time_point deadline) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

// Reads or writes exactly n bytes before the deadline.
bool io_all(int fd, void* buf, size_t n, Clock::time_point deadline, bool write) {
  auto* p = static_cast<uint8_t*>(buf);
  size_t done = 0;
  while (done < n) {
    pollfd pfd{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
    const int pr = ::poll(&pfd, 1, remaining_ms(deadline));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return false;
    const ssize_t r = write ? ::send(fd, p + done, n - done, MSG_NOSIGNAL) : ::recv(fd, p + done, n - done, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

Result<sockaddr_in> resolve(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int e = ::getaddrinfo(host.c_str(), nullptr, &hints, &res); e != 0 || res == nullptr)
    return Status(Code::kInvalidArgument,
                  fmt::format("bootstrap: cannot resolve MASTER_ADDR '{}': {}", host, gai_strerror(e)));
  sockaddr_in a = *reinterpret_cast<sockaddr_in*>(res->ai_addr);
  ::freeaddrinfo(res);
  a.sin_port = htons(port);
  return a;
}

class TcpBootstrap final : public Bootstrap {
 public:
  TcpBootstrap(const BootstrapConfig& c) : cfg_(c) {}
  ~TcpBootstrap() override {
    for (int fd : peers_)
      if (fd >= 0) ::close(fd);
    if (root_fd_ >= 0) ::close(root_fd_);
  }
  int rank() const override { return cfg_.rank; }
  int size() const override { return cfg_.world_size; }

  Status start() {
    const auto deadline = Clock::now() + std::chrono::nanoseconds(cfg_.timeout.count());
    auto addr = resolve(cfg_.master_addr, cfg_.master_port);
    if (!addr) return addr.status();
    return cfg_.rank == 0 ? start_root(*addr, deadline) : start_leaf(*addr, deadline);
  }

  Status allgather(const void* mine, void* all, size_t bytes) override {
    const auto deadline = Clock::now() + std::chrono::nanoseconds(cfg_.timeout.count());
    auto* out = static_cast<uint8_t*>(all);
    const size_t n = static_cast<size_t>(cfg_.world_size);
    if (cfg_.rank == 0) {
      std::memcpy(out, mine, bytes);
      for (size_t r = 1; r < n; ++r)
        if (!io_all(peers_[r], out + r * bytes, bytes, deadline, false))
          return Status(Code::kPeerFailed,
                        fmt::format("bootstrap allgather: rank {} went away or is late (timeout {} ms)", r,
                                    cfg_.timeout.count() / 1000000));
      for (size_t r = 1; r < n; ++r)
        if (!io_all(peers_[r], out, n * bytes, deadline, true))
          return Status(Code::kPeerFailed, fmt::format("bootstrap allgather: rank {} went away", r));
      return Status::ok();
    }
    if (!io_all(root_fd_, const_cast<void*>(mine), bytes, deadline, true) ||
        !io_all(root_fd_, out, n * bytes, deadline, false))
      return Status(Code::kPeerFailed, fmt::format("bootstrap allgather: rank 0 went away or is late (timeout {} ms)",
                                                   cfg_.timeout.count() / 1000000));
    return Status::ok();
  }

 private:
  Status start_root(const sockaddr_in& addr, Clock::time_point deadline) {
    const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0) return Status(Code::kIoError, fmt::format("bootstrap: socket: {}", std::strerror(errno)));
    const int one = 1;
    ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(lfd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 128) != 0) {
      const int e = errno;
      ::close(lfd);
      return Status(Code::kIoError,
                    fmt::format("bootstrap: rank 0 cannot listen on {}:{}: {}{}", cfg_.master_addr, cfg_.master_port,
                                std::strerror(e),
                                e == EADDRINUSE ? " (another job uses MASTER_PORT, or two processes have RANK=0: pick "
                                                  "another port or fix the ranks)"
                                                : " (MASTER_ADDR must be an address of rank 0's host)"));
    }
    const size_t n = static_cast<size_t>(cfg_.world_size);
    peers_.assign(n, -1);
    std::vector<std::string> from(n);
    size_t joined = 1;
    Status bad;
    while (joined < n && bad.is_ok()) {
      pollfd pfd{lfd, POLLIN, 0};
      const int pr = ::poll(&pfd, 1, remaining_ms(deadline));
      if (pr < 0 && errno == EINTR) continue;
      if (pr <= 0) {
        std::string missing;
        for (size_t r = 1; r < n; ++r)
          if (peers_[r] < 0) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
        bad = Status(Code::kTimeout,
                     fmt::format("bootstrap: only {} of {} ranks joined the rendezvous at {}:{} within {} ms; missing "
                                 "ranks: {} (were they started, with the same MASTER_ADDR/MASTER_PORT and WORLD_SIZE?)",
                                 joined, n, cfg_.master_addr, cfg_.master_port, cfg_.timeout.count() / 1000000,
                                 missing));
        break;
      }
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      const int fd = ::accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (fd < 0) continue;
      const int nd = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd);
      char ip[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
      const std::string who = fmt::format("{}:{}", ip, ntohs(peer.sin_port));
      Hello h{};
      if (!io_all(fd, &h, sizeof h, std::min(deadline, Clock::now() + std::chrono::seconds(5)), false) ||
          h.magic != kMagic) {
        ::close(fd);  // not one of ours (a port scanner, another protocol)
        continue;
      }
      auto refuse = [&](std::string why) {
        Reply rep{};
        std::snprintf(rep.why, sizeof rep.why, "%s", why.c_str());
        io_all(fd, &rep, sizeof rep, deadline, true);
        ::close(fd);
      };
      if (h.version != kVersion) {
        refuse(fmt::format("bootstrap version {} at rank 0, {} here: run the same weft build everywhere", kVersion,
                           h.version));
        continue;
      }
      if (h.token != cfg_.job_token) {
        refuse(fmt::format("job token {:#x} does not match rank 0's {:#x}: this process belongs to another job "
                           "(or WEFT_JOB_TOKEN differs)",
                           h.token, cfg_.job_token));
        continue;
      }
      if (h.world != cfg_.world_size) {
        bad = Status(Code::kInvalidArgument,
                     fmt::format("bootstrap: wrong world size: rank {} (from {}) says WORLD_SIZE={}, rank 0 says {}: "
                                 "start every rank with the same world size",
                                 h.rank, who, h.world, cfg_.world_size));
        refuse(bad.message());
        break;
      }
      if (h.rank <= 0 || h.rank >= cfg_.world_size) {
        bad = Status(Code::kInvalidArgument,
                     fmt::format("bootstrap: rank {} (from {}) is outside [1, {}) (rank 0 is the rendezvous): fix "
                                 "RANK",
                                 h.rank, who, cfg_.world_size));
        refuse(bad.message());
        break;
      }
      if (peers_[h.rank] >= 0) {
        bad = Status(Code::kInvalidArgument,
                     fmt::format("bootstrap: duplicate rank {}: joined from {} and again from {}: each process needs "
                                 "a distinct RANK",
                                 h.rank, from[h.rank], who));
        refuse(bad.message());
        break;
      }
      peers_[h.rank] = fd;
      from[h.rank] = who;
      ++joined;
    }
    ::close(lfd);
    Reply rep{};
    rep.ok = bad.is_ok() ? 1 : 0;
    std::snprintf(rep.why, sizeof rep.why, "%s", bad.message().c_str());
    for (size_t r = 1; r < n; ++r)
      if (peers_[r] >= 0) io_all(peers_[r], &rep, sizeof rep, deadline, true);
    return bad;
  }

  Status start_leaf(const sockaddr_in& addr, Clock::time_point deadline) {
    std::string last = "no attempt";
    for (;;) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return Status(Code::kIoError, fmt::format("bootstrap: socket: {}", std::strerror(errno)));
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
        root_fd_ = fd;
        break;
      }
      last = std::strerror(errno);
      ::close(fd);
      if (Clock::now() >= deadline)
        return Status(Code::kTimeout,
                      fmt::format("bootstrap: rendezvous at {}:{} unreachable for {} ms (last error: {}): is rank 0 "
                                  "running, and are MASTER_ADDR/MASTER_PORT right?",
                                  cfg_.master_addr, cfg_.master_port, cfg_.timeout.count() / 1000000, last));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const int nd = 1;
    ::setsockopt(root_fd_, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd);
    Hello h{kMagic, kVersion, cfg_.job_token, cfg_.rank, cfg_.world_size};
    Reply rep{};
    if (!io_all(root_fd_, &h, sizeof h, deadline, true))
      return Status(Code::kPeerFailed, "bootstrap: rank 0 closed the rendezvous connection");
    if (!io_all(root_fd_, &rep, sizeof rep, deadline, false))
      return Status(Code::kTimeout,
                    fmt::format("bootstrap: rank 0 at {}:{} did not complete the rendezvous within {} ms: are all {} "
                                "ranks started?",
                                cfg_.master_addr, cfg_.master_port, cfg_.timeout.count() / 1000000, cfg_.world_size));
    rep.why[sizeof rep.why - 1] = 0;
    if (!rep.ok) return Status(Code::kRejected, fmt::format("bootstrap refused by rank 0: {}", rep.why));
    return Status::ok();
  }

  BootstrapConfig cfg_;
  std::vector<int> peers_;  // rank 0: socket per rank
  int root_fd_ = -1;        // others: socket to rank 0
};

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  int n = 0;
  Nanos timeout;
  uint64_t gen = 0;
  int arrived = 0;
  std::vector<std::vector<uint8_t>> blobs;
  std::vector<uint8_t> result[2];  // by generation parity (see allgather)
};

class InProcessBootstrap final : public Bootstrap {
 public:
  InProcessBootstrap(std::shared_ptr<Shared> s, int rank) : s_(std::move(s)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return s_->n; }
  // A generation completes when all n arrive; its result is kept by parity.
  // Rank threads cannot lap each other by two generations (each needs all n
  // to arrive), so result[g % 2] is never overwritten before it is read.
  Status allgather(const void* mine, void* all, size_t bytes) override {
    std::unique_lock<std::mutex> lk(s_->mu);
    const uint64_t g = s_->gen;
    s_->blobs[rank_].assign(static_cast<const uint8_t*>(mine), static_cast<const uint8_t*>(mine) + bytes);
    if (++s_->arrived == s_->n) {
      auto& res = s_->result[g % 2];
      res.clear();
      for (auto& b : s_->blobs) res.insert(res.end(), b.begin(), b.end());
      s_->arrived = 0;
      s_->gen++;
      s_->cv.notify_all();
    } else if (!s_->cv.wait_for(lk, std::chrono::nanoseconds(s_->timeout.count()), [&] { return s_->gen != g; })) {
      return Status(Code::kTimeout, fmt::format("in-process bootstrap: only {} of {} ranks arrived within {} ms",
                                                s_->arrived, s_->n, s_->timeout.count() / 1000000));
    }
    const auto& res = s_->result[g % 2];
    if (res.size() != bytes * static_cast<size_t>(s_->n))
      return Status(Code::kInvalidArgument, "in-process bootstrap: ranks passed different sizes to allgather");
    std::memcpy(all, res.data(), res.size());
    return Status::ok();
  }

 private:
  std::shared_ptr<Shared> s_;
  int rank_;
};

}  // namespace

Result<std::unique_ptr<Bootstrap>> tcp_bootstrap(const BootstrapConfig& cfg) {
  if (cfg.world_size < 1)
    return Status(Code::kInvalidArgument, fmt::format("bootstrap: world size {} must be at least 1", cfg.world_size));
  if (cfg.rank < 0 || cfg.rank >= cfg.world_size)
    return Status(Code::kInvalidArgument,
                  fmt::format("bootstrap: rank {} is outside [0, {}): fix RANK or WORLD_SIZE", cfg.rank, cfg.world_size));
  auto b = std::make_unique<TcpBootstrap>(cfg);
  if (cfg.world_size > 1) WEFT_RETURN_IF_ERROR(b->start());
  return std::unique_ptr<Bootstrap>(std::move(b));
}

std::vector<std::unique_ptr<Bootstrap>> in_process_bootstraps(int n, Nanos timeout) {
  auto s = std::make_shared<Shared>();
  s->n = n;
  s->timeout = timeout;
  s->blobs.resize(n);
  std::vector<std::unique_ptr<Bootstrap>> out;
  for (int r = 0; r < n; ++r) out.push_back(std::make_unique<InProcessBootstrap>(s, r));
  return out;
}

}  // namespace weft::coll
