// A daemon under test (the frontend, nodeld): started by fork/exec with its stderr in a log
// file, waited for by a line it logs, stopped by the PID recorded when it was started.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace smartvm::test {

class BackgroundProcess {
 public:
  // `env`: NAME=VALUE entries added to the test's environment.
  BackgroundProcess(std::vector<std::string> argv, std::string log_path, std::vector<std::string> env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // Waits until the log holds `marker` (after `skip` bytes); returns the text that follows it on
  // its line, or nullopt-like "" with found=false after `limit`.
  bool wait_for_log(const std::string& marker, std::string* rest = nullptr,
                    std::chrono::milliseconds limit = std::chrono::seconds(10), size_t skip = 0) const;
  // The port of "MARKER PORT" in the log ("listening on 127.0.0.1:" -> 8650); 0 if never logged.
  int wait_for_port(const std::string& marker, std::chrono::milliseconds limit = std::chrono::seconds(10)) const;
  std::string log() const;
  void signal(int sig) const;
  // SIGTERM (then SIGKILL after 10 s), reaps; the exit status, or -1 for a signal death.
  int stop();
  pid_t pid() const { return pid_; }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
};

// Waits until process `pid` runs a program whose comm is `comm` (after its exec: a signal
// before that reaches a copy of the test binary, whose Catch handler reports it as a failure).
bool wait_for_comm(pid_t pid, const std::string& comm, std::chrono::milliseconds limit = std::chrono::seconds(5));

// How many times `text` (a daemon's log) holds `what`: for messages that must be said once.
size_t occurrences(const std::string& text, const std::string& what);

}  // namespace smartvm::test
