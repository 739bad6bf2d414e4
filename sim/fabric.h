// sim/fabric.h — the world: N hosts (each a real core::Engine behind a NIC)
// cabled to a weft-switch SwitchCore (a star, or a leaf-spine through the
// switch's Topology), all on one manual clock, plus the flows of a workload
// and what they measured.
//
// The event loop is "jump to the earliest deadline": every step it delivers
// what has arrived, runs engine timers, moves engine packets into NICs, NIC
// frames into the switch and switch frames onto the cables to hosts, then
// sets the clock to the minimum of every component's next deadline. Nothing
// reads the wall clock and every random stream is seeded, so a run is
// identical each time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "sim/host.h"
#include "sim/metrics.h"
#include "sim/workload.h"
#include "tools/weft-switch/switch_core.h"
#include "weft/status.h"

namespace weft::sim {

enum class TopoKind { kStar, kLeafSpine };

struct FabricParams {
  uint16_t hosts = 2;
  TopoKind topo = TopoKind::kStar;
  uint16_t leaves = 2, spines = 2;  // leaf-spine only
  BitsPerSec rate = gbps(10);       // every NIC and every switch port
  Nanos prop = micros(1);           // every cable, one way
  Bytes tx_ring = Bytes(16u << 10); // NIC TX ring
  // Switch ports (rate and burst are set from `rate`; burst = one frame, so
  // a port is exactly line rate). fabric_port: leaf-spine links.
  sw::PortParams port, fabric_port;
  // Every host's engine. base_rtt = 0: computed from the topology.
  weft::EngineParams engine;
  Nanos sample_every = micros(100);  // goodput sampling
  uint64_t seed = 1;
  uint32_t pool_slots = 16384;
};

// Defaults for a scenario at `rate`: 4 KiB datagrams, ACK every 2 packets or
// 5 us, RTOs from 1 ms, pacing bursts of two packets, ECN Kmin/Kmax 8/32 KiB,
// 64 KiB port queues.
FabricParams default_params(uint16_t hosts, BitsPerSec rate = gbps(10));

struct FlowResult {
  FlowSpec spec;
  ConnId sconn = 0, rconn = 0;
  uint32_t posted = 0, recv_posted = 0, sent = 0, received = 0, corrupt = 0, failed = 0;
  std::vector<Nanos> post_at, done_at;  // per message
  std::string error;                    // first failure, if any
};

class Fabric {
 public:
  explicit Fabric(const FabricParams& p);
  ~Fabric();
  Fabric(const Fabric&) = delete;
  Fabric& operator=(const Fabric&) = delete;

  Nanos now() const { return clock_.now(); }
  // Connects every flow (one at a time, so each accepted connection is known
  // to belong to its flow), then schedules the flows from t0 = now + lead.
  Status start(std::vector<FlowSpec> flows, Nanos lead = micros(20));
  // Runs until `until` (absolute).
  void run_until(Nanos until);
  // Runs until every message of every flow is received (or failed), at
  // most `limit` more; true when all are done.
  bool run_to_completion(Nanos limit);
  // Stops posting new messages (flows finish what is posted).
  void stop_posting();
  bool all_done() const;

  Nanos t0() const { return t0_; }
  const std::vector<FlowResult>& flows() const { return flows_; }
  const GoodputSeries& goodput() const { return series_; }
  // Largest occupancy of any switch host port during each sample interval
  // (queue_max()[i] covers (at(i-1), at(i)] of goodput()).
  const std::vector<uint64_t>& queue_max() const { return queue_max_; }
  // Largest of queue_max() over samples taken in [from, to].
  uint64_t max_queue_between(Nanos from, Nanos to) const;
  RunSummary summary();
  // Receiver host port of `host` (its switch egress port).
  const sw::EgressPort& host_port(uint16_t host) const { return switch_->ports()[host]; }
  const sw::SwitchCore& fabric_switch() const { return *switch_; }
  Host& host(uint16_t h) { return *hosts_[h]; }
  const FabricParams& params() const { return p_; }
  uint64_t steps() const { return steps_; }

 private:
  void step();
  Nanos next_event();
  void harvest();
  void on_completion(uint16_t h, const Completion& c);
  void post_sends(FlowResult& f);
  void post_recvs(FlowResult& f);
  void sample();

  FabricParams p_;
  ManualClock clock_;
  sw::PacketPool pool_;
  std::unique_ptr<sw::SwitchCore> switch_;
  // Buffers the engines point into: sends until acknowledged, receives until
  // filled. Declared before hosts_ so the engines go first.
  std::map<std::pair<size_t, uint32_t>, std::vector<uint8_t>> send_buf_, recv_buf_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<FlowResult> flows_;
  std::vector<bool> started_;
  // (host << 32 | conn) -> flow index, for the sending and receiving sides.
  std::map<uint64_t, size_t> by_send_, by_recv_;
  GoodputSeries series_;
  std::vector<uint64_t> queue_max_;
  uint64_t queue_now_max_ = 0;
  Nanos t0_{0}, next_sample_ = Nanos::max();
  bool posting_ = true;
  uint64_t steps_ = 0;
  // Connection events seen while connecting (host, type, conn).
  std::vector<std::tuple<uint16_t, CompletionType, ConnId, Status>> conn_events_;
};

// The pattern message `k` of flow `f` carries: every byte checked on arrival.
std::vector<uint8_t> message_pattern(size_t flow, uint32_t k, uint64_t bytes);

}  // namespace weft::sim
