#include "status_record.hpp"

#include "parse_number.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <map>

namespace smartvm {
namespace {

constexpr const char* kStateNames[] = {"succeeded", "failed", "signaled", "timed_out", "setup_failed", "cancelled"};

// Fixed notation with three decimals; the buffer holds any double (DBL_MAX has 309 digits).
// snprintf and strtod rather than the floating-point to_chars/from_chars: those pull libm and
// large tables into the statically linked libstdc++ of the agent.
std::string fixed3(double v) {
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

bool parse_seconds(const std::string& s, double& out) {
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])))) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size() && std::isfinite(out);
}

// A value must stay on its line: newlines in an error message would forge keys.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto v = parse_integer<T>(s);
  if (v) out = *v;
  return v.has_value();
}

}  // namespace

const char* to_string(JobState s) { return kStateNames[static_cast<int>(s)]; }

std::optional<JobState> job_state_from_string(std::string_view s) {
  for (int i = 0; i < 6; ++i)
    if (s == kStateNames[i]) return static_cast<JobState>(i);
  return std::nullopt;
}

std::string format_status(const StatusRecord& r) {
  std::string out;
  auto line = [&out](const char* k, const std::string& v) { out += std::string(k) + "=" + one_line(v) + "\n"; };
  line("state", to_string(r.state));
  line("exit_code", r.exit_code ? std::to_string(*r.exit_code) : "");
  line("signal", r.signal);
  line("core_dumped", r.core_dumped ? "1" : "0");
  line("started_at", r.started_at ? format_utc(*r.started_at) : "");
  line("finished_at", r.finished_at ? format_utc(*r.finished_at) : "");
  line("wall_seconds", fixed3(r.wall_seconds));
  line("user_cpu_seconds", fixed3(r.user_cpu_seconds));
  line("system_cpu_seconds", fixed3(r.system_cpu_seconds));
  line("max_rss_kib", std::to_string(r.max_rss_kib));
  line("memory_peak_kib", r.memory_peak_kib ? std::to_string(*r.memory_peak_kib) : "");
  line("oom_kills", std::to_string(r.oom_kills));
  line("leftover_processes", std::to_string(r.leftover_processes));
  line("stdout_truncated", r.stdout_truncated ? "1" : "0");
  line("stderr_truncated", r.stderr_truncated ? "1" : "0");
  line("output_error", r.output_error);
  line("containment", r.containment);
  line("record_tampered", r.record_tampered);
  line("error", r.error);
  line("agent_version", r.agent_version);
  return out;
}

Result<StatusRecord> parse_status(std::string_view text) {
  std::map<std::string, std::string, std::less<>> kv;
  size_t pos = 0;
  int lineno = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    if (l.empty()) continue;
    size_t eq = l.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return make_error("line " + std::to_string(lineno) + ": expected key=value");
    if (!kv.emplace(std::string(l.substr(0, eq)), std::string(l.substr(eq + 1))).second)
      return make_error("line " + std::to_string(lineno) + ": key given twice");
  }
  StatusRecord r;
  auto get = [&kv](std::string_view k) -> std::string {
    auto it = kv.find(k);
    return it == kv.end() ? std::string() : it->second;
  };
  auto state = job_state_from_string(get("state"));
  if (!state) return make_error("state: \"" + get("state") + "\" is not a known state");
  r.state = *state;
  auto bad = [](const char* k) { return make_error(std::string(k) + ": not a number"); };
  if (std::string v = get("exit_code"); !v.empty()) {
    int code = 0;
    if (!parse_number(v, code)) return bad("exit_code");
    r.exit_code = code;
  }
  r.signal = get("signal");
  r.core_dumped = get("core_dumped") == "1";
  for (auto [key, field] : {std::pair{"started_at", &r.started_at}, std::pair{"finished_at", &r.finished_at}}) {
    std::string v = get(key);
    if (v.empty()) continue;
    *field = parse_utc(v);
    if (!*field) return make_error(std::string(key) + ": \"" + v + "\" is not a UTC time like 2026-11-22T02:00:00Z");
  }
  for (auto [key, field] : {std::pair{"wall_seconds", &r.wall_seconds}, std::pair{"user_cpu_seconds", &r.user_cpu_seconds},
                            std::pair{"system_cpu_seconds", &r.system_cpu_seconds}}) {
    std::string v = get(key);
    if (!v.empty() && !parse_seconds(v, *field))
      return make_error(std::string(key) + ": \"" + v + "\" is not a number of seconds");
  }
  for (auto [key, field] : {std::pair{"max_rss_kib", &r.max_rss_kib}, std::pair{"oom_kills", &r.oom_kills},
                            std::pair{"leftover_processes", &r.leftover_processes}}) {
    std::string v = get(key);
    if (!v.empty() && !parse_number(v, *field)) return bad(key);
  }
  if (std::string v = get("memory_peak_kib"); !v.empty()) {
    uint64_t peak = 0;
    if (!parse_number(v, peak)) return bad("memory_peak_kib");
    r.memory_peak_kib = peak;
  }
  r.stdout_truncated = get("stdout_truncated") == "1";
  r.stderr_truncated = get("stderr_truncated") == "1";
  r.output_error = get("output_error");
  r.containment = get("containment");
  r.record_tampered = get("record_tampered");
  r.error = get("error");
  r.agent_version = get("agent_version");
  return r;
}

}  // namespace smartvm
