// common/clock.h — time is injected. Cores never read the wall clock; drivers
// own a Clock and pass `now` in. Tests use ManualClock.
#pragma once

#include "weft/units.h"

namespace weft {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos now() const = 0;
};

// CLOCK_MONOTONIC; what real drivers use.
class MonotonicClock final : public Clock {
 public:
  Nanos now() const override;
};

// Advanced only by the test or simulator that owns it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Nanos start = Nanos(0)) : t_(start) {}
  Nanos now() const override { return t_; }
  void advance(Nanos d) { t_ += d; }
  void set(Nanos t) { t_ = t; }

 private:
  Nanos t_;
};

}  // namespace weft
