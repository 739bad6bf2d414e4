// Device: one engine + one driver, a lock between user threads and the
// progress thread. The lock is taken once per batch of datagrams, never per
// packet. User posts flush their packets inline, so a send does not wait for
// the progress thread to wake.
#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "transport/core/engine.h"
#include "transport/transport.h"

namespace weft {

namespace {
constexpr size_t kTxBatch = 64;
}

struct Device::Impl {
  Impl(std::unique_ptr<Driver> d, const DeviceParams& p) : driver(std::move(d)), params(p), engine(p.engine, seed()) {
    engine.set_peer_namer([drv = driver.get()](const core::NetAddr& a) { return drv->format(a); });
    sink = [this](Nanos now, std::span<const uint8_t> b, const core::NetAddr& from, bool ce) {
      engine.on_receive(now, b, from, ce);
    };
  }
  static uint64_t seed() {
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
           reinterpret_cast<uintptr_t>(&seed);
  }

  // One round: take what arrived, run timers, send what is due. Caller holds mu.
  void step_locked() {
    for (int i = 0; i < 8 && driver->receive(sink) > 0; ++i) {
    }
    const Nanos now = driver->now();
    engine.on_timer(now);
    flush_locked(now);
  }
  // After a user call: if it created work sooner than the progress thread
  // planned to wake (a pacing slot, an RTO, a completion), wake it now.
  void nudge_locked() {
    if (!thread.joinable()) return;
    if (engine.next_deadline() < Nanos(planned_wake.load(std::memory_order_relaxed))) driver->wake();
    if (engine.pending_completions() > 0 && waiters.load(std::memory_order_relaxed) > 0) cq_cv.notify_all();
  }
  void flush_locked(Nanos now) {
    for (;;) {
      const size_t n = engine.poll_transmit(now, tx);
      if (n == 0) break;
      driver->send(std::span<const core::TxPacket>(tx.data(), n));
      if (n < tx.size()) break;
    }
  }
  void run() {
    while (!stop.load(std::memory_order_relaxed)) {
      Nanos deadline;
      bool ready;
      {
        std::lock_guard<std::mutex> g(mu);
        step_locked();
        deadline = engine.next_deadline();
        ready = engine.pending_completions() > 0;
      }
      // Wake waiters only when there is something for them: a futex wake per
      // batch would cost more than the batch.
      if (ready && waiters.load(std::memory_order_relaxed) > 0) cq_cv.notify_all();
      if (params.busy_poll) {
        std::this_thread::yield();  // let user threads take the lock between rounds
        continue;
      }
      // Wake at the next engine deadline, and at least every 10 ms so a stop
      // request is never stuck behind a long sleep.
      const Nanos wake_at = std::min(deadline, driver->now() + millis(10));
      planned_wake.store(wake_at.count(), std::memory_order_relaxed);
      driver->wait(wake_at);
      planned_wake.store(0, std::memory_order_relaxed);
    }
  }

  std::unique_ptr<Driver> driver;
  DeviceParams params;
  mutable std::mutex mu;
  core::Engine engine;
  RxSink sink;
  std::array<core::TxPacket, kTxBatch> tx;
  std::atomic<bool> stop{false};
  std::condition_variable cq_cv;     // signalled when completions may be ready
  std::atomic<int> waiters{0};
  std::atomic<int64_t> planned_wake{0};  // when the sleeping progress thread wakes; 0 while awake
  std::thread thread;
};

Status Device::validate(const DeviceParams& params) { return core::Engine::validate(params.engine); }

Result<std::unique_ptr<Device>> Device::open(std::unique_ptr<Driver> driver, const DeviceParams& params) {
  if (!driver) return Status(Code::kInvalidArgument, "Device::open: no driver");
  WEFT_RETURN_IF_ERROR(core::Engine::validate(params.engine));
  auto impl = std::make_unique<Impl>(std::move(driver), params);
  std::unique_ptr<Device> dev(new Device(std::move(impl)));
  if (params.progress_thread) dev->impl_->thread = std::thread([d = dev->impl_.get()] { d->run(); });
  return dev;
}

Device::Device(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Device::~Device() {
  if (impl_->thread.joinable()) {
    impl_->stop.store(true);
    impl_->driver->wake();
    impl_->thread.join();
  }
}

std::string Device::address() const { return impl_->driver->local_address(); }

Result<ConnId> Device::connect(std::string_view peer, const ConnParams& params) {
  auto addr = impl_->driver->resolve(peer);
  if (!addr) return addr.status();
  std::lock_guard<std::mutex> g(impl_->mu);
  const Nanos now = impl_->driver->now();
  auto r = impl_->engine.connect(now, *addr, params);
  if (r) impl_->flush_locked(now);
  impl_->nudge_locked();
  return r;
}

Status Device::close(ConnId conn) {
  std::lock_guard<std::mutex> g(impl_->mu);
  const Nanos now = impl_->driver->now();
  Status s = impl_->engine.close(now, conn);
  impl_->flush_locked(now);
  impl_->nudge_locked();
  return s;
}

Result<MrKey> Device::register_memory(void* addr, size_t len, MemAccess access) {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->engine.register_memory(addr, len, access);
}

Status Device::deregister_memory(MrKey key) {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->engine.deregister_memory(key);
}

Result<OpId> Device::post_send(ConnId conn, uint64_t tag, const void* buf, size_t len) {
  std::lock_guard<std::mutex> g(impl_->mu);
  const Nanos now = impl_->driver->now();
  auto r = impl_->engine.post_send(now, conn, tag, buf, len);
  if (r) impl_->flush_locked(now);
  impl_->nudge_locked();
  return r;
}

Result<OpId> Device::post_recv(ConnId conn, uint64_t tag, void* buf, size_t capacity) {
  std::lock_guard<std::mutex> g(impl_->mu);
  auto r = impl_->engine.post_recv(impl_->driver->now(), conn, tag, buf, capacity);
  impl_->nudge_locked();
  return r;
}

Result<OpId> Device::post_write(ConnId conn, const void* buf, size_t len, MrKey rkey, uint64_t roffset,
                                const uint32_t* imm) {
  std::lock_guard<std::mutex> g(impl_->mu);
  const Nanos now = impl_->driver->now();
  auto r = impl_->engine.post_write(now, conn, buf, len, rkey, roffset, imm);
  if (r) impl_->flush_locked(now);
  impl_->nudge_locked();
  return r;
}

size_t Device::poll(std::span<Completion> out) {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->engine.poll(out);
}

bool Device::wait(Nanos timeout) {
  Impl& d = *impl_;
  const Nanos start = d.driver->now();
  timeout = std::clamp(timeout, Nanos(0), Nanos::max() - start);  // "forever" must not overflow
  const Nanos end = start + timeout;
  if (!d.params.progress_thread) {
    for (;;) {
      Nanos deadline;
      {
        std::lock_guard<std::mutex> g(d.mu);
        d.step_locked();
        if (d.engine.pending_completions() > 0) return true;
        deadline = d.engine.next_deadline();
      }
      const Nanos now = d.driver->now();
      if (now >= end) return false;
      d.driver->wait(std::min(deadline, end));
    }
  }
  std::unique_lock<std::mutex> lk(d.mu);
  d.waiters.fetch_add(1);
  auto have = [&] { return d.engine.pending_completions() > 0; };
  bool ready;
  if (timeout > seconds(86400 * 365)) {
    d.cq_cv.wait(lk, have);  // a year or more: wait without a deadline
    ready = true;
  } else {
    ready = d.cq_cv.wait_for(lk, std::chrono::nanoseconds(timeout.count()), have);
  }
  d.waiters.fetch_sub(1);
  return ready;
}

void Device::progress() {
  std::lock_guard<std::mutex> g(impl_->mu);
  impl_->step_locked();
}

Nanos Device::next_deadline() const {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->engine.next_deadline();
}

Result<ConnStats> Device::stats(ConnId conn) const {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->engine.stats(impl_->driver->now(), conn);
}

std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> Device::device_drops() const {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->engine.device_drops();
}

}  // namespace weft
