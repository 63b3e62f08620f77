#include "mounts.hpp"

#include "unique_fd.hpp"

#include <fcntl.h>
#include <libmount/libmount.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <thread>

namespace smartvm::agent {
namespace {

using ContextPtr = std::unique_ptr<libmnt_context, decltype(&mnt_free_context)>;

// libmount's own wording of what went wrong ("mount point does not exist", the helper's
// message, "wrong fs type, bad option, bad superblock ...").
std::string describe(libmnt_context* cxt, int rc) {
  char buf[1024] = "";
  mnt_context_get_excode(cxt, rc, buf, sizeof buf);
  if (buf[0]) return buf;
  return rc < 0 ? std::string(strerror(-rc)) : "mount failed with code " + std::to_string(rc);
}

// "mount.nfs" for a helper that libmount ran: the type it was run for.
std::string helper_name(libmnt_context* cxt) {
  const char* type = mnt_fs_get_fstype(mnt_context_get_fs(cxt));
  return std::string("mount.") + (type ? type : "helper");
}

// Whether `path` is the root of a mount (statx's STATX_ATTR_MOUNT_ROOT, Linux 5.8); true
// where the kernel cannot tell.
Result<bool> is_mount_root(const std::string& path) {
  struct statx stx {};
  if (statx(AT_FDCWD, path.c_str(), AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) != 0) return os_error("stat " + path);
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) return true;
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

}  // namespace

// mkdir -p. Not std::filesystem::create_directories: see context_document.hpp.
Result<void> make_directories(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return os_error("create " + prefix);
    if (slash == std::string::npos) break;
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return make_error("create " + path + ": not a directory");
  return {};
}

Result<void> mount_filesystem(const MountRequest& req) {
  ContextPtr cxt(mnt_new_context(), mnt_free_context);
  if (!cxt) return make_error("mount " + req.target + ": out of memory");
  std::string options = req.options;
  auto add = [&options](const char* o) { options += (options.empty() ? "" : ",") + std::string(o); };
  if (req.bind) add("bind");
  if (req.read_only) add("ro");
  // Both source and target are given, so fstab and mtab are not consulted.
  if (mnt_context_set_source(cxt.get(), req.source.c_str()) || mnt_context_set_target(cxt.get(), req.target.c_str()) ||
      (!req.type.empty() && mnt_context_set_fstype(cxt.get(), req.type.c_str())) ||
      (!options.empty() && mnt_context_set_options(cxt.get(), options.c_str())))
    return make_error("mount " + req.source + " on " + req.target + ": invalid mount request");
  int rc = mnt_context_mount(cxt.get());
  std::string what = "mount " + req.source + " on " + req.target;
  // A helper (mount.nfs) that ran counts as "status 1" for libmount whatever it exited with:
  // its exit status is the verdict. Taken as success, a refused NFS mount would leave the job
  // writing to the guest's own disk, its results lost with the VM.
  if (rc == 0 && mnt_context_helper_executed(cxt.get()) && mnt_context_get_helper_status(cxt.get()) != 0)
    return Error{what + ": " + helper_name(cxt.get()) + " failed with exit status " +
                     std::to_string(mnt_context_get_helper_status(cxt.get())) + " (its message is above)",
                 std::make_error_code(std::errc::io_error)};
  if (rc != 0 || mnt_context_get_status(cxt.get()) != 1) {
    int err = mnt_context_get_syscall_errno(cxt.get());
    return Error{what + ": " + describe(cxt.get(), rc), std::error_code(err ? err : EIO, std::generic_category())};
  }
  // Whoever says "mounted" (a helper, a kernel), something must now be mounted there.
  if (auto mounted = is_mount_root(req.target); !mounted)
    return mounted.error().context(what);
  else if (!*mounted)
    return Error{what + ": reported as mounted, but " + req.target + " is still the bare directory",
                 std::make_error_code(std::errc::io_error)};
  // A read-only bind mount needs a remount to become read-only on older kernels; libmount
  // does that itself since util-linux 2.27.
  return {};
}

namespace {

// The mounting child's report: its error's errno (0 = mounted), then the message.
[[noreturn]] void report_and_exit(int fd, const Result<void>& r) {
  int err = r ? 0 : (r.error().code ? r.error().code.value() : EIO);
  std::string out(reinterpret_cast<const char*>(&err), sizeof err);
  if (!r) out += r.error().message;
  for (size_t done = 0; done < out.size();) {
    ssize_t n = write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  _exit(r ? 0 : 1);
}

}  // namespace

Result<void> mount_filesystem_within(const MountRequest& req, std::chrono::milliseconds limit, int stop_fd) {
  std::string what = "mount " + req.source + " on " + req.target;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return os_error(what + ": create a pipe");
  UniqueFd report(p[0]), report_w(p[1]);
  // fork() of a process that may have a second thread (the agent's watchdog): glibc makes
  // malloc usable in the child, and libmount needs nothing else that thread could hold.
  pid_t pid = fork();
  if (pid < 0) return os_error(what + ": fork");
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    report_and_exit(report_w.get(), mount_filesystem(req));
  }
  setpgid(pid, pid);  // as the child does: whichever runs first, the group exists for kill()
  report_w.reset();

  auto deadline = std::chrono::steady_clock::now() + limit;
  std::string answer;
  const char* gave_up = nullptr;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      gave_up = "no answer";
      break;
    }
    pollfd fds[2] = {{report.get(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int n = poll(fds, stop_fd >= 0 ? 2 : 1, static_cast<int>(std::min<long>(left.count(), 60000)));
    if (n < 0 && errno != EINTR) return os_error(what + ": wait for the mount");
    if (n <= 0) continue;
    if (fds[0].revents) {
      char buf[1024];
      ssize_t got = read(report.get(), buf, sizeof buf);
      if (got > 0) {
        answer.append(buf, static_cast<size_t>(got));
        continue;
      }
      if (got < 0 && errno == EINTR) continue;
      break;  // EOF: the child is done
    }
    if (stop_fd >= 0 && fds[1].revents) {
      gave_up = "stopped";
      break;
    }
  }
  if (gave_up) {
    // The child and the helpers it started; a process stuck in the kernel goes when it can
    // (reaped by whoever waits next, or at the agent's exit).
    kill(-pid, SIGKILL);
    char c;
    pollfd eof{report.get(), POLLIN, 0};
    if (poll(&eof, 1, 1000) > 0 && read(report.get(), &c, 1) == 0) waitpid(pid, nullptr, 0);
    if (std::strcmp(gave_up, "stopped") == 0) return Error{what + ": stopped", std::make_error_code(std::errc::operation_canceled)};
    return Error{what + ": no answer within " + std::to_string((limit.count() + 999) / 1000) + " s; the mount was stopped",
                 std::make_error_code(std::errc::timed_out)};
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  int err = 0;
  if (answer.size() < sizeof err)
    return Error{what + ": the mounting process ended without an answer (status " + std::to_string(st) + ")",
                 std::make_error_code(std::errc::io_error)};
  std::memcpy(&err, answer.data(), sizeof err);
  if (err == 0) return {};
  return Error{answer.substr(sizeof err), std::error_code(err, std::generic_category())};
}

Result<void> sync_filesystem_within(const std::string& path, std::chrono::seconds limit) {
  // Both the thread and the waiter hold the result; the waiter may leave first.
  auto done = std::make_shared<std::promise<int>>();
  std::future<int> result = done->get_future();
  std::thread([path, done] {
    int err = 0;
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) != 0) err = errno;
    if (fd >= 0) close(fd);
    done->set_value(err);
  }).detach();
  if (result.wait_for(limit) != std::future_status::ready)
    return Error{"sync " + path + ": not done within " + std::to_string(limit.count()) + " s (the server does not answer?)",
                 std::make_error_code(std::errc::timed_out)};
  if (int err = result.get(); err != 0) return os_error("sync " + path, err);
  return {};
}

Result<void> force_unmount_filesystem(const std::string& target) {
  if (umount2(target.c_str(), MNT_FORCE | UMOUNT_NOFOLLOW) == 0) return {};
  int err = errno;
  if (umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
    return make_error("unmount " + target + ": forced unmount failed (" + std::strerror(err) + "); detached lazily");
  return os_error("unmount " + target);
}

Result<void> unmount_filesystem(const std::string& target) {
  int last_errno = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return {};
    last_errno = errno;
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (last_errno == EBUSY && umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
    return make_error("unmount " + target + ": still busy after 2 s; detached lazily");
  return os_error("unmount " + target, last_errno);
}

}  // namespace smartvm::agent
