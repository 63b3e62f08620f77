#include "ini_document.hpp"

#include <ini.h>

#include <algorithm>
#include <cstring>

namespace smartvm {
namespace {

// Feeds inih one line at a time from memory and remembers which line it handed out last,
// which is the line any handler call or error refers to.
struct LineFeeder {
  std::string_view text;
  size_t pos = 0;
  int line = 0;
  bool line_too_long = false;
  IniDocument* doc = nullptr;
};

char* feed_line(char* buf, int size, void* stream) {
  auto* f = static_cast<LineFeeder*>(stream);
  if (f->pos >= f->text.size()) return nullptr;
  size_t end = f->text.find('\n', f->pos);
  size_t next = end == std::string_view::npos ? f->text.size() : end + 1;
  std::string_view whole = f->text.substr(f->pos, next - f->pos);
  f->pos = next;
  // inih reads an indented line after a key as the continuation of that key's value, even
  // "  group = g". Sysadmins indent keys, so leading white space is dropped before inih sees
  // the line: indented keys are ordinary keys, and multi-line values do not exist.
  size_t indent = whole.find_first_not_of(" \t");
  whole.remove_prefix(indent == std::string_view::npos ? whole.size() : indent);
  ++f->line;
  // An embedded NUL would end the line early inside inih; treat it like any unreadable line.
  f->line_too_long = whole.size() >= static_cast<size_t>(size) - 1;
  std::string_view content = whole.substr(0, std::min(whole.size(), static_cast<size_t>(size) - 2));
  std::memcpy(buf, content.data(), content.size());
  buf[content.size()] = '\n';
  buf[content.size() + 1] = '\0';
  if (content.find('\0') != std::string_view::npos) {
    f->doc->add_diagnostic({Diagnostic::Severity::error, f->doc->filename(), f->line,
                            "the line contains a NUL byte"});
    buf[0] = '\n';
    buf[1] = '\0';
  }
  return buf;
}

int on_entry(void* user, const char* section, const char* key, const char* value) {
  auto* f = static_cast<LineFeeder*>(user);
  IniDocument& doc = *f->doc;
  if (f->line_too_long) {
    doc.add_diagnostic({Diagnostic::Severity::error, doc.filename(), f->line,
                        std::string("[") + section + "] " + key + ": the line is longer than " +
                            std::to_string(INI_MAX_LINE - 2) + " characters"});
    return 1;
  }
  if (*key == '\0') {
    doc.add_diagnostic({Diagnostic::Severity::error, doc.filename(), f->line, "a value without a key"});
    return 1;
  }
  doc.add({section, key, value, f->line});
  return 1;
}

}  // namespace

IniDocument IniDocument::parse(std::string_view text, std::string filename) {
  IniDocument doc(std::move(filename));
  LineFeeder feeder{text, 0, 0, false, &doc};
  // ini_parse_stream passes the same pointer to the reader and the handler.
  int first_error = ini_parse_stream(feed_line, &feeder, on_entry, &feeder);
  (void)first_error;  // it names only the first bad line; all of them are found below
  // inih does not tell us the lines of all syntax errors, only the first; find them by
  // re-reading the lines that produced neither an entry nor a diagnostic.
  auto accounted = [&doc](int l) {
    return std::any_of(doc.entries_.begin(), doc.entries_.end(), [l](const IniEntry& e) { return e.line == l; }) ||
           std::any_of(doc.diagnostics_.begin(), doc.diagnostics_.end(), [l](const Diagnostic& d) { return d.line == l; });
  };
  int line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    size_t next = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view l = text.substr(pos, next - pos);
    pos = next;
    ++line;
    size_t b = l.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) continue;
    std::string_view s = l.substr(b);
    if (line == 1 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
    if (s.empty() || s[0] == ';' || s[0] == '#' || accounted(line)) continue;
    if (s[0] == '[') {
      if (s.find(']') == std::string_view::npos)
        doc.add_diagnostic({Diagnostic::Severity::error, doc.filename(), line,
                            "section header without a closing ']'"});
      continue;
    }
    doc.add_diagnostic({Diagnostic::Severity::error, doc.filename(), line,
                        "expected 'key = value', a [section] or a comment"});
  }
  std::stable_sort(doc.diagnostics_.begin(), doc.diagnostics_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
  return doc;
}

void IniDocument::add(IniEntry entry) {
  if (const IniEntry* prev = find(entry.section, entry.key)) {
    diagnostics_.push_back({Diagnostic::Severity::error, filename_, entry.line,
                            "[" + entry.section + "] " + entry.key + ": given again (first on line " +
                                std::to_string(prev->line) + ")"});
    return;
  }
  entries_.push_back(std::move(entry));
}

const IniEntry* IniDocument::find(std::string_view section, std::string_view key) const {
  for (const IniEntry& e : entries_)
    if (e.section == section && e.key == key) return &e;
  return nullptr;
}

std::vector<const IniEntry*> IniDocument::section(std::string_view section) const {
  std::vector<const IniEntry*> out;
  for (const IniEntry& e : entries_)
    if (e.section == section) out.push_back(&e);
  return out;
}

}  // namespace smartvm
