#include "transport/udp/udp_driver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/clock.h"
#include "common/log.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace weft::udp {

namespace {

constexpr size_t kRxBatch = 32;
constexpr size_t kRxBufSize = 65536;  // one GRO super-datagram at most
constexpr size_t kMaxGsoBytes = 65000;
constexpr size_t kMaxGsoSegments = 64;

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

struct Sockaddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

Sockaddr to_sockaddr(const core::NetAddr& a) {
  Sockaddr s;
  if (a.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&s.ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(a.port);
    std::memcpy(&in->sin_addr, a.bytes.data(), 4);
    s.len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s.ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a.port);
    std::memcpy(&in6->sin6_addr, a.bytes.data(), 16);
    s.len = sizeof(sockaddr_in6);
  }
  return s;
}

core::NetAddr from_sockaddr(const sockaddr_storage& ss) {
  core::NetAddr a;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    a.family = AF_INET;
    a.port = ntohs(in->sin_port);
    std::memcpy(a.bytes.data(), &in->sin_addr, 4);
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    a.family = AF_INET6;
    a.port = ntohs(in6->sin6_port);
    std::memcpy(a.bytes.data(), &in6->sin6_addr, 16);
  }
  return a;
}

Result<core::NetAddr> parse(std::string_view text) {
  std::string s(text);
  std::string host, port;
  if (!s.empty() && s[0] == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return Status(Code::kInvalidArgument, "address '" + s + "' is not [ipv6]:port");
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos)
      return Status(Code::kInvalidArgument, "address '" + s + "' has no port: use host:port, e.g. 127.0.0.1:5000");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535)
    return Status(Code::kInvalidArgument, "address '" + s + "' has a bad port '" + port + "' (0..65535)");
  core::NetAddr a;
  a.port = static_cast<uint16_t>(p);
  if (inet_pton(AF_INET, host.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, host.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr)
    return Status(Code::kInvalidArgument, "cannot resolve host '" + host + "': use an IP address or a name in /etc/hosts");
  sockaddr_storage ss{};
  std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  core::NetAddr r = from_sockaddr(ss);
  r.port = a.port;
  return r;
}

std::string format_addr(const core::NetAddr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.family == AF_INET ? AF_INET : AF_INET6, a.bytes.data(), buf, sizeof buf);
  if (a.family == AF_INET6) return "[" + std::string(buf) + "]:" + std::to_string(a.port);
  return std::string(buf) + ":" + std::to_string(a.port);
}

}  // namespace

class UdpDriver final : public Driver {
 public:
  ~UdpDriver() override {
    for (int fd : fds_) ::close(fd);
    if (event_fd_ >= 0) ::close(event_fd_);
  }

  static Result<std::unique_ptr<Driver>> open(const UdpParams& p, UdpInfo* info) {
    auto d = std::unique_ptr<UdpDriver>(new UdpDriver());
    WEFT_RETURN_IF_ERROR(d->init(p));
    if (info != nullptr) *info = d->info_;
    return std::unique_ptr<Driver>(std::move(d));
  }

  std::string name() const override { return "udp"; }
  std::string local_address() const override { return format_addr(local_); }
  Result<core::NetAddr> resolve(std::string_view peer) const override { return parse(peer); }
  std::string format(const core::NetAddr& a) const override { return format_addr(a); }
  Nanos now() const override { return clock_.now(); }

  size_t send(std::span<const core::TxPacket> pkts) override;
  size_t receive(const RxSink& sink) override;

  void wait(Nanos deadline) override {
    pollfd pfd[2] = {{fds_[0], POLLIN, 0}, {event_fd_, POLLIN, 0}};
    const Nanos now = clock_.now();
    if (deadline <= now) return;
    const int64_t ns = (deadline - now).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    if (::ppoll(pfd, 2, &ts, nullptr) > 0 && (pfd[1].revents & POLLIN)) {
      uint64_t v;
      (void)!::read(event_fd_, &v, sizeof v);
    }
  }
  void wake() override {
    const uint64_t one = 1;
    (void)!::write(event_fd_, &one, sizeof one);
  }

 private:
  UdpDriver() = default;
  Status init(const UdpParams& p);
  Status make_socket(const core::NetAddr& bind_to, int& fd_out);
  void send_group(int fd, const core::TxPacket* const* pkts, size_t n);

  MonotonicClock clock_;
  std::vector<int> fds_;  // [0] listens and sends path 0; the rest send
  int event_fd_ = -1;
  core::NetAddr local_;
  UdpInfo info_;
  UdpParams p_;
  // Receive buffers and headers, reused for every batch.
  std::vector<uint8_t> rx_buf_;
  std::array<mmsghdr, kRxBatch> rx_msgs_{};
  std::array<iovec, kRxBatch> rx_iov_{};
  std::array<sockaddr_storage, kRxBatch> rx_addr_{};
  std::array<std::array<uint8_t, 64>, kRxBatch> rx_ctrl_{};
  // Send scratch, sized for one batch of 64 packets.
  std::vector<const core::TxPacket*> by_fd_;
  std::vector<mmsghdr> tx_msgs_;
  std::vector<iovec> tx_iov_;
  std::vector<Sockaddr> tx_addr_;
  std::vector<std::array<uint8_t, 64>> tx_ctrl_;
  bool warned_send_error_ = false;
};

Status UdpDriver::make_socket(const core::NetAddr& bind_to, int& fd_out) {
  const int fam = bind_to.family == AF_INET ? AF_INET : AF_INET6;
  int fd = ::socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status(Code::kIoError, "socket(): " + errno_text(errno));
  fd_out = fd;
  const int want = static_cast<int>(p_.socket_buffer);
  for (int opt : {SO_RCVBUF, SO_SNDBUF}) {
    const int force = opt == SO_RCVBUF ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
    // FORCE works for root (CAP_NET_ADMIN) past net.core.*mem_max.
    if (::setsockopt(fd, SOL_SOCKET, force, &want, sizeof want) != 0)
      (void)::setsockopt(fd, SOL_SOCKET, opt, &want, sizeof want);
  }
  const int on = 1;
  if (fam == AF_INET)
    (void)::setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on);
  else
    (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof on);
  Sockaddr sa = to_sockaddr(bind_to);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa.ss), sa.len) != 0) {
    const int e = errno;
    if (e == EADDRINUSE)
      return Status(Code::kIoError, "UDP port " + std::to_string(bind_to.port) + " on " + p_.bind_address +
                                        " is in use: pick another port, or 0 for any free one");
    if (e == EADDRNOTAVAIL)
      return Status(Code::kIoError, "cannot bind to " + format_addr(bind_to) +
                                        ": the address is not configured on this host (check `ip addr`)");
    return Status(Code::kIoError, "bind(" + format_addr(bind_to) + "): " + errno_text(e));
  }
  return Status::ok();
}

Status UdpDriver::init(const UdpParams& p) {
  p_ = p;
  if (p.source_ports < 1 || p.source_ports > 256)
    return Status(Code::kInvalidArgument, "UdpParams::source_ports=" + std::to_string(p.source_ports) + " is outside [1, 256]");
  auto addr = parse(p.bind_address + ":" + std::to_string(p.port));
  if (p.bind_address.find(':') != std::string::npos) addr = parse("[" + p.bind_address + "]:" + std::to_string(p.port));
  if (!addr) return addr.status();
  for (uint16_t i = 0; i < p.source_ports; ++i) {
    core::NetAddr b = *addr;
    if (i > 0) b.port = 0;
    int fd = -1;
    Status s = make_socket(b, fd);
    if (fd >= 0) fds_.push_back(fd);
    WEFT_RETURN_IF_ERROR(s);
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fds_[0], reinterpret_cast<sockaddr*>(&ss), &len);
  local_ = from_sockaddr(ss);

  int rcv = 0, snd = 0;
  socklen_t ol = sizeof rcv;
  ::getsockopt(fds_[0], SOL_SOCKET, SO_RCVBUF, &rcv, &ol);
  ol = sizeof snd;
  ::getsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &snd, &ol);
  info_.rcvbuf = rcv;
  info_.sndbuf = snd;
  // The kernel reports double what it accounts; below half of the request
  // means a sysctl capped it.
  if (rcv < static_cast<int>(p.socket_buffer)) {
    info_.warnings += "receive buffer is " + std::to_string(rcv) + " bytes, wanted " + std::to_string(p.socket_buffer) +
                      ": run as root or raise it with `sysctl -w net.core.rmem_max=" + std::to_string(p.socket_buffer) + "`. ";
  }
  if (snd < static_cast<int>(p.socket_buffer)) {
    info_.warnings += "send buffer is " + std::to_string(snd) + " bytes, wanted " + std::to_string(p.socket_buffer) +
                      ": run as root or raise it with `sysctl -w net.core.wmem_max=" + std::to_string(p.socket_buffer) + "`. ";
  }
  if (!info_.warnings.empty()) {
    if (p.require_buffers) return Status(Code::kResourceExhausted, info_.warnings);
    WEFT_LOG(kWarn, "udp {}: {}", local_address(), info_.warnings);
  }
  if (p.gso) {
    const int seg = 1400;
    info_.gso = ::setsockopt(fds_[0], IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg) == 0;
    if (info_.gso) {
      const int zero = 0;  // per-message segment sizes come in cmsgs
      for (int fd : fds_) (void)::setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &zero, sizeof zero);
    }
  }
  if (p.gro) {
    const int on = 1;
    info_.gro = ::setsockopt(fds_[0], IPPROTO_UDP, UDP_GRO, &on, sizeof on) == 0;
  }
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) return Status(Code::kIoError, "eventfd(): " + errno_text(errno));

  rx_buf_.resize(kRxBatch * kRxBufSize);
  for (size_t i = 0; i < kRxBatch; ++i) {
    rx_iov_[i] = {rx_buf_.data() + i * kRxBufSize, kRxBufSize};
    rx_msgs_[i].msg_hdr.msg_iov = &rx_iov_[i];
    rx_msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  WEFT_LOG(kInfo, "udp driver on {}: {} source ports, gso={} gro={} rcvbuf={} sndbuf={}", local_address(),
           p.source_ports, info_.gso, info_.gro, rcv, snd);
  return Status::ok();
}

size_t UdpDriver::receive(const RxSink& sink) {
  for (size_t i = 0; i < kRxBatch; ++i) {
    msghdr& h = rx_msgs_[i].msg_hdr;
    h.msg_name = &rx_addr_[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_control = rx_ctrl_[i].data();
    h.msg_controllen = rx_ctrl_[i].size();
    h.msg_flags = 0;
  }
  const int n = ::recvmmsg(fds_[0], rx_msgs_.data(), kRxBatch, MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  const Nanos now = clock_.now();
  size_t datagrams = 0;
  for (int i = 0; i < n; ++i) {
    msghdr& h = rx_msgs_[i].msg_hdr;
    size_t seg = 0;
    bool ce = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
        int v;
        std::memcpy(&v, CMSG_DATA(c), sizeof v);
        seg = static_cast<size_t>(v);
      } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
                 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)) {
        uint8_t tos = *CMSG_DATA(c);
        if (c->cmsg_level == IPPROTO_IPV6) {
          int v;
          std::memcpy(&v, CMSG_DATA(c), sizeof v);
          tos = static_cast<uint8_t>(v);
        }
        ce = (tos & 3) == core::kEcnCe;
      }
    }
    const core::NetAddr from = from_sockaddr(rx_addr_[i]);
    const auto* base = static_cast<const uint8_t*>(rx_iov_[i].iov_base);
    const size_t total = rx_msgs_[i].msg_len;
    if (total == 0) {  // an empty datagram still reaches the engine, to be counted
      sink(now, std::span<const uint8_t>(), from, ce);
      ++datagrams;
      continue;
    }
    if (seg == 0 || seg >= total) seg = total;
    // GRO glued same-sized datagrams together: split them back apart.
    for (size_t off = 0; off < total; off += seg) {
      sink(now, std::span<const uint8_t>(base + off, std::min(seg, total - off)), from, ce);
      ++datagrams;
    }
  }
  return datagrams;
}

void UdpDriver::send_group(int fd, const core::TxPacket* const* pkts, size_t n) {
  // Build messages: runs to the same peer with equal sizes become one GSO
  // message (the last may be shorter); everything else is one datagram each.
  tx_msgs_.clear();
  tx_iov_.clear();
  tx_addr_.clear();
  tx_ctrl_.clear();
  tx_iov_.reserve(2 * n);
  tx_msgs_.reserve(n);
  tx_addr_.reserve(n);
  tx_ctrl_.reserve(n);
  size_t i = 0;
  while (i < n) {
    const core::TxPacket& first = *pkts[i];
    size_t j = i + 1;
    size_t bytes = first.size();
    if (info_.gso) {
      while (j < n && j - i < kMaxGsoSegments && pkts[j]->peer == first.peer && pkts[j]->ecn == first.ecn &&
             pkts[j]->size() <= first.size() && bytes + pkts[j]->size() <= kMaxGsoBytes) {
        bytes += pkts[j]->size();
        const bool shorter = pkts[j]->size() < first.size();
        ++j;
        if (shorter) break;  // only the last segment may be short
      }
    }
    const size_t iov0 = tx_iov_.size();
    for (size_t k = i; k < j; ++k) {
      tx_iov_.push_back({const_cast<uint8_t*>(pkts[k]->header), pkts[k]->header_len});
      if (pkts[k]->payload_len) tx_iov_.push_back({const_cast<uint8_t*>(pkts[k]->payload), pkts[k]->payload_len});
    }
    tx_addr_.push_back(to_sockaddr(first.peer));
    tx_ctrl_.emplace_back();
    mmsghdr m{};
    m.msg_hdr.msg_name = &tx_addr_.back().ss;
    m.msg_hdr.msg_namelen = tx_addr_.back().len;
    m.msg_hdr.msg_iovlen = tx_iov_.size() - iov0;
    m.msg_hdr.msg_iov = reinterpret_cast<iovec*>(iov0);  // fixed up below: the vector may still grow
    uint8_t* ctrl = tx_ctrl_.back().data();
    m.msg_hdr.msg_control = ctrl;
    m.msg_hdr.msg_controllen = 64;
    cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
    size_t used = 0;
    const bool v4 = first.peer.family == AF_INET;
    c->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
    c->cmsg_type = v4 ? IP_TOS : IPV6_TCLASS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    const int tos = first.ecn;
    std::memcpy(CMSG_DATA(c), &tos, sizeof tos);
    used += CMSG_SPACE(sizeof(int));
    if (j - i > 1) {
      c = CMSG_NXTHDR(&m.msg_hdr, c);
      c->cmsg_level = IPPROTO_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t seg = static_cast<uint16_t>(first.size());
      std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
      used += CMSG_SPACE(sizeof(uint16_t));
    }
    m.msg_hdr.msg_controllen = used;
    tx_msgs_.push_back(m);
    // msg_control points into tx_ctrl_, whose storage was reserved: stable.
    i = j;
  }
  // Now that tx_iov_ and tx_addr_ will not grow, turn offsets into pointers.
  for (auto& m : tx_msgs_) m.msg_hdr.msg_iov = tx_iov_.data() + reinterpret_cast<uintptr_t>(m.msg_hdr.msg_iov);
  size_t done = 0;
  while (done < tx_msgs_.size()) {
    const int r = ::sendmmsg(fd, tx_msgs_.data() + done, static_cast<unsigned>(tx_msgs_.size() - done), MSG_DONTWAIT);
    if (r > 0) {
      done += static_cast<size_t>(r);
      continue;
    }
    const int e = errno;
    if (e == EINTR) continue;
    if (e == EIO || e == EINVAL) {
      // A kernel or device that cannot segment: fall back to one datagram each.
      if (info_.gso) {
        WEFT_LOG(kWarn, "udp: GSO send failed ({}); falling back to plain datagrams", errno_text(e));
        info_.gso = false;
      }
    } else if (e != EAGAIN && e != ECONNREFUSED) {
      // Persistent errors look like loss to the engine; say so once, loudly.
      if (!warned_send_error_) {
        warned_send_error_ = true;
        WEFT_LOG(kWarn, "udp {}: sending failed: {}: {}", local_address(), errno_text(e),
                 e == ENETUNREACH || e == EHOSTUNREACH ? "no route to the peer: check `ip route` and the peer address"
                 : e == EPERM || e == EACCES          ? "a firewall rule refused the packet: check nftables/iptables"
                 : e == EMSGSIZE                      ? "datagram larger than the path allows: lower EngineParams::mtu"
                                                      : "the peer will look unreachable until this is fixed");
      }
    }
    // The rest of this batch is lost to the network; the engine recovers it.
    ++done;
  }
}

size_t UdpDriver::send(std::span<const core::TxPacket> pkts) {
  // Group by source socket (path), keeping order within each group.
  const size_t nfd = fds_.size();
  by_fd_.resize(pkts.size());
  size_t taken = 0;
  for (size_t f = 0; f < nfd && taken < pkts.size(); ++f) {
    size_t n = 0;
    for (const auto& p : pkts)
      if (p.entropy % nfd == f) by_fd_[n++] = &p;
    if (n == 0) continue;
    send_group(fds_[f], by_fd_.data(), n);
    taken += n;
  }
  return pkts.size();
}

Result<std::unique_ptr<Driver>> open_driver(const UdpParams& params, UdpInfo* info) {
  return UdpDriver::open(params, info);
}

Result<std::unique_ptr<Device>> open_device(const UdpParams& udp, const DeviceParams& dev, UdpInfo* info) {
  auto d = open_driver(udp, info);
  if (!d) return d.status();
  return Device::open(std::move(*d), dev);
}

}  // namespace weft::udp
