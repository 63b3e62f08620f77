// Boots the tiny test guest (build-guest.sh) under qemu with a context ISO made by
// smartvm-context, and a repository shared over 9p or served over NFSv4 by nfs-ganesha in user
// space on loopback. Every boot has a hard time limit: a hung guest fails its test.
#pragma once

#include "process.hpp"
#include "status_record.hpp"
#include "temp_dir.hpp"

#include <functional>
#include <optional>
#include <string>

namespace smartvm::test {

// nfs-ganesha exporting `dir` as /adr on 127.0.0.1:port, NFSv4 only, in a mount namespace of
// its own with a tmpfs on /run/ganesha; stopped by its recorded PID.
class Ganesha {
 public:
  explicit Ganesha(const std::filesystem::path& dir);
  ~Ganesha();
  int port() const { return port_; }
  // SIGSTOP: a server that stops answering, its connections still open (a hard mount hangs).
  void pause();

 private:
  TempDir tmp_;
  int port_ = 0;
  pid_t pid_ = -1;
};

enum class Repository { ninep, nfs };

struct VmRun {
  ProcessResult qemu;
  std::string serial() const { return qemu.out + qemu.err; }
};

class VmScenario {
 public:
  VmScenario();
  std::filesystem::path repo() const { return tmp_ / "repo"; }

  // `job` is appliance.ini without [repository]; the right one for `kind` is appended.
  // `validate = false` builds the ISO with xorriso directly, for contexts the tool would refuse.
  // `iso` names the image, so that one repository can serve several guests.
  void make_context(const std::string& job, Repository kind, bool validate = true, const std::string& iso = "ctx.iso");
  // `kernel_args` are appended to the command line; NAME=value ones reach the agent's
  // environment (through the guest's init).
  VmRun boot(Repository kind, int nfs_port = 0, std::chrono::seconds limit = std::chrono::seconds(90),
             const std::string& iso = "ctx.iso", const std::string& kernel_args = "",
             std::function<bool(pid_t)> while_running = {}) const;

  // The systemd guest (build-systemd-guest.sh): Debian's kernel and initrd, root on a virtio disk
  // (snapshot: the image stays as built), 9p repository, the agent started by its unit.
  VmRun boot_systemd(const std::string& image = std::string(SMARTVM_GUEST_DIR) + "/systemd-guest.img",
                     std::chrono::seconds limit = std::chrono::seconds(180)) const;

  std::optional<StatusRecord> status(const std::string& rel) const;

 private:
  TempDir tmp_;
};

}  // namespace smartvm::test
