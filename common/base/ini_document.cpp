#include "ini_document.hpp"
#include "parse_number.hpp"

#include <ini.h>

#include <algorithm>
#include <cstring>

namespace smartvm {
namespace {

// Stand-ins that carry what inih's fixed build (Debian's: 200-byte lines, ';' after white
// space starts a comment anywhere) would lose. The feeder rejects them in the input itself.
constexpr char kQuotedSemicolon = '\x1f';  // a ';' that is not a comment: inside quotes
constexpr char kLongValue = '\x1e';        // "key=\x1eN": value N of the side table

// Feeds inih one line at a time from memory and remembers which line it handed out last,
// which is the line any handler call or error refers to.
struct LineFeeder {
  std::string_view text;
  size_t pos = 0;
  int line = 0;
  IniDocument* doc = nullptr;
  std::vector<std::string> long_values;
};

// Where an inline comment starts: a ';' at the start or after white space, outside '...' and
// "..." (as a shell reads quotes, so that args = -m "a ;b" keeps its argument). When the
// quotes do not balance (an apostrophe in prose), quotes are not considered: inih's own rule.
size_t comment_start(std::string_view line) {
  auto starts_comment = [&line](size_t i) { return line[i] == ';' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t'); };
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\' && quote != '\'') {  // escapes the next character, as in a shell
      ++i;
    } else if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (starts_comment(i)) {
      return i;
    }
  }
  if (!quote) return std::string_view::npos;
  for (size_t i = 0; i < line.size(); ++i)
    if (starts_comment(i)) return i;
  return std::string_view::npos;
}

std::string_view trimmed(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

char* feed_line(char* buf, int size, void* stream) {
  auto* f = static_cast<LineFeeder*>(stream);
  if (f->pos >= f->text.size()) return nullptr;
  size_t end = f->text.find('\n', f->pos);
  size_t next = end == std::string_view::npos ? f->text.size() : end + 1;
  std::string_view whole = f->text.substr(f->pos, end == std::string_view::npos ? next - f->pos : end - f->pos);
  f->pos = next;
  ++f->line;
  // inih reads an indented line after a key as the continuation of that key's value, even
  // "  group = g". Sysadmins indent keys, so leading white space is dropped before inih sees
  // the line: indented keys are ordinary keys, and multi-line values do not exist.
  size_t indent = whole.find_first_not_of(" \t");
  whole.remove_prefix(indent == std::string_view::npos ? whole.size() : indent);
  auto refuse = [&](const std::string& why) {
    f->doc->add_diagnostic({Diagnostic::Severity::error, f->doc->filename(), f->line, why});
    buf[0] = '\n';
    buf[1] = '\0';
    return buf;
  };
  // An embedded NUL would end the line early inside inih.
  if (whole.find('\0') != std::string_view::npos) return refuse("the line contains a NUL byte");
  if (whole.find_first_of(std::string_view("\x1e\x1f", 2)) != std::string_view::npos)
    return refuse("the line contains a control character (0x1e or 0x1f)");

  std::string content(whole);
  if (!content.empty() && content[0] != ';' && content[0] != '#') {  // whole-line comments: inih's
    content.resize(std::min(content.size(), comment_start(content)));
    std::replace(content.begin(), content.end(), ';', kQuotedSemicolon);
  }
  const size_t room = static_cast<size_t>(size) - 2;  // the newline and the NUL
  if (content.size() > room) {
    // A long value goes around inih's buffer: inih sees the key and a reference to it.
    size_t sep = content.find_first_of("=:");
    std::string ref;
    if (sep != std::string::npos) {
      ref = content.substr(0, sep + 1) + kLongValue + std::to_string(f->long_values.size());
      f->long_values.emplace_back(trimmed(std::string_view(content).substr(sep + 1)));
    }
    if (ref.size() > room)
      return refuse("a key longer than " + std::to_string(room - 2) + " characters: \"" + content.substr(0, 40) + "...\"");
    if (ref.empty()) content.resize(room);  // no '=': inih finds no key, an error below says so
    else content = std::move(ref);
  }
  std::memcpy(buf, content.data(), content.size());
  buf[content.size()] = '\n';
  buf[content.size() + 1] = '\0';
  return buf;
}

// What inih handed over, with the stand-ins of feed_line() put back.
std::string restored(std::string_view s, const LineFeeder& f) {
  std::string out;
  if (!s.empty() && s[0] == kLongValue) {
    auto index = parse_integer<size_t>(s.substr(1));
    out = index && *index < f.long_values.size() ? f.long_values[*index] : std::string();
  } else {
    out = s;
  }
  std::replace(out.begin(), out.end(), kQuotedSemicolon, ';');
  return out;
}

int on_entry(void* user, const char* section, const char* key, const char* value) {
  auto* f = static_cast<LineFeeder*>(user);
  IniDocument& doc = *f->doc;
  if (*key == '\0') {
    doc.add_diagnostic({Diagnostic::Severity::error, doc.filename(), f->line, "a value without a key"});
    return 1;
  }
  doc.add({restored(section, *f), restored(key, *f), restored(value, *f), f->line});
  return 1;
}

}  // namespace

IniDocument IniDocument::parse(std::string_view text, std::string filename) {
  IniDocument doc(std::move(filename));
  LineFeeder feeder{text, 0, 0, &doc, {}};
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
