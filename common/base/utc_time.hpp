// Times as every file and report of smartvm writes them: "2026-11-22T02:00:00Z" (UTC, whole
// seconds), the same in the status record, the node report and the frontend's answers.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace smartvm {

std::string format_utc(std::chrono::system_clock::time_point t);
// The same for Unix seconds (as SQLite keeps them).
inline std::string format_utc_seconds(int64_t unix_seconds) {
  return format_utc(std::chrono::system_clock::from_time_t(static_cast<time_t>(unix_seconds)));
}
// Only a time written exactly as format_utc writes it, from 1970 to 2261.
std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view s);

}  // namespace smartvm
