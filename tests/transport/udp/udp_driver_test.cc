// The UDP driver, specified by what a user of it can observe: clear errors
// when it cannot bind, what it reports about GSO/GRO and buffers, tolerance
// of junk on its port, spraying over source ports, ECN, and many peers.
// Driver-independent behaviour lives in conformance/conformance_test.cc.
//
// Some tests put a Relay between two devices: a plain-socket forwarder that
// sees every datagram (source port, TOS byte) and can CE-mark them.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "transport/core/wire.h"
#include "transport/device_events.h"
#include "transport/udp/udp_driver.h"
#include "weft/transport.h"

namespace weft::udp {
namespace {

using Clock_ = std::chrono::steady_clock;
using std::chrono::milliseconds;
using weft::testing::Contains;
using weft::testing::Events;
using weft::testing::kTimeout;
using weft::testing::Same;

// This file's pattern stream: every test sends the bytes it always has (the
// junk datagrams in ForeignDatagramsAreCountedNotFatal among them).
std::vector<uint8_t> pattern(size_t n, uint64_t seed) { return weft::testing::pattern(n, seed, 29); }

// ------------------------------------------------------------- devices ----

DeviceParams device_params() {
  DeviceParams dp;
  dp.engine.job_token = 0x5EEDF00DCAFEull;
  dp.engine.dead_peer_timeout = seconds(2);
  dp.engine.keepalive_interval = millis(100);
  dp.progress_thread = true;
  return dp;
}

struct Node {
  std::unique_ptr<Device> dev;
  std::unique_ptr<Events> ev;
  UdpInfo info;
};

// Opens a device on 127.0.0.1 with `up`; fails the test if it cannot.
void open_node(Node& n, const UdpParams& up = {}, const DeviceParams& dp = device_params()) {
  auto d = open_device(up, dp, &n.info);
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  n.dev = std::move(*d);
  n.ev = std::make_unique<Events>(*n.dev);
}

uint16_t port_of(const std::string& address) {
  return static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

// Connects `from` to `to`, reached at `via` (its own address unless a relay
// sits between), where `to` has no other connection yet.
void connect(Node& from, Node& to, const std::string& via, const ConnParams& cp, ConnId& cfrom, ConnId& cto) {
  auto c = from.dev->connect(via, cp);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  cfrom = *c;
  ASSERT_TRUE(from.ev->wait([&] {
    return from.ev->event(CompletionType::kConnected, cfrom) || from.ev->event(CompletionType::kConnFailed, cfrom);
  })) << "connect to " << via << " never completed";
  const Completion* failed = from.ev->event(CompletionType::kConnFailed, cfrom);
  ASSERT_EQ(failed, nullptr) << failed->status.to_string();
  const Completion* acc = to.ev->wait_event(CompletionType::kAccepted);
  ASSERT_NE(acc, nullptr) << "the peer never saw the connection";
  cto = acc->conn;
}

// Memory an operation may still touch when a test gives up on it: leaked on
// purpose rather than freed under a device that may still write into it.
struct KeepUnlessDone {
  std::vector<std::vector<uint8_t>*> bufs;
  bool done = false;
  ~KeepUnlessDone() {
    if (done) return;
    static auto* graveyard = new std::vector<std::vector<uint8_t>>;
    for (auto* b : bufs) graveyard->push_back(std::move(*b));  // moving keeps the heap block
  }
};

// Sends `n` pattern bytes and checks they arrive intact.
void transfer(Node& from, ConnId cfrom, Node& to, ConnId cto, size_t n, uint64_t tag, uint64_t seed) {
  SCOPED_TRACE("transfer of " + std::to_string(n) + " bytes");
  auto msg = pattern(n, seed);
  std::vector<uint8_t> got(n);
  KeepUnlessDone guard{{&msg, &got}};
  auto r = to.dev->post_recv(cto, tag, got.data(), got.size());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto s = from.dev->post_send(cfrom, tag, msg.data(), msg.size());
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  const Completion* rc = to.ev->wait_op(*r);
  const Completion* sc = from.ev->wait_op(*s);
  ASSERT_NE(rc, nullptr) << "the receive never completed";
  ASSERT_NE(sc, nullptr) << "the send never completed";
  guard.done = true;
  EXPECT_TRUE(sc->status.is_ok()) << sc->status.to_string();
  ASSERT_TRUE(rc->status.is_ok()) << rc->status.to_string();
  EXPECT_EQ(rc->bytes, n);
  EXPECT_TRUE(Same(msg, got));
}

// ------------------------------------------------------------ sockets ----

sockaddr_in loopback_addr(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

// A plain UDP socket on 127.0.0.1 (port 0: any), closed on destruction.
class PlainSocket {
 public:
  explicit PlainSocket(uint16_t port = 0, bool nonblocking = false) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    sockaddr_in sa = loopback_addr(port);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    socklen_t len = sizeof sa;
    if (ok_) ok_ = ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) == 0;
    port_ = ntohs(sa.sin_port);
  }
  ~PlainSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  PlainSocket(const PlainSocket&) = delete;
  PlainSocket& operator=(const PlainSocket&) = delete;
  bool ok() const { return ok_; }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  bool send_to(uint16_t port, std::span<const uint8_t> bytes) const {
    sockaddr_in to = loopback_addr(port);
    return ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Waits up to `timeout` for one datagram; empty if none came.
  std::vector<uint8_t> receive(milliseconds timeout) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    std::vector<uint8_t> buf(65536);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  uint16_t port_ = 0;
};

// Forwards datagrams between device A (which connects to address()) and
// device B, recording what A sends: its source ports and TOS bytes. With
// `ce_mark`, A's data reaches B marked ECN Congestion Experienced.
class Relay {
 public:
  struct Seen {
    std::set<uint16_t> data_source_ports;
    uint64_t data = 0, data_ect0 = 0, control = 0, control_not_ect = 0, to_a = 0, dropped = 0;
  };

  // `drop_one_in` > 0: every so many datagrams, in either direction, is lost.
  Relay(uint16_t a_port, uint16_t b_port, bool ce_mark, uint32_t drop_one_in = 0)
      : front_(0, true),
        back_(0, true),
        to_a_(loopback_addr(a_port)),
        to_b_(loopback_addr(b_port)),
        ce_mark_(ce_mark),
        drop_one_in_(drop_one_in) {
    for (int fd : {front_.fd(), back_.fd()}) {
      const int on = 1, big = 32 << 20;
      (void)::setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on);
      if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
      if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    }
    thread_ = std::thread([this] { run(); });
  }
  ~Relay() {
    stop_ = true;
    thread_.join();
  }
  bool ok() const { return front_.ok() && back_.ok(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(front_.port()); }
  Seen seen() const {
    std::lock_guard<std::mutex> g(mu_);
    return seen_;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p[2] = {{front_.fd(), POLLIN, 0}, {back_.fd(), POLLIN, 0}};
      if (::poll(p, 2, 10) <= 0) continue;
      if (p[0].revents & POLLIN) pump(front_.fd(), back_.fd(), to_b_, true);
      if (p[1].revents & POLLIN) pump(back_.fd(), front_.fd(), to_a_, false);
    }
  }
  void pump(int in, int out, const sockaddr_in& to, bool from_a) {
    for (int i = 0; i < 256; ++i) {
      sockaddr_in src{};
      iovec iov{buf_.data(), buf_.size()};
      alignas(cmsghdr) uint8_t ctrl[64];
      msghdr h{};
      h.msg_name = &src;
      h.msg_namelen = sizeof src;
      h.msg_iov = &iov;
      h.msg_iovlen = 1;
      h.msg_control = ctrl;
      h.msg_controllen = sizeof ctrl;
      const ssize_t n = ::recvmsg(in, &h, MSG_DONTWAIT);
      if (n < 0) return;
      int tos = 0;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c))
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) tos = *CMSG_DATA(c);
      const bool weft = n >= 4 && buf_[0] == 'W' && buf_[1] == 'F';
      const bool data = weft && buf_[3] == static_cast<uint8_t>(core::wire::Type::kData);
      {
        std::lock_guard<std::mutex> g(mu_);
        if (from_a && data) {
          seen_.data++;
          seen_.data_ect0 += (tos & 3) == 2;
          seen_.data_source_ports.insert(ntohs(src.sin_port));
        } else if (from_a) {
          seen_.control++;
          seen_.control_not_ect += (tos & 3) == 0;
        } else {
          seen_.to_a++;
        }
        if (drop_one_in_ > 0 && ++counter_ % drop_one_in_ == 0) {
          seen_.dropped++;
          continue;
        }
      }
      if (from_a && data && ce_mark_) tos |= 3;
      alignas(cmsghdr) uint8_t out_ctrl[CMSG_SPACE(sizeof(int))] = {};
      msghdr o{};
      o.msg_name = const_cast<sockaddr_in*>(&to);
      o.msg_namelen = sizeof to;
      iovec oiov{buf_.data(), static_cast<size_t>(n)};
      o.msg_iov = &oiov;
      o.msg_iovlen = 1;
      o.msg_control = out_ctrl;
      o.msg_controllen = sizeof out_ctrl;
      cmsghdr* c = CMSG_FIRSTHDR(&o);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_TOS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &tos, sizeof tos);
      (void)::sendmsg(out, &o, MSG_DONTWAIT);  // a full buffer loses it: weft recovers
    }
  }

  PlainSocket front_, back_;  // front_ faces A, back_ faces B
  sockaddr_in to_a_, to_b_;
  bool ce_mark_;
  uint32_t drop_one_in_;
  uint64_t counter_ = 0;
  std::array<uint8_t, 65536> buf_{};
  mutable std::mutex mu_;
  Seen seen_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------- tests ----

TEST(UdpDriver, PortInUseIsAClearError) {
  PlainSocket taken;
  ASSERT_TRUE(taken.ok());
  UdpParams up;
  up.port = taken.port();
  auto d = open_device(up, device_params());
  ASSERT_FALSE(d.is_ok()) << "opened a device on a port that is in use";
  EXPECT_EQ(d.status().code(), Code::kIoError) << d.status().to_string();
  EXPECT_TRUE(Contains(d.status().message(), "in use")) << d.status().message();
  EXPECT_TRUE(Contains(d.status().message(), std::to_string(taken.port()))) << d.status().message();
}

TEST(UdpDriver, BadBindAddressIsAClearError) {
  UdpParams absent;
  absent.bind_address = "198.18.200.1";  // benchmarking range: not configured here
  auto d = open_device(absent, device_params());
  ASSERT_FALSE(d.is_ok()) << "bound to an address this host does not have";
  EXPECT_EQ(d.status().code(), Code::kIoError) << d.status().to_string();
  EXPECT_TRUE(Contains(d.status().message(), "not configured")) << d.status().message();
  EXPECT_TRUE(Contains(d.status().message(), "ip addr")) << d.status().message();

  UdpParams garbage;
  garbage.bind_address = "garbage";
  auto g = open_device(garbage, device_params());
  ASSERT_FALSE(g.is_ok());
  EXPECT_EQ(g.status().code(), Code::kInvalidArgument) << g.status().to_string();
  EXPECT_TRUE(Contains(g.status().message(), "garbage")) << g.status().message();

  UdpParams no_ports;
  no_ports.source_ports = 0;
  auto z = open_device(no_ports, device_params());
  ASSERT_FALSE(z.is_ok());
  EXPECT_EQ(z.status().code(), Code::kInvalidArgument) << z.status().to_string();
}

TEST(UdpDriver, ReportsGsoGroAndBuffers) {
  Node on;
  ASSERT_NO_FATAL_FAILURE(open_node(on));
  EXPECT_TRUE(on.info.gso) << "Linux 4.18+ has UDP_SEGMENT";
  EXPECT_TRUE(on.info.gro) << "Linux 5.0+ has UDP_GRO";
  EXPECT_GT(on.info.rcvbuf, 0);
  EXPECT_GT(on.info.sndbuf, 0);
  EXPECT_EQ(on.info.warnings.empty(), on.info.rcvbuf >= static_cast<int>(UdpParams{}.socket_buffer) &&
                                          on.info.sndbuf >= static_cast<int>(UdpParams{}.socket_buffer))
      << "warnings: '" << on.info.warnings << "' rcvbuf " << on.info.rcvbuf << " sndbuf " << on.info.sndbuf;

  Node off;
  UdpParams up;
  up.gso = false;
  up.gro = false;
  ASSERT_NO_FATAL_FAILURE(open_node(off, up));
  EXPECT_FALSE(off.info.gso);
  EXPECT_FALSE(off.info.gro);
  EXPECT_GT(off.info.rcvbuf, 0);

  // The raw driver reports the same.
  UdpInfo raw;
  auto drv = open_driver(UdpParams{}, &raw);
  ASSERT_TRUE(drv.is_ok()) << drv.status().to_string();
  EXPECT_EQ((*drv)->name(), "udp");
  EXPECT_TRUE(Contains((*drv)->local_address(), "127.0.0.1:"));
  EXPECT_EQ(raw.gso, on.info.gso);
  EXPECT_EQ(raw.gro, on.info.gro);
}

TEST(UdpDriver, LargeTransfersAreIntactWithAndWithoutGsoGro) {
  struct Config {
    const char* name;
    bool gso_a, gro_a, gso_b, gro_b;
    uint32_t mtu;
  };
  const Config configs[] = {
      {"gso+gro on", true, true, true, true, 8972},
      {"gso+gro off", false, false, false, false, 8972},
      {"gso on, gro off at the receiver", true, true, false, false, 8972},
      {"gso off, gro on at the receiver", false, false, true, true, 8972},
      {"gso+gro on, 1500-byte MTU", true, true, true, true, 1472},
  };
  for (const Config& cfg : configs) {
    SCOPED_TRACE(cfg.name);
    DeviceParams dp = device_params();
    dp.engine.mtu = cfg.mtu;
    Node a, b;
    UdpParams ua, ub;
    ua.gso = cfg.gso_a;
    ua.gro = cfg.gro_a;
    ub.gso = cfg.gso_b;
    ub.gro = cfg.gro_b;
    ASSERT_NO_FATAL_FAILURE(open_node(a, ua, dp));
    ASSERT_NO_FATAL_FAILURE(open_node(b, ub, dp));
    ConnId ca = 0, cb = 0;
    ASSERT_NO_FATAL_FAILURE(connect(a, b, b.dev->address(), {}, ca, cb));
    ASSERT_NO_FATAL_FAILURE(transfer(a, ca, b, cb, 32u << 20, 1, 1));
    ASSERT_NO_FATAL_FAILURE(transfer(b, cb, a, ca, 3u << 20, 2, 2));
    // Odd sizes end in a short segment, which must not be glued to the next.
    for (int i = 0; i < 30; ++i)
      ASSERT_NO_FATAL_FAILURE(transfer(a, ca, b, cb, 1 + static_cast<size_t>(i) * 9973, 3, 10 + i));
  }
}

TEST(UdpDriver, ForeignDatagramsAreCountedNotFatal) {
  Node a, b;
  ASSERT_NO_FATAL_FAILURE(open_node(a));
  ASSERT_NO_FATAL_FAILURE(open_node(b));
  ConnId ca = 0, cb = 0;
  ASSERT_NO_FATAL_FAILURE(connect(a, b, b.dev->address(), {}, ca, cb));
  const uint16_t port = port_of(b.dev->address());
  const auto before = b.dev->device_drops();
  auto drops = [&](DropReason r) { return b.dev->device_drops()[static_cast<size_t>(r)] - before[static_cast<size_t>(r)]; };

  PlainSocket junk;
  ASSERT_TRUE(junk.ok());
  using Bytes_ = std::vector<uint8_t>;
  const std::string text = "GET / HTTP/1.1\r\n\r\n";
  // Not weft at all.
  ASSERT_TRUE(junk.send_to(port, Bytes_(text.begin(), text.end())));
  ASSERT_TRUE(junk.send_to(port, pattern(1400, 5)));
  // Too short to say. (An empty datagram: see ZeroLengthDatagramIsCounted.)
  ASSERT_TRUE(junk.send_to(port, Bytes_{'W'}));
  // Weft-looking but cut off after the frozen prefix.
  ASSERT_TRUE(junk.send_to(port, Bytes_{'W', 'F', core::wire::kVersion, 1, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3}));
  // Another version, and a type that does not exist.
  Bytes_ v9 = pattern(96, 6);
  v9[0] = 'W', v9[1] = 'F', v9[2] = 9, v9[3] = 1;
  ASSERT_TRUE(junk.send_to(port, v9));
  Bytes_ t99 = pattern(96, 7);
  t99[0] = 'W', t99[1] = 'F', t99[2] = core::wire::kVersion, t99[3] = 99;
  ASSERT_TRUE(junk.send_to(port, t99));
  // A well-formed DATA packet, then with a corrupted header and with a lying length.
  core::wire::Packet pkt;
  pkt.h.type = core::wire::Type::kData;
  pkt.h.dst_conn = 4242;
  pkt.h.conn_tag = 1;
  pkt.data.msg_len = 16;
  const auto payload = pattern(16, 8);
  Bytes_ good(core::wire::kDataHeaderSize);
  good.resize(core::wire::encode(pkt, payload, good.data()));
  good.insert(good.end(), payload.begin(), payload.end());
  Bytes_ flipped = good;
  flipped[20] ^= 0x40;  // in the PSN: the header CRC catches it before demux
  ASSERT_TRUE(junk.send_to(port, flipped));
  Bytes_ longer = good;
  longer.push_back(0);
  ASSERT_TRUE(junk.send_to(port, longer));
  ASSERT_TRUE(junk.send_to(port, good));  // intact, but for no connection of B's

  auto counted = [&] {
    return drops(DropReason::kForeign) >= 2 && drops(DropReason::kTruncated) >= 2 &&
           drops(DropReason::kWrongVersion) >= 1 && drops(DropReason::kBadType) >= 1 &&
           drops(DropReason::kBadChecksum) >= 1 && drops(DropReason::kBadLength) >= 1 &&
           drops(DropReason::kUnknownConnection) >= 1;
  };
  EXPECT_TRUE(b.ev->wait(counted)) << "foreign " << drops(DropReason::kForeign) << ", truncated "
                                   << drops(DropReason::kTruncated) << ", wrong version "
                                   << drops(DropReason::kWrongVersion) << ", bad type " << drops(DropReason::kBadType)
                                   << ", bad checksum " << drops(DropReason::kBadChecksum) << ", bad length "
                                   << drops(DropReason::kBadLength) << ", unknown connection "
                                   << drops(DropReason::kUnknownConnection);

  // A handshake with the wrong job token is refused back to its sender.
  core::wire::Packet init;
  init.h.type = core::wire::Type::kHandshake;
  init.hs.kind = core::wire::HandshakeKind::kInit;
  init.hs.src_conn = 9;
  init.hs.job_token = 0xBAD;
  init.hs.nonce = 1;
  init.hs.mss = 8000;
  init.hs.rwnd = 1024;
  init.hs.max_ops = 16;
  Bytes_ hs(core::wire::kMaxHeaderSize);
  hs.resize(core::wire::encode(init, {}, hs.data()));
  ASSERT_TRUE(junk.send_to(port, hs));
  const Bytes_ reply = junk.receive(kTimeout);
  core::wire::Packet rej;
  ASSERT_EQ(core::wire::decode(reply, rej), core::wire::DecodeError::kOk) << "no decodable reply, " << reply.size() << " bytes";
  EXPECT_EQ(rej.h.type, core::wire::Type::kHandshake);
  EXPECT_EQ(rej.hs.kind, core::wire::HandshakeKind::kReject);
  EXPECT_EQ(rej.hs.reject, core::wire::RejectReason::kToken);
  EXPECT_EQ(rej.h.dst_conn, 9u);
  EXPECT_NE(rej.hs.job_token, 0xBADu) << "the reply must not echo the token";
  EXPECT_GE(drops(DropReason::kWrongToken), 1u);

  // None of it hurt the real connection or made a new one.
  EXPECT_EQ(b.ev->event(CompletionType::kConnFailed), nullptr);
  ASSERT_NO_FATAL_FAILURE(transfer(a, ca, b, cb, 1u << 20, 1, 11));
  ASSERT_NO_FATAL_FAILURE(transfer(b, cb, a, ca, 1u << 20, 2, 12));
  size_t accepted = 0;
  for (const Completion& c : b.ev->all()) accepted += c.type == CompletionType::kAccepted;
  EXPECT_EQ(accepted, 1u);
}

// Every datagram refused is counted somewhere (wire.h: "Each is counted"),
// including one with no bytes at all.
TEST(UdpDriver, ZeroLengthDatagramIsCounted) {
  Node b;
  ASSERT_NO_FATAL_FAILURE(open_node(b));
  const auto total = [&] {
    uint64_t n = 0;
    for (uint64_t d : b.dev->device_drops()) n += d;
    return n;
  };
  PlainSocket junk;
  ASSERT_TRUE(junk.ok());
  ASSERT_TRUE(junk.send_to(port_of(b.dev->address()), std::vector<uint8_t>{}));
  // A one-byte datagram sent after it is counted once both have been read.
  ASSERT_TRUE(junk.send_to(port_of(b.dev->address()), std::vector<uint8_t>{'x'}));
  ASSERT_TRUE(b.ev->wait([&] { return total() >= 1; })) << "not even the one-byte datagram was counted";
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(total(), 2u) << "the empty datagram was dropped without being counted";
  EXPECT_EQ(b.dev->device_drops()[static_cast<size_t>(DropReason::kTruncated)], 2u);
}

TEST(UdpDriver, SprayUsesSeveralSourcePorts) {
  Node a, b;
  UdpParams ua;
  ua.source_ports = 4;
  ASSERT_NO_FATAL_FAILURE(open_node(a, ua));
  ASSERT_NO_FATAL_FAILURE(open_node(b));
  Relay relay(port_of(a.dev->address()), port_of(b.dev->address()), false);
  ASSERT_TRUE(relay.ok());
  ConnId ca = 0, cb = 0;
  ASSERT_NO_FATAL_FAILURE(connect(a, b, relay.address(), ConnParams{.paths = 4}, ca, cb));
  ASSERT_NO_FATAL_FAILURE(transfer(a, ca, b, cb, 4u << 20, 1, 21));

  const Relay::Seen seen = relay.seen();
  EXPECT_EQ(seen.data_source_ports.size(), 4u) << "data left A from " << seen.data_source_ports.size() << " ports";
  EXPECT_EQ(seen.data_source_ports.count(port_of(a.dev->address())), 1u) << "path 0 sends from the listening port";
  // A path may rest for a moment after a slow sample; once idle, all four are usable.
  uint32_t in_use = 0;
  EXPECT_TRUE(a.ev->wait([&] {
    auto st = a.dev->stats(ca);
    in_use = st.is_ok() ? st->paths_in_use : 0;
    return in_use == 4;
  })) << "paths_in_use " << in_use;
}

TEST(UdpDriver, EcnCodepointIsSetOnData) {
  Node a, b;
  ASSERT_NO_FATAL_FAILURE(open_node(a));
  ASSERT_NO_FATAL_FAILURE(open_node(b));
  Relay relay(port_of(a.dev->address()), port_of(b.dev->address()), false);
  ASSERT_TRUE(relay.ok());
  ConnId ca = 0, cb = 0;
  ASSERT_NO_FATAL_FAILURE(connect(a, b, relay.address(), {}, ca, cb));
  ASSERT_NO_FATAL_FAILURE(transfer(a, ca, b, cb, 2u << 20, 1, 31));
  ASSERT_NO_FATAL_FAILURE(transfer(b, cb, a, ca, 100000, 2, 32));  // so A sends ACKs too
  const Relay::Seen seen = relay.seen();
  EXPECT_GT(seen.data, 0u);
  EXPECT_EQ(seen.data_ect0, seen.data) << "data must be sent ECT(0)";
  EXPECT_GT(seen.control, 0u);
  EXPECT_EQ(seen.control_not_ect, seen.control) << "handshakes and ACKs are not ECN-capable";
  auto sb = b.dev->stats(cb);
  ASSERT_TRUE(sb.is_ok());
  EXPECT_EQ(sb->ecn_ce_bytes, 0u) << "nothing was marked";
}

TEST(UdpDriver, CongestionExperiencedMarksAreCountedByTheReceiver) {
  Node a, b;
  ASSERT_NO_FATAL_FAILURE(open_node(a));
  ASSERT_NO_FATAL_FAILURE(open_node(b));
  Relay relay(port_of(a.dev->address()), port_of(b.dev->address()), /*ce_mark=*/true);
  ASSERT_TRUE(relay.ok());
  ConnId ca = 0, cb = 0;
  ASSERT_NO_FATAL_FAILURE(connect(a, b, relay.address(), {}, ca, cb));
  constexpr size_t kBytes = 2u << 20;
  ASSERT_NO_FATAL_FAILURE(transfer(a, ca, b, cb, kBytes, 1, 41));
  auto sb = b.dev->stats(cb);
  ASSERT_TRUE(sb.is_ok());
  EXPECT_GE(sb->ecn_ce_bytes, kBytes) << "every data packet arrived CE-marked";
  EXPECT_EQ(sb->ecn_ce_bytes, sb->bytes_received);
}

// The conformance suite cannot damage a UDP link; a relay that loses one
// datagram in 20 (data, ACKs and handshakes alike) can.
TEST(UdpDriver, LossyPathStillDeliversIntact) {
  for (Recovery mode : {Recovery::kSelectiveRepeat, Recovery::kGoBackN}) {
    SCOPED_TRACE(mode == Recovery::kGoBackN ? "go-back-N" : "selective repeat");
    Node a, b;
    ASSERT_NO_FATAL_FAILURE(open_node(a));
    ASSERT_NO_FATAL_FAILURE(open_node(b));
    Relay relay(port_of(a.dev->address()), port_of(b.dev->address()), false, /*drop_one_in=*/20);
    ASSERT_TRUE(relay.ok());
    ConnId ca = 0, cb = 0;
    ASSERT_NO_FATAL_FAILURE(connect(a, b, relay.address(), ConnParams{.recovery = mode}, ca, cb));
    ASSERT_NO_FATAL_FAILURE(transfer(a, ca, b, cb, 8u << 20, 1, 51));
    ASSERT_NO_FATAL_FAILURE(transfer(b, cb, a, ca, 2u << 20, 2, 52));
    for (int i = 0; i < 10; ++i)
      ASSERT_NO_FATAL_FAILURE(transfer(a, ca, b, cb, 1 + static_cast<size_t>(i) * 7001, 3, 60 + i));
    EXPECT_GT(relay.seen().dropped, 0u);
    auto st = a.dev->stats(ca);
    ASSERT_TRUE(st.is_ok());
    EXPECT_GT(st->retransmits, 0u);
  }
}

// Each end may have its own MTU; the connection uses the smaller.
TEST(UdpDriver, MismatchedMtusStillDeliverIntact) {
  DeviceParams big = device_params(), small = device_params();
  big.engine.mtu = 8972;
  small.engine.mtu = 1472;
  for (bool small_initiates : {false, true}) {
    SCOPED_TRACE(small_initiates ? "the 1472-byte end connects" : "the 8972-byte end connects");
    Node a, b;
    ASSERT_NO_FATAL_FAILURE(open_node(a, {}, small_initiates ? small : big));
    ASSERT_NO_FATAL_FAILURE(open_node(b, {}, small_initiates ? big : small));
    ConnId ca = 0, cb = 0;
    ASSERT_NO_FATAL_FAILURE(connect(a, b, b.dev->address(), {}, ca, cb));
    for (size_t n : {size_t{1}, size_t{1400}, size_t{1500}, size_t{9000}, size_t{(4u << 20) + 11}}) {
      ASSERT_NO_FATAL_FAILURE(transfer(a, ca, b, cb, n, 1, n));
      ASSERT_NO_FATAL_FAILURE(transfer(b, cb, a, ca, n, 2, n + 1));
    }
    // One-sided writes are cut to the same size.
    std::vector<uint8_t> region(1u << 20, 0);
    auto key = b.dev->register_memory(region.data(), region.size(), MemAccess::kRemoteWrite);
    ASSERT_TRUE(key.is_ok());
    auto data = pattern(region.size() - 3, 77);
    KeepUnlessDone guard{{&region, &data}};
    auto w = a.dev->post_write(ca, data.data(), data.size(), *key, 3);
    ASSERT_TRUE(w.is_ok());
    const Completion* wc = a.ev->wait_op(*w);
    ASSERT_NE(wc, nullptr);
    guard.done = true;
    EXPECT_TRUE(wc->status.is_ok()) << wc->status.to_string();
    EXPECT_TRUE(Same(data, std::span<const uint8_t>(region).subspan(3)));
  }
}

TEST(UdpDriver, ManyConcurrentConnections) {
  constexpr int kClients = 8;
  constexpr size_t kBytes = 1u << 20;
  // Each client connects, says who it is (tag 0), then sends 1 MiB (tag 1);
  // the server answers each with 1 MiB of its own (tag 1).
  // (Buffers first: the devices, declared later, are destroyed before them.)
  std::vector<uint32_t> ids(kClients);
  std::vector<std::vector<uint8_t>> up(kClients), down(kClients), down_got(kClients);
  struct Peer {
    uint32_t who = ~0u;
    OpId hello = 0, data = 0;
    std::vector<uint8_t> got;
    bool answered = false;
  };
  std::map<ConnId, Peer> peers;
  Node server;
  ASSERT_NO_FATAL_FAILURE(open_node(server));
  std::vector<Node> clients(kClients);
  for (auto& c : clients) ASSERT_NO_FATAL_FAILURE(open_node(c));

  std::vector<ConnId> cconn(kClients);
  std::vector<OpId> crecv(kClients);
  for (int i = 0; i < kClients; ++i) {
    auto c = clients[i].dev->connect(server.dev->address());
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    cconn[i] = *c;
    ids[i] = static_cast<uint32_t>(i);
    up[i] = pattern(kBytes, 500 + i);
    down[i] = pattern(kBytes, 600 + i);
    down_got[i].assign(kBytes, 0);
  }
  for (int i = 0; i < kClients; ++i) {
    const Completion* con = clients[i].ev->wait_event(CompletionType::kConnected, cconn[i]);
    ASSERT_NE(con, nullptr) << "client " << i << " never connected";
    auto r = clients[i].dev->post_recv(cconn[i], 1, down_got[i].data(), kBytes);
    ASSERT_TRUE(r.is_ok());
    crecv[i] = *r;
    ASSERT_TRUE(clients[i].dev->post_send(cconn[i], 0, &ids[i], sizeof ids[i]).is_ok());
    ASSERT_TRUE(clients[i].dev->post_send(cconn[i], 1, up[i].data(), kBytes).is_ok());
  }

  // The server: on each accept, post receives; on each hello, answer.
  size_t seen = 0;
  int data_done = 0;
  auto serve = [&] {
    server.ev->drain();
    const auto& all = server.ev->all();
    for (; seen < all.size(); ++seen) {
      const Completion c = all[seen];
      if (c.type == CompletionType::kAccepted) {
        Peer& p = peers[c.conn];
        p.got.assign(kBytes, 0);
        p.hello = *server.dev->post_recv(c.conn, 0, &p.who, sizeof p.who);
        p.data = *server.dev->post_recv(c.conn, 1, p.got.data(), kBytes);
      } else if (c.type == CompletionType::kRecv) {
        Peer& p = peers[c.conn];
        EXPECT_TRUE(c.status.is_ok()) << c.status.to_string();
        if (c.op == p.hello && p.who < kClients && !p.answered) {
          p.answered = true;
          EXPECT_TRUE(server.dev->post_send(c.conn, 1, down[p.who].data(), kBytes).is_ok());
        } else if (c.op == p.data) {
          ++data_done;
        }
      }
    }
    if (data_done < kClients) return false;
    for (int i = 0; i < kClients; ++i) {
      clients[i].ev->drain();
      if (clients[i].ev->op(crecv[i]) == nullptr) return false;
    }
    return true;
  };
  const auto end = Clock_::now() + kTimeout * 2;
  bool done = false;
  while (!(done = serve()) && Clock_::now() < end) std::this_thread::sleep_for(std::chrono::microseconds(500));
  ASSERT_TRUE(done) << "server finished " << data_done << " of " << kClients << " uploads";
  // Every send is acknowledged too, before its buffer may go.
  auto sends_done = [](Events& ev, size_t want) {
    return ev.wait([&] {
      return static_cast<size_t>(std::count_if(ev.all().begin(), ev.all().end(), [](const Completion& c) {
               return c.type == CompletionType::kSend;
             })) == want;
    });
  };
  EXPECT_TRUE(sends_done(*server.ev, kClients));
  for (auto& c : clients) EXPECT_TRUE(sends_done(*c.ev, 2));

  EXPECT_EQ(peers.size(), static_cast<size_t>(kClients));
  std::set<uint32_t> who;
  for (auto& [conn, p] : peers) {
    ASSERT_LT(p.who, static_cast<uint32_t>(kClients)) << "connection " << conn;
    who.insert(p.who);
    EXPECT_TRUE(Same(up[p.who], p.got)) << "upload from client " << p.who;
  }
  EXPECT_EQ(who.size(), static_cast<size_t>(kClients)) << "each client has its own connection";
  for (int i = 0; i < kClients; ++i) {
    const Completion* rc = clients[i].ev->op(crecv[i]);
    ASSERT_NE(rc, nullptr);
    EXPECT_TRUE(rc->status.is_ok()) << rc->status.to_string();
    EXPECT_TRUE(Same(down[i], down_got[i])) << "download to client " << i;
    EXPECT_EQ(clients[i].ev->event(CompletionType::kConnFailed), nullptr);
  }
  EXPECT_EQ(server.ev->event(CompletionType::kConnFailed), nullptr);
}

}  // namespace
}  // namespace weft::udp
