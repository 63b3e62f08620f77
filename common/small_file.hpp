// Reading a whole small file (configurations, contexts, kernel files) into memory.
#pragma once

#include "error.hpp"

#include <string>

namespace smartvm {

// Refuses anything over `limit` bytes rather than reading an unbounded file.
Result<std::string> read_small_file(const std::string& path, size_t limit = 1 << 20);
// The same from an open descriptor (read from where it is); `path` names it in errors.
Result<std::string> read_small_fd(int fd, const std::string& path, size_t limit = 1 << 20);

}  // namespace smartvm
