// Bearer tokens kept in files (the frontend's --token-file, nodeld's [report] token_file).
#pragma once

#include "error.hpp"

#include <string>

namespace smartvm {

// The file's first line without trailing white space. Refused when the file is not a regular
// file (a FIFO would block the reader; it is never waited on) or is readable by
// everyone (a token anyone on the host can read authenticates nothing) or shorter than 16
// characters.
Result<std::string> read_token_file(const std::string& path);

}  // namespace smartvm
