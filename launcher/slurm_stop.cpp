#include "slurm_stop.hpp"

#include "captured_run.hpp"

#include <optional>

namespace smartvm::launcher {

namespace {

// The value of `key` in one line of `scontrol show job -o`: space-separated key=value words.
// The first occurrence: JobState and Reason come before the free-text fields (Command, Comment).
std::optional<std::string_view> field(std::string_view line, std::string_view key) {
  for (size_t at = 0; at < line.size();) {
    size_t end = line.find(' ', at);
    if (end == std::string_view::npos) end = line.size();
    std::string_view word = line.substr(at, end - at);
    if (word.size() > key.size() && word.substr(0, key.size()) == key && word[key.size()] == '=')
      return word.substr(key.size() + 1);
    at = end + 1;
  }
  return std::nullopt;
}

std::string_view first_line(std::string_view text) { return text.substr(0, text.find('\n')); }

}  // namespace

SlurmStop slurm_stop_from(std::string_view show_job) {
  std::string_view line = first_line(show_job);
  if (field(line, "Reason") == "TimeLimit" || field(line, "JobState") == "TIMEOUT") return SlurmStop::time_limit;
  return SlurmStop::other;
}

Result<SlurmStop> ask_slurm_why_stopped(const std::string& job_id, std::chrono::seconds limit,
                                        const std::string& scontrol) {
  // timeout(1) bounds it (and its exit status 124 says so); -k: a KILL if TERM is not enough.
  std::string output;
  auto status = run_captured({"timeout", "-k", "1", std::to_string(limit.count()), scontrol, "show", "job", "-o", job_id},
                             output);
  std::string what = "ask Slurm why job " + job_id + " was stopped (" + scontrol + " show job -o " + job_id + ")";
  if (!status) return status.error().context(what);
  std::string said(first_line(output));
  if (*status == 124) return make_error(what + ": no answer within " + std::to_string(limit.count()) + " s");
  if (*status == 126 || *status == 127) return make_error(what + ": cannot run " + scontrol + " (is Slurm's client installed?)");
  if (*status != 0) return make_error(what + ": exit status " + std::to_string(*status) + (said.empty() ? "" : ": " + said));
  if (!field(said, "JobState")) return make_error(what + ": not a job's record: " + said);
  return slurm_stop_from(said);
}

}  // namespace smartvm::launcher
