#include "percent_template.hpp"

namespace smartvm {

std::string expand_percent(std::string_view tmpl, const std::map<char, std::string>& values) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '%' || i + 1 == tmpl.size()) {
      out += tmpl[i];
      continue;
    }
    char c = tmpl[++i];
    if (c == '%') {
      out += '%';
    } else if (auto v = values.find(c); v != values.end()) {
      out += v->second;
    } else {
      out += '%';
      out += c;
    }
  }
  return out;
}

}  // namespace smartvm
