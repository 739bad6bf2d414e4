// sim/svg.h — completion-time CDF charts as a standalone SVG: one panel per
// scenario, one step line per algorithm, log-scaled time axis. No library:
// the benchmarks and tests write files a browser opens directly.
#pragma once

#include <string>
#include <vector>

namespace weft::sim {

struct CdfSeries {
  std::string label;
  std::vector<double> values_us;  // message completion times
};
struct CdfPanel {
  std::string title;
  std::vector<CdfSeries> series;
};

// Panels laid out `columns` wide. Returns the SVG document.
std::string cdf_svg(const std::vector<CdfPanel>& panels, int columns = 2);

}  // namespace weft::sim
