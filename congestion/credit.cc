// Receiver-driven credits: see credit.h for the law and its sources.
#include "congestion/credit.h"

#include <algorithm>

#include "congestion/params.h"

namespace weft::cc {

Credit::Credit(Params p, const Context& ctx)
    : p_(p),
      mss_(static_cast<int64_t>(ctx.mss.count())),
      max_request_(std::max<int64_t>(static_cast<int64_t>(p.max_request_bdp * static_cast<double>(ctx.bdp().count())), mss_)),
      credit_(std::max<int64_t>(static_cast<int64_t>(p.spec_bdp * static_cast<double>(ctx.bdp().count())), 0)) {}

void Credit::end_speculation() {
  if (!speculating_) return;
  speculating_ = false;
  credit_ = std::min<int64_t>(credit_, 0);
}

void Credit::on_send(const SendEvent& e) {
  credit_ -= static_cast<int64_t>(e.bytes.count());
  inflight_ = e.inflight.count();
}

void Credit::on_ack(const AckSample& a) {
  end_speculation();
  inflight_ = a.inflight.count();
}

void Credit::on_credit(const CreditEvent& e) {
  end_speculation();
  credit_ += static_cast<int64_t>(e.credit.count());
  granted_total_ += e.credit.count();
}

void Credit::on_timeout(const TimeoutEvent& e) {
  end_speculation();
  credit_ = std::max(credit_, mss_);
}

Bytes Credit::cwnd() const {
  const int64_t usable = credit_ > 0 ? std::max(credit_, mss_) : 0;
  return Bytes(inflight_ + static_cast<uint64_t>(usable));
}

Bytes Credit::credit_request(Bytes backlog) const {
  const int64_t want = std::min<int64_t>(static_cast<int64_t>(backlog.count()), max_request_) - std::max<int64_t>(credit_, 0);
  return Bytes(granted_total_ + static_cast<uint64_t>(std::max<int64_t>(want, 0)));
}

CreditGranter::CreditGranter(Params p, uint32_t max_senders) : p_(p), peers_(max_senders), ring_(max_senders) {}

void CreditGranter::enqueue(uint32_t sender) {
  ring_[(head_ + queued_) % ring_.size()] = sender;
  ++queued_;
  peers_[sender].queued = true;
}

void CreditGranter::on_request(uint32_t sender, Bytes cumulative_request) {
  if (sender >= peers_.size()) return;
  Peer& peer = peers_[sender];
  peer.requested = std::max(peer.requested, cumulative_request.count());
  if (peer.requested > peer.granted && !peer.queued) enqueue(sender);
}

Bytes CreditGranter::backlog(uint32_t sender) const {
  if (sender >= peers_.size()) return Bytes(0);
  const Peer& peer = peers_[sender];
  return Bytes(peer.requested > peer.granted ? peer.requested - peer.granted : 0);
}

std::optional<CreditGranter::Grant> CreditGranter::poll(Nanos now) {
  if (now < next_slot_ || queued_ == 0) return std::nullopt;
  const uint32_t s = ring_[head_];
  head_ = static_cast<uint32_t>((head_ + 1) % ring_.size());
  --queued_;
  Peer& peer = peers_[s];
  peer.queued = false;
  const uint64_t g = std::min(peer.requested - peer.granted, p_.grant_bytes.count());
  peer.granted += g;
  if (peer.requested > peer.granted) enqueue(s);  // still waiting: to the back of the line
  // Slot length: the granted bytes' wire time at pacer_fraction of the line rate.
  const uint64_t slot_bytes = std::max(g, p_.min_slot_bytes.count());
  const double slot_ns = static_cast<double>(slot_bytes) * 8 * 1e9 /
                         (static_cast<double>(p_.link_rate.count()) * p_.pacer_fraction);
  next_slot_ = std::max(next_slot_, now) + Nanos(static_cast<int64_t>(slot_ns + 0.5));
  return Grant{s, Bytes(g)};
}

namespace {

using P = Credit::Params;
const Field<P> kFields[] = {
    {"spec_bdp", &P::spec_bdp, 0, 100, "speculative window at start, BDPs"},
    {"max_request_bdp", &P::max_request_bdp, 0.001, 1000, "most outstanding request, BDPs"},
};

Result<CcPtr> make_credit(std::string_view args, const Context& ctx) {
  auto kvs = split_args(args);
  if (!kvs) return kvs.status();
  P p;
  WEFT_RETURN_IF_ERROR(apply_args<P>("credit", kFields, *kvs, p));
  return CcPtr(std::make_unique<Credit>(p, ctx));
}

}  // namespace

Algorithm credit_algorithm() {
  return {"credit", "receiver-driven credits with a speculative first window (EQDS/RCCC)", describe<P>(kFields, P{}),
          make_credit};
}

}  // namespace weft::cc
