#include "service_catalog.hpp"

#include "config_reader.hpp"
#include "job_spec.hpp"
#include "percent_template.hpp"
#include "shell_words.hpp"
#include "small_file.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace smartvm::launcher {
namespace {

const std::set<std::string, std::less<>> kTemplateSections = {"job", "env", "repository", "status", "power"};
constexpr uint64_t kMinMemory = 64ull << 20;  // below this no guest kernel boots
constexpr unsigned kMaxCores = 1024;


// %j and %u expand in [job] and [env] (workdir, args, user, stdout, ... and the job's
// environment): what a request varies in. The repository and power settings are the node's.
bool expands(const IniEntry& e) { return e.section == "job" || e.section == "env"; }

// The template as a document of its own, expanded, for the agent's parser.
IniDocument template_document(const Service& s, const std::string& filename, const std::string& job_id,
                              const std::string& user) {
  IniDocument doc(filename);
  for (IniEntry e : s.job_template) {
    if (expands(e)) e.value = expand_percent(e.value, {{'j', job_id}, {'u', user}});
    doc.add(std::move(e));
  }
  return doc;
}

void read_service_section(ConfigReader& r, Service& s) {
  s.description = r.get_string("service", "description");
  s.image = r.get_string("service", "image", "", true);
  if (!s.image.empty() && s.image.front() != '/') r.error("service", "image", "\"" + s.image + "\" is not an absolute path");
  std::string ext = s.image.size() > 4 ? s.image.substr(s.image.size() - 4) : "";
  size_t fmt = r.get_choice("service", "image_format", ext == ".raw" || ext == ".img" ? 1 : 0, {"qcow2", "raw"});
  s.image_format = fmt == 1 ? "raw" : "qcow2";

  s.cores = static_cast<unsigned>(r.get_uint("service", "cores", 1, 1, kMaxCores));
  s.max_cores = static_cast<unsigned>(r.get_uint("service", "max_cores", s.cores, 1, kMaxCores));
  if (s.max_cores < s.cores) r.error("service", "max_cores", "is less than cores (" + std::to_string(s.cores) + ")");
  s.memory_bytes = r.get_size("service", "memory", 1ull << 30);
  if (s.memory_bytes < kMinMemory) r.error("service", "memory", "is less than 64M");
  s.max_memory_bytes = r.get_size("service", "max_memory", s.memory_bytes);
  if (s.max_memory_bytes < s.memory_bytes) r.error("service", "max_memory", "is less than memory");
  s.wall_time = std::chrono::seconds(r.get_duration("service", "wall_time", 3600));
  if (s.wall_time.count() == 0) r.error("service", "wall_time", "must be more than 0");
  s.max_wall_time = std::chrono::seconds(r.get_duration("service", "max_wall_time", uint64_t(s.wall_time.count())));
  if (s.max_wall_time < s.wall_time) r.error("service", "max_wall_time", "is less than wall_time");
  s.network = r.get_string("service", "network", "route");
  s.stop_grace = std::chrono::seconds(r.get_duration("service", "stop_grace", 60));

  s.kernel = r.get_string("service", "kernel");
  s.initrd = r.get_string("service", "initrd");
  s.cmdline = r.get_string("service", "cmdline");
  for (const char* key : {"kernel", "initrd"}) {
    const std::string& v = std::string(key) == "kernel" ? s.kernel : s.initrd;
    if (!v.empty() && v.front() != '/') r.error("service", key, "\"" + v + "\" is not an absolute path");
  }
  if (s.kernel.empty() && !s.initrd.empty()) r.error("service", "initrd", "needs a kernel: an initrd alone does not boot");
  if (s.kernel.empty() && !s.cmdline.empty()) r.error("service", "cmdline", "needs a kernel: a self-booting image has its own");
  s.share = r.get_string("service", "share");
  if (!s.share.empty() && s.share.front() != '/') r.error("service", "share", "\"" + s.share + "\" is not an absolute path");
  s.share_tag = r.get_string("service", "share_tag", "adr");
  if (s.share_tag.empty() || s.share_tag.size() > 31 ||
      s.share_tag.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos)
    r.error("service", "share_tag", "\"" + s.share_tag + "\" is not a mount tag (1 to 31 of [A-Za-z0-9_-])");
}

void check_readable_file(const std::string& path, const std::string& key, const Service& s, Diagnostics& out, int line) {
  struct stat st {};
  std::string problem;
  if (stat(path.c_str(), &st) != 0) problem = std::strerror(errno);
  else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) problem = "not a file";
  else if (access(path.c_str(), R_OK) != 0) problem = std::strerror(errno);
  if (!problem.empty())
    out.push_back({Diagnostic::Severity::error, s.file, line, "[service] " + key + ": " + path + ": " + problem});
}

int line_of(const IniDocument& doc, const char* key) {
  const IniEntry* e = doc.find("service", key);
  return e ? e->line : 0;
}

}  // namespace

bool valid_service_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

LoadedService parse_service(std::string_view text, const std::string& filename, const std::string& name) {
  LoadedService out;
  Service& s = out.service;
  s.name = name;
  s.file = filename;
  IniDocument doc = IniDocument::parse(text, filename);
  IniDocument service_part(filename);
  for (const IniEntry& e : doc.entries()) {
    if (e.section == "service") service_part.add(e);
    else if (kTemplateSections.count(e.section)) s.job_template.push_back(e);
    else out.diagnostics.push_back({Diagnostic::Severity::error, filename, e.line,
                                    "[" + e.section + "]: not a section of a service (service, job, env, repository, status or power)"});
  }
  for (const Diagnostic& d : doc.diagnostics()) out.diagnostics.push_back(d);
  ConfigReader r(service_part);
  read_service_section(r, s);
  for (Diagnostic& d : r.finish()) out.diagnostics.push_back(std::move(d));
  // The template as the agent will read it, with sample values for %j and %u.
  LoadedJobSpec job = load_job_spec(template_document(s, filename, "check", "nobody"));
  for (Diagnostic& d : job.diagnostics) out.diagnostics.push_back(std::move(d));
  std::stable_sort(out.diagnostics.begin(), out.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
  out.diagnostics.erase(std::unique(out.diagnostics.begin(), out.diagnostics.end(),
                                    [](const Diagnostic& a, const Diagnostic& b) {
                                      return a.line == b.line && a.message == b.message;
                                    }),
                        out.diagnostics.end());
  return out;
}

LoadedService load_service(const std::string& catalog, const std::string& name) {
  std::string path = catalog + "/" + name + ".ini";
  if (!valid_service_name(name)) {
    LoadedService out;
    out.service.name = name;
    out.service.file = path;
    out.diagnostics.push_back({Diagnostic::Severity::error, path, 0,
                               "\"" + name + "\" is not a service name (letters, digits, '-', '_', '.')"});
    return out;
  }
  return load_service_file(path, name);
}

LoadedService load_service_file(const std::string& path, const std::string& name) {
  LoadedService out;
  out.service.name = name;
  out.service.file = path;
  auto text = read_small_file(path);
  if (!text) {
    out.diagnostics.push_back({Diagnostic::Severity::error, path, 0, text.error().message});
    return out;
  }
  out = parse_service(*text, path, name);
  IniDocument doc = IniDocument::parse(*text, path);  // for the lines of the keys checked below
  const Service& s = out.service;
  if (!s.image.empty()) check_readable_file(s.image, "image", s, out.diagnostics, line_of(doc, "image"));
  if (!s.kernel.empty()) check_readable_file(s.kernel, "kernel", s, out.diagnostics, line_of(doc, "kernel"));
  if (!s.initrd.empty()) check_readable_file(s.initrd, "initrd", s, out.diagnostics, line_of(doc, "initrd"));
  if (!s.share.empty()) {
    struct stat st {};
    std::string problem = stat(s.share.c_str(), &st) != 0 ? std::strerror(errno) : !S_ISDIR(st.st_mode) ? "not a directory" : "";
    if (!problem.empty())
      out.diagnostics.push_back({Diagnostic::Severity::error, s.file, line_of(doc, "share"), "[service] share: " + s.share + ": " + problem});
  }
  return out;
}

Diagnostics check_catalog(const std::string& catalog) {
  Diagnostics out;
  DIR* d = opendir(catalog.c_str());
  if (!d) {
    out.push_back({Diagnostic::Severity::error, catalog, 0, std::strerror(errno)});
    return out;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string f = e->d_name;
    if (f.size() > 4 && f.compare(f.size() - 4, 4, ".ini") == 0 && f.front() != '.') names.push_back(f.substr(0, f.size() - 4));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  if (names.empty()) out.push_back({Diagnostic::Severity::warning, catalog, 0, "no services (*.ini) in the catalog"});
  for (const std::string& n : names)
    for (Diagnostic& diag : load_service(catalog, n).diagnostics) out.push_back(std::move(diag));
  return out;
}

std::string appliance_for(const Service& s, const std::string& job_id, const std::string& user,
                          const std::vector<std::string>& extra_args) {
  IniDocument doc = template_document(s, s.file, job_id, user);
  std::string extra;
  for (const std::string& a : extra_args) extra += " " + quote_shell_word(a);
  bool args_seen = false;
  std::string out = "; smartvm-run: service " + s.name + ", job " + job_id + ", for " + user + "\n";
  std::string section;
  for (const IniEntry& e : doc.entries()) {
    if (e.section != section) {
      section = e.section;
      out += "[" + section + "]\n";
    }
    std::string value = e.value;
    if (e.section == "job" && e.key == "args") {
      value += extra;
      args_seen = true;
    }
    out += e.key + " = " + value + "\n";
  }
  if (!args_seen && !extra.empty()) out += "[job]\nargs =" + extra + "\n";
  return out;
}

}  // namespace smartvm::launcher
