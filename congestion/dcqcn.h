// congestion/dcqcn.h — DCQCN, the RoCE v2 baseline (rate-based, ECN-driven).
//
// Control law (Zhu et al., "Congestion Control for Large-Scale RDMA
// Deployments", SIGCOMM 2015; reaction point as in the paper and the
// authors' ns-3 model). RC = current rate, RT = target rate, α = the
// estimate of the marked fraction:
//
//   congestion notification (CNP):  α ← (1−g)·α + g;  RT ← RC;  RC ← RC·(1 − α/2)
//                                   restart the α timer, the increase timer
//                                   and the byte counter; both stages ← 0
//   every K without a CNP:          α ← (1−g)·α
//   increase event (every T, and every B bytes sent), stages counted apart:
//     fast recovery  (both stages < F):        RC ← (RT + RC)/2
//     additive       (one stage ≥ F):          RT += R_AI;        RC ← (RT + RC)/2
//     hyper          (both stages ≥ F):        RT += i·R_HAI;     RC ← (RT + RC)/2,
//                                              i = min(stages) − F + 1
//   RC, RT ∈ [min_rate, line rate].
//
// The stage of an event is read before it is counted: the first F timer
// events after a cut are fast recovery.
//
// weft specifics: there is no separate notification point, so the sender
// treats an ACK that echoes CE marks as a CNP, at most one per
// `cnp_interval` (the NP's CNP rate limit N). Timers are advanced lazily
// from the `now` of each event, never from a clock. DCQCN assumes a lossless
// fabric; on our lossy one a loss or a retransmit timeout counts as a CNP
// (subject to the same interval), so the rate still backs off.
// The window is a safety cap, window_bdp × RC × base RTT ("DCQCN+w" of the
// HPCC paper), so a wrong rate cannot flood a queue unboundedly.
//
// States: one (rate control); stages count fast recovery → additive → hyper.
#pragma once

#include "congestion/registry.h"

namespace weft::cc {

class Dcqcn final : public CongestionControl {
 public:
  struct Params {
    double g = 1.0 / 256;                 // α gain; paper default 1/256
    Nanos alpha_interval = micros(55);    // K: α decays once per K without a CNP (paper 55 µs)
    Nanos increase_interval = micros(55); // T: increase timer (paper 55 µs)
    Bytes byte_counter = Bytes(10'000'000);  // B: increase event per B bytes sent (paper 10 MB)
    uint32_t fast_recovery_stages = 5;    // F (paper 5)
    Nanos cnp_interval = micros(50);      // N: at most one CNP per N (paper 50 µs)
    // Additive / hyper steps; 0 = line_rate/1000 and line_rate/200, i.e. the
    // 40 / 200 Mb/s of the authors' 40 Gb/s configuration scaled to the NIC.
    BitsPerSec rate_ai = BitsPerSec(0);
    BitsPerSec rate_hai = BitsPerSec(0);
    BitsPerSec min_rate = BitsPerSec(10'000'000);  // 10 Mb/s floor (NVIDIA's is 1 Mb/s)
    double initial_alpha = 1.0;           // ns-3 and ConnectX start at α ≈ 1
    double window_bdp = 2.0;              // cwnd = window_bdp × RC × base RTT (0: no cap)
  };

  Dcqcn(Params p, const Context& ctx);

  std::string_view name() const override { return "dcqcn"; }
  void on_send(const SendEvent& e) override;
  void on_ack(const AckSample& a) override;
  void on_loss(const LossEvent& e) override;
  void on_timeout(const TimeoutEvent& e) override;
  Bytes cwnd() const override;
  BitsPerSec pacing_rate() const override { return BitsPerSec(static_cast<uint64_t>(rc_)); }
  Needs needs() const override { return {.ecn = true}; }
  Counters counters() const override { return {.decreases = decreases_}; }

  double alpha() const { return alpha_; }
  double target_rate_bps() const { return rt_; }

 private:
  void advance_timers(Nanos now);
  void increase(uint32_t* stage);
  void congestion(Nanos now);

  Params p_;
  double line_;         // b/s
  double mss_;          // bytes
  double base_rtt_s_;   // seconds
  double rc_;           // b/s
  double rt_;           // b/s
  double alpha_;
  Nanos alpha_last_{0};
  Nanos increase_last_{0};
  Nanos last_cnp_{-1};
  bool started_ = false;
  uint64_t bytes_since_event_ = 0;
  uint32_t timer_stage_ = 0;
  uint32_t byte_stage_ = 0;
  uint64_t decreases_ = 0;
};

Algorithm dcqcn_algorithm();

}  // namespace weft::cc
