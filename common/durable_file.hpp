// Files that are either wholly there or not there at all, even across a power cut: write a
// temporary file in the same directory, fsync it, rename it over the target, fsync the
// directory. Readers never see a half-written file.
#pragma once

#include "error.hpp"

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

// A file whose disk space is allocated up front and whose content is committed later.
// The agent reserves the status file before the job starts, so that a job that fills the
// repository cannot prevent its own exit status from being recorded.
class ReservedFile {
 public:
  ReservedFile() = default;
  ReservedFile(ReservedFile&& o) noexcept;
  ReservedFile& operator=(ReservedFile&& o) noexcept;
  ~ReservedFile();  // removes the temporary file unless committed

  static Result<ReservedFile> reserve(int dirfd, const std::string& name, size_t bytes, mode_t mode);

  // Writes `content` into the reserved space, then fsync, rename over the target, fsync the
  // directory. Falls back to write_file_atomically when the temporary file was removed.
  Result<void> commit(std::string_view content);


 private:
  void release();
  int dirfd_ = -1;  // not owned
  int fd_ = -1;
  std::string name_, temp_name_;
  mode_t mode_ = 0644;
};

}  // namespace smartvm
