// A disk writer for the benchmarks' loaded runs: dd writing the disk under `dir` directly
// (oflag=direct, so the page cache absorbs nothing), over and over, until stopped.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace smartvm::bench {

class DiskWriter {
 public:
  // Starts writing `dir`/load.bin (1 GiB, rewritten in place).
  explicit DiskWriter(const std::string& dir) {
    pid_ = fork();
    if (pid_ > 0) setpgid(pid_, pid_);  // also here: a stop right away must find the group
    if (pid_ != 0) return;
    setpgid(0, 0);  // the loop and its dd, stopped together by the group's id
    std::string of = "of=" + dir + "/load.bin";
    for (;;) {
      pid_t dd = fork();
      if (dd == 0) {
        execl("/bin/dd", "dd", "if=/dev/zero", of.c_str(), "bs=1M", "count=1024", "oflag=direct", "conv=notrunc",
              "status=none", static_cast<char*>(nullptr));
        _exit(127);
      }
      int st = 0;
      if (dd < 0 || waitpid(dd, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) _exit(1);
    }
  }
  DiskWriter(const DiskWriter&) = delete;
  DiskWriter& operator=(const DiskWriter&) = delete;
  ~DiskWriter() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGKILL);  // the group made at its start: the loop and its dd
    waitpid(pid_, nullptr, 0);
  }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

}  // namespace smartvm::bench
