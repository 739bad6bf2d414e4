// sim/svg.cc — see svg.h.
#include "sim/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace weft::sim {
namespace {

const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

std::string fmt(const char* f, double a, double b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

}  // namespace

std::string cdf_svg(const std::vector<CdfPanel>& panels, int columns) {
  const int pw = 460, ph = 300, ml = 50, mr = 130, mt = 28, mb = 36;
  const int rows = static_cast<int>((panels.size() + columns - 1) / columns);
  std::string s = "<svg xmlns='http://www.w3.org/2000/svg' font-family='sans-serif' font-size='11' width='" +
                  std::to_string(pw * columns) + "' height='" + std::to_string(ph * rows) + "'>\n";
  s += "<rect width='100%' height='100%' fill='white'/>\n";
  for (size_t p = 0; p < panels.size(); ++p) {
    const int ox = static_cast<int>(p % columns) * pw, oy = static_cast<int>(p / columns) * ph;
    const int w = pw - ml - mr, h = ph - mt - mb;
    double lo = 1e300, hi = 0;
    for (const CdfSeries& c : panels[p].series)
      for (double v : c.values_us) lo = std::min(lo, v), hi = std::max(hi, v);
    if (hi <= 0) continue;
    lo = std::pow(10, std::floor(std::log10(std::max(lo, 1e-3))));
    hi = std::pow(10, std::ceil(std::log10(hi)));
    if (hi <= lo) hi = lo * 10;
    auto x = [&](double v) { return ox + ml + w * (std::log10(std::max(v, lo)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)); };
    auto y = [&](double f) { return oy + mt + h * (1 - f); };
    s += "<text x='" + std::to_string(ox + ml) + "' y='" + std::to_string(oy + 16) + "' font-weight='bold'>" +
         panels[p].title + "</text>\n";
    s += "<rect x='" + std::to_string(ox + ml) + "' y='" + std::to_string(oy + mt) + "' width='" + std::to_string(w) +
         "' height='" + std::to_string(h) + "' fill='none' stroke='#888'/>\n";
    for (double d = lo; d <= hi * 1.0001; d *= 10) {
      s += fmt("<line x1='%.1f' x2='%.1f' ", x(d), x(d)) + fmt("y1='%.1f' y2='%.1f' stroke='#ddd'/>\n", y(0), y(1));
      s += fmt("<text x='%.1f' y='%.1f' text-anchor='middle'>", x(d), y(0) + 14) + fmt("%g</text>\n", d, 0);
    }
    for (double f : {0.0, 0.5, 0.99, 1.0})
      s += fmt("<text x='%.1f' y='%.1f' text-anchor='end'>", ox + ml - 4.0, y(f) + 4) + fmt("%.2f</text>\n", f, 0);
    s += fmt("<text x='%.1f' y='%.1f' text-anchor='middle'>message completion time (us)</text>\n", ox + ml + w / 2.0, y(0) + 28);
    for (size_t k = 0; k < panels[p].series.size(); ++k) {
      std::vector<double> v = panels[p].series[k].values_us;
      std::sort(v.begin(), v.end());
      const char* col = kColours[k % 8];
      std::string pts = fmt("%.1f,%.1f ", x(v.empty() ? lo : v[0]), y(0));
      for (size_t i = 0; i < v.size(); ++i) {
        const double f0 = static_cast<double>(i) / v.size(), f1 = static_cast<double>(i + 1) / v.size();
        pts += fmt("%.1f,%.1f ", x(v[i]), y(f0)) + fmt("%.1f,%.1f ", x(v[i]), y(f1));
      }
      s += std::string("<polyline fill='none' stroke='") + col + "' stroke-width='1.5' points='" + pts + "'/>\n";
      s += fmt("<rect x='%.1f' y='%.1f' width='10' height='3' ", ox + ml + w + 8.0, oy + mt + 8.0 + 14.0 * k) +
           "fill='" + col + "'/>";
      s += fmt("<text x='%.1f' y='%.1f'>", ox + ml + w + 22.0, oy + mt + 12.0 + 14.0 * k) + panels[p].series[k].label + "</text>\n";
    }
  }
  return s + "</svg>\n";
}

}  // namespace weft::sim
