// Swift: see swift.h for the control law and its sources.
#include "congestion/swift.h"

#include <algorithm>
#include <cmath>

#include "congestion/params.h"

namespace weft::cc {

Swift::Swift(Params p, const Context& ctx)
    : p_(p), mss_(static_cast<double>(ctx.mss.count())), ctx_hops_(ctx.hops), srtt_(ctx.base_rtt) {
  const double span = 1 / std::sqrt(p_.fs_min_cwnd) - 1 / std::sqrt(p_.fs_max_cwnd);
  fs_alpha_ = span > 0 ? static_cast<double>(p_.fs_range.count()) / span : 0;
  fs_beta_ = -fs_alpha_ / std::sqrt(p_.fs_max_cwnd);
  double init = p_.init_cwnd > 0 ? p_.init_cwnd : static_cast<double>(ctx.bdp().count()) / mss_;
  fabric_ = endpoint_ = std::clamp(init, p_.min_cwnd, p_.max_cwnd);
}

Nanos Swift::fabric_target(double cwnd, uint32_t hops) const {
  double fs = std::clamp(fs_alpha_ / std::sqrt(cwnd) + fs_beta_, 0.0, static_cast<double>(p_.fs_range.count()));
  return p_.base_target + Nanos(p_.per_hop.count() * hops) + Nanos(static_cast<int64_t>(fs));
}

bool Swift::update(double* cwnd, double delay_ns, double target_ns, double num_acked, Nanos now) {
  if (delay_ns < target_ns) {
    *cwnd += *cwnd >= 1 ? p_.ai_pkts * num_acked / *cwnd : p_.ai_pkts * num_acked;
  } else if (can_decrease(now)) {
    *cwnd *= std::max(1 - p_.beta * (delay_ns - target_ns) / delay_ns, 1 - p_.max_mdf);
    *cwnd = std::clamp(*cwnd, p_.min_cwnd, p_.max_cwnd);
    return true;
  }
  *cwnd = std::clamp(*cwnd, p_.min_cwnd, p_.max_cwnd);
  return false;
}

void Swift::on_ack(const AckSample& a) {
  retx_ = 0;
  if (a.rtt.count() <= 0) return;  // no delay signal on this ACK
  // srtt ← 0.75·srtt + 0.25·rtt (Falcon keeps 0.75 of the old value).
  srtt_ = Nanos((srtt_.count() * 3 + a.rtt.count()) / 4);
  const double num_acked = static_cast<double>(a.acked_bytes.count()) / mss_;
  const Nanos host = std::clamp(a.host_delay, Nanos(0), a.rtt);
  const uint32_t hops = a.hops != 0 ? a.hops : ctx_hops_;
  const double target = static_cast<double>(fabric_target(fabric_, hops).count());
  bool cut = update(&fabric_, static_cast<double>((a.rtt - host).count()), target, num_acked, a.now);
  if (host.count() > 0) {
    cut |= update(&endpoint_, static_cast<double>(host.count()), static_cast<double>(p_.endpoint_target.count()),
                  num_acked, a.now);
  } else {
    endpoint_ = std::min(endpoint_ + p_.ai_pkts * num_acked / std::max(endpoint_, 1.0), p_.max_cwnd);
  }
  if (cut) {
    last_decrease_ = a.now;
    ++decreases_;
  }
}

void Swift::decrease_both(Nanos now, double factor) {
  fabric_ = std::clamp(fabric_ * factor, p_.min_cwnd, p_.max_cwnd);
  endpoint_ = std::clamp(endpoint_ * factor, p_.min_cwnd, p_.max_cwnd);
  last_decrease_ = now;
  ++decreases_;
}

void Swift::on_loss(const LossEvent& e) {
  if (can_decrease(e.now)) decrease_both(e.now, 1 - p_.max_mdf);
}

void Swift::on_timeout(const TimeoutEvent& e) {
  ++retx_;
  if (retx_ >= p_.retx_reset) {
    fabric_ = endpoint_ = p_.min_cwnd;
    last_decrease_ = e.now;
    ++decreases_;
  } else if (can_decrease(e.now)) {
    decrease_both(e.now, 1 - p_.max_mdf);
  }
}

Bytes Swift::cwnd() const {
  const double w = std::max(std::min(fabric_, endpoint_), 1.0);
  return Bytes(static_cast<uint64_t>(w * mss_ + 0.5));
}

BitsPerSec Swift::pacing_rate() const {
  const double w = std::min(fabric_, endpoint_);
  if (w >= 1) return BitsPerSec(0);
  // One packet every srtt/w: rate = w·MSS·8 / srtt.
  return BitsPerSec(static_cast<uint64_t>(w * mss_ * 8 * 1e9 / static_cast<double>(std::max<int64_t>(srtt_.count(), 1)) + 0.5));
}

namespace {

using P = Swift::Params;
const Field<P> kFields[] = {
    {"ai_pkts", &P::ai_pkts, 0, 1e4, "additive increase per RTT, packets"},
    {"beta", &P::beta, 0, 1, "multiplicative decrease gain"},
    {"max_mdf", &P::max_mdf, 0, 1, "largest decrease per step (fraction)"},
    {"target_delay_us", &P::base_target, 0, 1e7, "fabric base target delay, us"},
    {"per_hop_us", &P::per_hop, 0, 1e6, "target added per forward hop, us"},
    {"fs_range_us", &P::fs_range, 0, 1e7, "flow-scaling range, us (0 disables)"},
    {"fs_min_cwnd_pkts", &P::fs_min_cwnd, 1e-6, 1e6, "window with the full flow-scaling bonus, packets"},
    {"fs_max_cwnd_pkts", &P::fs_max_cwnd, 1e-6, 1e6, "window with no flow-scaling bonus, packets"},
    {"min_cwnd_pkts", &P::min_cwnd, 1e-6, 1e6, "window floor, packets"},
    {"max_cwnd_pkts", &P::max_cwnd, 1e-6, 1e9, "window ceiling, packets"},
    {"endpoint_target_us", &P::endpoint_target, 0, 1e7, "receiver host-delay target, us"},
    {"retx_reset", &P::retx_reset, 1, 1000, "timeouts in a row that reset the window to the floor"},
    {"init_cwnd_pkts", &P::init_cwnd, 0, 1e9, "initial window, packets; 0 = one BDP"},
};

Result<CcPtr> make_swift(std::string_view args, const Context& ctx) {
  auto kvs = split_args(args);
  if (!kvs) return kvs.status();
  P p;
  WEFT_RETURN_IF_ERROR(apply_args<P>("swift", kFields, *kvs, p));
  if (p.min_cwnd > p.max_cwnd || p.fs_min_cwnd >= p.fs_max_cwnd) {
    return Status(Code::kInvalidArgument,
                  "swift: need min_cwnd_pkts <= max_cwnd_pkts and fs_min_cwnd_pkts < fs_max_cwnd_pkts; fix the bounds");
  }
  return CcPtr(std::make_unique<Swift>(p, ctx));
}

}  // namespace

Algorithm swift_algorithm() {
  return {"swift", "delay target with fabric/endpoint windows and hop scaling (Kumar et al., SIGCOMM'20)",
          describe<P>(kFields, P{}), make_swift};
}

}  // namespace weft::cc
