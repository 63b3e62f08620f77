// The agent's ten steps as one function over System: find and mount the context, read and
// validate the job, mount the repository (with retries), prepare the workdir, run the job,
// record its status, clean up, power off. It decides what happens when a step fails; it does
// nothing to the guest itself.
#pragma once

#include "options.hpp"
#include "system.hpp"

#include <chrono>
#include <string>

namespace smartvm::agent {

struct AgentResult {
  int exit_code = 1;                    // 0 job ran and recorded, 1 setup or recording failed
  std::optional<StatusRecord> status;   // what was (or should have been) recorded
  PowerAction power = PowerAction::poweroff;  // the action carried out (not in dry runs)
  std::string plan;                           // what a dry run would do
};

// How long each part of a run may take. The unit's TimeoutStartSec (20 min) is above
// setup + watchdog_margin, so that the agent's own bound, then its watchdog, act first.
struct Limits {
  std::chrono::seconds setup{15 * 60};          // from the start until the job runs
  std::chrono::seconds mount_attempt{60};       // one repository mount attempt
  std::chrono::seconds wrap_up{5 * 60};         // recording, unmounting, the power request
  std::chrono::seconds watchdog_margin{2 * 60};  // past a bound before the watchdog acts
};

AgentResult run_agent(const Options& options, System& system, const Limits& limits = {});

// The delay before repository mount attempt `attempt` (2, 3, ...): retry_delay, doubling
// after each failure, at most 8 times retry_delay.
std::chrono::seconds retry_delay_before(unsigned attempt, std::chrono::seconds retry_delay);

}  // namespace smartvm::agent
