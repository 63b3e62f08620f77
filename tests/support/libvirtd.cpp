#include "libvirtd.hpp"

#include <libvirt/libvirt.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

namespace smartvm::test {

namespace fs = std::filesystem;

namespace {

bool accepts_connections(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

Libvirtd::Libvirtd(const TempDir& dir) : root_((dir / "libvirtd").string()) {
  for (const char* d : {"run", "lib", "cache", "etc", "log"}) fs::create_directories(root_ + "/" + d);
  write_file(root_ + "/etc/libvirtd.conf", "auth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\nunix_sock_dir = \"" + root_ +
                                               "/run\"\n");
  write_file(root_ + "/etc/qemu.conf",
             "user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\nsecurity_driver = \"none\"\n"
             "stdio_handler = \"file\"\nnamespaces = [ ]\n");
  write_file(root_ + "/passwd", read_file("/etc/passwd") + "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin\n");
  write_file(root_ + "/group", read_file("/etc/group") + "libvirt-qemu:x:64055:\n");
}

bool Libvirtd::start() {
  stop();
  fs::remove(root_ + "/run/libvirt-sock");
  std::string script =
      "set -e; mount --bind " + root_ + "/passwd /etc/passwd; mount --bind " + root_ + "/group /etc/group; " +
      "mkdir -p /etc/libvirt /var/lib/libvirt /var/cache/libvirt; mount --bind " + root_ + "/etc /etc/libvirt; " +
      // A tmpfs over /var/log (this namespace's only) holds the mount point of the log
      // directory, so that no empty /var/log/libvirt is left on the host.
      "mount -t tmpfs tmpfs /var/log; mkdir /var/log/libvirt; mount --bind " + root_ + "/log /var/log/libvirt; " +
      "mount --bind " + root_ + "/lib /var/lib/libvirt; mount --bind " + root_ + "/cache /var/cache/libvirt; " +
      "mount -t tmpfs tmpfs /run; mkdir -p /run/lock; exec libvirtd -f " + root_ + "/etc/libvirtd.conf";
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{SMARTVM_SUBREAPER_PATH, "/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script},
      root_ + "/libvirtd.log");
  // The socket file appears at bind(), before libvirtd listens: a client that came then was
  // refused (seen under -j2). Up means a connect succeeds.
  for (int i = 0; i < 300; ++i) {
    if (accepts_connections(root_ + "/run/libvirt-sock")) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void Libvirtd::stop() {
  if (process_) process_->stop();
  process_.reset();
}

std::string Libvirtd::uri() const { return "test+unix:///default?socket=" + root_ + "/run/libvirt-sock"; }

std::string Libvirtd::qemu_uri() const { return "qemu+unix:///system?socket=" + root_ + "/run/libvirt-sock"; }

std::string Libvirtd::log() const { return process_ ? process_->log() : read_file(root_ + "/libvirtd.log"); }

void destroy_domains(const std::string& uri) {
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (!conn) return;
  virDomainPtr* domains = nullptr;
  int n = virConnectListAllDomains(conn, &domains, 0);
  for (int i = 0; i < n; ++i) {
    virDomainDestroy(domains[i]);
    virDomainFree(domains[i]);
  }
  free(domains);
  virConnectClose(conn);
}

std::optional<std::chrono::milliseconds> wait_domains_gone(const std::string& uri, std::chrono::milliseconds bound) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (!conn) return std::nullopt;
  int left = virConnectNumOfDomains(conn);
  while (left > 0 && Clock::now() - start < bound) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    left = virConnectNumOfDomains(conn);
  }
  virConnectClose(conn);
  if (left != 0) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

MachineCgroupsCleanup::MachineCgroupsCleanup(std::string domain_name) : domain_name_(std::move(domain_name)) {
  std::error_code ec;
  for (const auto& c : std::filesystem::directory_iterator("/sys/fs/cgroup", ec))
    if (std::filesystem::exists(c.path() / "machine", ec)) had_.push_back(c.path() / "machine");
}

MachineCgroupsCleanup::~MachineCgroupsCleanup() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& c : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    fs::path m = c.path() / "machine";
    if (!fs::is_directory(m, ec)) continue;
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(m, ec); it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec) && it->path().string().find(domain_name_) != std::string::npos) dirs.push_back(it->path());
    std::sort(dirs.rbegin(), dirs.rend());  // children first
    for (const fs::path& d : dirs) rmdir(d.c_str());
    if (std::find(had_.begin(), had_.end(), m) == had_.end()) rmdir(m.c_str());
  }
}

}  // namespace smartvm::test
