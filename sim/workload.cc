// sim/workload.cc — see workload.h.
#include "sim/workload.h"

#include <numeric>

#include "tools/weft-switch/port.h"  // sw::Rng: one seedable generator for the whole simulator

namespace weft::sim {

std::vector<FlowSpec> incast(uint16_t senders, uint64_t bytes) {
  std::vector<FlowSpec> f;
  for (uint16_t s = 1; s <= senders; ++s) f.push_back({.src = s, .dst = 0, .message_bytes = bytes, .messages = 1});
  return f;
}

std::vector<FlowSpec> permutation(uint16_t hosts, uint64_t bytes, uint64_t seed) {
  // Sattolo's algorithm: a uniformly random single cycle, hence no fixed point.
  std::vector<uint16_t> to(hosts);
  std::iota(to.begin(), to.end(), uint16_t{0});
  sw::Rng rng(seed);
  for (uint16_t i = hosts - 1; i > 0; --i) std::swap(to[i], to[rng.next() % i]);
  std::vector<FlowSpec> f;
  for (uint16_t h = 0; h < hosts; ++h) f.push_back({.src = h, .dst = to[h], .message_bytes = bytes, .messages = 1});
  return f;
}

std::vector<FlowSpec> long_flows(uint16_t senders, uint64_t message_bytes, uint32_t messages, Nanos stagger) {
  std::vector<FlowSpec> f;
  for (uint16_t s = 1; s <= senders; ++s)
    f.push_back({.src = s, .dst = 0, .message_bytes = message_bytes, .messages = messages, .start = stagger * (s - 1)});
  return f;
}

}  // namespace weft::sim
