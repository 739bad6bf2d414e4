// congestion/timely.h — TIMELY, rate control from the RTT gradient.
//
// Control law (Mittal et al., "TIMELY: RTT-based Congestion Control for the
// Datacenter", SIGCOMM 2015; one update per RTT as in the HPCC ns-3 model):
//
//   rtt_diff ← (1 − α)·rtt_diff + α·(new_rtt − prev_rtt)
//   g        ← rtt_diff / min_rtt                      (normalised gradient)
//   new_rtt < T_low:   R ← R + δ
//   new_rtt > T_high:  R ← R·(1 − β·(1 − T_high/new_rtt))
//   g ≤ 0:             R ← R + N·δ   (N·δ = R_HAI once `hai_after` updates
//                                      in a row have increased the rate)
//   otherwise:         R ← R·(1 − β·g)                 (factor floored at 0)
//   R ∈ [min_rate, line rate]
//
// An update happens on the first ACK with an RTT sample at least one RTT
// (the previous sample) after the last update; the first sample only seeds
// prev_rtt. Increases of either kind count towards hyper-active increase.
//
// weft specifics: TIMELY ignores loss (it ran over PFC). On our lossy fabric
// a loss or a retransmit timeout halves the rate, at most once per RTT, and
// resets the increase count. The window is a safety cap,
// window_bdp × R × base RTT.
//
// States: one (rate control); `increases_` counts towards HAI.
#pragma once

#include "congestion/registry.h"

namespace weft::cc {

class Timely final : public CongestionControl {
 public:
  struct Params {
    double alpha = 0.875;              // EWMA weight of the new RTT difference (paper/ns-3)
    double beta = 0.8;                 // multiplicative decrease factor (paper/ns-3)
    Nanos t_low = micros(50);          // below: always increase (paper 50 µs)
    Nanos t_high = micros(500);        // above: decrease by the RTT excess (paper 500 µs)
    Nanos min_rtt = micros(20);        // gradient normaliser (paper 20 µs)
    BitsPerSec delta = BitsPerSec(0);  // 0 = line/1000 (10 Mb/s per 10 Gb/s, HPCC run.py)
    BitsPerSec rate_hai = BitsPerSec(0);  // 0 = line/200 (50 Mb/s per 10 Gb/s)
    uint32_t hai_after = 5;            // consecutive increases before HAI
    BitsPerSec min_rate = BitsPerSec(10'000'000);  // 10 Mb/s floor
    double window_bdp = 2.0;           // cwnd = window_bdp × R × base RTT (0: no cap)
  };

  Timely(Params p, const Context& ctx);

  std::string_view name() const override { return "timely"; }
  void on_ack(const AckSample& a) override;
  void on_loss(const LossEvent& e) override { halve(e.now); }
  void on_timeout(const TimeoutEvent& e) override { halve(e.now); }
  Bytes cwnd() const override;
  BitsPerSec pacing_rate() const override { return BitsPerSec(static_cast<uint64_t>(rate_)); }
  Needs needs() const override { return {.rtt_samples = true}; }
  Counters counters() const override { return {.decreases = decreases_}; }

  double rtt_diff_ns() const { return rtt_diff_; }

 private:
  void halve(Nanos now);
  void clamp();

  Params p_;
  double line_;
  double mss_;
  double base_rtt_s_;
  double rate_;
  double rtt_diff_ = 0;     // ns
  Nanos prev_rtt_{0};       // 0: no sample yet
  Nanos last_update_{0};
  Nanos last_halve_{-1};
  uint32_t increases_ = 0;
  uint64_t decreases_ = 0;
};

Algorithm timely_algorithm();

}  // namespace weft::cc
