// Files that are either wholly there or not there at all, even across a power cut: write a
// temporary file in the same directory, fsync it, rename it over the target, fsync the
// directory. Readers never see a half-written file.
#pragma once

#include "error.hpp"

#include <fcntl.h>

#include <string>
#include <string_view>
#include <sys/types.h>

namespace smartvm {

enum class Durability { atomic_only, durable };

// Atomically replaces `name` in the directory `dirfd` (opened O_RDONLY|O_DIRECTORY) with
// `content`. With Durability::durable the data and the rename are on stable storage when it
// returns. On failure the target is unchanged and no temporary file remains.
Result<void> write_file_atomically(int dirfd, const std::string& name, std::string_view content, mode_t mode,
                                   Durability durability = Durability::durable);

// Writes all of `data` at `offset` (pwrite, again after a short write or EINTR).
Result<void> write_all(int fd, std::string_view data, off_t offset);

// Creates ".<name>.XXXXXXXX" (8 random hex digits) in `dirfd` exclusively, never through a
// symbolic link, opened with `access_mode` (O_WRONLY or O_RDWR): a name nobody else holds.
Result<std::pair<int, std::string>> create_hidden_temp(int dirfd, const std::string& name, mode_t mode,
                                                       int access_mode = O_WRONLY);

// A file whose disk space is allocated up front and whose content is committed later.
// The agent reserves the status file before the job starts, so that a job that fills the
// repository cannot prevent its own exit status from being recorded.
class ReservedFile {
 public:
  ReservedFile() = default;
  ReservedFile(ReservedFile&& o) noexcept;
  ReservedFile& operator=(ReservedFile&& o) noexcept;
  ~ReservedFile();  // removes the temporary file unless committed

  // Also removes what an earlier holder of the same name left: `name` itself (a previous
  // run's record must not be read as this run's while it goes on) and reservations of agents
  // that were killed before they could commit (".name.XXXXXXXX" regular files).
  static Result<ReservedFile> reserve(int dirfd, const std::string& name, size_t bytes, mode_t mode);

  // Empty while the temporary name still holds the file reserved; otherwise what is there
  // now ("it was removed", "a symbolic link stands in its place", ...). The directory is
  // shared with the job, which may have replaced it.
  std::string tampering() const;

  // Writes `content` through the descriptor held since reserve(), then fsync, rename over the
  // target, fsync the directory, and checks that the target is that very file. When the
  // temporary name no longer holds it (see tampering()), whatever stands there is removed and
  // the content written anew through a fresh exclusive file: never is a file that somebody
  // else made renamed into place.
  Result<void> commit(std::string_view content);


 private:
  void release();
  int dirfd_ = -1;  // not owned
  int fd_ = -1;
  std::string name_, temp_name_;
  mode_t mode_ = 0644;
};

}  // namespace smartvm
