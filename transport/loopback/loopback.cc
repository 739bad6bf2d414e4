#include "transport/loopback/loopback.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace weft::loopback {

namespace {

class LoopbackDriver final : public Driver {
 public:
  LoopbackDriver(LoopbackNetwork& net, uint32_t node) : net_(net), node_(node) {}
  std::string name() const override { return "loopback"; }
  std::string local_address() const override { return "loop:" + std::to_string(node_); }
  Result<core::NetAddr> resolve(std::string_view peer) const override {
    if (peer.substr(0, 5) != "loop:")
      return Status(Code::kInvalidArgument, "loopback address '" + std::string(peer) +
                                                "' is not of the form loop:N (use Device::address() of the peer)");
    const std::string_view digits = peer.substr(5);
    // At most 9 digits: a node number is a uint32_t and must not wrap.
    if (digits.empty() || digits.size() > 9)
      return Status(Code::kInvalidArgument, "loopback address '" + std::string(peer) + "' has a bad node number");
    uint32_t n = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return Status(Code::kInvalidArgument, "loopback address '" + std::string(peer) + "' has a bad node number");
      n = n * 10 + static_cast<uint32_t>(ch - '0');
    }
    core::NetAddr a;
    a.family = 0xFF;
    std::memcpy(a.bytes.data(), &n, sizeof n);
    return a;
  }
  std::string format(const core::NetAddr& a) const override {
    uint32_t n;
    std::memcpy(&n, a.bytes.data(), sizeof n);
    return "loop:" + std::to_string(n);
  }
  Nanos now() const override { return net_.clock().now(); }
  size_t send(std::span<const core::TxPacket> pkts) override {
    for (const auto& p : pkts) net_.send(node_, p);
    return pkts.size();
  }
  size_t receive(const RxSink& sink) override { return net_.receive(node_, sink); }
  void wait(Nanos deadline) override { net_.wait(node_, deadline); }
  void wake() override { net_.wake(node_); }

 private:
  LoopbackNetwork& net_;
  uint32_t node_;
};

uint32_t node_of(const core::NetAddr& a) {
  uint32_t n;
  std::memcpy(&n, a.bytes.data(), sizeof n);
  return n;
}

}  // namespace

LoopbackNetwork::LoopbackNetwork(const Clock& clock, FaultParams faults, uint64_t seed)
    : clock_(clock), f_(std::move(faults)), rng_(seed * 0x9E3779B97F4A7C15ull + 1) {}

std::unique_ptr<Driver> LoopbackNetwork::add_node() {
  std::lock_guard<std::mutex> g(mu_);
  nodes_.emplace_back();
  return std::make_unique<LoopbackDriver>(*this, static_cast<uint32_t>(nodes_.size() - 1));
}

void LoopbackNetwork::set_faults(const FaultParams& f) {
  std::lock_guard<std::mutex> g(mu_);
  f_ = f;
}

NetworkStats LoopbackNetwork::stats() const {
  std::lock_guard<std::mutex> g(mu_);
  return stats_;
}

double LoopbackNetwork::uniform() {
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return static_cast<double>((rng_ * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

Nanos LoopbackNetwork::next_delivery() const {
  std::lock_guard<std::mutex> g(mu_);
  Nanos t = Nanos::max();
  for (const auto& n : nodes_)
    if (!n.inbox.empty()) t = std::min(t, n.inbox.top().at);
  return t;
}

void LoopbackNetwork::send(uint32_t from, const core::TxPacket& p) {
  const Nanos now = clock_.now();
  std::lock_guard<std::mutex> g(mu_);
  stats_.sent++;
  const uint32_t to = node_of(p.peer);
  if (to >= nodes_.size()) {
    stats_.dropped++;
    return;
  }
  Node& src = nodes_[from];
  // Loss: independent, bursty (Gilbert-Elliott), or per path.
  double p_drop = f_.drop;
  if (f_.burst_enter > 0) {
    if (src.bad ? uniform() < f_.burst_exit : uniform() < f_.burst_enter) src.bad = !src.bad;
    if (src.bad) p_drop = std::max(p_drop, f_.burst_drop);
  }
  if (p.entropy < f_.path_drop.size()) p_drop = std::max(p_drop, f_.path_drop[p.entropy]);
  if (p_drop > 0 && uniform() < p_drop) {
    stats_.dropped++;
    return;
  }
  // Rate limit: the sender's link serializes; a full queue drops the tail.
  Nanos depart = now;
  if (f_.rate.count() > 0) {
    const Nanos backlog = std::max(Nanos(0), src.link_busy_until - now);
    if (transmit_time(f_.queue, f_.rate) < backlog) {
      stats_.queue_drops++;
      return;
    }
    depart = std::max(now, src.link_busy_until) + transmit_time(Bytes(p.size()), f_.rate);
    src.link_busy_until = depart;
  }
  auto make = [&](Nanos extra) {
    std::vector<uint8_t> buf;
    if (!pool_.empty()) {
      buf = std::move(pool_.back());
      pool_.pop_back();
    }
    buf.resize(p.size());
    std::memcpy(buf.data(), p.header, p.header_len);
    if (p.payload_len) std::memcpy(buf.data() + p.header_len, p.payload, p.payload_len);
    if (f_.corrupt > 0 && uniform() < f_.corrupt) {
      const size_t bit = static_cast<size_t>(uniform() * static_cast<double>(buf.size() * 8));
      buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      stats_.corrupted++;
    }
    Nanos at = depart + f_.delay + extra;
    if (f_.jitter.count() > 0) at += Nanos(static_cast<int64_t>(uniform() * static_cast<double>(f_.jitter.count())));
    if (f_.reorder > 0 && uniform() < f_.reorder) {
      at += Nanos(static_cast<int64_t>(uniform() * static_cast<double>(f_.reorder_window.count())));
      stats_.reordered++;
    }
    nodes_[to].inbox.push(Datagram{at, seq_++, from, p.ecn == core::kEcnCe, std::move(buf)});
  };
  make(Nanos(0));
  if (f_.duplicate > 0 && uniform() < f_.duplicate) {
    make(Nanos(static_cast<int64_t>(uniform() * static_cast<double>(f_.reorder_window.count()))));
    stats_.duplicated++;
  }
  cv_.notify_all();
}

size_t LoopbackNetwork::receive(uint32_t node, const RxSink& sink) {
  const Nanos now = clock_.now();
  std::vector<Datagram> ready;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto& inbox = nodes_[node].inbox;
    while (!inbox.empty() && inbox.top().at <= now && ready.size() < 64) {
      ready.push_back(std::move(const_cast<Datagram&>(inbox.top())));
      inbox.pop();
    }
    stats_.delivered += ready.size();
  }
  for (auto& d : ready) {
    core::NetAddr from;
    from.family = 0xFF;
    std::memcpy(from.bytes.data(), &d.from, sizeof d.from);
    sink(now, d.bytes, from, d.ce);
  }
  std::lock_guard<std::mutex> g(mu_);
  for (auto& d : ready)
    if (pool_.size() < 4096) pool_.push_back(std::move(d.bytes));
  return ready.size();
}

void LoopbackNetwork::wait(uint32_t node, Nanos deadline) {
  std::unique_lock<std::mutex> lk(mu_);
  Node& n = nodes_[node];
  // Real time only: with a manual clock, the test advances time itself.
  for (;;) {
    if (n.woken) {
      n.woken = false;
      return;
    }
    const Nanos now = clock_.now();
    Nanos until = deadline;
    if (!n.inbox.empty()) until = std::min(until, n.inbox.top().at);
    if (until <= now) return;
    if (dynamic_cast<const ManualClock*>(&clock_) != nullptr) return;
    cv_.wait_for(lk, std::chrono::nanoseconds(std::min<int64_t>((until - now).count(), 10'000'000)));
  }
}

void LoopbackNetwork::wake(uint32_t node) {
  std::lock_guard<std::mutex> g(mu_);
  nodes_[node].woken = true;
  cv_.notify_all();
}

}  // namespace weft::loopback
