#include "job_launch.hpp"

#include "repository_tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>

namespace smartvm::agent {

std::vector<std::string> job_environment(const JobSpec& spec, const Credentials& creds) {
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + creds.home, "USER=" + creds.user};
  for (const auto& var : spec.env) {
    std::string prefix = var.first + "=";
    std::erase_if(env, [&prefix](const std::string& e) { return e.rfind(prefix, 0) == 0; });
    env.push_back(prefix + var.second);
  }
  return env;
}

Result<JobLaunch> prepare_launch(const JobSpec& spec, const Credentials& creds, const LinuxWorkspace& ws) {
  JobLaunch launch;
  launch.argv.push_back(spec.command);
  if (spec.command_in_repository) {
    FsIdentity as_user(creds, static_cast<mode_t>(spec.umask));
    auto fd = open_beneath(ws.root.get(), spec.command, O_PATH);
    if (!fd) return fd.error().context("[job] command");
    launch.argv[0] = ws.mountpoint + "/" + spec.command;
  }
  launch.argv.insert(launch.argv.end(), spec.args.begin(), spec.args.end());
  launch.env = job_environment(spec, creds);
  launch.creds = &creds;
  launch.umask = static_cast<mode_t>(spec.umask);
  launch.workdir_fd = ws.workdir.get();
  launch.workdir = ws.mountpoint + (spec.workdir.empty() ? "" : "/" + spec.workdir);
  launch.kill_grace = spec.kill_grace;
  return launch;
}

Result<UniqueFd> open_job_output(const LinuxWorkspace& ws, const JobSpec& spec, const Credentials& creds,
                                 const std::string& rel, const std::string& key) {
  FsIdentity as_user(creds, static_cast<mode_t>(spec.umask));
  auto [dir, name] = split_parent(rel);
  if (auto d = make_directories_beneath(ws.root.get(), dir); !d) return d.error().context(key);
  // O_NONBLOCK: a FIFO (or a device) named like the output would block this open() forever,
  // with SIGTERM blocked; a FIFO without a reader fails with ENXIO instead. Only a regular
  // file is an output; the flag goes again before the pump writes to it.
  auto fd = open_beneath(ws.root.get(), rel, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK, 0666);
  if (!fd && fd.error().code == std::errc::no_such_device_or_address)
    return make_error(key + ": \"" + rel + "\" is not a regular file (a FIFO?)");
  if (!fd) return fd.error().context(key);
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) return os_error(key + ": stat \"" + rel + "\"");
  if (!S_ISREG(st.st_mode)) return make_error(key + ": \"" + rel + "\" is not a regular file");
  if (fcntl(fd->get(), F_SETFL, fcntl(fd->get(), F_GETFL) & ~O_NONBLOCK) != 0) return os_error(key + ": " + rel);
  return fd;
}

}  // namespace smartvm::agent
