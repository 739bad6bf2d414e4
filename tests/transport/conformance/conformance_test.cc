// The public Device API, specified once and run against every driver.
//
// Each backend is one entry in backends(): a name and a way to open two
// Devices that can connect to each other (plus whatever must outlive them,
// such as the loopback network and its clock). A later backend (dpdk, verbs)
// adds one line there; a backend this build lacks skips with the reason.
//
// Everything runs in real time with progress threads, on a machine that may
// be busy: waits have generous deadlines and never hang, and no test asserts
// how fast anything happened. Every transfer is checked byte for byte.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "transport/device_events.h"
#include "transport/loopback/loopback.h"
#include "transport/transport.h"
#include "transport/udp/udp_driver.h"
#include "weft/transport.h"

namespace weft {
namespace {

using std::chrono::milliseconds;
using weft::testing::AllBytesAre;
using weft::testing::Contains;
using weft::testing::Events;
using weft::testing::Same;

// This file's pattern stream: every test sends the bytes it always has.
std::vector<uint8_t> pattern(size_t n, uint64_t seed) { return weft::testing::pattern(n, seed, 17); }

std::string describe(const Completion* c) {
  if (c == nullptr) return "no completion before the deadline";
  return "type " + std::to_string(static_cast<int>(c->type)) + " conn " + std::to_string(c->conn) + " bytes " +
         std::to_string(c->bytes) + " status " + c->status.to_string();
}

// ------------------------------------------------------------- backends ----

// Two devices that can connect to each other, and what must outlive them.
// Members are destroyed in reverse order: the devices go first.
struct Endpoints {
  std::shared_ptr<void> keep;
  std::unique_ptr<Device> a, b;
};

// Link damage a backend may be able to inject between its two devices.
struct Impairment {
  double drop = 0, duplicate = 0, reorder = 0;
};

struct Backend {
  std::string name;
  // Opens two devices. kUnavailable: this backend is not built or cannot run
  // here; the test skips with the message. `impair` is null unless
  // `impairs` is true.
  std::function<Result<Endpoints>(const DeviceParams&, const Impairment* impair)> open;
  bool impairs = false;
  std::string cannot_impair;  // why not, when !impairs
  // An address where nothing answers: connecting there must time out.
  std::function<std::string()> silent_address;
  // Addresses this backend can never connect to.
  std::vector<std::string> bad_addresses;
};

Result<Endpoints> open_loopback(const DeviceParams& dp, const Impairment* impair) {
  struct Net {
    MonotonicClock clock;  // declared first: the network refers to it
    loopback::LoopbackNetwork net;
    explicit Net(loopback::FaultParams f) : net(clock, std::move(f), 0xC0FFEE) {}
  };
  loopback::FaultParams f;
  if (impair != nullptr) {
    f.drop = impair->drop;
    f.duplicate = impair->duplicate;
    f.reorder = impair->reorder;
  }
  auto net = std::make_shared<Net>(f);
  Endpoints e;
  e.keep = net;
  // (Nodes may also be added while devices run: see the test at the end.)
  std::unique_ptr<Driver> drivers[2] = {net->net.add_node(), net->net.add_node()};
  for (int i = 0; i < 2; ++i) {
    auto d = Device::open(std::move(drivers[i]), dp);
    if (!d) return d.status();
    *(i == 0 ? &e.a : &e.b) = std::move(*d);
  }
  return e;
}

Result<Endpoints> open_udp(const DeviceParams& dp, const Impairment*) {
  Endpoints e;
  for (auto* slot : {&e.a, &e.b}) {
    auto d = udp::open_device(udp::UdpParams{}, dp);
    if (!d) return d.status();
    *slot = std::move(*d);
  }
  return e;
}

// A local UDP port that was free a moment ago and has nobody behind it now.
std::string closed_udp_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return "127.0.0.1:9";  // discard: nothing answers weft there either
  }
  ::close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
}

Result<Endpoints> not_built(std::string why) { return Status(Code::kUnavailable, std::move(why)); }

const std::vector<Backend>& backends() {
  static const std::vector<Backend> all = {
      {.name = "loopback",
       .open = open_loopback,
       .impairs = true,
       .silent_address = [] { return std::string("loop:99"); },
       .bad_addresses = {"not-an-address", "127.0.0.1", "127.0.0.1:5000", "loop:x", "loop:-1"}},
      {.name = "udp",
       .open = open_udp,
       .cannot_impair = "the kernel loopback loses nothing on demand (UdpDriver.LossyPathStillDeliversIntact "
                        "covers loss through a dropping relay)",
       .silent_address = closed_udp_port,
       .bad_addresses = {"not-an-address", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:port", "loop:x",
                         "[::1"}},
      // Later backends: one line each.
      {.name = "dpdk",
       .open = [](const DeviceParams&, const Impairment*) { return not_built("the DPDK backend is not built yet"); }},
      {.name = "verbs",
       .open = [](const DeviceParams&, const Impairment*) { return not_built("the verbs backend is not built yet"); }},
  };
  return all;
}

// -------------------------------------------------------------- fixture ----

class Conformance : public ::testing::TestWithParam<const Backend*> {
 protected:
  static EngineParams engine_params() {
    EngineParams p;
    p.job_token = 0x5EEDF00DCAFEull;
    p.dead_peer_timeout = seconds(2);
    p.keepalive_interval = millis(100);
    return p;
  }

  void SetUp() override { ASSERT_NO_FATAL_FAILURE(open(engine_params())); }
  void TearDown() override { close_all(); }

  const Backend& backend() const { return *GetParam(); }
  Device& a() { return *ends_.a; }
  Device& b() { return *ends_.b; }

  void close_all() {
    ea_.reset();
    eb_.reset();
    // Devices before the network they run on (assigning {} would not
    // guarantee that: members are assigned in declaration order).
    ends_.a.reset();
    ends_.b.reset();
    ends_.keep.reset();
    ca_ = cb_ = 0;
  }

  // (Re)opens both devices with `ep`, dropping any previous pair first.
  void open(const EngineParams& ep, const Impairment* impair = nullptr) {
    close_all();
    DeviceParams dp;
    dp.engine = ep;
    dp.progress_thread = true;
    auto r = backend().open(dp, impair);
    if (!r.is_ok() && r.status().code() == Code::kUnavailable) GTEST_SKIP() << backend().name << ": " << r.status().message();
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ends_ = std::move(r).value();
    ea_ = std::make_unique<Events>(a());
    eb_ = std::make_unique<Events>(b());
  }

  // Connects A to B; returns once A has kConnected and B has kAccepted.
  void establish(const ConnParams& cp = {}) {
    eb_->drain();
    const size_t accepted_before = eb_->count(CompletionType::kAccepted);
    auto c = a().connect(b().address(), cp);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    ca_ = *c;
    ASSERT_TRUE(ea_->wait([&] {
      return ea_->event(CompletionType::kConnected, ca_) || ea_->event(CompletionType::kConnFailed, ca_);
    })) << "connect to " << b().address() << " never completed";
    const Completion* failed = ea_->event(CompletionType::kConnFailed, ca_);
    ASSERT_EQ(failed, nullptr) << failed->status.to_string();
    ASSERT_TRUE(eb_->wait([&] { return eb_->count(CompletionType::kAccepted) > accepted_before; }))
        << "B never saw the connection";
    for (const Completion& e : eb_->all())
      if (e.type == CompletionType::kAccepted) cb_ = e.conn;  // the newest
  }

  // One endpoint of an established connection.
  struct Side {
    Device* dev;
    Events* ev;
    ConnId conn;
  };
  Side side_a() { return {&a(), ea_.get(), ca_}; }
  Side side_b() { return {&b(), eb_.get(), cb_}; }

  // Sends `n` pattern bytes from `from` to `to` on `tag` and checks that they
  // arrive intact, with the receive posted first.
  void transfer(Side from, Side to, size_t n, uint64_t tag, uint64_t seed) {
    SCOPED_TRACE("transfer of " + std::to_string(n) + " bytes on tag " + std::to_string(tag));
    const auto& msg = keep(pattern(n, seed));
    auto& got = keep(std::vector<uint8_t>(n + 16, 0xA5));
    auto r = to.dev->post_recv(to.conn, tag, got.data(), n);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    auto s = from.dev->post_send(from.conn, tag, msg.data(), msg.size());
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    const Completion* rc = to.ev->wait_op(*r);
    const Completion* sc = from.ev->wait_op(*s);
    ASSERT_NE(rc, nullptr) << "receive: " << describe(rc);
    ASSERT_NE(sc, nullptr) << "send: " << describe(sc);
    EXPECT_TRUE(sc->status.is_ok()) << sc->status.to_string();
    EXPECT_EQ(sc->type, CompletionType::kSend);
    ASSERT_TRUE(rc->status.is_ok()) << rc->status.to_string();
    EXPECT_EQ(rc->type, CompletionType::kRecv);
    EXPECT_EQ(rc->bytes, n);
    EXPECT_EQ(rc->tag, tag);
    EXPECT_EQ(rc->conn, to.conn);
    EXPECT_TRUE(Same(msg, got));
    EXPECT_TRUE(AllBytesAre(std::span<const uint8_t>(got).subspan(n), 0xA5)) << "written past the receive buffer";
    held_.resize(held_.size() - 2);  // both operations are done with msg and got
  }

  // Memory posted operations point into lives as long as the fixture, past
  // TearDown's closing of the devices, so a test that gives up midway never
  // leaves a device writing into (or sending from) freed buffers.
  template <typename T>
  T& keep(T v) {
    auto p = std::make_shared<T>(std::move(v));
    held_.push_back(p);
    return *p;
  }

  void many_messages(int round);

  std::vector<std::shared_ptr<void>> held_;  // see keep(); outlives ends_
  Endpoints ends_;
  std::unique_ptr<Events> ea_, eb_;
  ConnId ca_ = 0, cb_ = 0;
};

// ---------------------------------------------------------------- tests ----

TEST_P(Conformance, ConnectsAndAcceptsWithEvents) {
  auto c = a().connect(b().address());
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_NE(*c, 0u);
  const Completion* con = ea_->wait_event(CompletionType::kConnected);
  ASSERT_NE(con, nullptr) << describe(ea_->event(CompletionType::kConnFailed));
  EXPECT_EQ(con->conn, *c);
  EXPECT_TRUE(con->status.is_ok()) << con->status.to_string();
  const Completion* acc = eb_->wait_event(CompletionType::kAccepted);
  ASSERT_NE(acc, nullptr);
  EXPECT_NE(acc->conn, 0u);
  EXPECT_TRUE(acc->status.is_ok()) << acc->status.to_string();
  // Both ends name a live connection.
  EXPECT_TRUE(a().stats(*c).is_ok());
  EXPECT_TRUE(b().stats(acc->conn).is_ok());
  // Exactly one event each: no duplicate ACCEPTs become duplicate connections.
  std::this_thread::sleep_for(milliseconds(200));
  ea_->drain();
  eb_->drain();
  EXPECT_EQ(ea_->count(CompletionType::kConnected), 1u);
  EXPECT_EQ(eb_->count(CompletionType::kAccepted), 1u);
  EXPECT_EQ(ea_->count(CompletionType::kConnFailed) + eb_->count(CompletionType::kConnFailed), 0u);
}

TEST_P(Conformance, TaggedSendRecvDeliversIntact) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const size_t sizes[] = {0, 1, 7, 1023, 8972, (1u << 20) + 3, 16u << 20};
  uint64_t tag = 100;
  for (size_t n : sizes) ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), n, tag++, n + 1));
  // And back the other way on the same connection.
  for (size_t n : sizes) ASSERT_NO_FATAL_FAILURE(transfer(side_b(), side_a(), n, tag++, n + 2));
}

TEST_P(Conformance, ManyMessagesInFlightAcrossTags) {
  ASSERT_NO_FATAL_FAILURE(establish());
  // Four rounds: 1200 messages in all, more than max_ops_per_conn (1024),
  // so per-message state is reused.
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_NO_FATAL_FAILURE(many_messages(round));
  }
}

void Conformance::many_messages(int round) {
  ea_->drain();
  eb_->drain();
  const size_t recvs_before = eb_->count(CompletionType::kRecv), sends_before = ea_->count(CompletionType::kSend);
  constexpr int kN = 300;
  constexpr int kBefore = kN / 2;  // receives posted before the sends; the rest after
  auto& msgs = keep(std::vector<std::vector<uint8_t>>(kN));
  auto& got = keep(std::vector<std::vector<uint8_t>>(kN));
  std::vector<OpId> recvs(kN), sends(kN);
  auto size_of = [](int i) { return i % 25 == 12 ? 0 : static_cast<size_t>((i * 7919) % 30000) + 1; };
  auto tag_of = [](int i) { return static_cast<uint64_t>(i % 5); };
  auto slack = [](int i) { return static_cast<size_t>((i % 3) * 100); };  // receives larger than the message
  for (int i = 0; i < kN; ++i) {
    msgs[i] = pattern(size_of(i), 1000 + i + 1000 * round);
    got[i].assign(msgs[i].size() + slack(i) + 8, 0xA5);
  }
  auto post_recv = [&](int i) {
    auto r = b().post_recv(cb_, tag_of(i), got[i].data(), msgs[i].size() + slack(i));
    ASSERT_TRUE(r.is_ok()) << "receive " << i << ": " << r.status().to_string();
    recvs[i] = *r;
  };
  for (int i = 0; i < kBefore; ++i) ASSERT_NO_FATAL_FAILURE(post_recv(i));
  for (int i = 0; i < kN; ++i) {
    auto s = a().post_send(ca_, tag_of(i), msgs[i].data(), msgs[i].size());
    ASSERT_TRUE(s.is_ok()) << "send " << i << ": " << s.status().to_string();
    sends[i] = *s;
  }
  for (int i = kBefore; i < kN; ++i) ASSERT_NO_FATAL_FAILURE(post_recv(i));

  ASSERT_TRUE(eb_->wait([&] { return eb_->count(CompletionType::kRecv) - recvs_before == kN; }))
      << eb_->count(CompletionType::kRecv) - recvs_before << " of " << kN << " receives completed";
  ASSERT_TRUE(ea_->wait([&] { return ea_->count(CompletionType::kSend) - sends_before == kN; }))
      << ea_->count(CompletionType::kSend) - sends_before << " of " << kN << " sends completed";
  for (int i = 0; i < kN; ++i) {
    SCOPED_TRACE("message " + std::to_string(i));
    const Completion* rc = eb_->op(recvs[i]);
    ASSERT_NE(rc, nullptr);
    EXPECT_TRUE(rc->status.is_ok()) << rc->status.to_string();
    EXPECT_EQ(rc->bytes, msgs[i].size());
    EXPECT_EQ(rc->tag, tag_of(i));
    EXPECT_TRUE(Same(msgs[i], got[i]));
    EXPECT_TRUE(AllBytesAre(std::span<const uint8_t>(got[i]).subspan(msgs[i].size()), 0xA5))
        << "bytes past the message must be untouched";
    const Completion* sc = ea_->op(sends[i]);
    ASSERT_NE(sc, nullptr);
    EXPECT_TRUE(sc->status.is_ok()) << sc->status.to_string();
  }
}

TEST_P(Conformance, BidirectionalTrafficAtOnce) {
  ASSERT_NO_FATAL_FAILURE(establish());
  constexpr int kN = 12;
  struct Dir {
    std::vector<std::vector<uint8_t>> msgs, got;
    std::vector<OpId> recvs, sends;
  };
  auto& ab = keep(Dir{});  // A->B
  auto& ba = keep(Dir{});  // B->A
  auto prepare = [](Dir& d, uint64_t seed) {
    for (int i = 0; i < kN; ++i) {
      d.msgs.push_back(pattern((size_t{1} << 20) + static_cast<size_t>(i) * 4099, seed + i));
      d.got.emplace_back(d.msgs.back().size());
    }
  };
  prepare(ab, 10);
  prepare(ba, 20);
  for (int i = 0; i < kN; ++i) {
    ba.recvs.push_back(*a().post_recv(ca_, 7, ba.got[i].data(), ba.got[i].size()));
    ab.recvs.push_back(*b().post_recv(cb_, 7, ab.got[i].data(), ab.got[i].size()));
  }
  // Both ends post their sends at the same time, from two threads.
  auto post_all = [](Device& d, ConnId c, Dir& dir) {
    for (int i = 0; i < kN; ++i) {
      auto s = d.post_send(c, 7, dir.msgs[i].data(), dir.msgs[i].size());
      dir.sends.push_back(s.is_ok() ? *s : 0);
    }
  };
  std::thread tb([&] { post_all(b(), cb_, ba); });
  post_all(a(), ca_, ab);
  tb.join();
  for (int i = 0; i < kN; ++i) {
    ASSERT_NE(ab.sends[i], 0u);
    ASSERT_NE(ba.sends[i], 0u);
  }
  auto all_done = [&] {
    return ea_->count(CompletionType::kRecv) == kN && ea_->count(CompletionType::kSend) == kN &&
           eb_->count(CompletionType::kRecv) == kN && eb_->count(CompletionType::kSend) == kN;
  };
  ASSERT_TRUE(ea_->wait([&] {
    eb_->drain();
    return all_done();
  })) << "A: " << ea_->count(CompletionType::kRecv) << " recvs " << ea_->count(CompletionType::kSend)
      << " sends; B: " << eb_->count(CompletionType::kRecv) << " recvs " << eb_->count(CompletionType::kSend) << " sends";
  for (const auto* ev : {ea_.get(), eb_.get()})
    for (const Completion& c : ev->all()) EXPECT_TRUE(c.status.is_ok()) << describe(&c);
  for (int i = 0; i < kN; ++i) {
    EXPECT_TRUE(Same(ab.msgs[i], ab.got[i])) << "A->B message " << i;
    EXPECT_TRUE(Same(ba.msgs[i], ba.got[i])) << "B->A message " << i;
  }
}

TEST_P(Conformance, OneSidedWriteAndWriteWithImmediate) {
  ASSERT_NO_FATAL_FAILURE(establish());
  auto& region = keep(std::vector<uint8_t>(4u << 20, 0));
  auto key = b().register_memory(region.data(), region.size(), MemAccess::kRemoteWrite);
  ASSERT_TRUE(key.is_ok()) << key.status().to_string();

  // A plain write lands silently: the initiator hears kWrite, the target nothing.
  const auto& big = keep(pattern((1u << 20) + 5, 31));
  auto w = a().post_write(ca_, big.data(), big.size(), *key, 100);
  ASSERT_TRUE(w.is_ok()) << w.status().to_string();
  const Completion* wc = ea_->wait_op(*w);
  ASSERT_NE(wc, nullptr);
  EXPECT_EQ(wc->type, CompletionType::kWrite);
  EXPECT_TRUE(wc->status.is_ok()) << wc->status.to_string();
  EXPECT_TRUE(Same(big, std::span<const uint8_t>(region).subspan(100)));
  EXPECT_TRUE(AllBytesAre(std::span<const uint8_t>(region).first(100), 0));
  EXPECT_TRUE(AllBytesAre(std::span<const uint8_t>(region).subspan(100 + big.size(), 4096), 0));

  // A write with immediate lands, then the target hears about it.
  const auto& small = keep(pattern(30000, 32));
  const uint32_t imm = 0xC0FFEE;
  auto wi = a().post_write(ca_, small.data(), small.size(), *key, 2u << 20, &imm);
  ASSERT_TRUE(wi.is_ok()) << wi.status().to_string();
  const Completion* target = eb_->wait_event(CompletionType::kWriteImm);
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->imm, imm);
  EXPECT_EQ(target->bytes, small.size());
  EXPECT_EQ(target->conn, cb_);
  EXPECT_TRUE(target->status.is_ok()) << target->status.to_string();
  // The data is in place by the time the target is told.
  EXPECT_TRUE(Same(small, std::span<const uint8_t>(region).subspan(2u << 20)));
  const Completion* wic = ea_->wait_op(*wi);
  ASSERT_NE(wic, nullptr);
  EXPECT_EQ(wic->type, CompletionType::kWrite);
  EXPECT_TRUE(wic->status.is_ok()) << wic->status.to_string();

  // A zero-length write with immediate is a pure notification.
  const uint32_t imm2 = 7;
  auto wz = a().post_write(ca_, nullptr, 0, *key, 0, &imm2);
  ASSERT_TRUE(wz.is_ok()) << wz.status().to_string();
  ASSERT_TRUE(eb_->wait([&] { return eb_->count(CompletionType::kWriteImm) == 2; }));
  const Completion* second = &eb_->all().back();
  for (const auto& c : eb_->all())
    if (c.type == CompletionType::kWriteImm) second = &c;
  EXPECT_EQ(second->imm, imm2);
  EXPECT_EQ(second->bytes, 0u);
  const Completion* wzc = ea_->wait_op(*wz);
  ASSERT_NE(wzc, nullptr);
  EXPECT_TRUE(wzc->status.is_ok()) << wzc->status.to_string();
  EXPECT_EQ(region[0], 0) << "a zero-length write placed a byte";
  EXPECT_EQ(eb_->count(CompletionType::kWriteImm), 2u) << "a plain write must not notify the target";
  EXPECT_TRUE(b().deregister_memory(*key).is_ok());
}

TEST_P(Conformance, RemoteWriteOutsideRegionFailsOnlyThatOperation) {
  ASSERT_NO_FATAL_FAILURE(establish());
  auto& region = keep(std::vector<uint8_t>(4096, 0));
  auto key = b().register_memory(region.data(), region.size(), MemAccess::kRemoteWrite);
  ASSERT_TRUE(key.is_ok()) << key.status().to_string();
  auto& local = keep(std::vector<uint8_t>(4096, 0));
  auto local_key = b().register_memory(local.data(), local.size(), MemAccess::kLocal);
  ASSERT_TRUE(local_key.is_ok()) << local_key.status().to_string();
  const auto& data = keep(pattern(3000, 41));

  // Past the end, a key naming nothing, and a region not open to remote writes.
  auto past_end = a().post_write(ca_, data.data(), data.size(), *key, 2000);  // ends at 5000 > 4096
  auto bogus = a().post_write(ca_, data.data(), 10, *key + 7, 0);
  auto local_only = a().post_write(ca_, data.data(), 100, *local_key, 0);
  // A send on the same connection at the same time is not affected.
  const auto& msg = keep(pattern(50000, 42));
  auto& got = keep(std::vector<uint8_t>(msg.size()));
  auto r = b().post_recv(cb_, 1, got.data(), got.size());
  auto s = a().post_send(ca_, 1, msg.data(), msg.size());
  ASSERT_TRUE(past_end.is_ok() && bogus.is_ok() && local_only.is_ok() && r.is_ok() && s.is_ok());

  for (OpId op : {*past_end, *bogus, *local_only}) {
    const Completion* c = ea_->wait_op(op);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->type, CompletionType::kWrite);
    EXPECT_EQ(c->status.code(), Code::kRemoteAccess) << c->status.to_string();
    EXPECT_FALSE(c->status.message().empty());
  }
  EXPECT_TRUE(AllBytesAre(region, 0)) << "a refused write placed data";
  EXPECT_TRUE(AllBytesAre(local, 0)) << "a write reached a local-only region";
  const Completion* rc = eb_->wait_op(*r);
  const Completion* sc = ea_->wait_op(*s);
  ASSERT_NE(rc, nullptr);
  ASSERT_NE(sc, nullptr);
  EXPECT_TRUE(rc->status.is_ok()) << rc->status.to_string();
  EXPECT_TRUE(sc->status.is_ok()) << sc->status.to_string();
  EXPECT_TRUE(Same(msg, got));
  auto st = b().stats(cb_);
  ASSERT_TRUE(st.is_ok());
  EXPECT_GT(st->drops[static_cast<size_t>(DropReason::kRemoteAccess)], 0u);

  // The connection survives: a valid write lands.
  auto good = a().post_write(ca_, data.data(), 1000, *key, 3000);
  ASSERT_TRUE(good.is_ok()) << good.status().to_string();
  const Completion* gc = ea_->wait_op(*good);
  ASSERT_NE(gc, nullptr);
  EXPECT_TRUE(gc->status.is_ok()) << gc->status.to_string();
  EXPECT_TRUE(Same(std::span<const uint8_t>(data).first(1000), std::span<const uint8_t>(region).subspan(3000)));
  EXPECT_TRUE(AllBytesAre(std::span<const uint8_t>(region).first(3000), 0));
  EXPECT_EQ(ea_->count(CompletionType::kConnFailed) + eb_->count(CompletionType::kConnFailed), 0u);
}

TEST_P(Conformance, TruncatedReceiveReportsTruncated) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const auto& msg = keep(pattern(10000, 51));
  // Posted before the message arrives.
  auto& got = keep(std::vector<uint8_t>(4096 + 16, 0xA5));
  auto r = b().post_recv(cb_, 3, got.data(), 4096);
  auto s = a().post_send(ca_, 3, msg.data(), msg.size());
  ASSERT_TRUE(r.is_ok() && s.is_ok());
  const Completion* rc = eb_->wait_op(*r);
  ASSERT_NE(rc, nullptr);
  EXPECT_EQ(rc->type, CompletionType::kRecv);
  EXPECT_EQ(rc->status.code(), Code::kTruncated) << rc->status.to_string();
  EXPECT_TRUE(Contains(rc->status.message(), "10000")) << rc->status.message();
  EXPECT_TRUE(Same(std::span<const uint8_t>(msg).first(4096), got));
  EXPECT_TRUE(AllBytesAre(std::span<const uint8_t>(got).subspan(4096), 0xA5)) << "overran the receive buffer";
  ASSERT_NE(ea_->wait_op(*s), nullptr) << "the send never completed";

  // Posted after the message was buffered as unexpected.
  auto s2 = a().post_send(ca_, 4, msg.data(), msg.size());
  ASSERT_TRUE(s2.is_ok());
  ASSERT_NE(ea_->wait_op(*s2), nullptr);
  auto& got2 = keep(std::vector<uint8_t>(100 + 16, 0xA5));
  auto r2 = b().post_recv(cb_, 4, got2.data(), 100);
  ASSERT_TRUE(r2.is_ok());
  const Completion* rc2 = eb_->wait_op(*r2);
  ASSERT_NE(rc2, nullptr);
  EXPECT_EQ(rc2->status.code(), Code::kTruncated) << rc2->status.to_string();
  EXPECT_TRUE(Same(std::span<const uint8_t>(msg).first(100), got2));
  EXPECT_TRUE(AllBytesAre(std::span<const uint8_t>(got2).subspan(100), 0xA5)) << "overran the receive buffer";

  // The connection is fine afterwards.
  ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), 20000, 3, 52));
}

TEST_P(Conformance, CloseIsSeenByThePeerAndLaterCallsFail) {
  ASSERT_NO_FATAL_FAILURE(establish());
  ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), 5000, 1, 61));
  auto& buf = keep(std::vector<uint8_t>(1000));
  auto pending = b().post_recv(cb_, 9, buf.data(), buf.size());
  ASSERT_TRUE(pending.is_ok());

  ASSERT_TRUE(a().close(ca_).is_ok());
  const Completion* seen = eb_->wait_event(CompletionType::kConnFailed, cb_);
  ASSERT_NE(seen, nullptr) << "B never heard of the close";
  EXPECT_EQ(seen->status.code(), Code::kClosed) << seen->status.to_string();
  EXPECT_TRUE(Contains(seen->status.message(), "closed")) << seen->status.message();
  const Completion* rc = eb_->wait_op(*pending);
  ASSERT_NE(rc, nullptr) << "the pending receive was never completed";
  EXPECT_EQ(rc->status.code(), Code::kClosed) << rc->status.to_string();

  auto check_refused = [](const Status& st, const char* what) {
    EXPECT_EQ(st.code(), Code::kClosed) << what << ": " << st.to_string();
    EXPECT_TRUE(Contains(st.message(), "closed")) << what << ": " << st.message();
  };
  check_refused(a().post_send(ca_, 1, buf.data(), 10).status(), "A post_send");
  check_refused(a().post_recv(ca_, 1, buf.data(), 10).status(), "A post_recv");
  check_refused(a().post_write(ca_, buf.data(), 10, 1, 0).status(), "A post_write");
  check_refused(b().post_send(cb_, 1, buf.data(), 10).status(), "B post_send");
  check_refused(b().post_recv(cb_, 1, buf.data(), 10).status(), "B post_recv");
  // Closing again, from either end, is harmless.
  EXPECT_TRUE(a().close(ca_).is_ok());
  EXPECT_TRUE(b().close(cb_).is_ok());
  // A fresh connection between the same devices works.
  ASSERT_NO_FATAL_FAILURE(establish());
  ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), 70000, 2, 62));

  // The accepting end may close too; the initiator hears it the same way.
  ASSERT_TRUE(b().close(cb_).is_ok());
  const Completion* seen_a = ea_->wait_event(CompletionType::kConnFailed, ca_);
  ASSERT_NE(seen_a, nullptr) << "A never heard of B's close";
  EXPECT_EQ(seen_a->status.code(), Code::kClosed) << seen_a->status.to_string();
  check_refused(a().post_send(ca_, 1, buf.data(), 10).status(), "A post_send after B closed");
}

TEST_P(Conformance, PeerDestroyedFailsPendingOperationsNamingIt) {
  // B can buffer only 1 MiB it has no receive for, so A's 4 MiB send stays
  // in flight for as long as B lives.
  EngineParams ep = engine_params();
  ep.unexpected_budget = Bytes(1u << 20);
  ASSERT_NO_FATAL_FAILURE(open(ep));
  ASSERT_NO_FATAL_FAILURE(establish());
  const std::string b_address = b().address();
  auto& rbuf = keep(std::vector<uint8_t>(1000));
  auto r = a().post_recv(ca_, 1, rbuf.data(), rbuf.size());
  const auto& msg = keep(pattern(4u << 20, 71));
  auto s = a().post_send(ca_, 2, msg.data(), msg.size());
  ASSERT_TRUE(r.is_ok() && s.is_ok());
  std::this_thread::sleep_for(milliseconds(50));
  ea_->drain();
  ASSERT_EQ(ea_->op(*s), nullptr) << "the send finished before B went away: " << describe(ea_->op(*s));

  eb_.reset();
  ends_.b.reset();
  const auto dead = milliseconds(ep.dead_peer_timeout.count() / 1000000) + milliseconds(15000);
  for (OpId op : {*r, *s}) {
    const Completion* c = ea_->wait_op(op, dead);
    ASSERT_NE(c, nullptr) << "operation " << op << " never failed";
    EXPECT_EQ(c->status.code(), Code::kPeerFailed) << c->status.to_string();
    EXPECT_TRUE(Contains(c->status.message(), b_address)) << c->status.message() << " does not name " << b_address;
  }
  const Completion* f = ea_->wait_event(CompletionType::kConnFailed, ca_);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->status.code(), Code::kPeerFailed);
  EXPECT_TRUE(Contains(f->status.message(), b_address)) << f->status.message();
  // Later calls say the same.
  auto later = a().post_send(ca_, 1, msg.data(), 10);
  ASSERT_FALSE(later.is_ok());
  EXPECT_EQ(later.status().code(), Code::kPeerFailed) << later.status().to_string();
}

TEST_P(Conformance, ConnectToNobodyFailsWithinHandshakeTimeout) {
  EngineParams ep = engine_params();
  ep.handshake_timeout = seconds(1);
  ASSERT_NO_FATAL_FAILURE(open(ep));
  const std::string nobody = backend().silent_address();
  auto c = a().connect(nobody);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  const Completion* f = ea_->wait_event(CompletionType::kConnFailed, *c, milliseconds(15000));
  ASSERT_NE(f, nullptr) << "connect to " << nobody << " neither failed nor timed out";
  EXPECT_EQ(f->status.code(), Code::kPeerFailed) << f->status.to_string();
  EXPECT_TRUE(Contains(f->status.message(), nobody)) << f->status.message() << " does not name " << nobody;
  EXPECT_EQ(ea_->count(CompletionType::kConnected), 0u);
  auto& buf = keep(std::vector<uint8_t>(10));
  auto s = a().post_send(*c, 1, buf.data(), buf.size());
  EXPECT_FALSE(s.is_ok()) << "a send on a failed connection was accepted";
  // The device is still usable for real peers.
  ASSERT_NO_FATAL_FAILURE(establish());
  ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), 10000, 1, 81));
}

TEST_P(Conformance, BadAddressesAreRefused) {
  for (const std::string& bad : backend().bad_addresses) {
    auto c = a().connect(bad);
    ASSERT_FALSE(c.is_ok()) << "connect(\"" << bad << "\") was accepted";
    EXPECT_EQ(c.status().code(), Code::kInvalidArgument) << bad << ": " << c.status().to_string();
    EXPECT_FALSE(c.status().message().empty()) << bad;
  }
  // Connection parameters are checked the same way everywhere.
  auto zero_paths = a().connect(b().address(), ConnParams{.paths = 0});
  ASSERT_FALSE(zero_paths.is_ok());
  EXPECT_EQ(zero_paths.status().code(), Code::kInvalidArgument);
  auto many_paths = a().connect(b().address(), ConnParams{.paths = 10000});
  ASSERT_FALSE(many_paths.is_ok());
  EXPECT_EQ(many_paths.status().code(), Code::kInvalidArgument);
  // Unknown connections are named as such.
  auto& buf = keep(std::vector<uint8_t>(10));
  EXPECT_EQ(a().post_send(12345, 1, buf.data(), buf.size()).status().code(), Code::kNotFound);
  EXPECT_EQ(a().stats(12345).status().code(), Code::kNotFound);
  // Nothing was started by any of it.
  std::this_thread::sleep_for(milliseconds(100));
  ea_->drain();
  EXPECT_TRUE(ea_->all().empty()) << describe(&ea_->all().front());
}

TEST_P(Conformance, DeregisteredRegionNoLongerTakesWrites) {
  ASSERT_NO_FATAL_FAILURE(establish());
  auto& region = keep(std::vector<uint8_t>(65536, 0));
  auto key = b().register_memory(region.data(), region.size(), MemAccess::kRemoteWrite);
  ASSERT_TRUE(key.is_ok());
  ASSERT_TRUE(b().deregister_memory(*key).is_ok());
  EXPECT_EQ(b().deregister_memory(*key).code(), Code::kNotFound) << "deregistered twice";
  // The same memory registered again gets a key the old one does not alias.
  auto again = b().register_memory(region.data(), region.size(), MemAccess::kRemoteWrite);
  ASSERT_TRUE(again.is_ok());
  EXPECT_NE(*again, *key);
  const auto& data = keep(pattern(20000, 131));
  auto stale = a().post_write(ca_, data.data(), data.size(), *key, 0);
  ASSERT_TRUE(stale.is_ok());
  const Completion* sc = ea_->wait_op(*stale);
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->status.code(), Code::kRemoteAccess) << sc->status.to_string();
  EXPECT_TRUE(AllBytesAre(region, 0)) << "a stale key wrote into re-registered memory";
  auto fresh = a().post_write(ca_, data.data(), data.size(), *again, 100);
  ASSERT_TRUE(fresh.is_ok());
  const Completion* fc = ea_->wait_op(*fresh);
  ASSERT_NE(fc, nullptr);
  EXPECT_TRUE(fc->status.is_ok()) << fc->status.to_string();
  EXPECT_TRUE(Same(data, std::span<const uint8_t>(region).subspan(100)));
}

TEST_P(Conformance, ReceivePostedWhileAMessageArrivesGetsAllOfIt) {
  ASSERT_NO_FATAL_FAILURE(establish());
  // Whether the receive comes before, during or after the message's arrival,
  // the bytes end up the same.
  const int delays_us[] = {0, 0, 50, 200, 1000, 3000, 10000};
  uint64_t tag = 20;
  for (int d : delays_us) {
    SCOPED_TRACE("receive posted " + std::to_string(d) + " us after the send");
    const auto& msg = keep(pattern(8u << 20, 140 + tag));
    auto& got = keep(std::vector<uint8_t>(msg.size() + 16, 0xA5));
    auto s = a().post_send(ca_, tag, msg.data(), msg.size());
    ASSERT_TRUE(s.is_ok());
    std::this_thread::sleep_for(std::chrono::microseconds(d));
    auto r = b().post_recv(cb_, tag, got.data(), msg.size());
    ASSERT_TRUE(r.is_ok());
    const Completion* rc = eb_->wait_op(*r);
    ASSERT_NE(rc, nullptr);
    EXPECT_TRUE(rc->status.is_ok()) << rc->status.to_string();
    EXPECT_EQ(rc->bytes, msg.size());
    EXPECT_TRUE(Same(msg, got));
    EXPECT_TRUE(AllBytesAre(std::span<const uint8_t>(got).subspan(msg.size()), 0xA5));
    ASSERT_NE(ea_->wait_op(*s), nullptr);
    held_.resize(held_.size() - 2);  // done with msg and got
    ++tag;
  }
}

TEST_P(Conformance, SendWithNowhereToGoWaitsForAReceive) {
  // B may buffer only 1 MiB of messages nobody asked for yet.
  EngineParams ep = engine_params();
  ep.unexpected_budget = Bytes(1u << 20);
  ASSERT_NO_FATAL_FAILURE(open(ep));
  ASSERT_NO_FATAL_FAILURE(establish());
  const auto& msg = keep(pattern(4u << 20, 151));
  auto s = a().post_send(ca_, 1, msg.data(), msg.size());
  ASSERT_TRUE(s.is_ok());
  std::this_thread::sleep_for(milliseconds(300));
  ea_->drain();
  EXPECT_EQ(ea_->op(*s), nullptr) << "a send completed with nowhere to put it: " << describe(ea_->op(*s));
  auto& got = keep(std::vector<uint8_t>(msg.size()));
  auto r = b().post_recv(cb_, 1, got.data(), got.size());
  ASSERT_TRUE(r.is_ok());
  const Completion* rc = eb_->wait_op(*r);
  const Completion* sc = ea_->wait_op(*s);
  ASSERT_NE(rc, nullptr);
  ASSERT_NE(sc, nullptr);
  EXPECT_TRUE(rc->status.is_ok()) << rc->status.to_string();
  EXPECT_TRUE(sc->status.is_ok()) << sc->status.to_string();
  EXPECT_TRUE(Same(msg, got));
  EXPECT_EQ(ea_->count(CompletionType::kConnFailed), 0u) << "waiting for a receive is not a dead peer";
}

TEST_P(Conformance, TooManyOperationsInFlightIsAClearError) {
  EngineParams ep = engine_params();
  ep.max_ops_per_conn = 16;
  ep.unexpected_budget = Bytes(0);  // nothing completes until B posts receives
  ASSERT_NO_FATAL_FAILURE(open(ep));
  ASSERT_NO_FATAL_FAILURE(establish());
  const auto& msg = keep(pattern(1000, 161));
  std::vector<OpId> sends;
  for (int i = 0; i < 16; ++i) {
    auto s = a().post_send(ca_, 1, msg.data(), msg.size());
    ASSERT_TRUE(s.is_ok()) << i << ": " << s.status().to_string();
    sends.push_back(*s);
  }
  auto over = a().post_send(ca_, 1, msg.data(), msg.size());
  ASSERT_FALSE(over.is_ok()) << "a 17th operation was taken with max_ops_per_conn=16";
  EXPECT_EQ(over.status().code(), Code::kResourceExhausted) << over.status().to_string();
  EXPECT_TRUE(Contains(over.status().message(), "max_ops_per_conn")) << over.status().message();
  // Receives drain them, and then there is room again.
  auto& got = keep(std::vector<std::vector<uint8_t>>(16, std::vector<uint8_t>(msg.size())));
  for (auto& g : got) ASSERT_TRUE(b().post_recv(cb_, 1, g.data(), g.size()).is_ok());
  ASSERT_TRUE(ea_->wait([&] { return ea_->count(CompletionType::kSend) == 16; }));
  for (OpId op : sends) EXPECT_TRUE(ea_->op(op)->status.is_ok()) << ea_->op(op)->status.to_string();
  ASSERT_TRUE(eb_->wait([&] { return eb_->count(CompletionType::kRecv) == 16; }));
  for (const auto& g : got) EXPECT_TRUE(Same(msg, g));
  ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), 5000, 2, 162));
}

TEST_P(Conformance, WaitReturnsOnceACompletionIsReady) {
  ASSERT_NO_FATAL_FAILURE(establish());
  ea_->drain();
  eb_->drain();
  EXPECT_FALSE(b().wait(millis(50))) << "nothing is pending, yet wait() said ready";
  // A waiter on another thread is woken by the progress thread.
  const auto& msg = keep(pattern(300000, 181));
  auto& got = keep(std::vector<uint8_t>(msg.size()));
  auto r = b().post_recv(cb_, 1, got.data(), got.size());
  ASSERT_TRUE(r.is_ok());
  bool woke = false;
  std::thread waiter([&] { woke = b().wait(seconds(30)); });
  std::this_thread::sleep_for(milliseconds(20));
  auto s = a().post_send(ca_, 1, msg.data(), msg.size());
  waiter.join();
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_TRUE(woke) << "wait() timed out with a receive completing";
  ASSERT_NE(eb_->wait_op(*r), nullptr);
  EXPECT_TRUE(Same(msg, got));
  ASSERT_NE(ea_->wait_op(*s), nullptr);
  // A completion made by a call (a receive matching a message already
  // buffered) is ready at once.
  auto s2 = a().post_send(ca_, 2, msg.data(), 1000);
  ASSERT_TRUE(s2.is_ok());
  ASSERT_NE(ea_->wait_op(*s2), nullptr);
  EXPECT_FALSE(b().wait(millis(1))) << "the buffered message has no receive yet";
  auto r2 = b().post_recv(cb_, 2, got.data(), got.size());
  ASSERT_TRUE(r2.is_ok());
  EXPECT_TRUE(b().wait(seconds(30)));
  const Completion* rc = eb_->wait_op(*r2);
  ASSERT_NE(rc, nullptr);
  EXPECT_EQ(rc->bytes, 1000u);
  EXPECT_TRUE(rc->status.is_ok()) << rc->status.to_string();
}

TEST_P(Conformance, StatsCountWhatHappened) {
  ASSERT_NO_FATAL_FAILURE(establish());
  constexpr size_t kBytes = 4u << 20;
  ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), kBytes, 1, 91));
  auto sa = a().stats(ca_);
  auto sb = b().stats(cb_);
  ASSERT_TRUE(sa.is_ok()) << sa.status().to_string();
  ASSERT_TRUE(sb.is_ok()) << sb.status().to_string();
  EXPECT_GT(sa->packets_sent, 0u);
  EXPECT_GE(sa->data_packets_sent, kBytes / 9000);
  EXPECT_GE(sa->bytes_sent, kBytes);
  EXPECT_GT(sa->acks_received, 0u);
  EXPECT_GT(sa->srtt.count(), 0);
  EXPECT_GT(sa->min_rtt.count(), 0);
  EXPECT_LE(sa->min_rtt, sa->srtt + sa->rttvar * 4 + millis(1000));
  EXPECT_GE(sa->paths_in_use, 1u);
  EXPECT_EQ(sa->inflight.count(), 0u) << "everything was acknowledged";
  EXPECT_GT(sb->packets_received, 0u);
  EXPECT_GE(sb->bytes_received, kBytes);
  EXPECT_GT(sb->acks_sent, 0u);
}

TEST_P(Conformance, GoBackNModeDeliversIntact) {
  ASSERT_NO_FATAL_FAILURE(establish(ConnParams{.recovery = Recovery::kGoBackN}));
  for (size_t n : {size_t{0}, size_t{1}, size_t{8972}, size_t{(1u << 20) + 3}, size_t{4u << 20}})
    ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), n, 5, n + 101));
  ASSERT_NO_FATAL_FAILURE(transfer(side_b(), side_a(), 2u << 20, 6, 102));
  auto sa = a().stats(ca_);
  ASSERT_TRUE(sa.is_ok());
  EXPECT_EQ(sa->paths_in_use, 1u) << "go-back-N uses one path";
  auto sb = b().stats(cb_);
  ASSERT_TRUE(sb.is_ok());
  EXPECT_EQ(sb->paths_in_use, 1u) << "the accepting side follows the initiator's mode";
}

TEST_P(Conformance, LossyLinkStillDeliversIntact) {
  if (!backend().impairs) GTEST_SKIP() << backend().name << " cannot inject loss: " << backend().cannot_impair;
  const Impairment bad{.drop = 0.05, .duplicate = 0.02, .reorder = 0.1};
  for (Recovery mode : {Recovery::kSelectiveRepeat, Recovery::kGoBackN}) {
    SCOPED_TRACE(mode == Recovery::kGoBackN ? "go-back-N" : "selective repeat");
    ASSERT_NO_FATAL_FAILURE(open(engine_params(), &bad));
    ASSERT_NO_FATAL_FAILURE(establish(ConnParams{.recovery = mode}));
    ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), 4u << 20, 1, 111));
    ASSERT_NO_FATAL_FAILURE(transfer(side_b(), side_a(), 1u << 20, 2, 112));
    // Small messages and a one-sided write over the same damaged link.
    for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(transfer(side_a(), side_b(), 1 + i * 997, 3, 120 + i));
    auto& region = keep(std::vector<uint8_t>(2u << 20, 0));
    auto key = b().register_memory(region.data(), region.size(), MemAccess::kRemoteWrite);
    ASSERT_TRUE(key.is_ok());
    const auto& data = keep(pattern(region.size() - 10, 113));
    auto w = a().post_write(ca_, data.data(), data.size(), *key, 10);
    ASSERT_TRUE(w.is_ok());
    const Completion* wc = ea_->wait_op(*w);
    ASSERT_NE(wc, nullptr);
    EXPECT_TRUE(wc->status.is_ok()) << wc->status.to_string();
    EXPECT_TRUE(Same(data, std::span<const uint8_t>(region).subspan(10)));
    auto st = a().stats(ca_);
    ASSERT_TRUE(st.is_ok());
    EXPECT_GT(st->retransmits, 0u) << "the link was supposed to lose packets";
    EXPECT_EQ(ea_->count(CompletionType::kConnFailed) + eb_->count(CompletionType::kConnFailed), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Drivers, Conformance,
                         ::testing::ValuesIn([] {
                           std::vector<const Backend*> v;
                           for (const Backend& b : backends()) v.push_back(&b);
                           return v;
                         }()),
                         [](const ::testing::TestParamInfo<const Backend*>& info) { return info.param->name; });

// Not part of the suite: the loopback driver's address parser. "loop:N"
// names node N; anything else must be refused, not read as some other node.
TEST(LoopbackDriverAddresses, MalformedNodeNumbersAreRefused) {
  MonotonicClock clock;
  loopback::LoopbackNetwork net(clock, {}, 1);
  auto node0 = net.add_node();
  auto node1 = net.add_node();
  EXPECT_TRUE(node1->resolve("loop:1").is_ok());
  // No digits at all: read as node 0.
  auto empty = node1->resolve("loop:");
  EXPECT_FALSE(empty.is_ok()) << "\"loop:\" resolved to " << (empty.is_ok() ? node1->format(*empty) : "");
  // 2^32 + 1 wraps around to node 1.
  auto wrapped = node0->resolve("loop:4294967297");
  EXPECT_FALSE(wrapped.is_ok()) << "\"loop:4294967297\" resolved to " << (wrapped.is_ok() ? node0->format(*wrapped) : "");
  for (const auto* r : {&empty, &wrapped}) {
    if (!r->is_ok()) {
      EXPECT_EQ(r->status().code(), Code::kInvalidArgument) << r->status().to_string();
    }
  }
}

// Not part of the suite either: a network must take new nodes while devices
// on it run (a job adds ranks as they come up). Device 0's progress thread
// waits on the network while more nodes are added; each addition may move
// the node table, and the waiting thread must not be left holding a
// reference into the old one. Then traffic must still flow intact.
//
// Run in a child process (a crash there fails this test, not the binary).
// Returns what went wrong, or "" if nothing did.
std::string add_nodes_while_a_device_runs() {
  MonotonicClock clock;
  loopback::LoopbackNetwork net(clock, {}, 1);
  DeviceParams dp;
  dp.engine.job_token = 7;
  auto first = Device::open(net.add_node(), dp);
  if (!first) return first.status().to_string();
  std::vector<std::unique_ptr<Device>> others;
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(milliseconds(2));  // let device 0 settle into its wait
    auto d = Device::open(net.add_node(), dp);
    if (!d) return d.status().to_string();
    others.push_back(std::move(*d));
  }
  Device& a = **first;
  Device& b = *others.back();
  Events ea(a), eb(b);
  auto c = a.connect(b.address());
  if (!c) return c.status().to_string();
  if (ea.wait_event(CompletionType::kConnected, *c) == nullptr) return "no kConnected";
  const Completion* acc = eb.wait_event(CompletionType::kAccepted);
  if (acc == nullptr) return "no kAccepted";
  const auto msg = pattern(1u << 20, 171);
  std::vector<uint8_t> got(msg.size());
  auto r = b.post_recv(acc->conn, 1, got.data(), got.size());
  auto s = a.post_send(*c, 1, msg.data(), msg.size());
  if (!r || !s) return "posting failed";
  if (eb.wait_op(*r) == nullptr || ea.wait_op(*s) == nullptr) return "the transfer never completed";
  if (!Same(msg, got)) return "the transfer arrived damaged";
  others.clear();
  first->reset();
  return "";
}

TEST(LoopbackNetworkNodes, AddingNodesWhileADeviceRunsIsSafe) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        const std::string why = add_nodes_while_a_device_runs();
        if (!why.empty()) std::fprintf(stderr, "%s\n", why.c_str());
        std::fflush(stderr);
        std::_Exit(why.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "")
      << "LoopbackNetwork::add_node while another node's device waits in LoopbackNetwork::wait()";
}

}  // namespace
}  // namespace weft
