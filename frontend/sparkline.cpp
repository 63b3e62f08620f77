#include "sparkline.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace smartvm::frontend {

std::string sparkline_svg(const std::vector<SparkPoint>& points, int64_t from, int64_t to, const std::string& label,
                          const std::string& last, SparkStyle style) {
  double top = style.floor + style.ceiling_min;
  for (const SparkPoint& p : points)
    if (!std::isnan(p.value)) top = std::max(top, p.value);
  double span = static_cast<double>(std::max<int64_t>(to - from, 1));
  std::string lines, run;
  auto flush = [&] {
    if (!run.empty()) lines += "<polyline points=\"" + run + "\"/>";
    run.clear();
  };
  for (const SparkPoint& p : points) {
    if (std::isnan(p.value) || p.time < from || p.time > to) {
      flush();
      continue;
    }
    double x = (p.time - from) / span * style.width;
    double y = style.height - 1 - (p.value - style.floor) / (top - style.floor) * (style.height - 2);
    char xy[48];
    std::snprintf(xy, sizeof xy, "%s%.1f,%.1f", run.empty() ? "" : " ", x, y);
    run += xy;
  }
  flush();
  std::string w = std::to_string(style.width), h = std::to_string(style.height);
  return "<svg class=\"spark\" width=\"" + w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
         "\" role=\"img\" aria-label=\"" + label + "\"><title>" + label + ": " + last + "</title>" + lines + "</svg>";
}

std::vector<SparkPoint> one_per_step(const std::vector<SparkPoint>& points, int64_t step) {
  std::vector<SparkPoint> out;
  for (const SparkPoint& p : points) {
    if (!out.empty() && out.back().time / step == p.time / step)
      out.back() = p;  // the newest of its step
    else
      out.push_back(p);
  }
  return out;
}

}  // namespace smartvm::frontend
