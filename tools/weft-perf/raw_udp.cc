#include "tools/weft-perf/raw_udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace weft::perf {

namespace {
constexpr uint8_t kStop = 0xFE;
constexpr int kBuf = 32 << 20;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Result<RawReceiver> RawReceiver::open(const std::string& bind_ip, uint32_t segment) {
  RawReceiver r;
  r.segment_ = segment;
  r.fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (r.fd_ < 0) return Status(Code::kIoError, "raw udp: socket() failed");
  (void)::setsockopt(r.fd_, SOL_SOCKET, SO_RCVBUFFORCE, &kBuf, sizeof kBuf);
  const int on = 1;
  (void)::setsockopt(r.fd_, IPPROTO_UDP, UDP_GRO, &on, sizeof on);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, bind_ip.c_str(), &a.sin_addr);
  if (::bind(r.fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return Status(Code::kIoError, "raw udp: bind failed");
  socklen_t len = sizeof a;
  ::getsockname(r.fd_, reinterpret_cast<sockaddr*>(&a), &len);
  r.port_ = ntohs(a.sin_port);
  return r;
}

uint64_t RawReceiver::run(double timeout_s) {
  constexpr int kBatch = 32;
  std::vector<uint8_t> buf(kBatch * 65536);
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  uint64_t total = 0;
  const double end = now_s() + timeout_s;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      if (now_s() > end) return total;
      continue;
    }
    std::memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {buf.data() + i * 65536, 65536};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
    for (int i = 0; i < n; ++i) {
      if (msgs[i].msg_len >= 1 && static_cast<uint8_t*>(iov[i].iov_base)[0] == kStop && msgs[i].msg_len < 16) return total;
      total += msgs[i].msg_len;
    }
  }
}

void RawReceiver::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

uint64_t raw_send(const std::string& ip, uint16_t port, uint32_t segment, double seconds) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &kBuf, sizeof kBuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const uint32_t per = std::max<uint32_t>(1, 65000 / segment);
  std::vector<uint8_t> payload(per * segment, 0x5A);
  constexpr int kBatch = 8;
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  alignas(cmsghdr) uint8_t ctrl[kBatch][CMSG_SPACE(sizeof(uint16_t))];
  std::memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < kBatch; ++i) {
    iov[i] = {payload.data(), payload.size()};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_control = ctrl[i];
    msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
    cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
    c->cmsg_level = IPPROTO_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t seg = static_cast<uint16_t>(segment);
    std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
  }
  uint64_t sent = 0;
  const double end = now_s() + seconds;
  while (now_s() < end) {
    const int n = ::sendmmsg(fd, msgs, kBatch, 0);
    if (n > 0) sent += static_cast<uint64_t>(n) * payload.size();
  }
  const uint8_t stop[4] = {kStop, 0, 0, 0};
  for (int i = 0; i < 20; ++i) {
    (void)!::send(fd, stop, sizeof stop, 0);
    usleep(1000);
  }
  ::close(fd);
  return sent;
}

}  // namespace weft::perf
