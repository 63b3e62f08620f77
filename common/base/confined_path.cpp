#include "confined_path.hpp"

#include <vector>

namespace smartvm {

Result<std::string> confine_relative(std::string_view base, std::string_view path) {
  if (!path.empty() && path.front() == '/') return make_error("\"" + std::string(path) + "\" is absolute; give a path relative to the repository");
  if (path.find('\0') != std::string_view::npos) return make_error("the path contains a NUL byte");
  std::vector<std::string_view> parts;
  auto push = [&parts](std::string_view p) -> bool {
    size_t pos = 0;
    while (pos <= p.size()) {
      size_t end = p.find('/', pos);
      if (end == std::string_view::npos) end = p.size();
      std::string_view c = p.substr(pos, end - pos);
      pos = end + 1;
      if (c.empty() || c == ".") continue;
      if (c == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
      } else {
        parts.push_back(c);
      }
    }
    return true;
  };
  push(base);
  if (!push(path)) return make_error("\"" + std::string(path) + "\" escapes the repository through \"..\"");
  std::string out;
  for (std::string_view c : parts) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

}  // namespace smartvm
