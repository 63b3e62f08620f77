// The job as the agent's child, held by the agent as a child subreaper: orphans of the job
// become the agent's children, so the job cannot slip away by double-forking. Its processes
// are the agent's descendants (/proc/PID/task/TID/children); the main process and every orphan
// are reaped on SIGCHLD, and what they used comes from wait4(2).
#pragma once

#include "containment.hpp"
#include "job_cgroup.hpp"

#include <boost/asio/signal_set.hpp>

#include <sys/resource.h>

#include <optional>

namespace smartvm::agent {

class SubreaperContainment : public Containment {
 public:
  std::string name() const override { return "subreaper"; }
  Result<pid_t> start(const JobLaunch& launch, boost::asio::io_context& io, Hooks hooks) override;
  size_t process_count() const override;
  bool empty() const override;
  void signal(int sig) override;
  void stop_watching() override;
  JobUsage usage() const override;

 protected:
  // The job cgroup the child is started in; none for the subreaper alone.
  virtual const JobCgroup* job_cgroup() const { return nullptr; }

 private:
  void on_sigchld();

  Hooks hooks_;
  std::optional<boost::asio::signal_set> child_signal_;
  pid_t pid_ = -1;
  bool main_exited_ = false, watching_ = false;
  rusage main_usage_{};
  double orphan_user_ = 0, orphan_system_ = 0;
};

}  // namespace smartvm::agent
