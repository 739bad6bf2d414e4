// tools/weft-switch/topology.cc — see topology.h.
#include "tools/weft-switch/topology.h"

#include <algorithm>
#include <deque>
#include <stdexcept>

#include <fmt/format.h>

namespace weft::sw {

Topology::Topology(uint16_t nodes, std::vector<uint16_t> host_node) : nodes_(nodes), host_node_(std::move(host_node)) {
  for (uint16_t h = 0; h < host_node_.size(); ++h) {
    TopoPort p;
    p.node = host_node_[h];
    p.host = h;
    p.name = fmt::format("h{}", h);
    ports_.push_back(std::move(p));
  }
}

void Topology::add_link(uint16_t a, uint16_t b, uint16_t index) {
  for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
    TopoPort p;
    p.node = from;
    p.peer_node = to;
    p.name = fmt::format("s{}>s{}.{}", from, to, index);
    ports_.push_back(std::move(p));
  }
}

void Topology::build_routes() {
  routes_.assign(size_t{nodes_} * nodes_, {});
  for (uint16_t d = 0; d < nodes_; ++d) {
    // BFS from d over switch nodes; a port at n is a next hop towards d when
    // it leads one step closer.
    std::vector<int> dist(nodes_, -1);
    std::deque<uint16_t> q{d};
    dist[d] = 0;
    while (!q.empty()) {
      const uint16_t n = q.front();
      q.pop_front();
      for (const TopoPort& p : ports_)
        if (!p.is_host() && p.node == n && dist[p.peer_node] < 0) {
          dist[p.peer_node] = dist[n] + 1;
          q.push_back(p.peer_node);
        }
    }
    for (uint16_t i = 0; i < ports_.size(); ++i) {
      const TopoPort& p = ports_[i];
      if (p.is_host() || p.node == d || dist[p.node] < 0) continue;
      if (dist[p.peer_node] == dist[p.node] - 1) routes_[size_t{p.node} * nodes_ + d].push_back(i);
    }
  }
}

Topology Topology::star(uint16_t hosts) {
  Topology t(1, std::vector<uint16_t>(hosts, 0));
  t.build_routes();
  return t;
}

Topology Topology::dumbbell(uint16_t hosts, uint16_t left, uint16_t links) {
  if (hosts < 2 || left < 1 || left >= hosts || links < 1)
    throw std::invalid_argument(fmt::format(
        "dumbbell needs at least one host on each side and one link (hosts={}, left={}, links={})", hosts, left, links));
  std::vector<uint16_t> where(hosts);
  for (uint16_t h = 0; h < hosts; ++h) where[h] = h < left ? 0 : 1;
  Topology t(2, std::move(where));
  for (uint16_t k = 0; k < links; ++k) t.add_link(0, 1, k);
  t.build_routes();
  return t;
}

Topology Topology::leafspine(uint16_t hosts, uint16_t leaves, uint16_t spines, uint16_t links) {
  if (leaves < 1 || spines < 1 || links < 1 || hosts < 1)
    throw std::invalid_argument(fmt::format("leafspine needs hosts, leaves, spines and links >= 1 (got {}, {}, {}, {})",
                                            hosts, leaves, spines, links));
  const uint16_t per_leaf = static_cast<uint16_t>((hosts + leaves - 1) / leaves);
  std::vector<uint16_t> where(hosts);
  for (uint16_t h = 0; h < hosts; ++h) where[h] = static_cast<uint16_t>(h / per_leaf);
  Topology t(static_cast<uint16_t>(leaves + spines), std::move(where));
  for (uint16_t l = 0; l < leaves; ++l)
    for (uint16_t s = 0; s < spines; ++s)
      for (uint16_t k = 0; k < links; ++k) t.add_link(l, static_cast<uint16_t>(leaves + s), k);
  t.build_routes();
  return t;
}

std::string Topology::describe() const {
  std::string out = fmt::format("{} switch node(s), {} host(s), {} port(s)\n", nodes_, hosts(), ports_.size());
  for (uint16_t n = 0; n < nodes_; ++n) {
    out += fmt::format("  s{}: hosts", n);
    for (uint16_t h = 0; h < hosts(); ++h)
      if (host_node_[h] == n) out += fmt::format(" {}({})", h, ports_[h].name);
    out += ", links";
    for (const TopoPort& p : ports_)
      if (!p.is_host() && p.node == n) out += " " + p.name;
    out += "\n";
  }
  return out;
}

}  // namespace weft::sw
