// tools/weft-switch/topology.h — the fabric one weft-switch process emulates:
// switch nodes, the hosts attached to them, and the links between them. One
// process plays every switch of a dumbbell or leaf-spine, so a frame crosses
// internal links (each an egress port with its own rate and queue) without
// leaving memory; only host ports touch the network.
//
// Port numbering: port h (h < hosts) is the egress port towards host h; link
// ports follow, two per link (one per direction). Routing is shortest path
// over switch nodes with every equal-cost next hop kept (ECMP), so parallel
// links and every spine are used.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::sw {

struct TopoPort {
  uint16_t node = 0;       // switch the port belongs to
  int32_t host = -1;       // host it leads to, or -1 for a link port
  uint16_t peer_node = 0;  // link ports: the switch at the other end
  std::string name;        // host ports: the interface name; links: "s0>s1.0"
  bool is_host() const { return host >= 0; }
};

class Topology {
 public:
  // One switch, every host on it.
  static Topology star(uint16_t hosts);
  // Two switches; hosts [0, left) on s0, the rest on s1; `links` parallel
  // links s0-s1 (the bottleneck; ECMP spreads over them).
  static Topology dumbbell(uint16_t hosts, uint16_t left, uint16_t links);
  // `leaves` leaf switches (s0..), `spines` spines (after the leaves), every
  // leaf joined to every spine by `links` links; hosts in consecutive blocks
  // of ceil(hosts/leaves) per leaf.
  static Topology leafspine(uint16_t hosts, uint16_t leaves, uint16_t spines, uint16_t links);

  uint16_t hosts() const { return static_cast<uint16_t>(host_node_.size()); }
  uint16_t nodes() const { return nodes_; }
  uint16_t host_node(uint16_t h) const { return host_node_[h]; }
  const std::vector<TopoPort>& ports() const { return ports_; }
  // Equal-cost egress ports at `node` towards switch `dst_node` (!= node).
  const std::vector<uint16_t>& next_hops(uint16_t node, uint16_t dst_node) const {
    return routes_[size_t{node} * nodes_ + dst_node];
  }
  void set_host_port_name(uint16_t h, std::string name) { ports_[h].name = std::move(name); }
  std::string describe() const;

 private:
  Topology(uint16_t nodes, std::vector<uint16_t> host_node);
  void add_link(uint16_t a, uint16_t b, uint16_t index);
  void build_routes();

  uint16_t nodes_ = 0;
  std::vector<uint16_t> host_node_;
  std::vector<TopoPort> ports_;
  std::vector<std::vector<uint16_t>> routes_;
};

}  // namespace weft::sw
