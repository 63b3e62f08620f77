#include "console_lines.hpp"

#include <utility>

namespace smartvm::launcher {
namespace {
constexpr size_t kMaxLine = 4096;
}  // namespace

std::string ConsoleLines::feed(std::string_view chunk) {
  std::string out;
  for (char c : chunk) {
    if (c == '\r') continue;
    // A guest that never ends its line still gets its output shown, in pieces.
    if (c != '\n' && partial_.size() < kMaxLine) {
      partial_ += c;
      continue;
    }
    out += prefix_ + partial_ + "\n";
    partial_.clear();
    if (c != '\n') partial_ += c;
  }
  return out;
}

std::string ConsoleLines::flush() {
  if (partial_.empty()) return "";
  return prefix_ + std::exchange(partial_, {}) + "\n";
}

}  // namespace smartvm::launcher
