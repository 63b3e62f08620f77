#include "durable_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <cstdio>
#include <cstring>

namespace smartvm {

// ".name.XXXXXXXX" beside the target, created exclusively.
Result<std::pair<int, std::string>> create_hidden_temp(int dirfd, const std::string& name, mode_t mode,
                                                       int access_mode) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    // The name only has to be unlikely to collide. GRND_INSECURE never blocks: early in a
    // VM's boot, a plain getrandom() waits for the entropy pool (over a second under TCG).
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_INSECURE) != sizeof r)
      r = static_cast<uint32_t>(getpid()) * 2654435761u + static_cast<uint32_t>(attempt) + static_cast<uint32_t>(time(nullptr));
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", r);
    std::string temp = "." + name + "." + suffix;
    int fd = openat(dirfd, temp.c_str(), access_mode | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                    mode);
    if (fd >= 0) return std::pair{fd, temp};
    if (errno != EEXIST) return os_error("create a temporary file for " + name);
  }
  return make_error("create a temporary file for " + name + ": too many name collisions");
}

namespace {

// Whether `entry` is a name create_hidden_temp() makes for `name`.
bool is_temp_name_of(std::string_view entry, std::string_view name) {
  if (entry.size() != name.size() + 10 || entry[0] != '.' || entry.substr(1, name.size()) != name ||
      entry[name.size() + 1] != '.')
    return false;
  for (char c : entry.substr(name.size() + 2))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Reservations of earlier agents that were killed before they committed: regular files only.
void remove_stale_reservations(int dirfd, const std::string& name, const std::string& keep) {
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  DIR* d = fdopendir(fd);
  if (!d) {
    close(fd);
    return;
  }
  while (dirent* e = readdir(d)) {
    if (!is_temp_name_of(e->d_name, name) || e->d_name == keep) continue;
    struct stat st {};
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) unlinkat(dirfd, e->d_name, 0);
  }
  closedir(d);
}

const char* file_type(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "another file";
    case S_IFLNK: return "a symbolic link";
    case S_IFIFO: return "a FIFO";
    case S_IFDIR: return "a directory";
    case S_IFSOCK: return "a socket";
    default: return "a device node";
  }
}

bool same_inode(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

}  // namespace

Result<void> write_all(int fd, std::string_view data, off_t offset) {
  while (!data.empty()) {
    ssize_t n = pwrite(fd, data.data(), data.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return {};
}

namespace {

Result<void> finish(int dirfd, int fd, const std::string& temp, const std::string& name, size_t length,
                    Durability durability) {
  if (ftruncate(fd, static_cast<off_t>(length)) != 0) return os_error("truncate " + name);
  if (durability == Durability::durable && fsync(fd) != 0) return os_error("fsync " + name);
  if (renameat(dirfd, temp.c_str(), dirfd, name.c_str()) != 0) return os_error("rename " + temp + " to " + name);
  if (durability == Durability::durable && fsync(dirfd) != 0) return os_error("fsync the directory of " + name);
  return {};
}

}  // namespace

Result<void> write_file_atomically(int dirfd, const std::string& name, std::string_view content, mode_t mode,
                                   Durability durability) {
  auto temp = create_hidden_temp(dirfd, name, mode);
  if (!temp) return temp.error();
  auto [fd, temp_name] = *temp;
  Result<void> r = write_all(fd, content, 0);
  if (r) r = finish(dirfd, fd, temp_name, name, content.size(), durability);
  close(fd);
  if (!r) {
    unlinkat(dirfd, temp_name.c_str(), 0);
    return r.error().context("write " + name);
  }
  return {};
}

ReservedFile::ReservedFile(ReservedFile&& o) noexcept { *this = std::move(o); }

ReservedFile& ReservedFile::operator=(ReservedFile&& o) noexcept {
  if (this != &o) {
    release();
    dirfd_ = std::exchange(o.dirfd_, -1);
    fd_ = std::exchange(o.fd_, -1);
    name_ = std::move(o.name_);
    temp_name_ = std::move(o.temp_name_);
    mode_ = o.mode_;
  }
  return *this;
}

ReservedFile::~ReservedFile() { release(); }

void ReservedFile::release() {
  if (fd_ < 0) return;
  close(fd_);
  unlinkat(dirfd_, temp_name_.c_str(), 0);
  fd_ = -1;
}

Result<ReservedFile> ReservedFile::reserve(int dirfd, const std::string& name, size_t bytes, mode_t mode) {
  auto temp = create_hidden_temp(dirfd, name, mode);
  if (!temp) return temp.error();
  ReservedFile f;
  f.dirfd_ = dirfd;
  f.fd_ = temp->first;
  f.temp_name_ = temp->second;
  f.name_ = name;
  // The mode the umask left: what commit() restores should the file's owner change it.
  struct stat st {};
  f.mode_ = fstat(f.fd_, &st) == 0 ? st.st_mode & 07777 : mode;
  // fallocate is the cheap way; filesystems without it (9p, some NFS servers) get zeros,
  // which allocate the blocks just the same: overwriting them later needs no new space.
  int err = posix_fallocate(f.fd_, 0, static_cast<off_t>(bytes));
  if (err == EOPNOTSUPP || err == EINVAL) {
    std::string zeros(bytes, '\0');
    if (auto r = write_all(f.fd_, zeros, 0); !r) return r.error().context("reserve space for " + name);
    if (fsync(f.fd_) != 0) return os_error("reserve space for " + name);
  } else if (err != 0) {
    return os_error("reserve space for " + name, err);
  }
  if (unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return os_error("remove the previous " + name);
  remove_stale_reservations(dirfd, name, f.temp_name_);
  return f;
}

std::string ReservedFile::tampering() const {
  if (fd_ < 0) return "nothing is reserved";
  struct stat held {}, there {};
  if (fstat(fd_, &held) != 0) return "the reserved file cannot be examined: " + std::string(strerror(errno));
  if (fstatat(dirfd_, temp_name_.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0) return temp_name_ + " was removed";
  if (same_inode(held, there)) return "";
  return temp_name_ + " was replaced by " + file_type(there.st_mode);
}

Result<void> ReservedFile::commit(std::string_view content) {
  if (fd_ < 0) return make_error("write " + name_ + ": nothing reserved");
  Result<void> r;
  if (tampering().empty()) {
    // The owner of the file may have changed its mode meanwhile.
    if (fchmod(fd_, mode_) != 0) r = os_error("chmod " + temp_name_);
    if (r) r = write_all(fd_, content, 0);
    if (r) r = finish(dirfd_, fd_, temp_name_, name_, content.size(), Durability::durable);
    struct stat held {}, there {};
    if (r && (fstat(fd_, &held) != 0 || fstatat(dirfd_, name_.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0 ||
              !same_inode(held, there)))
      r = make_error(name_ + " was replaced by somebody else while it was being committed");
  } else {
    // Removes the entry, whatever it is; a symbolic link is not followed.
    unlinkat(dirfd_, temp_name_.c_str(), 0);
    r = write_file_atomically(dirfd_, name_, content, mode_);
  }
  close(fd_);
  fd_ = -1;
  if (!r) {
    unlinkat(dirfd_, temp_name_.c_str(), 0);
    return r.error().context("write " + name_);
  }
  return {};
}

}  // namespace smartvm
