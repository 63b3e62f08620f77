#include "linux_system.hpp"

#include "host_port.hpp"

#include "context_locator.hpp"
#include "credentials.hpp"
#include "log.hpp"
#include "mounts.hpp"
#include "power.hpp"
#include "workspace.hpp"

#include "systemd_lazy.hpp"

#include <signal.h>
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

}  // namespace

LinuxSystem::LinuxSystem(LinuxSystemSettings settings) : settings_(std::move(settings)) {}

LinuxSystem::~LinuxSystem() { unmount_context(); }

bool LinuxSystem::wait_for_stop(std::chrono::milliseconds d) {
  // SIGTERM and SIGINT are blocked outside the job's run; take them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>(d.count() % 1000) * 1000000};
  int sig = sigtimedwait(&stop, nullptr, &ts);
  if (sig > 0) {
    log::warning(std::string("received SIG") + sigabbrev_np(sig) + " during setup: stopping");
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
  if (auto r = mount_filesystem({source, dir, "", "", true, false}); !r) {
    rmdir(dir.c_str());
    return r.error();
  }
  context_mount_ = dir;
  return dir;
}

void LinuxSystem::unmount_context() {
  if (context_mount_.empty()) return;
  if (auto r = unmount_filesystem(context_mount_); !r) log::warning(r.error().message);
  rmdir(context_mount_.c_str());
  context_mount_.clear();
}

Result<Credentials> LinuxSystem::resolve_credentials(const JobSpec& spec) { return lookup_credentials(spec); }

Result<void> LinuxSystem::mount_repository(const RepositorySpec& repo) {
  if (auto r = make_directories(repo.mountpoint); !r) return r.error();
  MountRequest req{repo.source, repo.mountpoint, "", repo.options, false, false};
  switch (repo.type) {
    case RepositoryType::nfs: req.type = "nfs"; break;
    case RepositoryType::ninep:
      req.type = "9p";
      if (req.options.find("trans=") == std::string::npos)
        req.options = "trans=virtio,version=9p2000.L" + (req.options.empty() ? "" : "," + req.options);
      break;
    case RepositoryType::virtiofs: req.type = "virtiofs"; break;
    case RepositoryType::bind: req.bind = true; break;
    case RepositoryType::none: return {};
  }
  return mount_filesystem(req);
}

Result<void> LinuxSystem::unmount_repository(const RepositorySpec& repo) {
  sync();
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
  auto tampered = commit_status(static_cast<LinuxWorkspace&>(ws), record);
  if (!tampered) return tampered.error();
  if (!tampered->empty())
    log::warning("the reserved status record was tampered with (" + *tampered + "); the record was written anew");
  return {};
}

Result<void> LinuxSystem::send_status_to_host(const StatusRecord& record) {
  std::string port = settings_.status_port.empty() ? find_virtio_port(kStatusPortName) : settings_.status_port;
  if (port.empty()) return {};
  return write_to_port(port, format_status(record), settings_.status_port_deadline);
}

Result<void> LinuxSystem::power(PowerAction action, std::chrono::seconds delay) {
  auto r = request_power_action(action, delay);
  if (!r) return r.error();
  log::notice(std::string("power action ") + to_string(action) + " requested through " + r->via);
  return {};
}

void LinuxSystem::notify_step(const std::string& step) {
  // The time since the agent started, so that a console log shows where a slow boot went.
  char at[32];
  std::snprintf(at, sizeof at, "[%8.1f ms] ",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count());
  log::info(at + step);
  notify("STATUS=" + step);
}

}  // namespace smartvm::agent
