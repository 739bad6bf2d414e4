// congestion/swift.h — Swift, a delay-target window with a fabric/endpoint split.
//
// Control law (Kumar et al., "Swift: Delay is Simple and Effective for
// Congestion Control in the Datacenter", SIGCOMM 2020; defaults from
// Google's Falcon RUE Swift configuration). Windows are in packets
// (fractional). Two windows run the same law on two delays:
//   fabric:   delay = rtt − host_delay,  target = base_target + hops·h + fs(cwnd)
//   endpoint: delay = host_delay,        target = endpoint_target
// and the sender uses min(fabric, endpoint). Per ACK, num_acked = acked/MSS:
//
//   delay < target:  cwnd += ai·num_acked/cwnd   (cwnd ≥ 1)
//                    cwnd += ai·num_acked        (cwnd < 1)
//   else, if can_decrease:
//                    cwnd ← cwnd·max(1 − β·(delay − target)/delay, 1 − max_mdf)
//   loss (fast recovery), if can_decrease:  cwnd ← cwnd·(1 − max_mdf)
//   timeout:  retx ← retx + 1;  retx ≥ retx_reset → cwnd ← min_cwnd,
//             else if can_decrease → cwnd ← cwnd·(1 − max_mdf);   ACK: retx ← 0
//   cwnd ∈ [min_cwnd, max_cwnd];  can_decrease = now − t_last_decrease ≥ srtt
//
// Flow scaling gives small windows a larger target (fair under incast):
//   fs = clamp(α_fs/√cwnd + β_fs, 0, fs_range),
//   α_fs = fs_range/(1/√fs_min_cwnd − 1/√fs_max_cwnd),  β_fs = −α_fs/√fs_max_cwnd.
// Below one packet the window is 1 packet and the sender paces one packet
// every srtt/cwnd (pacing_rate); at and above one packet it is unpaced.
// srtt is an EWMA keeping 0.75 of the old value (Falcon).
//
// `hops` comes from AckSample::hops, else Context::hops, else 0 (no hop term);
// host_delay from AckSample::host_delay (0: no endpoint signal, and the
// endpoint window only grows).
#pragma once

#include "congestion/registry.h"

namespace weft::cc {

class Swift final : public CongestionControl {
 public:
  struct Params {
    double ai_pkts = 1.0;             // additive increase per RTT, packets
    double beta = 0.8;                // decrease gain
    double max_mdf = 0.5;             // largest multiplicative decrease per step
    Nanos base_target = micros(25);   // fabric target without hops (Falcon 25 µs)
    Nanos per_hop = micros(1);        // h: target added per forward hop (Falcon 1 µs)
    Nanos fs_range = micros(100);     // flow-scaling range (Falcon 100 µs)
    double fs_min_cwnd = 0.1;         // packets: fs = fs_range here
    double fs_max_cwnd = 256;         // packets: fs = 0 here
    double min_cwnd = 0.01;           // packets (Falcon 0.01)
    double max_cwnd = 256;            // packets (Falcon 256)
    Nanos endpoint_target = micros(10);  // host delay target (weft's choice)
    uint32_t retx_reset = 3;          // timeouts in a row → min_cwnd (Falcon 3)
    double init_cwnd = 0;             // packets; 0 = one BDP of the context
  };

  Swift(Params p, const Context& ctx);

  std::string_view name() const override { return "swift"; }
  void on_ack(const AckSample& a) override;
  void on_loss(const LossEvent& e) override;
  void on_timeout(const TimeoutEvent& e) override;
  Bytes cwnd() const override;
  BitsPerSec pacing_rate() const override;
  Needs needs() const override { return {.rtt_samples = true}; }
  Counters counters() const override { return {.decreases = decreases_}; }

  double fabric_cwnd() const { return fabric_; }
  double endpoint_cwnd() const { return endpoint_; }
  // Target fabric delay for a window of `cwnd` packets across `hops` hops.
  Nanos fabric_target(double cwnd, uint32_t hops) const;

 private:
  bool can_decrease(Nanos now) const { return now - last_decrease_ >= srtt_; }
  // Applies the law to one window; returns true if it decreased.
  bool update(double* cwnd, double delay_ns, double target_ns, double num_acked, Nanos now);
  void decrease_both(Nanos now, double factor);

  Params p_;
  double mss_;
  uint8_t ctx_hops_;
  double fs_alpha_;   // ns·√pkt
  double fs_beta_;    // ns
  double fabric_;     // packets
  double endpoint_;   // packets
  Nanos srtt_;
  Nanos last_decrease_{-(int64_t{1} << 62)};
  uint32_t retx_ = 0;
  uint64_t decreases_ = 0;
};

Algorithm swift_algorithm();

}  // namespace weft::cc
