// The guest's console as smartvm-run prints it: whole lines, each with the job's id before
// it, so that the output of several jobs (one Slurm log, a terminal) stays readable. The
// serial line's carriage returns go. Pure: bytes in, text out.
#pragma once

#include <string>
#include <string_view>

namespace smartvm::launcher {

class ConsoleLines {
 public:
  explicit ConsoleLines(std::string job_id) : prefix_(std::move(job_id) + ": ") {}
  // The complete lines in `chunk` (and what came before it), prefixed; a partial line waits.
  std::string feed(std::string_view chunk);
  // What is left of a last line without its newline, prefixed and ended ("" if none).
  std::string flush();

 private:
  std::string prefix_;
  std::string partial_;
};

}  // namespace smartvm::launcher
