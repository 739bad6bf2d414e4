// sim/workload.h — who sends what to whom, and when: the flows of a scenario
// as data. A flow is one connection src -> dst carrying `messages` messages of
// `message_bytes` each, at most `outstanding` posted at once (the next is
// posted when one completes), starting `start` after the workload's t0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/transport.h"
#include "weft/units.h"

namespace weft::sim {

struct FlowSpec {
  uint16_t src = 0, dst = 0;
  uint64_t message_bytes = 0;
  uint32_t messages = 1;
  uint32_t outstanding = 4;
  Nanos start{0};
  std::string cc;  // ConnParams::cc; empty: the engine's EngineParams::cc
  Recovery recovery = Recovery::kSelectiveRepeat;
};

// N -> 1: hosts 1..senders each send one message of `bytes` to host 0, all
// starting together.
std::vector<FlowSpec> incast(uint16_t senders, uint64_t bytes);
// Every host sends one message of `bytes` to another, no host receiving
// twice (a random derangement drawn from `seed`, so reproducible).
std::vector<FlowSpec> permutation(uint16_t hosts, uint64_t bytes, uint64_t seed);
// `senders` backlogged flows (hosts 1..senders) into host 0: each a chain of
// `messages` messages of `message_bytes`; flow i starts at i * stagger.
std::vector<FlowSpec> long_flows(uint16_t senders, uint64_t message_bytes, uint32_t messages, Nanos stagger = Nanos(0));

}  // namespace weft::sim
