// Runs a job's domain from its paused start to its end, on one Asio loop: connects to the
// guest's console and status channel (the guest blocks on the channel until the host is
// there, so before the domain is resumed), relays the console to stdout line by line with the
// job's id, collects the status record, ends when libvirt's lifecycle event says the guest is
// done (never by polling), and stops the domain itself when the wall time runs out or
// smartvm-run is told to stop: an orderly shutdown, destroyed after the grace (at once on a
// second signal). Slurm's suspend (SIGTSTP) pauses the domain and SIGCONT resumes it, the wall
// time not counting the pause. Returns as soon as the outcome is known: the domain may still be going
// (its owner destroys it, or leaves a guest that powered itself off to libvirt).
#pragma once

#include "job_domain.hpp"
#include "run_outcome.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace smartvm::launcher {

struct SupervisionSettings {
  std::string job_id;
  std::string console_socket, status_socket;
  std::chrono::seconds wall_time{3600};
  std::chrono::seconds stop_grace{60};
  std::FILE* console_out = stdout;  // the guest's console, line by line
  std::FILE* log = stderr;          // smartvm-run's own messages
};

struct Supervision {
  HostView view;
  // When the guest was let run, when the last of the record came, when the guest's console
  // last said something (its kernel's "Power down": the power-off), when the end event came,
  // when the domain was gone and the channel drained.
  std::chrono::steady_clock::time_point resumed, record_came, console_last, end_seen, finished;
  // The guest powered itself off (libvirt's SHUTDOWN event with detail GUEST, smartvm-run having
  // asked for no stop): libvirt's QEMU driver kills qemu itself and removes the transient domain
  // when qemu's monitor closes, so the domain need not be destroyed (smartvm-run(8)).
  bool guest_powered_off = false;
};

// `signals` is the set smartvm-run holds from its start (SIGTERM, SIGINT), so that a signal
// that came during preparation cancels the job as soon as it runs.
Supervision supervise_job(boost::asio::io_context& io, boost::asio::signal_set& signals, JobDomain& domain,
                          const SupervisionSettings& settings);

}  // namespace smartvm::launcher
