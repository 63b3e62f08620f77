#include "context_document.hpp"

#include "small_file.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace smartvm {
namespace {

constexpr std::string_view kPrefix = "SMARTVM_";
constexpr const char* kSections[] = {"JOB", "ENV", "REPOSITORY", "STATUS", "POWER"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Parses one shell value starting at text[pos]: a sequence of 'single-quoted', "double-quoted"
// (with \ escapes) and bare parts, up to unquoted white space or the end of the line. Values
// may span lines inside quotes, as OpenNebula writes them. Returns false on a construct we do
// not understand (expansions, unterminated quotes).
bool parse_value(std::string_view text, size_t& pos, int& line, std::string& out, std::string& why) {
  while (pos < text.size()) {
    char c = text[pos];
    if (c == '\n' || c == ' ' || c == '\t' || c == '#' || c == ';') return true;
    if (c == '\'') {
      size_t end = text.find('\'', pos + 1);
      if (end == std::string_view::npos) return why = "unterminated single quote", false;
      std::string_view part = text.substr(pos + 1, end - pos - 1);
      line += static_cast<int>(std::count(part.begin(), part.end(), '\n'));
      out += part;
      pos = end + 1;
    } else if (c == '"') {
      ++pos;
      while (pos < text.size() && text[pos] != '"') {
        if (text[pos] == '$' || text[pos] == '`') return why = "expansions ($, `) are not supported", false;
        if (text[pos] == '\\' && pos + 1 < text.size()) ++pos;
        if (text[pos] == '\n') ++line;
        out += text[pos++];
      }
      if (pos >= text.size()) return why = "unterminated double quote", false;
      ++pos;
    } else if (c == '\\' && pos + 1 < text.size() && text[pos + 1] != '\n') {
      out += text[pos + 1];
      pos += 2;
    } else if (c == '$' || c == '`' || c == '|' || c == '&' || c == '<' || c == '>' || c == '(' || c == ')') {
      return why = std::string("'") + c + "' is not supported: context.sh is read as data, not run", false;
    } else {
      out += c;
      ++pos;
    }
  }
  return true;
}

// The context document, refusing anything but a regular file: a FIFO named appliance.ini
// would block open() (and the agent, with SIGTERM blocked) forever, a device read forever.
// O_NONBLOCK makes the open return (it means nothing to a regular file's reads).
Result<std::string> read_document(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return os_error("open " + path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return os_error("stat " + path);
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
  return read_small_fd(fd.get(), path);
}

}  // namespace

IniDocument parse_context_sh(std::string_view text, std::string filename) {
  IniDocument doc(std::move(filename));
  size_t pos = 0;
  int line = 1;
  auto error = [&doc](int l, std::string m) { doc.add_diagnostic({Diagnostic::Severity::error, doc.filename(), l, std::move(m)}); };
  auto skip_line = [&] {
    size_t end = text.find('\n', pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line;
  };
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (pos >= text.size()) break;
    if (text[pos] == '\n' || text[pos] == '#') {
      skip_line();
      continue;
    }
    if (text.substr(pos, 7) == "export ") pos += 7;
    size_t name_end = pos;
    while (name_end < text.size() && (std::isalnum(static_cast<unsigned char>(text[name_end])) || text[name_end] == '_'))
      ++name_end;
    if (name_end == pos || name_end >= text.size() || text[name_end] != '=') {
      error(line, "expected NAME='value'");
      skip_line();
      continue;
    }
    std::string name(text.substr(pos, name_end - pos));
    pos = name_end + 1;
    int start_line = line;
    std::string value, why;
    if (!parse_value(text, pos, line, value, why)) {
      error(start_line, name + ": " + why);
      // Resynchronize at the next line that starts with something like NAME=.
      skip_line();
      continue;
    }
    // The rest of the line may hold only white space or a comment.
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (pos < text.size() && text[pos] != '\n' && text[pos] != '#')
      error(line, name + ": unexpected text after the value");
    skip_line();

    if (std::string_view(name).substr(0, kPrefix.size()) != kPrefix) continue;  // OpenNebula's own variables
    std::string rest = name.substr(kPrefix.size());
    const char* section = nullptr;
    for (const char* s : kSections) {
      std::string_view sv(s);
      if (rest.size() > sv.size() + 1 && rest.compare(0, sv.size(), sv) == 0 && rest[sv.size()] == '_') {
        section = s;
        break;
      }
    }
    if (!section) {
      doc.add_diagnostic({Diagnostic::Severity::warning, doc.filename(), start_line,
                          name + ": not SMARTVM_<JOB|ENV|REPOSITORY|STATUS|POWER>_<KEY>, ignored"});
      continue;
    }
    std::string key = rest.substr(std::string_view(section).size() + 1);
    std::string sec = lower(section);
    doc.add({sec, sec == "env" ? key : lower(key), value, start_line});
  }
  return doc;
}

Result<IniDocument> read_context_document(const std::string& dir) {
  std::string ini = dir + "/appliance.ini", sh = dir + "/context.sh";
  if (access(ini.c_str(), F_OK) == 0) {
    auto text = read_document(ini);
    if (!text) return text.error();
    return IniDocument::parse(*text, ini);
  }
  if (access(sh.c_str(), F_OK) == 0) {
    auto text = read_document(sh);
    if (!text) return text.error();
    return parse_context_sh(*text, sh);
  }
  return make_error("the context " + dir + " has neither appliance.ini nor context.sh");
}

}  // namespace smartvm
