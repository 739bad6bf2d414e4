// plugin/core/netdevs.h — which host interfaces become NCCL net devices.
//
// One device per usable IPv4 interface (weft's UDP driver is IPv4), in the
// order getifaddrs lists them. Everything NCCL's topology code keys on comes
// from sysfs: pciPath is the realpath of /sys/class/net/<if>/device (absent
// for virtual interfaces such as lo, which NCCL then places on CPU 0), speed
// from /sys/class/net/<if>/speed. No hwloc: sysfs already is what NCCL reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::nccl {

struct NetDev {
  std::string ifname;   // "eth0"; also the NCCL device name (unique per host)
  std::string ip;       // dotted quad the UDP driver binds to
  std::string pci_path; // empty: not a PCI device
  uint64_t guid = 0;    // stable per interface name, distinct between devices
  int speed_mbps = 0;
  uint32_t mtu = 1500;  // interface MTU, bytes (IP packet)
};

// Parses WEFT_IFNAME-style filters: "eth,ib" (prefixes), "^docker,lo"
// (exclude prefixes), "=eth0" (exact names). Empty matches everything.
bool ifname_matches(const std::string& filter, const std::string& ifname);

// Lists the devices. `filter` empty: every up interface except lo and
// docker*; lo alone when nothing else is up (a laptop, a container).
std::vector<NetDev> discover_netdevs(const std::string& filter);

}  // namespace weft::nccl
