#include "utc_time.hpp"

#include <ctime>

namespace smartvm {

std::string format_utc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view s) {
  std::tm tm{};
  std::string str(s);
  const char* end = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  // Years 1970 to 2261 only: system_clock counts nanoseconds in 64 bits, which end in 2262.
  if (!end || *end || tm.tm_year < 70 || tm.tm_year > 361) return std::nullopt;
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  // strptime takes 2026-02-30 (timegm makes it March 2nd), one-digit fields and spaces: only a
  // time written back exactly as it was read is one.
  if (format_utc(t) != s) return std::nullopt;
  return t;
}

}  // namespace smartvm
