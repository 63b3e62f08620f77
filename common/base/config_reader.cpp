#include "config_reader.hpp"
#include "parse_number.hpp"

#include <algorithm>

namespace smartvm {
namespace {

std::string quoted(const std::string& v) { return "\"" + v + "\""; }

std::optional<uint64_t> parse_uint(std::string_view s, int base = 10) { return parse_integer<uint64_t>(s, base); }

}  // namespace

ConfigReader::ConfigReader(const IniDocument& doc) : doc_(doc) {}

const IniEntry* ConfigReader::lookup(const std::string& section, const std::string& key) {
  asked_.emplace(section, key);
  return doc_.find(section, key);
}

void ConfigReader::bad_value(const IniEntry& e, const std::string& expected) {
  diagnostics_.push_back({Diagnostic::Severity::error, doc_.filename(), e.line,
                          "[" + e.section + "] " + e.key + ": " + quoted(e.value) + " is not " + expected});
}

void ConfigReader::error(const std::string& section, const std::string& key, const std::string& message) {
  const IniEntry* e = doc_.find(section, key);
  diagnostics_.push_back({Diagnostic::Severity::error, doc_.filename(), e ? e->line : 0,
                          "[" + section + "] " + key + ": " + message});
}

std::string ConfigReader::get_string(const std::string& section, const std::string& key, const std::string& def,
                                     bool required) {
  const IniEntry* e = lookup(section, key);
  if (e && !e->value.empty()) return e->value;
  if (required) error(section, key, e ? "must not be empty" : "is required but missing");
  return def;
}

uint64_t ConfigReader::get_uint(const std::string& section, const std::string& key, uint64_t def, uint64_t min,
                                uint64_t max) {
  const IniEntry* e = lookup(section, key);
  if (!e || e->value.empty()) return def;
  auto v = parse_uint(e->value);
  if (!v || *v < min || *v > max) {
    bad_value(*e, "a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return def;
  }
  return *v;
}

bool ConfigReader::get_bool(const std::string& section, const std::string& key, bool def) {
  const IniEntry* e = lookup(section, key);
  if (!e || e->value.empty()) return def;
  std::string v = e->value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  bad_value(*e, "a boolean (true or false)");
  return def;
}

unsigned ConfigReader::get_umask(const std::string& section, const std::string& key, unsigned def) {
  const IniEntry* e = lookup(section, key);
  if (!e || e->value.empty()) return def;
  auto v = parse_uint(e->value, 8);
  if (!v || *v > 0777) {
    bad_value(*e, "an octal mask from 000 to 0777, such as 0027");
    return def;
  }
  return static_cast<unsigned>(*v);
}

std::optional<uint64_t> parse_size(std::string_view s) {
  if (s.empty()) return std::nullopt;
  unsigned shift = 0;
  switch (s.back()) {
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: break;
  }
  if (shift) s.remove_suffix(1);
  auto v = parse_uint(s);
  if (!v || (shift && *v > (UINT64_MAX >> shift))) return std::nullopt;
  return *v << shift;
}

uint64_t ConfigReader::get_size(const std::string& section, const std::string& key, uint64_t def) {
  const IniEntry* e = lookup(section, key);
  if (!e || e->value.empty()) return def;
  auto v = parse_size(e->value);
  if (!v) {
    bad_value(*e, "a size in bytes, optionally with a K, M, G or T suffix");
    return def;
  }
  return *v;
}

std::optional<uint64_t> parse_duration(std::string_view s) {
  constexpr uint64_t kLimit = 100ull * 366 * 86400;
  std::optional<uint64_t> seconds;
  if (size_t colon = s.find(':'); colon != std::string_view::npos) {
    size_t second = s.find(':', colon + 1);
    if (second == std::string_view::npos || second - colon != 3 || s.size() - second != 3) return std::nullopt;
    auto h = parse_uint(s.substr(0, colon)), m = parse_uint(s.substr(colon + 1, 2)), sec = parse_uint(s.substr(second + 1));
    if (!h || !m || !sec || *m > 59 || *sec > 59 || *h > kLimit / 3600) return std::nullopt;
    seconds = *h * 3600 + *m * 60 + *sec;
  } else {
    uint64_t unit = 1;
    if (!s.empty()) switch (s.back()) {
        case 's': unit = 1; s.remove_suffix(1); break;
        case 'm': unit = 60; s.remove_suffix(1); break;
        case 'h': unit = 3600; s.remove_suffix(1); break;
        case 'd': unit = 86400; s.remove_suffix(1); break;
        default: break;
      }
    auto n = parse_uint(s);
    if (!n || *n > kLimit / unit) return std::nullopt;
    seconds = *n * unit;
  }
  if (*seconds > kLimit) return std::nullopt;
  return seconds;
}

uint64_t ConfigReader::get_duration(const std::string& section, const std::string& key, uint64_t def) {
  const IniEntry* e = lookup(section, key);
  if (!e || e->value.empty()) return def;
  auto v = parse_duration(e->value);
  if (!v) {
    bad_value(*e, "a length of time: seconds, or a number with s, m, h or d, or H:MM:SS");
    return def;
  }
  return *v;
}

size_t ConfigReader::get_choice(const std::string& section, const std::string& key, size_t def,
                                std::initializer_list<const char*> choices) {
  const IniEntry* e = lookup(section, key);
  if (!e || e->value.empty()) return def;
  size_t i = 0;
  std::string list;
  for (const char* c : choices) {
    if (e->value == c) return i;
    list += (i ? (i + 1 == choices.size() ? " or " : ", ") : "") + std::string(c);
    ++i;
  }
  bad_value(*e, "one of " + list);
  return def;
}

std::vector<const IniEntry*> ConfigReader::get_section(const std::string& section) {
  free_sections_.insert(section);
  return doc_.section(section);
}

Diagnostics ConfigReader::finish() {
  for (const IniEntry& e : doc_.entries()) {
    if (free_sections_.count(e.section) || asked_.count({e.section, e.key})) continue;
    diagnostics_.push_back({Diagnostic::Severity::warning, doc_.filename(), e.line,
                            "[" + e.section + "] " + e.key + ": unknown key, ignored"});
  }
  Diagnostics all = doc_.diagnostics();
  all.insert(all.end(), diagnostics_.begin(), diagnostics_.end());
  std::stable_sort(all.begin(), all.end(), [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
  return all;
}

}  // namespace smartvm
