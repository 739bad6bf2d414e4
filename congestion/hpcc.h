// congestion/hpcc.h — HPCC, window control from in-network telemetry (INT).
//
// Control law (Li et al., "HPCC: High Precision Congestion Control",
// SIGCOMM 2019; per-RTT reference update as in the authors' ns-3
// `HandleAckHp`/`UpdateRateHp`). T = base RTT, B_j = hop j's link rate,
// W_init = NIC rate × T, W_AI = R_AI × T:
//
//   per hop j, from this and the previous INT record of that hop:
//     txRate_j = Δtx_bytes/Δts
//     U_j      = min(qlen, qlen_prev)/(B_j·T) + txRate_j/B_j
//   hop with the largest U_j, τ = its Δts capped at T:
//     U ← U·(T − τ)/T + U_j·τ/T                          (U starts at 1)
//   U ≥ η or incStage ≥ maxStage:  W = W_c/(U/η) + W_AI,  incStage ← 0
//   otherwise:                     W = W_c + W_AI,        incStage ← incStage + 1
//   W ∈ [max(min_rate·T, MSS), W_init];  R = W/T
//
// W_c and incStage are committed once per RTT — on the first ACK at least T
// after the last commit (ns-3 uses "first ACK past snd_nxt at the last
// update"; weft's ACKs carry no sequence for the algorithm, time is
// equivalent at one window per RTT). Every other ACK recomputes W from the
// same W_c, so reactions do not compound within an RTT. The first ACK with
// INT only records it.
//
// HPCC cannot work without telemetry: make() refuses when Context says the
// path does not stamp INT, and health() turns failed once ACKs with RTT
// samples but no INT records arrive (`int_missing_limit` in a row).
// weft specifics (lossy fabric): loss and timeout halve W_c, at most once per T.
#pragma once

#include <array>

#include "congestion/registry.h"

namespace weft::cc {

class Hpcc final : public CongestionControl {
 public:
  static constexpr size_t kMaxHops = 8;  // INT records kept per path

  struct Params {
    double eta = 0.95;                  // target utilisation η (paper)
    uint32_t max_stage = 0;             // additive-only stages (0: published runs)
    BitsPerSec rate_ai = BitsPerSec(0); // 0 = 10 Mb/s per 25 Gb/s of NIC rate (run.py)
    BitsPerSec min_rate = BitsPerSec(10'000'000);  // 10 Mb/s floor
    Nanos base_rtt = Nanos(0);          // T; 0 = Context::base_rtt
    uint32_t int_missing_limit = 16;    // ACKs without INT before health() fails
  };

  Hpcc(Params p, const Context& ctx);

  std::string_view name() const override { return "hpcc"; }
  void on_ack(const AckSample& a) override;
  void on_loss(const LossEvent& e) override { halve(e.now); }
  void on_timeout(const TimeoutEvent& e) override { halve(e.now); }
  Bytes cwnd() const override { return Bytes(static_cast<uint64_t>(w_)); }
  BitsPerSec pacing_rate() const override;
  Needs needs() const override { return {.int_telemetry = true}; }
  Status health() const override;
  Counters counters() const override { return {.decreases = decreases_}; }

  double utilization() const { return u_; }
  double reference_window() const { return wc_; }

 private:
  void halve(Nanos now);

  Params p_;
  double t_ns_;
  double inv_t_;    // 1/T, 1/ns
  double w_init_;   // bytes
  double w_ai_;     // bytes
  double w_min_;    // bytes
  double u_ = 1;
  double wc_;       // bytes, committed once per RTT
  double w_;        // bytes, current
  uint32_t inc_stage_ = 0;
  Nanos last_commit_{-(int64_t{1} << 62)};
  Nanos last_halve_{-(int64_t{1} << 62)};
  std::array<IntHop, kMaxHops> prev_{};
  size_t prev_n_ = 0;
  uint32_t int_missing_ = 0;
  uint64_t decreases_ = 0;
};

Algorithm hpcc_algorithm();

}  // namespace weft::cc
