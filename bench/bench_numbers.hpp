// Small helpers the benchmarks share: a number out of a program's account, and a median.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

namespace smartvm::bench {

// The first group of `pattern` in `text` as a number; -1 when it is not there.
inline double grab(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (std::regex_search(text, m, std::regex(pattern))) return std::atof(m[1].str().c_str());
  return -1;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace smartvm::bench
