// A problem found in a configuration file, located by file and line so that a sysadmin can
// jump to it: "appliance.ini:12: [job] timeout: ...".
#pragma once

#include <string>
#include <vector>

namespace smartvm {

struct Diagnostic {
  enum class Severity { error, warning };
  Severity severity = Severity::error;
  std::string file;
  int line = 0;  // 0 when the problem is the file as a whole (a missing key, say)
  std::string message;

  std::string format() const;  // "file:line: message", or "file: message" without a line
};

using Diagnostics = std::vector<Diagnostic>;

bool has_errors(const Diagnostics& ds);

}  // namespace smartvm
