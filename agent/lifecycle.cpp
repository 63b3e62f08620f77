#include "lifecycle.hpp"

#include "context_document.hpp"
#include "log.hpp"
#include "plan_text.hpp"
#include "smartvm_version.hpp"

#include <algorithm>
#include <exception>

namespace smartvm::agent {
namespace {

std::string summary(const StatusRecord& r) {
  std::string s = std::string("state=") + to_string(r.state);
  if (r.exit_code) s += " exit_code=" + std::to_string(*r.exit_code);
  if (!r.signal.empty()) s += " signal=" + r.signal;
  char wall[32];
  std::snprintf(wall, sizeof wall, "%.3f", r.wall_seconds);
  s += std::string(" wall_seconds=") + wall;
  if (!r.error.empty()) s += " error=" + r.error;
  return s;
}

class Run {
 public:
  Run(const Options& o, System& sys, const Limits& limits) : o_(o), sys_(sys), limits_(limits) {
    result_.power = o.power.value_or(PowerAction::poweroff);
  }

  AgentResult run() {
    // Whatever blocks the agent (a server that stops answering, a helper, the kernel), the VM
    // must end: past each part's bound the watchdog carries out the power action itself.
    if (!o_.dry_run) sys_.arm_watchdog(limits_.setup + limits_.watchdog_margin, result_.power);
    int code = 1;
    try {
      code = steps();
    } catch (const std::exception& e) {
      // A bug of ours must not keep the VM up: say so, and go on to the power action.
      log::error(std::string("internal error: ") + e.what());
    }
    result_.exit_code = code;
    if (!o_.dry_run) {
      // Every outcome, setup failures that never reached the repository included.
      if (result_.status)
        if (auto r = sys_.send_status_to_host(*result_.status); !r)
          log::warning("the host did not get the status record: " + r.error().message);
      power_off();
      sys_.arm_watchdog(std::chrono::seconds(0), result_.power);
    }
    return result_;
  }

 private:
  // Everything up to and including clean-up; returns the exit code.
  int steps() {
    // 1. Find and mount the context.
    std::string source = o_.context;
    if (source.empty()) {
      sys_.notify_step("finding the context labelled " + o_.label);
      auto dev = sys_.find_context(o_.label);
      if (!dev) return setup_failed("find context", dev.error());
      source = *dev;
    }
    sys_.notify_step("opening the context " + source);
    auto dir = sys_.mount_context(source);
    if (!dir) return setup_failed("mount context", dir.error());
    int code = with_context(source, *dir);
    sys_.unmount_context();
    return code;
  }

  int with_context(const std::string& source, const std::string& dir) {
    // 2. Read and validate the job, all problems at once.
    sys_.notify_step("reading the job");
    auto doc = read_context_document(dir);
    if (!doc) return setup_failed("read context", doc.error());
    LoadedJobSpec loaded = load_job_spec(*doc);
    for (const Diagnostic& d : loaded.diagnostics)
      (d.severity == Diagnostic::Severity::error ? log::error : log::warning)(d.format());
    spec_ = loaded.spec;
    result_.power = o_.power.value_or(spec_.power);
    if (!o_.dry_run) sys_.arm_watchdog(setup_left() + limits_.watchdog_margin, result_.power);
    if (!loaded.ok()) return setup_failed("read context", make_error(doc->filename() + " is not valid (see above)"));
    auto creds = sys_.resolve_credentials(spec_);
    if (o_.dry_run) {
      if (!creds) return setup_failed("check user", creds.error());
      result_.plan = describe_plan(source, spec_, *creds);
      return 0;
    }
    // A job whose user is unknown cannot run, but its submitter should still find out why in
    // the repository: carry on as root just far enough to record the failure there.
    std::optional<StatusRecord> early_failure;
    Credentials as = creds ? *creds : Credentials{"root", 0, 0, {}, "/"};
    if (!creds) early_failure = failure("check user", creds.error());

    // 3. Mount the repository; the network may come up late.
    if (spec_.repository.type != RepositoryType::none) {
      if (auto r = mount_repository(); !r) return setup_failed("mount repository", r.error());
    }
    int code = with_repository(as, early_failure);
    if (spec_.repository.type != RepositoryType::none) {
      sys_.notify_step("unmounting the repository");
      if (auto r = sys_.unmount_repository(spec_.repository); !r) log::error(r.error().message);
    }
    return code;
  }

  // What is left of the setup's time (at least a second, so that a bound stays a bound).
  std::chrono::seconds setup_left() {
    return std::max(limits_.setup - sys_.elapsed(), std::chrono::seconds(1));
  }

  // Each attempt is bounded, and together they end within the setup's limit: the unit's
  // TimeoutStartSec would otherwise stop the agent, which then takes no power action.
  Result<void> mount_repository() {
    const RepositorySpec& repo = spec_.repository;
    Result<void> r;
    auto out_of_time = [&](unsigned done) {
      return r.error().context("gave up after " + std::to_string(done) + " of " + std::to_string(repo.attempts) +
                               " attempts, at the setup's limit of " + std::to_string(limits_.setup.count()) + " s");
    };
    for (unsigned attempt = 1; attempt <= repo.attempts; ++attempt) {
      if (attempt > 1) {
        auto delay = retry_delay_before(attempt, repo.retry_delay);
        if (sys_.elapsed() + delay >= limits_.setup) return out_of_time(attempt - 1);
        log::warning("mounting the repository failed (attempt " + std::to_string(attempt - 1) + " of " +
                     std::to_string(repo.attempts) + "): " + r.error().message + "; retrying in " +
                     std::to_string(delay.count()) + " s");
        if (!sys_.sleep(delay)) return make_error("stopped while waiting to retry");
      }
      if (sys_.elapsed() >= limits_.setup) return out_of_time(attempt - 1);
      sys_.notify_step("mounting the repository " + repo.source + " (attempt " + std::to_string(attempt) + ")");
      r = sys_.mount_repository(repo, std::min(limits_.mount_attempt, limits_.setup - sys_.elapsed()));
      if (r) return r;
      if (sys_.stop_requested()) return r;
    }
    return r.error().context("gave up after " + std::to_string(repo.attempts) + " attempts");
  }

  int with_repository(const Credentials& creds, const std::optional<StatusRecord>& early_failure) {
    // 4. The workdir, proven writable, with the status file's space reserved.
    sys_.notify_step("preparing the workdir");
    auto ws = sys_.prepare_workspace(spec_, creds);
    if (!ws) return setup_failed("prepare workdir", ws.error());

    // 5-6. Run and monitor, unless we were stopped during setup.
    StatusRecord rec;
    if (early_failure) {
      rec = *early_failure;
    } else if (sys_.stop_requested()) {
      rec.state = JobState::cancelled;
      rec.error = "stopped before the job started";
    } else {
      sys_.notify_step("running the job");
      // The job's own timeout bounds it, when it has one; the event loop enforces it, and the
      // watchdog stands in when that loop is blocked (an output write to a hung server).
      sys_.arm_watchdog(spec_.timeout.count() > 0 ? spec_.timeout + spec_.kill_grace + limits_.watchdog_margin
                                                  : std::chrono::seconds(0),
                        result_.power);
      rec = sys_.run_job(spec_, creds, **ws);
    }
    // After a stop request nothing of ours powers the VM off (see power_off()).
    bool stopping = rec.state == JobState::cancelled || sys_.stop_requested();
    sys_.arm_watchdog(stopping ? std::chrono::seconds(0) : limits_.wrap_up + spec_.power_delay + limits_.watchdog_margin,
                      result_.power);
    rec.agent_version = kVersion;
    result_.status = rec;
    log::notice("job finished: " + summary(rec));

    // 7. Record.
    sys_.notify_step("recording the exit status");
    if (auto r = sys_.record_status(**ws, rec); !r) {
      log::error("could not record the exit status: " + r.error().message + "; the record was: " + summary(rec));
      return 1;
    }
    return rec.state == JobState::setup_failed ? 1 : 0;
  }

  StatusRecord failure(const std::string& step, const Error& e) {
    log::error("setup failed: " + step + ": " + e.message);
    StatusRecord rec;
    rec.state = JobState::setup_failed;
    rec.error = step + ": " + e.message;
    rec.agent_version = kVersion;
    result_.status = rec;
    return rec;
  }

  int setup_failed(const std::string& step, const Error& e) {
    failure(step, e);
    return 1;
  }

  void power_off() {
    if (result_.power == PowerAction::none) return;
    // Whoever stopped the agent (the VM's shutdown, an administrator's systemctl stop) decides
    // what happens to the VM; a power action of ours would only race an orderly shutdown.
    if (sys_.stop_requested() || (result_.status && result_.status->state == JobState::cancelled)) {
      log::notice("the agent was asked to stop: no power action of its own");
      return;
    }
    sys_.notify_step(std::string("power action: ") + to_string(result_.power));
    if (auto r = sys_.power(result_.power, spec_.power_delay); !r) log::error(r.error().message);
  }

  const Options& o_;
  System& sys_;
  const Limits& limits_;
  JobSpec spec_;
  AgentResult result_;
};

}  // namespace

std::chrono::seconds retry_delay_before(unsigned attempt, std::chrono::seconds retry_delay) {
  unsigned doublings = attempt >= 2 ? std::min(attempt - 2, 3u) : 0;
  return retry_delay * (1 << doublings);
}

AgentResult run_agent(const Options& options, System& system, const Limits& limits) {
  return Run(options, system, limits).run();
}

}  // namespace smartvm::agent
