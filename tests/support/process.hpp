// Runs a program to its end with a hard time limit, capturing stdout and stderr. A program that
// overruns is killed by the PID recorded when it was started (never by name).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace smartvm::test {

struct ProcessResult {
  int exit_code = -1;    // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  std::string out, err;
  double seconds = 0;
};

struct ProcessOptions {
  std::vector<std::string> env;  // added to (or replacing in) the test's environment
  std::chrono::milliseconds limit{60000};
  // Called every few milliseconds with the running program's pid; return false to stop polling.
  std::function<bool(pid_t)> while_running;
};

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& opts = {});

// Whether `pid` names a live (non-zombie) process.
bool process_alive(pid_t pid);

}  // namespace smartvm::test
