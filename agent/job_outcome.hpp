// How the job ended, in the status record's terms: its state, exit code and signal, what it
// used, and why the agent stopped it. Pure: from what the supervisor and the containment know.
#pragma once

#include "containment.hpp"
#include "status_record.hpp"

#include <chrono>
#include <string>

namespace smartvm::agent {

struct JobEnd {
  int status = 0;  // the main process's, as wait(2) reports it
  JobUsage usage;
  bool timed_out = false;
  int cancelled_by = 0;  // the signal that asked the agent to stop, 0 for none
  std::chrono::seconds timeout{0};
};

void record_end(StatusRecord& record, const JobEnd& end);

// "SIGTERM", or "signal 64" for one without a name.
std::string signal_name(int sig);

}  // namespace smartvm::agent
