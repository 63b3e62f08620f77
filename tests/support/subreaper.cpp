// smartvm-test-subreaper COMMAND [ARG]...: runs COMMAND as a child subreaper's child, reaps
// every orphan of its tree at once, passes SIGTERM, SIGINT and SIGHUP on to COMMAND, and exits
// as COMMAND did. Under it, a private libvirtd sees its qemu processes exit when they exit:
// PID 1 on the test machines reaps orphans late, and libvirt learned of a domain's end 1.2-2 s
// after the fact (TESTBED.md).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <initializer_list>

namespace {
volatile sig_atomic_t child = 0;
void pass_on(int sig) {
  if (child > 0) kill(child, sig);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: smartvm-test-subreaper COMMAND [ARG]...\n");
    return 2;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::perror("smartvm-test-subreaper: PR_SET_CHILD_SUBREAPER");
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = pass_on;
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[1], argv + 1);
    std::perror("smartvm-test-subreaper: exec");
    _exit(127);
  }
  child = pid;
  for (;;) {
    int status = 0;
    pid_t w = waitpid(-1, &status, 0);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return 1;
    if (w == pid) {
      // The command's own orphans (a qemu libvirtd left) are reaped too before we go.
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}
