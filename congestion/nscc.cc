// NSCC: see nscc.h for the control law and its sources.
#include "congestion/nscc.h"

#include <algorithm>

#include "congestion/params.h"

namespace weft::cc {

namespace {
constexpr double kRefBdpBytes = 150'000;  // 100 Gb/s × 12 µs
constexpr double kRefRttNs = 12'000;                // 12 µs
}  // namespace

Nscc::Nscc(Params p, const Context& ctx) : p_(p) {
  mss_ = static_cast<double>(ctx.mss.count());
  mtu_ = mss_ + static_cast<double>(p_.header.count());
  rate_Bps_ = static_cast<double>(ctx.link_rate.count()) / 8 / 1e9;
  net_rtt_ = static_cast<double>((p_.network_rtt.count() > 0 ? p_.network_rtt : ctx.base_rtt).count());
  target_ = p_.target_delay.count() > 0 ? static_cast<double>(p_.target_delay.count())
                                         : (ctx.trimming ? 0.75 : 1.0) * net_rtt_;
  const double a = rate_Bps_ * net_rtt_ / kRefBdpBytes;
  const double b = target_ / kRefRttNs;
  alpha_ = p_.prop_mss * mss_ * a * b / target_;
  fi_ = p_.fi_mss * mss_ * a;
  eta_ = p_.eta_mss * mss_ * a;
  fi_scale_ = p_.fast_inc * a;
  set_base_rtt(Nanos(static_cast<int64_t>(net_rtt_)));
  cwnd_ = p_.init_cwnd.count() > 0 ? std::clamp(static_cast<double>(p_.init_cwnd.count()), mtu_, maxwnd_) : maxwnd_;
}

void Nscc::set_base_rtt(Nanos rtt) {
  base_rtt_ = static_cast<double>(rtt.count());
  maxwnd_ = std::max(p_.maxwnd_bdp * rate_Bps_ * base_rtt_, mtu_);
}

void Nscc::start(Nanos now) {
  started_ = true;
  last_eta_ = now;
  last_decrease_ = Nanos(now.count() - static_cast<int64_t>(base_rtt_));
  qa_end_ = now + Nanos(static_cast<int64_t>(base_rtt_ + target_));
}

void Nscc::clamp() { cwnd_ = std::clamp(cwnd_, mtu_, maxwnd_); }

// True if it collapsed the window; always starts a new period once the
// current one has ended.
bool Nscc::quick_adapt(Nanos now, bool delay_trigger, Bytes inflight) {
  if (now < qa_end_) return false;
  const bool fire = (qa_nack_ || delay_trigger) && qa_bytes_ < maxwnd_ / static_cast<double>(1u << p_.qa_gate);
  if (fire) {
    cwnd_ = std::max(qa_bytes_, mtu_);
    inc_ = 0;
    fast_bytes_ = 0;
    ecn_ignore_ = static_cast<double>(inflight.count());
    ++decreases_;
  }
  qa_end_ = now + Nanos(static_cast<int64_t>(base_rtt_ + target_));
  qa_bytes_ = 0;
  qa_nack_ = false;
  return fire;
}

void Nscc::fulfil(Nanos now) {
  const bool eta_due = now - last_eta_ > Nanos(static_cast<int64_t>(net_rtt_));
  if (acked_since_fulfil_ <= p_.fulfil_mtus * mtu_ && !eta_due) return;
  cwnd_ += inc_ / cwnd_;
  inc_ = 0;
  acked_since_fulfil_ = 0;
  if (eta_due) {
    cwnd_ += eta_;
    last_eta_ = now;
  }
}

void Nscc::on_ack(const AckSample& a) {
  if (!started_) start(a.now);
  inflight_ = a.inflight;
  const double acked = static_cast<double>(a.acked_bytes.count());
  bool ecn = a.ecn_bytes.count() > 0;

  // Step 1: measure.
  if (a.rtt.count() > 0) {
    if (static_cast<double>(a.rtt.count()) < base_rtt_) set_base_rtt(a.rtt);
    last_delay_ = static_cast<double>(a.rtt.count()) - base_rtt_;
    const double sample = (!ecn && last_delay_ > target_) ? 0.25 * base_rtt_ : last_delay_;
    avg_delay_ = (1 - p_.delay_ewma) * avg_delay_ + p_.delay_ewma * sample;
  }
  const double delay = last_delay_;

  // Step 2: Quick Adapt overrides everything else for this ACK.
  const bool collapsed = quick_adapt(a.now, delay > p_.qa_threshold * target_, a.inflight);
  qa_bytes_ += acked;
  if (ecn_ignore_ > 0) {
    ecn = false;
    ecn_ignore_ = std::max(ecn_ignore_ - acked, 0.0);
  }
  if (collapsed) {
    clamp();
    return;
  }

  // Step 3: the quadrant.
  if (delay >= static_cast<double>(p_.fast_inc_delay.count())) fast_bytes_ = 0;
  if (!ecn && delay < target_) {
    bool fast = false;
    if (delay < static_cast<double>(p_.fast_inc_delay.count())) {
      fast_bytes_ += acked;
      fast = fast_bytes_ > cwnd_;
    }
    if (fast) cwnd_ += acked * fi_scale_;
    else inc_ += alpha_ * acked * (target_ - delay);
  } else if (!ecn) {
    inc_ += fi_ * acked;
  } else if (delay >= target_) {
    if (avg_delay_ > target_ && a.now - last_decrease_ >= Nanos(static_cast<int64_t>(base_rtt_))) {
      cwnd_ *= std::max(1 - p_.gamma * (avg_delay_ - target_) / avg_delay_, 0.5);
      last_decrease_ = a.now;
      fast_bytes_ = 0;
      ++decreases_;
    }
  } else {
    ++repath_hints_;
  }

  // Step 4: apply the accumulated increase.
  acked_since_fulfil_ += acked;
  fulfil(a.now);
  clamp();
}

void Nscc::nack(Nanos now, Bytes bytes, Bytes inflight) {
  if (!started_) start(now);
  avg_delay_ = (1 - p_.delay_ewma) * avg_delay_ + p_.delay_ewma * net_rtt_;
  qa_nack_ = true;
  if (!quick_adapt(now, false, inflight)) {
    cwnd_ -= static_cast<double>(bytes.count());
    fast_bytes_ = 0;
    ++decreases_;
  }
  clamp();
}

void Nscc::on_timeout(const TimeoutEvent& e) {
  if (!started_) start(e.now);
  cwnd_ -= static_cast<double>((e.bytes.count() > 0 ? e.bytes : Bytes(static_cast<uint64_t>(mss_))).count());
  fast_bytes_ = 0;
  ++decreases_;
  clamp();
}

namespace {

using P = Nscc::Params;
const Field<P> kFields[] = {
    {"target_delay_us", &P::target_delay, 0, 1e7, "target queuing delay, us; 0 = 0.75/1 x network RTT with/without trimming"},
    {"network_rtt_us", &P::network_rtt, 0, 1e7, "unloaded network RTT, us; 0 = the context's base RTT"},
    {"gamma", &P::gamma, 0, 1, "multiplicative decrease gain"},
    {"prop_mss", &P::prop_mss, 0, 1e4, "proportional increase per RTT at zero delay, MSS x a"},
    {"fi_mss", &P::fi_mss, 0, 1e4, "fair increase per RTT, MSS x a"},
    {"eta_mss", &P::eta_mss, 0, 1e4, "probe per network RTT, MSS x a"},
    {"fast_inc", &P::fast_inc, 0, 100, "fast increase per ACKed byte, x a"},
    {"fast_inc_delay_us", &P::fast_inc_delay, 0, 1e6, "delay under which ACKs count towards fast increase, us"},
    {"maxwnd_bdp", &P::maxwnd_bdp, 0.01, 1000, "window ceiling and initial window, BDPs"},
    {"qa_threshold", &P::qa_threshold, 0, 1e4, "Quick Adapt delay trigger, x target"},
    {"qa_gate", &P::qa_gate, 0, 30, "Quick Adapt fires if fewer than maxwnd/2^qa_gate bytes were ACKed"},
    {"delay_ewma", &P::delay_ewma, 0, 1, "avg_delay gain"},
    {"fulfil_mtus", &P::fulfil_mtus, 0, 1e6, "MTUs ACKed before the accumulated increase is applied"},
    {"header_bytes", &P::header, 0, 65536, "header bytes; MTU = MSS + header"},
    {"init_cwnd_bytes", &P::init_cwnd, 0, 1e12, "initial window, bytes; 0 = maxwnd"},
};

Result<CcPtr> make_nscc(std::string_view args, const Context& ctx) {
  auto kvs = split_args(args);
  if (!kvs) return kvs.status();
  P p;
  WEFT_RETURN_IF_ERROR(apply_args<P>("nscc", kFields, *kvs, p));
  return CcPtr(std::make_unique<Nscc>(p, ctx));
}

}  // namespace

Algorithm nscc_algorithm() {
  return {"nscc", "UEC NSCC-style ECN+delay window with quick adapt", describe<P>(kFields, P{}), make_nscc};
}

}  // namespace weft::cc
