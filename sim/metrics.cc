// sim/metrics.cc — see metrics.h.
#include "sim/metrics.h"

#include <algorithm>
#include <cmath>

namespace weft::sim {

double jain(const std::vector<double>& x) {
  double s = 0, s2 = 0;
  for (double v : x) {
    s += v;
    s2 += v * v;
  }
  if (x.empty() || s2 == 0) return 0;
  return s * s / (static_cast<double>(x.size()) * s2);
}

double percentile(std::vector<double> x, double p) {
  if (x.empty()) return 0;
  std::sort(x.begin(), x.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(x.size()));
  const size_t i = rank < 1 ? 0 : std::min(x.size() - 1, static_cast<size_t>(rank) - 1);
  return x[i];
}

std::vector<double> GoodputSeries::rates(Nanos from, Nanos to) const {
  size_t a = at_.size(), b = at_.size();
  for (size_t i = 0; i < at_.size(); ++i) {
    if (at_[i] >= from && a == at_.size()) a = i;
    if (at_[i] <= to) b = i;
  }
  if (a == at_.size() || b == at_.size() || b <= a) return {};
  const double secs = static_cast<double>((at_[b] - at_[a]).count()) * 1e-9;
  std::vector<double> r(bytes_[a].size());
  for (size_t f = 0; f < r.size(); ++f) r[f] = static_cast<double>(bytes_[b][f] - bytes_[a][f]) * 8 / secs;
  return r;
}

}  // namespace weft::sim
