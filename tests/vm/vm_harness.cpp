#include "vm_harness.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace smartvm::test {
namespace {

// A TCP port on loopback that nothing listens on right now.
int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

}  // namespace

Ganesha::Ganesha(const std::filesystem::path& dir) {
  port_ = free_port();
  std::filesystem::create_directories(tmp_ / "recovery");
  std::filesystem::create_directories("/run/ganesha");  // the mount point of its private tmpfs
  write_file(tmp_ / "ganesha.conf",
             "NFS_CORE_PARAM { Protocols = 4; NFS_Port = " + std::to_string(port_) +
                 "; Bind_addr = 127.0.0.1; Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; }\n"
                 "NFSV4 { Graceless = true; RecoveryRoot = " + (tmp_ / "recovery").string() + "; }\n"
                 "EXPORT { Export_Id = 1; Path = " + dir.string() +
                 "; Pseudo = /adr; Access_Type = RW; Squash = No_Root_Squash; Protocols = 4; Transports = TCP; "
                 "SecType = sys; FSAL { Name = VFS; } }\n");
  std::string script = "mount -t tmpfs tmpfs /run/ganesha && exec ganesha.nfsd -F -f " + (tmp_ / "ganesha.conf").string() +
                       " -L " + (tmp_ / "ganesha.log").string() + " -p " + (tmp_ / "ganesha.pid").string() +
                       " -N NIV_EVENT";
  pid_ = fork();
  if (pid_ == 0) {
    // unshare without --fork execs the shell, which execs ganesha: the pid we hold is ganesha's.
    execl("/usr/bin/unshare", "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 100 && !port_open(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!port_open(port_)) throw std::runtime_error("ganesha did not listen: " + read_file(tmp_ / "ganesha.log"));
}

void Ganesha::pause() { kill(pid_, SIGSTOP); }

Ganesha::~Ganesha() {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);  // after pause(), or SIGTERM would wait
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
}

VmScenario::VmScenario() {
  std::filesystem::create_directories(repo());
  chmod(tmp_.path().c_str(), 0755);
  chmod(repo().c_str(), 01777);
}

void VmScenario::make_context(const std::string& job, Repository kind, bool validate, const std::string& iso) {
  std::string repo_section =
      kind == Repository::ninep
          ? "[repository]\ntype = 9p\nsource = adr\nmountpoint = /mnt/adr\nattempts = 3\nretry_delay = 1\n"
          // The guest reaches ganesha only through qemu's guestfwd at 10.0.2.100:2049.
          : "[repository]\ntype = nfs\nsource = 10.0.2.100:/adr\nmountpoint = /mnt/adr\n"
            "options = vers=4.1,addr=10.0.2.100,clientaddr=10.0.2.15,proto=tcp,port=2049\nattempts = 5\nretry_delay = 1\n";
  std::string ini = (tmp_ / (iso + ".ini")).string();
  write_file(ini, job + "\n" + (job.find("[repository]") == std::string::npos ? repo_section : ""));
  ProcessResult r = validate ? run_process({SMARTVM_CONTEXT_TOOL, "build", "-o", (tmp_ / iso).string(), ini})
                             : run_process({"/usr/bin/xorriso", "-as", "mkisofs", "-quiet", "-V", "CONTEXT", "-J", "-R",
                                            "-graft-points", "-o", (tmp_ / iso).string(), "appliance.ini=" + ini});
  if (r.exit_code != 0) throw std::runtime_error("context image: " + r.err);
}

VmRun VmScenario::boot(Repository kind, int nfs_port, std::chrono::seconds limit, const std::string& iso,
                       const std::string& kernel_args, std::function<bool(pid_t)> while_running) const {
  std::string extra = kernel_args.empty() ? "" : " " + kernel_args;
  std::string guest = SMARTVM_GUEST_DIR;
  std::vector<std::string> argv{"/usr/bin/qemu-system-x86_64", "-accel", "tcg", "-m", "384", "-smp", "1",
                                "-nographic", "-no-reboot", "-kernel", guest + "/vmlinux", "-initrd",
                                guest + "/initrd.gz", "-cdrom", (tmp_ / iso).string()};
  if (kind == Repository::ninep) {
    argv.insert(argv.end(), {"-append", "console=ttyS0 quiet panic=1 smartvm.repo=9p" + extra, "-nic", "none", "-virtfs",
                             "local,path=" + repo().string() + ",mount_tag=adr,security_model=none,id=adr"});
  } else {
    // restrict=on: the guest reaches nothing but the one forward to ganesha on loopback.
    argv.insert(argv.end(), {"-append", "console=ttyS0 quiet panic=1 smartvm.repo=nfs" + extra, "-netdev",
                             "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:2049-tcp:127.0.0.1:" +
                                 std::to_string(nfs_port),
                             "-device", "virtio-net-pci,netdev=n0"});
  }
  ProcessOptions o;
  o.limit = limit;
  o.while_running = std::move(while_running);
  return {run_process(argv, o)};
}

VmRun VmScenario::boot_systemd(const std::string& image, std::chrono::seconds limit) const {
  std::string kver = SMARTVM_GUEST_KERNEL_VERSION;
  std::vector<std::string> argv{"/usr/bin/qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-smp", "1",
                                "-nographic", "-no-reboot", "-kernel", std::string(SMARTVM_GUEST_DIR) + "/vmlinux",
                                "-initrd", "/boot/initrd.img-" + kver, "-append",
                                "console=ttyS0 root=/dev/vda rw quiet panic=1 systemd.show_status=0",
                                "-drive", "file=" + image + ",if=virtio,format=raw,snapshot=on",
                                "-cdrom", (tmp_ / "ctx.iso").string(), "-nic", "none", "-virtfs",
                                "local,path=" + repo().string() + ",mount_tag=adr,security_model=none,id=adr"};
  ProcessOptions o;
  o.limit = limit;
  return {run_process(argv, o)};
}

std::optional<StatusRecord> VmScenario::status(const std::string& rel) const {
  auto r = parse_status(read_file(repo() / rel));
  if (!r) return std::nullopt;
  return *r;
}

}  // namespace smartvm::test
