// tools/weft-switch/switch_core.cc — see switch_core.h.
#include "tools/weft-switch/switch_core.h"

#include <algorithm>
#include <cstring>

namespace weft::sw {
namespace {

// splitmix64's finaliser: every input bit affects every output bit.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

SwitchCore::SwitchCore(Topology topo, const SwitchParams& params, PacketPool& pool, Nanos now)
    : topo_(std::move(topo)),
      pool_(pool),
      salt_(mix(params.seed)),
      ingress_(topo_.hosts()),
      mac_(topo_.hosts()),
      mac_known_(topo_.hosts(), false),
      clock_(now) {
  ports_.reserve(topo_.ports().size());
  uint64_t i = 0;
  for (const TopoPort& p : topo_.ports()) {
    ports_.emplace_back(p.name, p.is_host() ? params.host_port : params.fabric_port, pool_, mix(params.seed + ++i), now);
  }
}

int SwitchCore::find_host(const uint8_t* mac) const {
  for (size_t h = 0; h < mac_.size(); ++h)
    if (mac_known_[h] && std::memcmp(mac_[h].data(), mac, 6) == 0) return static_cast<int>(h);
  return -1;
}

uint32_t SwitchCore::ecmp_index(uint16_t node, const FrameInfo& info, uint32_t n) const {
  if (n <= 1) return 0;
  uint64_t k = 0;
  if (info.ipv4) {
    k = uint64_t{info.src_ip} << 32 | info.dst_ip;
    uint64_t flow = info.ip_proto;
    if (info.weft)
      flow |= uint64_t{info.entropy} << 8 | 1ull << 40;
    else if (info.udp)
      flow |= uint64_t{info.sport} << 8 | uint64_t{info.dport} << 24;
    k = mix(k ^ mix(flow));
  }
  // Salted per node so two switch tiers do not make correlated choices.
  const uint64_t h = mix(k ^ salt_ ^ (uint64_t{node} << 48));
  return static_cast<uint32_t>(((h >> 32) * n) >> 32);  // Lemire's range reduction
}

void SwitchCore::forward(Nanos now, uint16_t node, Slot s) {
  const uint16_t dst = pool_.meta(s).dst_host;
  if (topo_.host_node(dst) == node) {
    ports_[dst].enqueue(now, s);
    return;
  }
  const std::vector<uint16_t>& hops = topo_.next_hops(node, topo_.host_node(dst));
  if (hops.empty()) {  // a partitioned topology; not built by our factories
    pool_.free(s);
    return;
  }
  uint32_t pick = 0;
  if (hops.size() > 1) pick = ecmp_index(node, parse_frame(pool_.data(s), pool_.meta(s).len), static_cast<uint32_t>(hops.size()));
  ports_[hops[pick]].enqueue(now, s);
}

void SwitchCore::receive(Nanos now, uint16_t host, Slot s) {
  // Callers advance() to `now` first; if one did not, the fabric still must
  // never dequeue a frame before it arrived.
  clock_ = std::max(clock_, now);
  const uint8_t* f = pool_.data(s);
  const uint32_t len = pool_.meta(s).len;
  IngressCounters& in = ingress_[host];
  ++in.rx_pkts;
  in.rx_bytes += len;
  if (len < kEthHeader) {
    pool_.free(s);
    return;
  }
  const uint8_t* dst_mac = f;
  const uint8_t* src_mac = f + 6;
  if (!(src_mac[0] & 1)) {
    if (!mac_known_[host] || std::memcmp(mac_[host].data(), src_mac, 6) != 0) {
      std::memcpy(mac_[host].data(), src_mac, 6);
      mac_known_[host] = true;
    }
  }
  const int to = (dst_mac[0] & 1) ? -1 : find_host(dst_mac);
  const uint16_t node = topo_.host_node(host);
  if (to >= 0) {
    if (to == host) {  // hairpin: a host talking to itself never needs us
      pool_.free(s);
      return;
    }
    pool_.meta(s).dst_host = static_cast<uint16_t>(to);
    forward(now, node, s);
    return;
  }
  ++in.flooded;
  // One copy per other host; the original slot goes to the last one.
  int last = -1;
  for (uint16_t h = 0; h < topo_.hosts(); ++h)
    if (h != host) last = h;
  for (uint16_t h = 0; h < topo_.hosts(); ++h) {
    if (h == host) continue;
    Slot c = s;
    if (h != last) {
      c = pool_.alloc();
      if (c == kNoSlot) {
        ++drop_nobuf_;
        continue;
      }
      std::memcpy(pool_.data(c), f, len);
      pool_.meta(c).len = len;
    }
    pool_.meta(c).dst_host = h;
    forward(now, node, c);
  }
  if (last < 0) pool_.free(s);
}

size_t SwitchCore::advance(Nanos now, TxItem* out, size_t cap) {
  size_t n = 0;
  // The guard only bounds a call; a later call resumes from clock_.
  for (int events = 0; events < (1 << 16) && n < cap; ++events) {
    const Nanos d = next_deadline(clock_);
    if (d > now) break;
    clock_ = std::max(clock_, d);
    n += step(clock_, out + n, cap - n);
  }
  if (n < cap) {
    clock_ = std::max(clock_, now);
    n += step(clock_, out + n, cap - n);
  }
  return n;
}

size_t SwitchCore::step(Nanos t, TxItem* out, size_t cap) {
  size_t n = 0;
  // A frame crossing a link lands in the next switch's queue at once (no
  // propagation delay), which may make that port ready too: repeat until a
  // pass moves nothing.
  bool moved = true;
  while (moved && n < cap) {
    moved = false;
    for (size_t i = 0; i < ports_.size() && n < cap; ++i) {
      EgressPort& port = ports_[i];
      const TopoPort& tp = topo_.ports()[i];
      while (n < cap) {
        const Slot s = port.dequeue(t);
        if (s == kNoSlot) break;
        moved = true;
        if (tp.is_host())
          out[n++] = TxItem{static_cast<uint16_t>(tp.host), s};
        else
          forward(t, tp.peer_node, s);
      }
    }
  }
  return n;
}

Nanos SwitchCore::next_deadline(Nanos now) {
  Nanos t = Nanos::max();
  for (EgressPort& p : ports_) t = std::min(t, p.ready_at(now));
  return t;
}

}  // namespace weft::sw
