// transport/core/path_set.h — multipath spraying with per-path scoring.
//
// Each connection owns N paths, one entropy value each (on UDP the source
// port, so ECMP hashes them onto different links). New packets rotate over
// the usable paths in runs of `run` packets (a run shares one source port so
// the UDP driver can hand it to the kernel as one GSO batch). Every path keeps
// an EWMA of its loss fraction and RTT; a path whose loss or delay stands out
// is avoided for a cool-down, then probed again, so a failed or congested
// link stops costing retransmissions while a recovered one is reused.
#pragma once

#include <cstdint>
#include <vector>

#include "weft/units.h"

namespace weft::core {

struct PathStats {
  double loss_ewma = 0;   // fraction of this path's recent packets declared lost
  Nanos srtt{0};          // smoothed RTT of ACKs that came back on it
  Nanos avoid_until{0};   // avoided while now < avoid_until
  uint64_t sent = 0, lost = 0;
};

class PathSet {
 public:
  struct Params {
    uint16_t paths = 8;
    uint16_t run = 8;                 // packets per path before rotating
    double loss_threshold = 0.10;     // avoid a path losing more than 10 %
    double delay_factor = 3.0;        // ... or slower than 3 x the best path
    Nanos delay_slack = micros(200);  // delay differences below this are noise
    Nanos cool_down = millis(20);     // how long an avoided path rests before a probe
  };
  explicit PathSet(Params p);

  // The path for the next new packet.
  uint16_t next(Nanos now);
  // A path other than `avoid` for a retransmission (when more than one exists).
  uint16_t alternate(Nanos now, uint16_t avoid);
  void on_sent(uint16_t path) { paths_[path].sent++; }
  void on_delivered(Nanos now, uint16_t path, Nanos rtt);
  void on_lost(Nanos now, uint16_t path);
  // Congestion control judged the congestion local to `path` (NSCC's
  // re-path hint): rest it for a cool-down, as the path scorer would.
  void penalize(Nanos now, uint16_t path);

  uint16_t size() const { return static_cast<uint16_t>(paths_.size()); }
  uint32_t in_use(Nanos now) const;
  uint64_t avoid_events() const { return avoid_events_; }
  const PathStats& stats(uint16_t p) const { return paths_[p]; }

 private:
  bool usable(Nanos now, uint16_t p) const { return paths_[p].avoid_until <= now; }
  void evaluate(Nanos now, uint16_t p);

  Params p_;
  std::vector<PathStats> paths_;
  uint16_t cur_ = 0, left_in_run_ = 0;
  Nanos best_srtt_{0};
  uint64_t avoid_events_ = 0;
};

}  // namespace weft::core
