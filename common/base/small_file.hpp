// Reading a whole small file (configurations, contexts, kernel files) into memory, and writing
// one value to a kernel file.
#pragma once

#include "error.hpp"

#include <string>
#include <string_view>

namespace smartvm {

// Refuses anything over `limit` bytes rather than reading an unbounded file.
Result<std::string> read_small_file(const std::string& path, size_t limit = 1 << 20);
// The same from an open descriptor (read from where it is); `path` names it in errors.
Result<std::string> read_small_fd(int fd, const std::string& path, size_t limit = 1 << 20);

// One write(2) of the whole value to an existing file: sysctls and cgroup files take one value
// (one rule) per write, and a short write is an error, not a retry.
Result<void> write_kernel_file(const std::string& path, std::string_view value);

}  // namespace smartvm
