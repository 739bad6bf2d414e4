// TIMELY: see timely.h for the control law and its sources.
#include "congestion/timely.h"

#include <algorithm>

#include "congestion/params.h"

namespace weft::cc {

Timely::Timely(Params p, const Context& ctx)
    : p_(p),
      line_(static_cast<double>(ctx.link_rate.count())),
      mss_(static_cast<double>(ctx.mss.count())),
      base_rtt_s_(static_cast<double>(ctx.base_rtt.count()) / 1e9),
      rate_(line_) {
  if (p_.delta.count() == 0) p_.delta = BitsPerSec(ctx.link_rate.count() / 1000);
  if (p_.rate_hai.count() == 0) p_.rate_hai = BitsPerSec(ctx.link_rate.count() / 200);
}

void Timely::clamp() { rate_ = std::clamp(rate_, static_cast<double>(p_.min_rate.count()), line_); }

void Timely::on_ack(const AckSample& a) {
  if (a.rtt.count() <= 0) return;
  if (prev_rtt_.count() == 0) {
    prev_rtt_ = a.rtt;
    last_update_ = a.now;
    return;
  }
  if (a.now - last_update_ < prev_rtt_) return;  // one update per RTT
  last_update_ = a.now;

  const double new_rtt = static_cast<double>(a.rtt.count());
  const double diff = new_rtt - static_cast<double>(prev_rtt_.count());
  prev_rtt_ = a.rtt;
  rtt_diff_ = (1 - p_.alpha) * rtt_diff_ + p_.alpha * diff;
  const double gradient = rtt_diff_ / static_cast<double>(p_.min_rtt.count());

  if (a.rtt < p_.t_low) {
    rate_ += static_cast<double>(p_.delta.count());
    ++increases_;
  } else if (a.rtt > p_.t_high) {
    rate_ *= 1 - p_.beta * (1 - static_cast<double>(p_.t_high.count()) / new_rtt);
    increases_ = 0;
    ++decreases_;
  } else if (gradient <= 0) {
    const bool hai = increases_ >= p_.hai_after;
    rate_ += static_cast<double>(hai ? p_.rate_hai.count() : p_.delta.count());
    ++increases_;
  } else {
    rate_ *= std::max(1 - p_.beta * gradient, 0.0);
    increases_ = 0;
    ++decreases_;
  }
  clamp();
}

void Timely::halve(Nanos now) {
  if (last_halve_.count() >= 0 && now - last_halve_ < std::max(prev_rtt_, Nanos(1))) return;
  last_halve_ = now;
  rate_ /= 2;
  increases_ = 0;
  ++decreases_;
  clamp();
}

Bytes Timely::cwnd() const {
  if (p_.window_bdp <= 0) return Bytes::max();
  return Bytes(static_cast<uint64_t>(std::max(p_.window_bdp * rate_ / 8 * base_rtt_s_, mss_)));
}

namespace {

using P = Timely::Params;
const Field<P> kFields[] = {
    {"alpha", &P::alpha, 0, 1, "EWMA weight of the newest RTT difference"},
    {"beta", &P::beta, 0, 1, "multiplicative decrease factor"},
    {"t_low_us", &P::t_low, 0, 1e7, "RTT below which the rate always increases, us"},
    {"t_high_us", &P::t_high, 0, 1e7, "RTT above which the rate decreases by the excess, us"},
    {"min_rtt_us", &P::min_rtt, 0.001, 1e7, "gradient normaliser, us"},
    {"delta_mbps", &P::delta, 0, 1e7, "additive step in Mb/s; 0 = line rate / 1000"},
    {"rate_hai_mbps", &P::rate_hai, 0, 1e7, "hyper-active step in Mb/s; 0 = line rate / 200"},
    {"hai_after", &P::hai_after, 0, 1000, "consecutive increases before the hyper-active step"},
    {"min_rate_mbps", &P::min_rate, 0.001, 1e7, "rate floor in Mb/s"},
    {"window_bdp", &P::window_bdp, 0, 1000, "window cap in BDPs at the current rate; 0 = none"},
};

Result<CcPtr> make_timely(std::string_view args, const Context& ctx) {
  auto kvs = split_args(args);
  if (!kvs) return kvs.status();
  P p;
  WEFT_RETURN_IF_ERROR(apply_args<P>("timely", kFields, *kvs, p));
  if (p.t_low > p.t_high) {
    return Status(Code::kInvalidArgument, "timely: t_low_us must not exceed t_high_us; lower t_low_us");
  }
  return CcPtr(std::make_unique<Timely>(p, ctx));
}

}  // namespace

Algorithm timely_algorithm() {
  return {"timely", "RTT-gradient rate control (Mittal et al., SIGCOMM'15)", describe<P>(kFields, P{}), make_timely};
}

}  // namespace weft::cc
