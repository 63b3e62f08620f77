// Inline SVG sparklines for the status page: no script, no external fetch, a few hundred bytes
// each. A gap in the data (a value the report lacked) breaks the line instead of bridging it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace smartvm::frontend {

struct SparkPoint {
  int64_t time;
  double value;  // NaN: no value at that time
};

struct SparkStyle {
  int width = 120, height = 24;
  double floor = 0;        // the bottom of the scale; the top is the largest value (at least floor + ceiling_min)
  double ceiling_min = 1;  // a flat line of small values stays near the bottom
};

// Points from `from` to `to` (unix seconds), scaled to the box; `label` is its accessible name
// and `last` the newest value as text, shown as the title.
std::string sparkline_svg(const std::vector<SparkPoint>& points, int64_t from, int64_t to, const std::string& label,
                          const std::string& last, SparkStyle style = {});

// At most one point per `step` seconds: the newest of each step (the overview draws a minute
// per point, 60 for the last hour, whatever the nodes' intervals).
std::vector<SparkPoint> one_per_step(const std::vector<SparkPoint>& points, int64_t step);

}  // namespace smartvm::frontend
