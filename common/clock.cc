#include "common/clock.h"

#include <ctime>

namespace weft {

Nanos MonotonicClock::now() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Nanos(int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec);
}

}  // namespace weft
