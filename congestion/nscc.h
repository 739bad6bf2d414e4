// congestion/nscc.h — NSCC-style window control (Ultra Ethernet, ECN + delay).
//
// Control law (UEC 1.0 Network-Signal CC as modelled in the UEC reference
// simulator, ultraethernet/uet-htsim `uec.cpp`; FASTFLOW/SMaRTT-REPS
// lineage). cwnd in bytes; per ACK, delay = rtt − base_rtt:
//
//   ECN  delay      action
//   no   < target   proportional increase  inc += α·acked·(target − delay)
//                   (fast increase instead, see below)
//   no   ≥ target   fair increase          inc += fi·acked
//   yes  ≥ target   multiplicative decrease, if avg_delay > target and
//                   ≥ 1 base_rtt since the last one:
//                   cwnd ← cwnd·max(1 − γ·(avg_delay − target)/avg_delay, 0.5)
//   yes  < target   no window change: congestion is on this path only, the
//                   transport should re-path (counters().repath_hints)
//
//   fulfil, when > fulfil_mtus MTU were ACKed since the last one or a
//   network RTT passed since η was last added:
//                   cwnd += inc/cwnd; inc ← 0; cwnd += η at most once per network RTT
//   fast increase:  ACKed bytes with delay < 1 µs are counted; once the count
//                   exceeds cwnd, each such ACK does cwnd += acked·fi_scale.
//                   An ACK with delay ≥ 1 µs or a decrease resets the count.
//   trim (NACK) / loss:  cwnd −= bytes (unless Quick Adapt fires); arm QA
//   timeout:        cwnd −= that packet's size
//   Quick Adapt: at the end of each period (base_rtt + target), if a NACK
//   arrived or this ACK's delay > qa_threshold·target, and fewer than
//   maxwnd/2^qa_gate bytes were ACKed in the period: cwnd ← max(those bytes,
//   MTU), inc ← 0, and ECN is ignored until bytes equal to the in-flight at
//   that moment have been ACKed.
//   cwnd ∈ [MTU, maxwnd]; initial cwnd = maxwnd = maxwnd_bdp × BDP.
//
// avg_delay is an EWMA (gain 0.0125) of the delay, where an unmarked ACK
// with delay > target contributes 0.25·base_rtt (unmarked delay is not
// fabric congestion) and a NACK contributes a network RTT. base_rtt starts
// at the network RTT and follows the smallest RTT seen (BDP and maxwnd are
// recomputed with it).
//
// Scaling to the network (reference 100 Gb/s × 12 µs, BDP_ref 150 kB):
//   a = BDP/BDP_ref, b = target/12 µs, α = prop_mss·MSS·a·b/target,
//   fi = fi_mss·MSS·a, η = eta_mss·MSS·a, fi_scale = fast_inc·a;
//   target = 0.75·network RTT with trimming, 1·network RTT without.
#pragma once

#include "congestion/registry.h"

namespace weft::cc {

class Nscc final : public CongestionControl {
 public:
  struct Params {
    Nanos target_delay = Nanos(0);     // 0 = 0.75 × RTT with trimming, 1 × RTT without
    Nanos network_rtt = Nanos(0);      // 0 = Context::base_rtt
    double gamma = 0.8;                // decrease gain γ
    double prop_mss = 4;               // proportional-increase scale (MSS per RTT at delay 0)
    double fi_mss = 5;                 // fair increase per RTT, MSS·a
    double eta_mss = 0.15;             // probe η per network RTT, MSS·a
    double fast_inc = 0.25;            // fast increase per ACKed byte, ×a
    Nanos fast_inc_delay = micros(1);  // delay under which ACKs count towards fast increase
    double maxwnd_bdp = 1.5;           // window ceiling and initial window, BDPs
    double qa_threshold = 4;           // Quick Adapt fires above this × target
    uint32_t qa_gate = 3;              // ... if fewer than maxwnd/2^qa_gate bytes were ACKed
    double delay_ewma = 0.0125;        // avg_delay gain
    double fulfil_mtus = 8;            // apply accumulated increase after this many MTU ACKed
    Bytes header = Bytes(64);          // MTU = MSS + header
    Bytes init_cwnd = Bytes(0);        // 0 = maxwnd (htsim's -cwnd overrides the same way)
  };

  Nscc(Params p, const Context& ctx);

  std::string_view name() const override { return "nscc"; }
  void on_ack(const AckSample& a) override;
  void on_loss(const LossEvent& e) override { nack(e.now, e.lost_bytes, e.inflight); }
  void on_trim(const TrimEvent& e) override { nack(e.now, e.trimmed_bytes, inflight_); }
  void on_timeout(const TimeoutEvent& e) override;
  Bytes cwnd() const override { return Bytes(static_cast<uint64_t>(cwnd_)); }
  BitsPerSec pacing_rate() const override { return BitsPerSec(0); }
  Needs needs() const override { return {.rtt_samples = true, .ecn = true, .trims = true}; }
  Counters counters() const override { return {.decreases = decreases_, .repath_hints = repath_hints_}; }

  double target_ns() const { return target_; }
  double avg_delay_ns() const { return avg_delay_; }
  double pending_increase() const { return inc_; }
  double maxwnd() const { return maxwnd_; }
  double fair_increase() const { return fi_; }
  double eta() const { return eta_; }
  double alpha() const { return alpha_; }

 private:
  void start(Nanos now);
  void set_base_rtt(Nanos rtt);
  bool quick_adapt(Nanos now, bool delay_trigger, Bytes inflight);
  void fulfil(Nanos now);
  void nack(Nanos now, Bytes bytes, Bytes inflight);
  void clamp();

  Params p_;
  double mss_, mtu_, rate_Bps_, net_rtt_;  // bytes, bytes, bytes/ns, ns
  double target_;                           // ns
  double alpha_, fi_, eta_, fi_scale_;      // bytes/ns, bytes, bytes, dimensionless
  double base_rtt_;                         // ns
  double maxwnd_;                           // bytes
  double cwnd_;                             // bytes
  double avg_delay_ = 0;                    // ns
  double last_delay_ = 0;                   // ns
  double inc_ = 0;                          // bytes²
  double acked_since_fulfil_ = 0;           // bytes
  double fast_bytes_ = 0;                   // bytes
  bool started_ = false;
  Nanos last_eta_{0}, last_decrease_{0}, qa_end_{0};
  double qa_bytes_ = 0;                     // bytes ACKed in the current QA period
  bool qa_nack_ = false;
  double ecn_ignore_ = 0;                   // bytes still to ACK before ECN counts again
  Bytes inflight_{0};
  uint64_t decreases_ = 0, repath_hints_ = 0;
};

Algorithm nscc_algorithm();

}  // namespace weft::cc
