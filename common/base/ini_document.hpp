// An INI file parsed by inih, keeping the line of every key so that every later complaint
// about a value can name file and line. inih itself reports only the first syntax error's
// line, so lines are counted by the reader that feeds it.
#pragma once

#include "diagnostic.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smartvm {

struct IniEntry {
  std::string section;
  std::string key;
  std::string value;
  int line = 0;
};

class IniDocument {
 public:
  explicit IniDocument(std::string filename) : filename_(std::move(filename)) {}

  // Parses INI text. Syntax problems (a line without '=', an unterminated section header, a
  // line too long, a key given twice) become error diagnostics; the
  // rest of the file is still read so that all problems are reported at once.
  static IniDocument parse(std::string_view text, std::string filename);

  const std::string& filename() const { return filename_; }
  const std::vector<IniEntry>& entries() const { return entries_; }
  const Diagnostics& diagnostics() const { return diagnostics_; }

  const IniEntry* find(std::string_view section, std::string_view key) const;
  std::vector<const IniEntry*> section(std::string_view section) const;

  // For documents built from another syntax (an OpenNebula context.sh).
  void add(IniEntry entry);
  void add_diagnostic(Diagnostic d) { diagnostics_.push_back(std::move(d)); }

 private:
  std::string filename_;
  std::vector<IniEntry> entries_;
  Diagnostics diagnostics_;
};

}  // namespace smartvm
