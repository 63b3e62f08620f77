#include "plan_text.hpp"

#include "shell_words.hpp"

namespace smartvm::agent {
namespace {

std::string in_repo(const JobSpec& s, const std::string& rel) {
  return s.repository.mountpoint + (rel.empty() ? "" : "/" + rel);
}

std::string seconds(std::chrono::seconds d) { return std::to_string(d.count()) + " s"; }

}  // namespace

std::string describe_plan(const std::string& context, const JobSpec& s, const Credentials& c) {
  std::string out;
  auto row = [&out](const char* name, const std::string& value) {
    out += name;
    out.append(14 - std::string_view(name).size(), ' ');
    out += value + "\n";
  };
  row("context:", context);
  const RepositorySpec& r = s.repository;
  if (r.type == RepositoryType::none)
    row("repository:", r.mountpoint + " (not mounted)");
  else
    row("repository:", std::string(to_string(r.type)) + " " + r.source + " on " + r.mountpoint +
                           (r.options.empty() ? "" : " (" + r.options + ")") + ", " + std::to_string(r.attempts) +
                           " attempts, " + seconds(r.retry_delay) + " apart at first");
  row("workdir:", in_repo(s, s.workdir) + " (created if missing)");
  std::string cmd = quote_shell_word(s.command_in_repository ? in_repo(s, s.command) : s.command);
  for (const std::string& a : s.args) cmd += " " + quote_shell_word(a);
  row("command:", cmd);
  std::string groups;
  for (gid_t g : c.groups) groups += (groups.empty() ? "" : ",") + std::to_string(g);
  row("user:", c.user + " (uid " + std::to_string(c.uid) + ", gid " + std::to_string(c.gid) +
                   (groups.empty() ? "" : ", groups " + groups) + ")");
  std::string env;
  for (const auto& [k, v] : s.env) env += k + "=" + quote_shell_word(v) + " ";
  row("environment:", env + "PATH HOME=" + c.home + " USER=" + c.user);
  char mask[8];
  std::snprintf(mask, sizeof mask, "%04o", s.umask);
  row("limits:", (s.timeout.count() ? "timeout " + seconds(s.timeout) : std::string("no timeout")) +
                     ", SIGTERM then SIGKILL after " + seconds(s.kill_grace) + ", umask " + mask +
                     (s.output_limit ? ", output limit " + std::to_string(s.output_limit) + " bytes per stream" : ""));
  row("stdout:", in_repo(s, s.stdout_path));
  row("stderr:", in_repo(s, s.stderr_path));
  row("status:", in_repo(s, s.status_path) +
                     (s.heartbeat.count() ? ", heartbeat every " + seconds(s.heartbeat) : std::string(", no heartbeat")));
  row("power:", std::string(to_string(s.power)) + (s.power_delay.count() ? " after " + seconds(s.power_delay) : ""));
  return out;
}

}  // namespace smartvm::agent
