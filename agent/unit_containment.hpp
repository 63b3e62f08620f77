// The job as a transient service of systemd's (job_unit.hpp), free of the agent's own
// sandbox. systemd's signals on the agent's connection say when the unit changes, its main
// process's end among them; systemd signals the job's processes; the unit's cgroup, observed,
// counts them and says what they used.
#pragma once

#include "containment.hpp"
#include "job_cgroup.hpp"
#include "job_unit.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <optional>

namespace smartvm::agent {

class UnitContainment : public Containment {
 public:
  // `own_unit`: the agent's service, which the job's unit is stopped after.
  explicit UnitContainment(std::string own_unit) : own_unit_(std::move(own_unit)) {}

  std::string name() const override { return started_ ? "systemd" : ""; }
  std::string where() const override;
  Result<pid_t> start(const JobLaunch& launch, boost::asio::io_context& io, Hooks hooks) override;
  size_t process_count() const override;
  void signal(int sig) override;
  double cpu_seconds() const override;
  void release() override;
  bool holds_output_writers() const override { return true; }
  void stop_watching() override;
  JobUsage usage() const override;

 private:
  Result<void> start_unit(const JobLaunch& launch);
  void watch();
  void on_event();

  std::string own_unit_;
  Hooks hooks_;
  boost::asio::io_context* io_ = nullptr;
  bool started_ = false, main_exited_ = false, watching_ = false;
  std::optional<JobUnit> unit_;
  std::optional<JobCgroup> cgroup_;                         // the unit's, observed
  std::optional<JobCgroup::Usage> final_usage_;              // read before the unit went away
  std::optional<boost::asio::posix::stream_descriptor> bus_watch_;  // a dup of the unit's connection
  unsigned watched_generation_ = 0;
  std::optional<boost::asio::steady_timer> retry_;
};

}  // namespace smartvm::agent
