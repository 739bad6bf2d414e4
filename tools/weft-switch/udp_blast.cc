// weft-switch-blast: a raw UDP blaster and sink to measure what the switch
// forwards (docs/weft-switch.md, "Throughput"). No GSO: every datagram is one
// frame on the wire, which is the switch's per-packet cost.
//
//   weft-switch-blast sink  PORT SECONDS            prints received Gb/s
//   weft-switch-blast send  ADDR PORT SECONDS [SIZE] [FLOWS]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr int kBatch = 64;

int sink(int port, double seconds) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  const int buf = 16 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) { perror("bind"); return 1; }
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<char> bufs(kBatch * 65536);
  mmsghdr m[kBatch];
  iovec iov[kBatch];
  uint64_t bytes = 0, pkts = 0;
  double first = 0, last = 0;
  const double end = now_s() + seconds;
  while (now_s() < end) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {bufs.data() + i * 65536, 65536};
      m[i].msg_hdr = msghdr{};
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(fd, m, kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    const double t = now_s();
    if (!pkts) first = t;
    last = t;
    for (int i = 0; i < n; ++i) bytes += m[i].msg_len;
    pkts += static_cast<uint64_t>(n);
  }
  const double dur = last - first;
  std::printf("sink: %llu datagrams, %llu bytes in %.3f s = %.3f Gb/s (UDP payload)\n",
              static_cast<unsigned long long>(pkts), static_cast<unsigned long long>(bytes), dur,
              dur > 0 ? static_cast<double>(bytes) * 8 / dur / 1e9 : 0.0);
  return 0;
}

int send(const char* addr, int port, double seconds, int size, int flows) {
  std::vector<int> fds;
  for (int f = 0; f < flows; ++f) fds.push_back(socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, addr, &a.sin_addr);
  for (int fd : fds) connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  std::vector<char> payload(static_cast<size_t>(size), 'x');
  mmsghdr m[kBatch];
  iovec iov{payload.data(), payload.size()};
  for (auto& h : m) {
    h.msg_hdr = msghdr{};
    h.msg_hdr.msg_iov = &iov;
    h.msg_hdr.msg_iovlen = 1;
  }
  uint64_t sent = 0;
  const double start = now_s(), end = start + seconds;
  for (int k = 0; now_s() < end; ++k) {
    const int n = sendmmsg(fds[static_cast<size_t>(k % flows)], m, kBatch, 0);
    if (n > 0) sent += static_cast<uint64_t>(n);
  }
  const double dur = now_s() - start;
  std::printf("send: %llu datagrams of %d B in %.3f s = %.3f Gb/s offered\n", static_cast<unsigned long long>(sent),
              size, dur, static_cast<double>(sent) * size * 8 / dur / 1e9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && !std::strcmp(argv[1], "sink")) return sink(std::atoi(argv[2]), std::atof(argv[3]));
  if (argc >= 5 && !std::strcmp(argv[1], "send"))
    return send(argv[2], std::atoi(argv[3]), std::atof(argv[4]), argc > 5 ? std::atoi(argv[5]) : 1472,
                argc > 6 ? std::max(1, std::atoi(argv[6])) : 1);
  std::fprintf(stderr, "usage: %s sink PORT SECONDS | send ADDR PORT SECONDS [SIZE] [FLOWS]\n", argv[0]);
  return 2;
}
