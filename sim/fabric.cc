// sim/fabric.cc — see fabric.h.
#include "sim/fabric.h"

#include <algorithm>
#include <cstring>

#include "sim/frame.h"

namespace weft::sim {
namespace {

constexpr uint32_t kSlotHeadroom = 256;  // Ethernet/IP/UDP plus eight INT hops
uint64_t key(uint16_t h, ConnId c) { return uint64_t{h} << 32 | c; }

}  // namespace

std::vector<uint8_t> message_pattern(size_t flow, uint32_t k, uint64_t bytes) {
  // xorshift32, as tests/support/pattern.h (sim/ may not include tests/).
  std::vector<uint8_t> v(bytes);
  uint32_t x = static_cast<uint32_t>(flow * 7919 + k + 1) * 2654435761u + 1;
  for (auto& c : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<uint8_t>(x);
  }
  return v;
}

FabricParams default_params(uint16_t hosts, BitsPerSec rate) {
  FabricParams p;
  p.hosts = hosts;
  p.rate = rate;
  p.port.queue_limit = Bytes(64u << 10);
  p.port.prio_limit = Bytes(16u << 10);
  p.port.kmin = Bytes(8u << 10);
  p.port.kmax = Bytes(32u << 10);
  p.port.pmax = 0.2;
  p.fabric_port = p.port;
  weft::EngineParams& e = p.engine;
  e.job_token = 0x5151;
  e.mtu = 4096;
  e.window_packets = 1024;
  // The simulated RTT is ~10 us: ACK every second packet or within 5 us
  // (the 50 us default would dwarf the RTT every delay-based law measures).
  e.ack_every = 2;
  e.ack_delay = micros(5);
  e.min_rto = millis(1);
  e.initial_rto = millis(2);
  e.max_rto = millis(100);
  e.link_rate = rate;
  e.base_rtt = Nanos(0);
  e.pacing_burst = Bytes(8u << 10);
  return p;
}

Fabric::Fabric(const FabricParams& p)
    : p_(p), clock_(Nanos(0)), pool_(p.pool_slots, p.engine.mtu + kSlotHeadroom) {
  const uint32_t slot = pool_.slot_size();
  for (sw::PortParams* pp : {&p_.port, &p_.fabric_port}) {
    pp->rate = p_.rate;
    pp->burst = Bytes(slot);  // one frame: the port is exactly its line rate
  }
  const uint16_t links = p_.topo == TopoKind::kStar ? 2 : 4;  // host->host, one way
  if (p_.engine.base_rtt.count() == 0) {
    const Link l(p_.rate, p_.prop);
    p_.engine.base_rtt = (l.serialise(p_.engine.mtu + kFrameOverhead) + p_.prop) * links +
                         (l.serialise(160) + p_.prop) * links;
  }
  p_.engine.int_telemetry = p_.port.int_stamp;
  p_.engine.trimming = p_.port.trim;
  sw::Topology topo = p_.topo == TopoKind::kStar ? sw::Topology::star(p_.hosts)
                                                 : sw::Topology::leafspine(p_.hosts, p_.leaves, p_.spines, 1);
  switch_ = std::make_unique<sw::SwitchCore>(std::move(topo), sw::SwitchParams{p_.port, p_.fabric_port, p_.seed}, pool_, now());
  for (uint16_t h = 0; h < p_.hosts; ++h) {
    hosts_.push_back(std::make_unique<Host>(h, p_.engine, p_.seed * 1000 + h, p_.rate, p_.prop, p_.tx_ring));
    hosts_.back()->announce(now(), pool_);
  }
}

Fabric::~Fabric() = default;

Status Fabric::start(std::vector<FlowSpec> flows, Nanos lead) {
  run_until(now() + micros(10));  // the announcements teach the switch every MAC
  for (size_t i = 0; i < flows.size(); ++i) {
    FlowResult f;
    f.spec = flows[i];
    const FlowSpec& s = f.spec;
    if (s.src >= p_.hosts || s.dst >= p_.hosts || s.src == s.dst)
      return Status(Code::kInvalidArgument, "flow " + std::to_string(i) + ": bad hosts");
    ConnParams cp;
    cp.recovery = s.recovery;
    cp.cc = s.cc;
    auto r = hosts_[s.src]->engine().connect(now(), host_addr(s.dst), cp);
    if (!r.is_ok()) return r.status();
    f.sconn = *r;
    conn_events_.clear();
    const Nanos limit = now() + millis(20);
    auto find = [&](uint16_t h, CompletionType t) -> const std::tuple<uint16_t, CompletionType, ConnId, Status>* {
      for (const auto& e : conn_events_)
        if (std::get<0>(e) == h && std::get<1>(e) == t) return &e;
      return nullptr;
    };
    while (now() < limit && !(find(s.src, CompletionType::kConnected) && find(s.dst, CompletionType::kAccepted))) {
      if (const auto* e = find(s.src, CompletionType::kConnFailed)) return std::get<3>(*e);
      run_until(now() + micros(1));
    }
    const auto* acc = find(s.dst, CompletionType::kAccepted);
    if (!acc || !find(s.src, CompletionType::kConnected))
      return Status(Code::kTimeout, "flow " + std::to_string(i) + " did not connect in 20 ms");
    f.rconn = std::get<2>(*acc);
    f.post_at.assign(s.messages, Nanos(-1));
    f.done_at.assign(s.messages, Nanos(-1));
    by_send_[key(s.src, f.sconn)] = flows_.size();
    by_recv_[key(s.dst, f.rconn)] = flows_.size();
    flows_.push_back(std::move(f));
  }
  started_.assign(flows_.size(), false);
  t0_ = now() + lead;
  next_sample_ = t0_;
  return Status::ok();
}

void Fabric::stop_posting() {
  posting_ = false;
  for (FlowResult& f : flows_) f.spec.messages = f.posted;
}

bool Fabric::all_done() const {
  for (size_t i = 0; i < flows_.size(); ++i) {
    const FlowResult& f = flows_[i];
    if (!started_[i]) return false;
    if (f.received + f.failed < f.spec.messages) return false;
  }
  return true;
}

void Fabric::run_until(Nanos until) {
  for (;;) {
    step();
    if (now() >= until) return;
    Nanos t = next_event();
    if (t <= now()) t = now() + Nanos(100);  // a component with stale work: look again soon
    clock_.set(std::min(t, until));
  }
}

bool Fabric::run_to_completion(Nanos limit) {
  const Nanos end = now() + limit;
  for (;;) {
    step();
    if (all_done()) return true;
    if (now() >= end) return false;
    Nanos t = next_event();
    if (t <= now()) t = now() + Nanos(100);
    clock_.set(std::min(t, end));
  }
}

void Fabric::step() {
  ++steps_;
  const Nanos t = now();
  for (size_t i = 0; i < started_.size(); ++i)  // sized once start() has connected every flow
    if (!started_[i] && t >= t0_ + flows_[i].spec.start) {
      started_[i] = true;
      post_recvs(flows_[i]);
      post_sends(flows_[i]);
    }
  for (auto& h : hosts_) {
    h->receive(t, pool_);
    h->engine().on_timer(t);
  }
  harvest();
  for (auto& h : hosts_) h->transmit(t, pool_);
  for (auto& h : hosts_)
    for (sw::Slot s; (s = h->uplink().pop_arrived(t)) != sw::kNoSlot;) switch_->receive(t, h->id(), s);
  sw::TxItem out[64];
  for (size_t n = 64; n == 64;) {
    n = switch_->advance(t, out, 64);
    for (size_t i = 0; i < n; ++i) hosts_[out[i].host]->downlink().send(t, out[i].slot, pool_.meta(out[i].slot).len);
  }
  for (uint16_t h = 0; h < p_.hosts; ++h) queue_now_max_ = std::max(queue_now_max_, switch_->ports()[h].queue_bytes());
  if (t >= next_sample_) sample();
}

uint64_t Fabric::max_queue_between(Nanos from, Nanos to) const {
  uint64_t m = 0;
  for (size_t i = 0; i < series_.samples(); ++i)
    if (series_.at(i) >= from && series_.at(i) <= to) m = std::max(m, queue_max_[i]);
  return m;
}

Nanos Fabric::next_event() {
  Nanos t = std::min(next_sample_, switch_->next_deadline(now()));
  for (auto& h : hosts_) t = std::min(t, h->next_deadline(now()));
  for (size_t i = 0; i < started_.size(); ++i)
    if (!started_[i]) t = std::min(t, t0_ + flows_[i].spec.start);
  return t;
}

void Fabric::sample() {
  std::vector<uint64_t> d(flows_.size());
  for (size_t i = 0; i < flows_.size(); ++i) {
    auto st = hosts_[flows_[i].spec.dst]->engine().stats(now(), flows_[i].rconn);
    d[i] = st.is_ok() ? st->bytes_received : 0;
  }
  series_.add(now(), std::move(d));
  queue_max_.push_back(queue_now_max_);
  queue_now_max_ = 0;
  next_sample_ = now() + p_.sample_every;
}

void Fabric::harvest() {
  std::array<Completion, 32> out;
  for (auto& h : hosts_)
    for (size_t n; (n = h->engine().poll(out)) > 0;)
      for (size_t k = 0; k < n; ++k) on_completion(h->id(), out[k]);
}

void Fabric::on_completion(uint16_t h, const Completion& c) {
  switch (c.type) {
    case CompletionType::kConnected:
    case CompletionType::kAccepted:
      conn_events_.emplace_back(h, c.type, c.conn, c.status);
      return;
    case CompletionType::kConnFailed: {
      conn_events_.emplace_back(h, c.type, c.conn, c.status);
      for (auto* m : {&by_send_, &by_recv_})
        if (auto it = m->find(key(h, c.conn)); it != m->end() && flows_[it->second].error.empty())
          flows_[it->second].error = "h" + std::to_string(h) + ": " + c.status.to_string();
      return;
    }
    case CompletionType::kSend: {
      auto it = by_send_.find(key(h, c.conn));
      if (it == by_send_.end()) return;
      FlowResult& f = flows_[it->second];
      const auto k = static_cast<uint32_t>(c.tag);
      send_buf_.erase({it->second, k});
      ++f.sent;
      if (!c.status.is_ok()) {
        ++f.failed;
        if (f.error.empty()) f.error = "send: " + c.status.to_string();
      }
      post_sends(f);
      return;
    }
    case CompletionType::kRecv: {
      auto it = by_recv_.find(key(h, c.conn));
      if (it == by_recv_.end()) return;
      FlowResult& f = flows_[it->second];
      const auto k = static_cast<uint32_t>(c.tag);
      auto buf = recv_buf_.find({it->second, k});
      if (!c.status.is_ok() || buf == recv_buf_.end() || c.bytes != f.spec.message_bytes) {
        ++f.failed;
        if (f.error.empty()) f.error = "recv: " + c.status.to_string();
      } else {
        const std::vector<uint8_t> want = message_pattern(it->second, k, f.spec.message_bytes);
        if (std::memcmp(want.data(), buf->second.data(), want.size()) != 0) ++f.corrupt;
        f.done_at[k] = now();
      }
      if (buf != recv_buf_.end()) recv_buf_.erase(buf);
      ++f.received;
      post_recvs(f);
      return;
    }
    default:
      return;
  }
}

void Fabric::post_sends(FlowResult& f) {
  const size_t idx = static_cast<size_t>(&f - flows_.data());
  if (idx >= started_.size() || !started_[idx]) return;
  while (posting_ && f.posted < f.spec.messages && f.posted - f.sent < f.spec.outstanding) {
    const uint32_t k = f.posted;
    std::vector<uint8_t>& buf = send_buf_[{idx, k}] = message_pattern(idx, k, f.spec.message_bytes);
    auto r = hosts_[f.spec.src]->engine().post_send(now(), f.sconn, k, buf.data(), buf.size());
    if (!r.is_ok()) {
      if (f.error.empty()) f.error = "post_send: " + r.status().to_string();
      send_buf_.erase({idx, k});
      return;
    }
    f.post_at[k] = now();
    ++f.posted;
  }
}

void Fabric::post_recvs(FlowResult& f) {
  const size_t idx = static_cast<size_t>(&f - flows_.data());
  while (f.recv_posted < f.spec.messages && f.recv_posted - f.received < f.spec.outstanding) {
    const uint32_t k = f.recv_posted;
    std::vector<uint8_t>& buf = recv_buf_[{idx, k}];
    buf.assign(f.spec.message_bytes, 0);
    auto r = hosts_[f.spec.dst]->engine().post_recv(now(), f.rconn, k, buf.data(), buf.size());
    if (!r.is_ok()) {
      if (f.error.empty()) f.error = "post_recv: " + r.status().to_string();
      recv_buf_.erase({idx, k});
      return;
    }
    ++f.recv_posted;
  }
}

RunSummary Fabric::summary() {
  RunSummary s;
  s.first_post = Nanos::max();
  std::vector<double> rates;
  for (const FlowResult& f : flows_) {
    s.messages += f.spec.messages;
    s.corrupt += f.corrupt;
    s.failed += f.failed;
    Nanos first = Nanos::max(), last{0};
    uint64_t fbytes = 0;
    for (uint32_t k = 0; k < f.spec.messages && k < f.done_at.size(); ++k) {
      if (f.done_at[k].count() < 0 || f.post_at[k].count() < 0) continue;
      ++s.completed;
      fbytes += f.spec.message_bytes;
      s.mct_us.push_back(static_cast<double>((f.done_at[k] - f.post_at[k]).count()) / 1000.0);
      first = std::min(first, f.post_at[k]);
      last = std::max(last, f.done_at[k]);
    }
    s.bytes += fbytes;
    if (fbytes) {
      s.first_post = std::min(s.first_post, first);
      s.last_done = std::max(s.last_done, last);
      rates.push_back(static_cast<double>(fbytes) * 8e9 / static_cast<double>((last - first).count()));
    }
    if (auto st = hosts_[f.spec.src]->engine().stats(now(), f.sconn); st.is_ok()) {
      s.rtos += st->rto_count;
      s.retransmits += st->retransmits;
    }
  }
  if (s.bytes && s.last_done > s.first_post)
    s.goodput_bps = static_cast<double>(s.bytes) * 8e9 / static_cast<double>((s.last_done - s.first_post).count());
  s.fairness = jain(rates);
  for (const sw::EgressPort& port : switch_->ports()) {
    const sw::PortCounters& c = port.counters();
    s.max_queue_bytes = std::max(s.max_queue_bytes, c.max_queue_bytes);
    s.marked += c.marked;
    s.trimmed += c.trimmed;
    s.dropped += c.dropped();
  }
  return s;
}

}  // namespace weft::sim
