#include "linux_system.hpp"

#include "host_port.hpp"

#include "context_locator.hpp"
#include "credentials.hpp"
#include "mounts.hpp"
#include "power.hpp"
#include "stop_signals.hpp"
#include "workspace.hpp"

#include "systemd_lazy.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace smartvm::agent {

namespace {

// Only under systemd (NOTIFY_SOCKET set) is there anyone to tell, and only then is libsystemd loaded.
void notify(const std::string& state) {
  if (!std::getenv("NOTIFY_SOCKET")) return;
  if (const systemd::Api* sd = systemd::api()) sd->notify(0, state.c_str());
}

// How long a context image's mount may take (a loop device; nothing on the network).
constexpr std::chrono::seconds kContextMountLimit{60};
// How long the repository's data may take to reach its server before the unmount is forced.
constexpr std::chrono::seconds kRepositorySyncLimit{60};

// NFS options that bound one mount attempt unless the context chose otherwise: mount.nfs
// tries once (retry=0; by default it retries for 2 minutes, longer than the agent's attempt
// may take) and each request is retried after 10 s (timeo=100; 60 s by default over TCP).
// The agent's attempts and retry_delay do the retrying, with a message for each.
std::string bounded_nfs_options(const std::string& options) {
  auto has = [&options](const std::string& name) {
    for (size_t at = 0; at <= options.size();) {
      size_t end = options.find(',', at);
      if (end == std::string::npos) end = options.size();
      std::string item = options.substr(at, end - at);
      if (item == name || item.rfind(name + "=", 0) == 0) return true;
      at = end + 1;
    }
    return false;
  };
  std::string out = options;
  for (const char* o : {"retry=0", "timeo=100"}) {
    std::string name(o, std::string_view(o).find('='));
    if (!has(name)) out += (out.empty() ? "" : ",") + std::string(o);
  }
  return out;
}

}  // namespace

bool stop_pending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
}

LinuxSystem::LinuxSystem(LinuxSystemSettings settings)
    : settings_(std::move(settings)),
      watchdog_([this](PowerAction a, std::chrono::seconds limit, const std::string& step) {
        watchdog_expired(a, limit, step);
      }) {
  sigset_t stop = stop_signals();
  stop_fd_.reset(signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
}

LinuxSystem::~LinuxSystem() { unmount_context(); }

bool LinuxSystem::wait_for_stop(std::chrono::milliseconds d) {
  // SIGTERM and SIGINT are blocked outside the job's run; take them here.
  sigset_t stop = stop_signals();
  timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>(d.count() % 1000) * 1000000};
  int sig = sigtimedwait(&stop, nullptr, &ts);
  if (sig > 0) {
    say(log::Level::warning, std::string("received SIG") + sigabbrev_np(sig) + " during setup: stopping");
    stop_ = true;
  }
  return stop_;
}

bool LinuxSystem::stop_requested() {
  if (!stop_) wait_for_stop(std::chrono::milliseconds(0));
  return stop_;
}

bool LinuxSystem::sleep(std::chrono::seconds d) { return !wait_for_stop(d); }

Result<std::string> LinuxSystem::find_context(const std::string& label) {
  return find_device_by_label(label, settings_.context_wait,
                              [this](std::chrono::milliseconds step) { return !wait_for_stop(step); });
}

Result<std::string> LinuxSystem::mount_context(const std::string& source) {
  struct stat st {};
  if (stat(source.c_str(), &st) != 0) return os_error("the context " + source);
  if (S_ISDIR(st.st_mode)) return source;
  if (auto r = make_directories(settings_.runtime_dir); !r) return r.error();
  std::string dir = settings_.runtime_dir + "/context.XXXXXX";
  if (!mkdtemp(dir.data())) return os_error("create a mount point in " + settings_.runtime_dir);
  // An image file gets a loop device from libmount, released again at unmount (autoclear).
  if (auto r = mount_filesystem_within({source, dir, "", "", true, false}, kContextMountLimit, stop_fd_.get()); !r) {
    rmdir(dir.c_str());
    return r.error();
  }
  context_mount_ = dir;
  return dir;
}

void LinuxSystem::unmount_context() {
  if (context_mount_.empty()) return;
  if (auto r = unmount_filesystem(context_mount_); !r) say(log::Level::warning, r.error().message);
  rmdir(context_mount_.c_str());
  context_mount_.clear();
}

Result<Credentials> LinuxSystem::resolve_credentials(const JobSpec& spec) { return lookup_credentials(spec); }

Result<void> LinuxSystem::mount_repository(const RepositorySpec& repo, std::chrono::seconds limit) {
  if (auto r = make_directories(repo.mountpoint); !r) return r.error();
  MountRequest req{repo.source, repo.mountpoint, "", repo.options, false, false};
  switch (repo.type) {
    case RepositoryType::nfs:
      req.type = "nfs";
      req.options = bounded_nfs_options(req.options);
      break;
    case RepositoryType::ninep:
      req.type = "9p";
      if (req.options.find("trans=") == std::string::npos)
        req.options = "trans=virtio,version=9p2000.L" + (req.options.empty() ? "" : "," + req.options);
      break;
    case RepositoryType::virtiofs: req.type = "virtiofs"; break;
    case RepositoryType::bind:
      // In the agent itself: a bind mount runs no helper and asks no server, the kernel only
      // resolves two local paths. The bounded child (a fork, its libmount, the wait: 2-3 ms
      // on the bench's VM) is for what may hang on the network. (Should the source itself be
      // on a dead server, the watchdog's bound for the setup still holds.)
      req.bind = true;
      return mount_filesystem(req);
    case RepositoryType::none: return {};
  }
  auto r = mount_filesystem_within(req, limit, stop_fd_.get());
  if (!r && r.error().code == std::errc::operation_canceled) stop_requested();  // takes the signal
  return r;
}

Result<void> LinuxSystem::unmount_repository(const RepositorySpec& repo) {
  // Nothing to flush when the record was committed after a syncfs of the repository: that
  // syncfs made the job's files durable, the commit's fsyncs the record, and nothing wrote
  // since. (The unmount of a superblock's last mount syncs it again, finding it clean.)
  if (repository_durable_) return unmount_filesystem(repo.mountpoint);
  // Else (a setup failure, a repository where syncfs does not reach the server, a syncfs that
  // failed) the job's other files are flushed here, bounded: on a hard NFS mount whose server
  // went away the sync never ends, and the unmount is forced instead. The repository only: a
  // global sync() also waits for every other filesystem. The status file is durable already.
  if (auto synced = sync_filesystem_within(repo.mountpoint, kRepositorySyncLimit); !synced) {
    say(log::Level::warning, synced.error().message + "; forcing the unmount");
    return force_unmount_filesystem(repo.mountpoint);
  }
  return unmount_filesystem(repo.mountpoint);
}

Result<std::unique_ptr<Workspace>> LinuxSystem::prepare_workspace(const JobSpec& spec, const Credentials& creds) {
  auto ws = agent::prepare_workspace(spec, creds);
  if (!ws) return ws.error();
  return std::unique_ptr<Workspace>(std::move(*ws));
}

StatusRecord LinuxSystem::run_job(const JobSpec& spec, const Credentials& creds, Workspace& ws) {
  notify("READY=1");
  return run_job_process(spec, creds, static_cast<LinuxWorkspace&>(ws), settings_.runner);
}

Result<void> LinuxSystem::record_status(Workspace& ws, const StatusRecord& record) {
  auto& linux_ws = static_cast<LinuxWorkspace&>(ws);
  auto tampered = commit_status(linux_ws, record);
  if (!tampered) return tampered.error();
  repository_durable_ = linux_ws.synced;
  if (!tampered->empty())
    say(log::Level::warning, "the reserved status record was tampered with (" + *tampered + "); the record was written anew");
  return {};
}

Result<void> LinuxSystem::send_status_to_host(const StatusRecord& record) {
  std::string port = settings_.status_port.empty() ? find_virtio_port(kStatusPortName) : settings_.status_port;
  if (port.empty()) return {};
  return write_to_port(port, format_status(record), settings_.status_port_deadline);
}

Result<void> LinuxSystem::power(PowerAction action, std::chrono::seconds delay) {
  auto r = request_power_action(action, delay, settings_.events);
  if (!r) return r.error();
  say(log::Level::notice, std::string("power action ") + to_string(action) + " requested through " + r->via);
  return {};
}

std::chrono::seconds LinuxSystem::elapsed() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
}

void LinuxSystem::arm_watchdog(std::chrono::seconds limit, PowerAction action) { watchdog_.arm(limit, action); }

void LinuxSystem::watchdog_expired(PowerAction action, std::chrono::seconds limit, const std::string& step) {
  // A stop request (the VM's shutdown, an administrator) leaves the VM to whoever asked,
  // whether the main thread took the signal already or could not, being blocked.
  std::string stuck = "the agent is stuck (" + step + ") past its limit of " + std::to_string(limit.count()) + " s";
  if (stop_ || stop_pending()) {
    say(log::Level::error, stuck + ", and was asked to stop: no power action of its own");
    return;
  }
  if (action == PowerAction::none) {
    say(log::Level::error, stuck + "; the power action is none: leaving the VM running");
    return;
  }
  say(log::Level::error, stuck + ": carrying out the power action " + to_string(action) + " regardless");
  if (auto r = power(action, std::chrono::seconds(0)); !r) say(log::Level::error, r.error().message);
}

void LinuxSystem::notify_step(const std::string& step) {
  watchdog_.step(step);
  // The time since the agent started, so that a console log shows where a slow boot went.
  char at[32];
  std::snprintf(at, sizeof at, "[%8.1f ms] ",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count());
  say(log::Level::info, at + step);
  notify("STATUS=" + step);
}

}  // namespace smartvm::agent
