#include "workspace.hpp"

#include "repository_tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace smartvm::agent {
namespace {

// Room for any status record: a record is a few hundred bytes, its error line at most a few KiB.
constexpr size_t kStatusReserve = 16384;

// Write and read back, as the job's user: proves that the repository takes writes here (not
// read-only, not refused to the user, not full where the filesystem counts space at write).
// No flush of its own (under concurrent writes an fsync took 8-9 ms, issue 16): that the
// server has room is proven by the status reservation that follows (fallocate, or zeros and
// fsync where there is no fallocate), and the job's data is made durable after the job
// (make_outputs_durable), where a loss is recorded. No rename or directory fsync: the probe is
// removed again. Its name is random, so that a probe an earlier, killed agent left behind is
// no obstacle.
Result<void> prove_writable(int dirfd, const std::string& workdir) {
  std::string content = "smartvm-agent write probe " + format_utc(StatusRecord::Clock::now()) + "\n";
  auto created = create_hidden_temp(dirfd, "smartvm-probe", 0600, O_RDWR);
  if (!created) return created.error().context("the repository does not take writes in \"" + workdir + "\"");
  UniqueFd fd(created->first);
  const std::string& name = created->second;
  auto fail = [&](const std::string& what) {
    Error e = os_error(what);
    unlinkat(dirfd, name.c_str(), 0);
    return e.context("the repository does not take writes in \"" + workdir + "\"");
  };
  if (pwrite(fd.get(), content.data(), content.size(), 0) != static_cast<ssize_t>(content.size())) return fail("write " + name);
  std::string back(content.size() + 1, '\0');
  ssize_t n = pread(fd.get(), back.data(), back.size(), 0);
  unlinkat(dirfd, name.c_str(), 0);
  if (n != static_cast<ssize_t>(content.size()) || back.compare(0, content.size(), content) != 0)
    return make_error("the repository does not read back what was written in \"" + workdir + "\"");
  return {};
}

// Whether syncfs(2) of the filesystem under `fd` makes its files durable. It runs the kernel's
// writeback and the filesystem's sync_fs: enough for a local disk (ext4, xfs, btrfs: a journal
// commit and a cache flush) and for NFS (writeback of every file ends with a COMMIT). Not for
// 9p and FUSE: a file there is written through to the server, which syncs it to its disk only
// when asked for that file (Tfsync, FUSE_FSYNC); syncfs asks nothing of a 9p server, nothing of
// a FUSE one, and of virtiofs (FUSE too) only when its daemon supports FUSE_SYNCFS, silently.
bool syncfs_reaches_storage(int fd) {
  constexpr decltype(statfs::f_type) kV9fsMagic = 0x01021997, kFuseMagic = 0x65735546;
  struct statfs sf {};
  if (fstatfs(fd, &sf) != 0) return false;
  return sf.f_type != kV9fsMagic && sf.f_type != kFuseMagic;
}

}  // namespace

Result<std::unique_ptr<LinuxWorkspace>> prepare_workspace(const JobSpec& spec, const Credentials& creds) {
  auto ws = std::make_unique<LinuxWorkspace>();
  ws->mountpoint = spec.repository.mountpoint;
  ws->creds = creds;
  ws->umask = static_cast<mode_t>(spec.umask);
  ws->root.reset(open(ws->mountpoint.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!ws->root.valid()) return os_error("open the repository " + ws->mountpoint);
  ws->sync_handle.reset(open(ws->mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ws->syncfs_durable = ws->sync_handle.valid() && syncfs_reaches_storage(ws->sync_handle.get());

  FsIdentity as_user(creds, ws->umask);
  auto workdir = make_directories_beneath(ws->root.get(), spec.workdir);
  if (!workdir) return workdir.error().context("[job] workdir");
  ws->workdir = std::move(*workdir);
  if (auto r = prove_writable(ws->workdir.get(), spec.workdir); !r) return r.error();

  auto [dir, name] = split_parent(spec.status_path);
  auto status_dir = make_directories_beneath(ws->root.get(), dir);
  if (!status_dir) return status_dir.error().context("[status] file");
  ws->status_dir = std::move(*status_dir);
  ws->status_name = name;
  // Reserving also removes the previous run's record: nobody polling it must take that
  // run's result for this one's. Its heartbeat goes too.
  auto reserved = ReservedFile::reserve(ws->status_dir.get(), name, kStatusReserve, 0666);
  if (!reserved) return reserved.error().context("[status] file");
  ws->status = std::move(*reserved);
  unlinkat(ws->status_dir.get(), (name + ".heartbeat").c_str(), 0);
  return ws;
}

std::vector<std::string> make_outputs_durable(LinuxWorkspace& ws, std::initializer_list<OutputFile> outputs) {
  // syncfs reports a write error of any file of the filesystem since the handle was opened
  // (Linux 5.8), before the job started: an error on NFS (ENOSPC, EDQUOT, EIO surface only at
  // writeback) fails it, and the fsyncs below then say which output was hit.
  bool synced = ws.syncfs_durable && syncfs(ws.sync_handle.get()) == 0;
  struct stat repo {};
  if (synced && fstat(ws.sync_handle.get(), &repo) != 0) synced = false;
  std::vector<std::string> errors;
  for (const OutputFile& f : outputs) {
    if (f.fd < 0) continue;
    struct stat st {};
    // An output on a filesystem mounted below the repository's root (an NFS export's nested
    // one) is not the repository's syncfs's.
    if (synced && fstat(f.fd, &st) == 0 && st.st_dev == repo.st_dev) continue;
    if (fsync(f.fd) != 0) errors.push_back(std::string(f.name) + ": " + std::strerror(errno));
  }
  ws.synced = synced;
  return errors;
}

Result<std::string> commit_status(LinuxWorkspace& ws, StatusRecord record) {
  FsIdentity as_user(ws.creds, ws.umask);
  record.record_tampered = ws.status.tampering();
  if (auto r = ws.status.commit(format_status(record)); !r) return r.error();
  return record.record_tampered;
}

Result<void> write_heartbeat(LinuxWorkspace& ws, pid_t pid, StatusRecord::Clock::time_point started,
                             double cpu_seconds) {
  auto now = StatusRecord::Clock::now();
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "state=running\npid=%d\nstarted_at=%s\nupdated_at=%s\nelapsed_seconds=%.3f\ncpu_seconds=%.3f\n", pid,
                format_utc(started).c_str(), format_utc(now).c_str(),
                std::chrono::duration<double>(now - started).count(), cpu_seconds);
  FsIdentity as_user(ws.creds, ws.umask);
  return write_file_atomically(ws.status_dir.get(), ws.status_name + ".heartbeat", buf, 0666, Durability::atomic_only);
}

void remove_heartbeat(LinuxWorkspace& ws) {
  FsIdentity as_user(ws.creds, ws.umask);
  unlinkat(ws.status_dir.get(), (ws.status_name + ".heartbeat").c_str(), 0);
}

}  // namespace smartvm::agent
