// tools/weft-switch/afpacket_io.cc — see afpacket_io.h.
#include "tools/weft-switch/afpacket_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include <fmt/format.h>

#include "tools/weft-switch/frame.h"

namespace weft::sw {
namespace {

Status io_error(const std::string& what, const std::string& ifname) {
  return Status(Code::kIoError, fmt::format("{} on '{}': {} (weft-switch must run as root inside the switch "
                                            "namespace, e.g. via 'weft-testbed up --switch ...')",
                                            what, ifname, strerror(errno)));
}

}  // namespace

AfPacketPort::~AfPacketPort() {
  if (fd_ >= 0) ::close(fd_);
}

Status AfPacketPort::open(const std::string& ifname) {
  ifname_ = ifname;
  const unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0)
    return Status(Code::kNotFound, fmt::format("no interface '{}' in this namespace (is the testbed up, and is "
                                               "weft-switch running in its switch namespace?)", ifname));
  fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd_ < 0) return io_error("socket(AF_PACKET)", ifname);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) return io_error("bind", ifname);
  const int one = 1;
  // What we transmit on this port would otherwise come back to us as input.
  if (::setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
    return io_error("PACKET_IGNORE_OUTGOING (needs Linux >= 4.20)", ifname);
  if (::setsockopt(fd_, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) return io_error("PACKET_AUXDATA", ifname);
  if (::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) return io_error("SO_TIMESTAMPNS", ifname);
  // The switch's queues are the only queues; the veth's qdisc is not one.
  (void)::setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  packet_mreq mr{};
  mr.mr_ifindex = static_cast<int>(ifindex);
  mr.mr_type = PACKET_MR_PROMISC;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) return io_error("promiscuous mode", ifname);
  // Deep socket buffers absorb a burst that arrives while we are descheduled.
  const int buf = 8 << 20;
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0)
    (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  if (::setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) < 0)
    (void)::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  for (size_t i = 0; i < kBatch; ++i) {
    tx_msgs_[i].msg_hdr.msg_iov = &tx_iov_[i];
    tx_msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  return Status::ok();
}

size_t AfPacketPort::receive(PacketPool& pool, Slot* out, int64_t* arrival, size_t cap) {
  size_t want = std::min(cap, kBatch);
  size_t got_slots = 0;
  for (; got_slots < want; ++got_slots) {
    const Slot s = pool.alloc();
    if (s == kNoSlot) break;
    rx_slots_[got_slots] = s;
    rx_iov_[got_slots] = iovec{pool.data(s), pool.slot_size()};
    msghdr& h = rx_msgs_[got_slots].msg_hdr;
    h = msghdr{};
    h.msg_name = &rx_addr_[got_slots];
    h.msg_namelen = sizeof(sockaddr_ll);
    h.msg_iov = &rx_iov_[got_slots];
    h.msg_iovlen = 1;
    h.msg_control = rx_ctrl_[got_slots].data();
    h.msg_controllen = kCtrl;
  }
  if (got_slots < want) ++c_.rx_nobuf;
  int n = got_slots ? ::recvmmsg(fd_, rx_msgs_.data(), static_cast<unsigned>(got_slots), MSG_DONTWAIT, nullptr) : 0;
  if (n < 0) n = 0;
  if (n > 0) {
    ++c_.rx_batches;
    c_.rx_frames += static_cast<uint64_t>(n);
  }
  size_t kept = 0;
  for (int i = 0; i < n; ++i) {
    const Slot s = rx_slots_[i];
    const msghdr& h = rx_msgs_[i].msg_hdr;
    if ((h.msg_flags & MSG_TRUNC) || rx_addr_[i].sll_pkttype == PACKET_OUTGOING) {
      c_.rx_oversize += (h.msg_flags & MSG_TRUNC) ? 1 : 0;
      pool.free(s);
      continue;
    }
    pool.meta(s).len = rx_msgs_[i].msg_len;
    arrival[kept] = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
        arrival[kept] = int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
        continue;
      }
      if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
      tpacket_auxdata aux;
      memcpy(&aux, CMSG_DATA(c), sizeof aux);
      if (aux.tp_status & TP_STATUS_CSUMNOTREADY) {
        uint8_t* f = pool.data(s);
        const FrameInfo info = parse_frame(f, pool.meta(s).len);
        if (info.ipv4) {
          complete_l4_checksum(f, info);
          ++c_.rx_csum_fixed;
        }
      }
    }
    out[kept++] = s;
  }
  for (size_t i = static_cast<size_t>(n); i < got_slots; ++i) pool.free(rx_slots_[i]);
  return kept;
}

void AfPacketPort::send(PacketPool& pool, const Slot* slots, size_t n) {
  for (size_t base = 0; base < n; base += kBatch) {
    const size_t m = std::min(kBatch, n - base);
    for (size_t i = 0; i < m; ++i) {
      tx_iov_[i] = iovec{pool.data(slots[base + i]), pool.meta(slots[base + i]).len};
      tx_msgs_[i].msg_len = 0;
    }
    size_t done = 0;
    while (done < m) {
      const int r = ::sendmmsg(fd_, tx_msgs_.data() + done, static_cast<unsigned>(m - done), MSG_DONTWAIT);
      ++c_.tx_batches;
      if (r <= 0) {
        // The peer's backlog is full or the frame was refused: a real wire
        // would have lost it too. Skip one and go on.
        ++c_.tx_errors;
        ++done;
        continue;
      }
      done += static_cast<size_t>(r);
    }
    for (size_t i = 0; i < m; ++i) pool.free(slots[base + i]);
  }
}

void AfPacketPort::poll_kernel_stats() {
  tpacket_stats st{};
  socklen_t len = sizeof st;
  if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) c_.kernel_drops += st.tp_drops;
}

}  // namespace weft::sw
