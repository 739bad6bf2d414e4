// DCQCN: see dcqcn.h for the control law and its sources.
#include "congestion/dcqcn.h"

#include <algorithm>
#include <cmath>

#include "congestion/params.h"

namespace weft::cc {

Dcqcn::Dcqcn(Params p, const Context& ctx)
    : p_(p),
      line_(static_cast<double>(ctx.link_rate.count())),
      mss_(static_cast<double>(ctx.mss.count())),
      base_rtt_s_(static_cast<double>(ctx.base_rtt.count()) / 1e9),
      rc_(line_),
      rt_(line_),
      alpha_(p.initial_alpha) {
  if (p_.rate_ai.count() == 0) p_.rate_ai = BitsPerSec(ctx.link_rate.count() / 1000);
  if (p_.rate_hai.count() == 0) p_.rate_hai = BitsPerSec(ctx.link_rate.count() / 200);
}

// The timers are virtual: each event first replays the timer expiries that
// fell between the previous event and `now`.
void Dcqcn::advance_timers(Nanos now) {
  if (!started_) {
    started_ = true;
    alpha_last_ = increase_last_ = now;
    return;
  }
  const int64_t k = p_.alpha_interval.count();
  if (now - alpha_last_ >= p_.alpha_interval) {
    const int64_t n = (now - alpha_last_).count() / k;
    alpha_ *= std::pow(1.0 - p_.g, static_cast<double>(n));
    alpha_last_ += Nanos(n * k);
  }
  const int64_t t = p_.increase_interval.count();
  if (now - increase_last_ >= p_.increase_interval) {
    int64_t n = (now - increase_last_).count() / t;
    increase_last_ += Nanos(n * t);
    // After ~64 events RC has long reached the line rate or RT; a long idle
    // period must not cost a long loop.
    for (n = std::min<int64_t>(n, 64); n > 0; --n) increase(&timer_stage_);
  }
}

void Dcqcn::increase(uint32_t* stage) {
  const uint32_t f = p_.fast_recovery_stages;
  const uint32_t lo = std::min(timer_stage_, byte_stage_);
  const uint32_t hi = std::max(timer_stage_, byte_stage_);
  if (lo >= f) {
    rt_ += static_cast<double>(lo - f + 1) * static_cast<double>(p_.rate_hai.count());
  } else if (hi >= f) {
    rt_ += static_cast<double>(p_.rate_ai.count());
  }
  rt_ = std::min(rt_, line_);
  rc_ = std::min((rt_ + rc_) / 2, line_);
  ++*stage;
}

void Dcqcn::congestion(Nanos now) {
  if (last_cnp_.count() >= 0 && now - last_cnp_ < p_.cnp_interval) return;
  last_cnp_ = now;
  alpha_ = (1 - p_.g) * alpha_ + p_.g;
  rt_ = rc_;
  rc_ = std::max(rc_ * (1 - alpha_ / 2), static_cast<double>(p_.min_rate.count()));
  alpha_last_ = increase_last_ = now;
  bytes_since_event_ = 0;
  timer_stage_ = byte_stage_ = 0;
  ++decreases_;
}

void Dcqcn::on_send(const SendEvent& e) {
  advance_timers(e.now);
  bytes_since_event_ += e.bytes.count();
  const uint64_t b = std::max<uint64_t>(p_.byte_counter.count(), 1);
  while (bytes_since_event_ >= b) {
    bytes_since_event_ -= b;
    increase(&byte_stage_);
  }
}

void Dcqcn::on_ack(const AckSample& a) {
  advance_timers(a.now);
  if (a.ecn_bytes.count() > 0) congestion(a.now);
}

void Dcqcn::on_loss(const LossEvent& e) {
  advance_timers(e.now);
  congestion(e.now);
}

void Dcqcn::on_timeout(const TimeoutEvent& e) {
  advance_timers(e.now);
  congestion(e.now);
}

Bytes Dcqcn::cwnd() const {
  if (p_.window_bdp <= 0) return Bytes::max();
  const double w = p_.window_bdp * rc_ / 8 * base_rtt_s_;
  return Bytes(static_cast<uint64_t>(std::max(w, mss_)));
}

namespace {

using P = Dcqcn::Params;
const Field<P> kFields[] = {
    {"g", &P::g, 1e-6, 1, "alpha gain"},
    {"alpha_interval_us", &P::alpha_interval, 0.001, 1e6, "alpha decay period K in us"},
    {"increase_interval_us", &P::increase_interval, 0.001, 1e6, "rate increase timer T in us"},
    {"byte_counter_bytes", &P::byte_counter, 1, 1e12, "rate increase every B bytes sent"},
    {"fast_recovery_stages", &P::fast_recovery_stages, 0, 1000, "F: fast-recovery steps before additive increase"},
    {"cnp_interval_us", &P::cnp_interval, 0, 1e6, "at most one rate cut per interval, in us"},
    {"rate_ai_mbps", &P::rate_ai, 0, 1e7, "additive increase step in Mb/s; 0 = line rate / 1000"},
    {"rate_hai_mbps", &P::rate_hai, 0, 1e7, "hyper increase step in Mb/s; 0 = line rate / 200"},
    {"min_rate_mbps", &P::min_rate, 0.001, 1e7, "rate floor in Mb/s"},
    {"initial_alpha", &P::initial_alpha, 0, 1, "alpha before the first CNP"},
    {"window_bdp", &P::window_bdp, 0, 1000, "window cap in BDPs at the current rate; 0 = none"},
};

Result<CcPtr> make_dcqcn(std::string_view args, const Context& ctx) {
  auto kvs = split_args(args);
  if (!kvs) return kvs.status();
  P p;
  WEFT_RETURN_IF_ERROR(apply_args<P>("dcqcn", kFields, *kvs, p));
  return CcPtr(std::make_unique<Dcqcn>(p, ctx));
}

}  // namespace

Algorithm dcqcn_algorithm() {
  return {"dcqcn", "RoCE v2 baseline: ECN-driven rate control (Zhu et al., SIGCOMM'15)", describe<P>(kFields, P{}),
          make_dcqcn};
}

}  // namespace weft::cc
