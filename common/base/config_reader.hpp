// Typed, validating access to an IniDocument. Every getter that finds a bad value records an
// error naming file, line, section, key, the value, and what would have been accepted, and
// returns the default so that validation can go on and report every problem in one pass.
#pragma once

#include "ini_document.hpp"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smartvm {

// A byte count with an optional K, M, G or T suffix (powers of 1024); none when it is not one.
std::optional<uint64_t> parse_size(std::string_view text);

// A length of time in seconds: a whole number with an optional s, m, h or d suffix ("90",
// "30m", "2h"), or H:MM:SS ("1:30:00"); none when it is not one, or over 100 years.
std::optional<uint64_t> parse_duration(std::string_view text);

class ConfigReader {
 public:
  explicit ConfigReader(const IniDocument& doc);

  // A string; `required` records an error when the key is missing or empty.
  std::string get_string(const std::string& section, const std::string& key, const std::string& def = {},
                         bool required = false);
  uint64_t get_uint(const std::string& section, const std::string& key, uint64_t def, uint64_t min,
                    uint64_t max);
  bool get_bool(const std::string& section, const std::string& key, bool def);
  // An octal file-mode mask such as 0027.
  unsigned get_umask(const std::string& section, const std::string& key, unsigned def);
  // A byte count with an optional K, M, G or T suffix (powers of 1024).
  uint64_t get_size(const std::string& section, const std::string& key, uint64_t def);
  // A length of time (parse_duration), in seconds.
  uint64_t get_duration(const std::string& section, const std::string& key, uint64_t def);
  // One of `choices`; returns its index, or `def` when the key is absent or wrong.
  size_t get_choice(const std::string& section, const std::string& key, size_t def,
                    std::initializer_list<const char*> choices);
  // All keys of a section whose keys are free-form (like [env]), marked as known.
  std::vector<const IniEntry*> get_section(const std::string& section);

  // Records an error about a key (for checks that need more than one key, or the OS).
  void error(const std::string& section, const std::string& key, const std::string& message);

  // Adds a warning for every key that no getter asked for, then returns all diagnostics:
  // the document's own syntax problems first, then the values', in line order.
  Diagnostics finish();

 private:
  const IniEntry* lookup(const std::string& section, const std::string& key);
  void bad_value(const IniEntry& e, const std::string& expected);

  const IniDocument& doc_;
  std::set<std::pair<std::string, std::string>> asked_;
  std::set<std::string> free_sections_;
  Diagnostics diagnostics_;
};

}  // namespace smartvm
