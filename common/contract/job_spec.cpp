#include "job_spec.hpp"

#include "config_reader.hpp"
#include "confined_path.hpp"
#include "shell_words.hpp"

namespace smartvm {
namespace {

constexpr uint64_t kOneYear = 366ull * 24 * 3600;

bool valid_env_name(const std::string& n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// A path relative to `base` that must stay inside the repository; records an error otherwise.
std::optional<std::string> confined(ConfigReader& r, const std::string& section, const std::string& key,
                                    const std::string& base, const std::string& value) {
  auto p = confine_relative(base, value);
  if (!p) {
    r.error(section, key, p.error().message);
    return std::nullopt;
  }
  return *p;
}

// Like confined(), for a path that must name a file rather than a directory it is relative to.
std::string confined_file(ConfigReader& r, const std::string& section, const std::string& key, const std::string& base,
                          const std::string& value) {
  auto p = confined(r, section, key, base, value);
  if (p && (p->empty() || *p == base)) r.error(section, key, "\"" + value + "\" names a directory; give a file name");
  return p.value_or("");
}

}  // namespace

const char* to_string(RepositoryType t) {
  constexpr const char* names[] = {"nfs", "9p", "virtiofs", "bind", "none"};
  return names[static_cast<int>(t)];
}

const char* to_string(PowerAction a) {
  constexpr const char* names[] = {"none", "poweroff", "reboot", "halt"};
  return names[static_cast<int>(a)];
}

std::optional<PowerAction> power_action_from_string(std::string_view s) {
  for (int i = 0; i < 4; ++i)
    if (s == to_string(static_cast<PowerAction>(i))) return static_cast<PowerAction>(i);
  return std::nullopt;
}

LoadedJobSpec load_job_spec(const IniDocument& doc) {
  LoadedJobSpec out;
  JobSpec& s = out.spec;
  ConfigReader r(doc);

  // [power] first: it is what matters most when everything else is wrong.
  s.power = static_cast<PowerAction>(r.get_choice("power", "action", 1, {"none", "poweroff", "reboot", "halt"}));
  s.power_delay = std::chrono::seconds(r.get_uint("power", "delay", 0, 0, 3600));

  // [repository]
  RepositorySpec& repo = s.repository;
  repo.type = static_cast<RepositoryType>(
      r.get_choice("repository", "type", 0, {"nfs", "9p", "virtiofs", "bind", "none"}));
  // An unknown type was reported already; do not also ask for the source its default needs.
  const IniEntry* type = doc.find("repository", "type");
  bool type_known = !type || type->value.empty() || type->value == to_string(repo.type);
  bool mounted = repo.type != RepositoryType::none && type_known;
  repo.source = r.get_string("repository", "source", "", mounted);
  repo.mountpoint = r.get_string("repository", "mountpoint", "/mnt/adr");
  if (repo.mountpoint.front() != '/' || repo.mountpoint == "/")
    r.error("repository", "mountpoint", "\"" + repo.mountpoint + "\" must be an absolute path other than /");
  repo.options = r.get_string("repository", "options");
  repo.attempts = static_cast<unsigned>(r.get_uint("repository", "attempts", 10, 1, 1000));
  repo.retry_delay = std::chrono::seconds(r.get_uint("repository", "retry_delay", 2, 0, 3600));
  if (repo.type == RepositoryType::bind && !repo.source.empty() && repo.source.front() != '/')
    r.error("repository", "source", "a bind repository needs an absolute directory, not \"" + repo.source + "\"");

  // [job]
  std::string command = r.get_string("job", "command", "", true);
  if (!command.empty() && command.front() == '/') {
    s.command = command;
  } else if (!command.empty()) {
    s.command = confined(r, "job", "command", "", command).value_or("");
    s.command_in_repository = true;
  }
  if (auto args = split_shell_words(r.get_string("job", "args")); args)
    s.args = std::move(*args);
  else
    r.error("job", "args", args.error().message);
  s.workdir = confined(r, "job", "workdir", "", r.get_string("job", "workdir", ".")).value_or("");
  s.user = r.get_string("job", "user", "", true);
  s.group = r.get_string("job", "group");
  s.allow_root = r.get_bool("job", "allow_root", false);
  if ((s.user == "root" || s.user == "0") && !s.allow_root)
    r.error("job", "user", "jobs do not run as root unless [job] allow_root = true");
  if ((s.group == "root" || s.group == "0") && !s.allow_root)
    r.error("job", "group", "jobs do not run with the root group unless [job] allow_root = true");
  s.umask = r.get_umask("job", "umask", 0022);
  s.timeout = std::chrono::seconds(r.get_uint("job", "timeout", 0, 0, kOneYear));
  s.kill_grace = std::chrono::seconds(r.get_uint("job", "kill_grace", 30, 0, 3600));
  s.stdout_path = confined_file(r, "job", "stdout", s.workdir, r.get_string("job", "stdout", "stdout.log"));
  s.stderr_path = confined_file(r, "job", "stderr", s.workdir, r.get_string("job", "stderr", "stderr.log"));
  s.output_limit = r.get_size("job", "output_limit", 0);

  // [env]
  for (const IniEntry* e : r.get_section("env")) {
    if (!valid_env_name(e->key))
      r.error("env", e->key, "not a valid environment variable name (letters, digits, _; not starting with a digit)");
    else
      s.env.emplace_back(e->key, e->value);
  }

  // [status]
  s.status_path = confined_file(r, "status", "file", s.workdir, r.get_string("status", "file", "exit_status"));
  s.heartbeat = std::chrono::seconds(r.get_uint("status", "heartbeat", 10, 0, 86400));
  if (!s.status_path.empty() && (s.status_path == s.stdout_path || s.status_path == s.stderr_path))
    r.error("status", "file", "must not be the same file as the job's stdout or stderr");

  out.diagnostics = r.finish();
  return out;
}

}  // namespace smartvm
