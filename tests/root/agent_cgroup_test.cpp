// The job's cgroup: the job's process is started in it (clone3 with CLONE_INTO_CGROUP), joins
// it through cgroup.procs where clone3 is refused, and the agent moves itself out of its own
// cgroup only when a controller has to be enabled there.
#include "agent_harness.hpp"
#include "child_exec.hpp"
#include "job_cgroup.hpp"

#include "catch_result.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

using namespace smartvm;
using namespace smartvm::agent;
using namespace smartvm::test;

namespace {

// A cgroup and the cgroups below it, deepest first (their files go with them; they are empty
// of processes by then).
void remove_cgroups(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_directory(ec)) remove_cgroups(e.path());
  rmdir(dir.c_str());
}

// A cgroup of the unified hierarchy for one test, removed (with what is below it) at the end.
class TestCgroup {
 public:
  TestCgroup() {
    std::string root = find_unified_mount();
    if (root.empty()) return;
    path_ = root + "/smartvm-test-spawn." + std::to_string(getpid());
    if (mkdir(path_.c_str(), 0755) != 0) path_.clear();
  }
  ~TestCgroup() {
    if (!path_.empty()) remove_cgroups(path_);
  }
  const std::string& path() const { return path_; }
  // The "0::" path of the unified hierarchy, as /proc/PID/cgroup names it.
  std::string relative() const { return path_.substr(find_unified_mount().size()); }

 private:
  std::string path_;
};

std::string unified_cgroup_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return {};
}

// Spawns `sleep 5` as root with the given cgroup descriptors and returns, once it has exec'd,
// the unified cgroup it runs in; the child is killed and reaped.
std::string spawned_in(int cgroup_dir_fd, int cgroup_procs_fd) {
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC)), workdir(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  int pipe_fds[2];
  REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
  UniqueFd err_r(pipe_fds[0]), err_w(pipe_fds[1]);
  char path[] = "/bin/sleep", arg0[] = "sleep", arg1[] = "5";
  char* argv[] = {arg0, arg1, nullptr};
  char* envp[] = {nullptr};
  ChildPlan plan;
  plan.path = path;
  plan.argv = argv;
  plan.envp = envp;
  plan.stdin_fd = plan.stdout_fd = plan.stderr_fd = devnull.get();
  plan.cgroup_dir_fd = cgroup_dir_fd;
  plan.cgroup_procs_fd = cgroup_procs_fd;
  plan.workdir_fd = workdir.get();
  plan.parent = getpid();
  plan.error_fd = err_w.get();
  pid_t pid = spawn_child(plan);
  REQUIRE(pid > 0);
  err_w.reset();
  ChildFailure failure{};
  ssize_t n = read(err_r.get(), &failure, sizeof failure);  // 0: exec'd (the pipe closed)
  std::string where = n == 0 ? unified_cgroup_of(pid) : "failed at " + std::string(describe(failure.step));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return where;
}

}  // namespace

TEST_CASE("the job's process starts in its cgroup, with no write to cgroup.procs", "[root][agent]") {
  REQUIRE_ROOT();
  TestCgroup cg;
  if (cg.path().empty()) {
    WARN("skipped: no writable cgroup2 hierarchy");
    return;
  }
  UniqueFd dir(open(cg.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir.valid());
  // No cgroup.procs to write: only clone3(CLONE_INTO_CGROUP) puts the child there.
  CHECK(spawned_in(dir.get(), -1) == cg.relative());
}

TEST_CASE("where clone3 refuses the directory, the job's process joins its cgroup through cgroup.procs",
          "[root][agent]") {
  REQUIRE_ROOT();
  TestCgroup cg;
  if (cg.path().empty()) {
    WARN("skipped: no writable cgroup2 hierarchy");
    return;
  }
  TempDir plain;  // not a cgroup: clone3 says EBADF, as it does for a cgroup v1 directory
  UniqueFd not_a_cgroup(open(plain.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd procs(open((cg.path() + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  REQUIRE(procs.valid());
  CHECK(spawned_in(not_a_cgroup.get(), procs.get()) == cg.relative());
}

TEST_CASE("the agent stays in its own cgroup when there is no controller to enable there", "[root][agent]") {
  REQUIRE_ROOT();
  TestCgroup cg;
  if (cg.path().empty()) {
    WARN("skipped: no writable cgroup2 hierarchy");
    return;
  }
  // The agent runs in <test>/agent; <test> enables nothing for its children, so the agent's
  // cgroup offers no controller, and moving the agent into a "supervisor" leaf (a migration,
  // milliseconds of RCU grace period) would buy nothing.
  REQUIRE(mkdir((cg.path() + "/agent").c_str(), 0755) == 0);
  AgentScenario s;
  s.write_job("[job]\nuser = nobody\nworkdir = job\ncommand = /bin/sh\nargs = -c 'cat /proc/self/cgroup > cgroup.txt'\n");
  auto r = s.run_shell("sh -c \"echo \\$\\$ > " + cg.path() + "/agent/cgroup.procs && exec $AGENT --context $T/ctx --power none\"");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->containment == "cgroup");
  CHECK(!std::filesystem::exists(cg.path() + "/agent/supervisor"));
  // The job ran in a cgroup of its own below the agent's.
  CHECK(read_file(s.repo() / "job/cgroup.txt").find("0::" + cg.relative() + "/agent/smartvm-job.") != std::string::npos);
}
