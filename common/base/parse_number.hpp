// Whole-string integer parsing: "12" is 12; "12x", " 12", "" and an overflow are nothing.
// One place for what every config value, /proc field and header needs, locale-independent.
#pragma once

#include <charconv>
#include <concepts>
#include <optional>
#include <string_view>

namespace smartvm {

template <std::integral T>
std::optional<T> parse_integer(std::string_view s, int base = 10) {
  T value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

}  // namespace smartvm
