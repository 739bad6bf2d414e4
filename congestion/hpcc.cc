// HPCC: see hpcc.h for the control law and its sources.
#include "congestion/hpcc.h"

#include <algorithm>

#include "congestion/params.h"

namespace weft::cc {

Hpcc::Hpcc(Params p, const Context& ctx) : p_(p) {
  const Nanos t = p_.base_rtt.count() > 0 ? p_.base_rtt : ctx.base_rtt;
  t_ns_ = static_cast<double>(t.count());
  inv_t_ = 1 / t_ns_;
  const double line = static_cast<double>(ctx.link_rate.count());
  const double r_ai = p_.rate_ai.count() > 0 ? static_cast<double>(p_.rate_ai.count()) : line * (10e6 / 25e9);
  w_init_ = line / 8 * t_ns_ / 1e9;
  w_ai_ = r_ai / 8 * t_ns_ / 1e9;
  // A window below one packet would stall a window-limited transport.
  w_min_ = std::max(static_cast<double>(p_.min_rate.count()) / 8 * t_ns_ / 1e9, static_cast<double>(ctx.mss.count()));
  wc_ = w_ = w_init_;
}

void Hpcc::on_ack(const AckSample& a) {
  if (a.int_hops.empty()) {
    if (a.rtt.count() > 0) ++int_missing_;
    return;
  }
  int_missing_ = 0;
  const size_t n = std::min(a.int_hops.size(), kMaxHops);
  if (prev_n_ == n) {
    double u_max = -1, tau = 0;
    for (size_t j = 0; j < n; ++j) {
      const IntHop& now = a.int_hops[j];
      const IntHop& old = prev_[j];
      const double dts = static_cast<double>((now.timestamp - old.timestamp).count());
      if (dts <= 0 || now.link_rate.count() == 0) continue;
      // U_j = q·8/(B·T) + (Δtx·8/Δts)/B = (8e9/B)·(q/T + Δtx/Δts), times in ns.
      const double bytes_per_ns_at_b = static_cast<double>(now.link_rate.count()) / 8e9;
      const double dtx = static_cast<double>(now.tx_bytes.count() - old.tx_bytes.count());  // wraps as unsigned
      const double q = static_cast<double>(std::min(now.queue_len, old.queue_len).count());
      const double u = (q * inv_t_ + dtx / dts) / bytes_per_ns_at_b;
      if (u > u_max) {
        u_max = u;
        tau = dts;
      }
    }
    if (u_max >= 0) {
      tau = std::min(tau, t_ns_);
      u_ = (u_ * (t_ns_ - tau) + u_max * tau) * inv_t_;
      const bool commit = a.now - last_commit_ >= Nanos(static_cast<int64_t>(t_ns_));
      uint32_t stage = inc_stage_;
      double w;
      if (u_ >= p_.eta || inc_stage_ >= p_.max_stage) {
        w = wc_ * p_.eta / u_ + w_ai_;
        stage = 0;
      } else {
        w = wc_ + w_ai_;
        stage = inc_stage_ + 1;
      }
      w_ = std::clamp(w, w_min_, w_init_);
      if (commit) {
        if (w_ < wc_) ++decreases_;
        wc_ = w_;
        inc_stage_ = stage;
        last_commit_ = a.now;
      }
    }
  }
  std::copy_n(a.int_hops.begin(), n, prev_.begin());
  prev_n_ = n;
}

void Hpcc::halve(Nanos now) {
  if (now - last_halve_ < Nanos(static_cast<int64_t>(t_ns_))) return;
  last_halve_ = now;
  wc_ = w_ = std::max(wc_ / 2, w_min_);
  ++decreases_;
}

BitsPerSec Hpcc::pacing_rate() const { return BitsPerSec(static_cast<uint64_t>(w_ * 8 * 1e9 / t_ns_)); }

Status Hpcc::health() const {
  if (int_missing_ < p_.int_missing_limit) return Status::ok();
  return Status(Code::kFailedPrecondition,
                "hpcc: " + std::to_string(int_missing_) +
                    " ACKs in a row carried no INT telemetry, so HPCC cannot see the queues; enable INT stamping "
                    "on the path (weft-switch --int, or the simulator) or choose an algorithm that needs none "
                    "(swift, nscc, dcqcn)");
}

namespace {

using P = Hpcc::Params;
const Field<P> kFields[] = {
    {"eta", &P::eta, 0.01, 1, "target utilisation"},
    {"max_stage", &P::max_stage, 0, 1000, "additive-only stages before a multiplicative update"},
    {"rate_ai_mbps", &P::rate_ai, 0, 1e7, "additive step in Mb/s; 0 = 10 Mb/s per 25 Gb/s of NIC rate"},
    {"min_rate_mbps", &P::min_rate, 0.001, 1e7, "rate floor in Mb/s"},
    {"base_rtt_us", &P::base_rtt, 0, 1e7, "T in us; 0 = the context's base RTT"},
    {"int_missing_limit", &P::int_missing_limit, 1, 1e6, "ACKs without INT before the connection fails"},
};

Result<CcPtr> make_hpcc(std::string_view args, const Context& ctx) {
  auto kvs = split_args(args);
  if (!kvs) return kvs.status();
  P p;
  WEFT_RETURN_IF_ERROR(apply_args<P>("hpcc", kFields, *kvs, p));
  if (!ctx.int_telemetry) {
    return Status(Code::kFailedPrecondition,
                  "hpcc needs in-network telemetry (per-hop queue length, tx bytes, timestamp, link rate) and "
                  "this path delivers none; enable INT stamping (weft-switch --int, or the simulator) and set "
                  "cc::Context::int_telemetry, or choose swift, nscc or dcqcn");
  }
  return CcPtr(std::make_unique<Hpcc>(p, ctx));
}

}  // namespace

Algorithm hpcc_algorithm() {
  return {"hpcc", "INT-driven window (Li et al., SIGCOMM'19); needs telemetry", describe<P>(kFields, P{}), make_hpcc};
}

}  // namespace weft::cc
