#include "background_process.hpp"

#include "temp_dir.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace smartvm::test {

BackgroundProcess::BackgroundProcess(std::vector<std::string> argv, std::string log_path, std::vector<std::string> env)
    : log_path_(std::move(log_path)) {
  unlink(log_path_.c_str());  // an earlier run's lines must not be read as this one's
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    for (std::string& e : env) putenv(e.data());
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

BackgroundProcess::~BackgroundProcess() { stop(); }

std::string BackgroundProcess::log() const {
  if (access(log_path_.c_str(), F_OK) != 0) return "";
  return read_file(log_path_);
}

bool BackgroundProcess::wait_for_log(const std::string& marker, std::string* rest, std::chrono::milliseconds limit,
                                     size_t skip) const {
  auto until = std::chrono::steady_clock::now() + limit;
  do {
    std::string text = log();
    if (size_t at = text.find(marker, skip); at != std::string::npos) {
      if (rest) {
        size_t from = at + marker.size();
        *rest = text.substr(from, text.find('\n', from) - from);
      }
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

int BackgroundProcess::wait_for_port(const std::string& marker, std::chrono::milliseconds limit) const {
  std::string rest;
  return wait_for_log(marker, &rest, limit) ? std::atoi(rest.c_str()) : 0;
}

void BackgroundProcess::signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

int BackgroundProcess::stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int st = 0;
  for (int i = 0; i < 1000; ++i) {
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &st, 0);
  pid_ = -1;
  return -1;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

bool wait_for_comm(pid_t pid, const std::string& comm, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  std::string path = "/proc/" + std::to_string(pid) + "/comm";
  while (read_file(path) != comm + "\n") {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace smartvm::test
