#include "plugin/core/netdevs.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <functional>

namespace weft::nccl {

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const size_t end = comma == std::string::npos ? s.size() : comma;
    if (end > start) out.push_back(s.substr(start, end - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

long read_long(const std::string& path, long fallback) {
  std::ifstream f(path);
  long v = fallback;
  if (!(f >> v)) return fallback;
  return v;
}

std::string pci_path_of(const std::string& ifname) {
  char buf[PATH_MAX];
  const std::string link = "/sys/class/net/" + ifname + "/device";
  if (realpath(link.c_str(), buf) == nullptr) return {};
  return buf;
}

}  // namespace

bool ifname_matches(const std::string& filter, const std::string& ifname) {
  if (filter.empty()) return true;
  std::string f = filter;
  bool exclude = false, exact = false;
  if (!f.empty() && f[0] == '^') { exclude = true; f.erase(0, 1); }
  if (!f.empty() && f[0] == '=') { exact = true; f.erase(0, 1); }
  bool hit = false;
  for (const std::string& p : split(f))
    if (exact ? ifname == p : ifname.compare(0, p.size(), p) == 0) hit = true;
  return exclude ? !hit : hit;
}

std::vector<NetDev> discover_netdevs(const std::string& filter) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  std::vector<NetDev> devs;
  const std::string effective = filter.empty() ? "^docker,lo" : filter;
  for (int pass = 0; pass < 2 && devs.empty(); ++pass) {
    // Second pass only without a user filter: fall back to loopback.
    const std::string f = pass == 0 ? effective : (filter.empty() ? "=lo" : "");
    if (f.empty()) break;
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
      if ((a->ifa_flags & IFF_UP) == 0) continue;
      const std::string name = a->ifa_name;
      if (!ifname_matches(f, name)) continue;
      bool seen = false;  // one device per interface, even with several addresses
      for (const NetDev& d : devs) seen = seen || d.ifname == name;
      if (seen) continue;
      char ip[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, ip, sizeof ip);
      NetDev d;
      d.ifname = name;
      d.ip = ip;
      d.pci_path = pci_path_of(name);
      // The interface name is unique on a host, so its hash is a stable guid
      // that never makes NCCL merge two devices into one NIC.
      d.guid = std::hash<std::string>{}(name) | 1;
      // Virtual and down links report -1 or nothing; 10 Gb/s is NCCL's own
      // default there, and a 0 would skew its tuning.
      const long speed = read_long("/sys/class/net/" + name + "/speed", -1);
      d.speed_mbps = speed > 0 && speed < INT_MAX ? static_cast<int>(speed) : 10000;
      const long mtu = read_long("/sys/class/net/" + name + "/mtu", 1500);
      d.mtu = mtu > 0 ? static_cast<uint32_t>(mtu) : 1500;
      devs.push_back(std::move(d));
    }
  }
  freeifaddrs(list);
  return devs;
}

}  // namespace weft::nccl
