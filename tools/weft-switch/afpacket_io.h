// tools/weft-switch/afpacket_io.h — the thin I/O layer: one AF_PACKET socket
// per host-facing veth, batched with recvmmsg/sendmmsg straight into and out
// of the packet pool's slots (the kernel's copy is the only one).
//
// Why not TPACKET_V3: its blocks are handed over when full or after a retire
// timeout of >= 1 ms, which at low load adds a millisecond to every RTT the
// congestion controllers measure. recvmmsg costs one syscall per batch of up
// to kBatch frames and adds no delay.
//
// Frames a sender's stack left with a partial checksum (veth offloads
// checksums; TP_STATUS_CSUMNOTREADY in the aux data) are completed here,
// because the receiving host will verify what we inject. GSO super-frames
// cannot be forwarded as one frame; the testbed sets gso_max_segs 1 on the
// hosts so their stacks segment before the wire, and a frame larger than a
// slot is dropped and counted (rx_oversize).
//
// Every frame carries its kernel arrival timestamp (SO_TIMESTAMPNS): the
// loop feeds frames to the core at the time they reached the switch, not
// the time it got round to reading them, so a batch read after a scheduling
// delay still builds the queue the wire would have built.
#pragma once

#include <linux/if_packet.h>
#include <sys/socket.h>

#include <time.h>

#include <array>
#include <cstdint>
#include <string>

#include "tools/weft-switch/packet_pool.h"
#include "weft/status.h"

namespace weft::sw {

struct IoCounters {
  uint64_t rx_oversize = 0;   // truncated: larger than a slot (GSO, jumbo)
  uint64_t rx_csum_fixed = 0; // partial checksums completed
  uint64_t rx_nobuf = 0;      // pool empty when frames were waiting
  uint64_t tx_errors = 0;     // frames the kernel refused
  uint64_t kernel_drops = 0;  // frames the socket's receive buffer dropped
  uint64_t rx_batches = 0;    // recvmmsg calls that returned frames
  uint64_t rx_frames = 0;     // frames they returned (rx_frames / rx_batches: mean batch)
  uint64_t tx_batches = 0;    // sendmmsg calls
};

class AfPacketPort {
 public:
  static constexpr size_t kBatch = 64;

  AfPacketPort() = default;
  ~AfPacketPort();
  AfPacketPort(const AfPacketPort&) = delete;
  AfPacketPort& operator=(const AfPacketPort&) = delete;

  Status open(const std::string& ifname);
  int fd() const { return fd_; }
  const std::string& ifname() const { return ifname_; }

  // Receives up to min(cap, kBatch) frames into fresh pool slots (meta.len
  // set) with the kernel's arrival time of each (CLOCK_REALTIME, ns; 0 if
  // the kernel gave none); returns how many.
  size_t receive(PacketPool& pool, Slot* out, int64_t* arrival_realtime_ns, size_t cap);
  // Sends the frames (one sendmmsg per kBatch) and frees their slots.
  void send(PacketPool& pool, const Slot* slots, size_t n);
  // Reads and resets the kernel's drop count into counters().
  void poll_kernel_stats();
  const IoCounters& counters() const { return c_; }

 private:
  int fd_ = -1;
  std::string ifname_;
  IoCounters c_;
  std::array<mmsghdr, kBatch> rx_msgs_{};
  std::array<iovec, kBatch> rx_iov_{};
  std::array<sockaddr_ll, kBatch> rx_addr_{};
  static constexpr size_t kCtrl = CMSG_SPACE(sizeof(tpacket_auxdata)) + CMSG_SPACE(sizeof(timespec));
  std::array<std::array<uint8_t, kCtrl>, kBatch> rx_ctrl_{};
  std::array<Slot, kBatch> rx_slots_{};
  std::array<mmsghdr, kBatch> tx_msgs_{};
  std::array<iovec, kBatch> tx_iov_{};
};

}  // namespace weft::sw
