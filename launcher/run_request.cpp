#include "run_request.hpp"

#include "ini_document.hpp"
#include "job_domain.hpp"
#include "job_files.hpp"
#include "run_outcome.hpp"
#include "job_preparation.hpp"
#include "job_supervisor.hpp"
#include "slurm_stop.hpp"
#include "small_file.hpp"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>

namespace smartvm::launcher {

using Clock = std::chrono::steady_clock;

DomainPlan plan_for(const Service& s, const JobRequest& request, const std::string& dir) {
  DomainPlan plan;
  plan.name = domain_name_for(request.job_id);
  plan.vcpus = request.cores;
  plan.cpuset = request.cpuset;
  plan.memory_kib = request.memory_bytes >> 10;
  plan.kernel = s.kernel;
  plan.initrd = s.initrd;
  plan.cmdline = s.cmdline;
  plan.overlay = dir + "/disk.qcow2";
  plan.context_iso = dir + "/context.iso";
  plan.network = s.network;
  plan.tap_name = "smv" + std::to_string(getpid());
  plan.console_socket = dir + "/console.sock";
  plan.status_socket = dir + "/status.sock";
  plan.share_dir = s.share;
  plan.share_tag = s.share_tag;
  plan.service = s.name;
  plan.job_id = request.job_id;
  plan.owner = request.owner;
  plan.launcher_pid = getpid();
  plan.job_dir = dir;
  return plan;
}

namespace {

long ms_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

// The node's libvirt is nodeld's ([node] libvirt_uri), so that both see the same domains.
std::string default_libvirt_uri() {
  const char* nodeld_ini = "/etc/smartvm/nodeld.ini";
  if (auto text = read_small_file(nodeld_ini)) {
    IniDocument doc = IniDocument::parse(*text, nodeld_ini);
    if (const IniEntry* e = doc.find("node", "libvirt_uri"); e && !e->value.empty()) return e->value;
  }
  return "qemu:///system";
}

// A signal that came before the domain exists: nothing is started.
int signal_pending(boost::asio::io_context& io, boost::asio::signal_set& signals) {
  int got = 0;
  signals.async_wait([&got](boost::system::error_code ec, int sig) {
    if (!ec) got = sig;
  });
  io.poll();
  if (!got) {
    signals.cancel();
    io.poll();
  }
  io.restart();
  return got;
}

}  // namespace

int launch_job(const Service& s, const JobRequest& request, const RunOptions& o, boost::asio::io_context& io,
               boost::asio::signal_set& signals, Clock::time_point requested) {
  const std::string& id = request.job_id;
  auto say = [&id](const std::string& msg) { std::fprintf(stderr, "smartvm-run: job %s: %s\n", id.c_str(), msg.c_str()); };
  // libvirt first: with libvirtd down, nothing is made.
  std::string uri = o.libvirt_uri.empty() ? default_libvirt_uri() : o.libvirt_uri;
  auto conn = LibvirtConnection::open(uri);
  if (!conn) {
    say(conn.error().message);
    return kExitCannotStart;
  }
  auto files = JobFiles::create(o.runtime_dir, id);
  if (!files) {
    say(files.error().message);
    return kExitCannotStart;
  }
  if (auto r = prepare_job(s, request, o.inputs, *files); !r) {
    say("setup failed on the host: " + r.error().message);
    return kExitSetupFailed;
  }
  if (int sig = signal_pending(io, signals)) {
    say(std::string("got SIG") + sigabbrev_np(sig) + " before the domain started: nothing ran");
    return 128 + sig;
  }
  std::string xml = domain_xml(plan_for(s, request, files->dir()));
  auto create_start = Clock::now();
  auto domain = conn->create_paused(xml);
  if (!domain) {
    say("setup failed on the host: " + domain.error().message);
    return kExitSetupFailed;
  }
  auto created = Clock::now();
  SupervisionSettings settings;
  settings.job_id = id;
  settings.console_socket = files->console_socket();
  settings.status_socket = files->status_socket();
  settings.wall_time = request.wall_time;
  settings.stop_grace = s.stop_grace;
  say("domain " + domain->name() + " on " + uri + ", created in " + std::to_string(ms_between(create_start, created)) +
      " ms, " + std::to_string(ms_between(requested, created)) + " ms after the request");
  Supervision run = supervise_job(io, signals, *domain, settings);
  // Slurm's time limit and scancel both send SIGTERM: slurmctld says which (slurm_stop.hpp).
  if (!request.slurm_job.empty() && run.view.stop == HostView::Stop::signal && run.view.signal == SIGTERM) {
    auto asked = Clock::now();
    auto why = ask_slurm_why_stopped(request.slurm_job);
    std::string took = " (Slurm answered in " + std::to_string(ms_between(asked, Clock::now())) + " ms)";
    if (!why) {
      say("warning: " + why.error().message + "; the SIGTERM counts as a cancellation");
    } else if (*why == SlurmStop::time_limit) {
      run.view.stop = HostView::Stop::slurm_time_limit;
      say("the SIGTERM was the Slurm job's time limit (Reason=TimeLimit), not a scancel" + took);
    } else {
      say("the SIGTERM was not the Slurm job's time limit: a cancellation" + took);
    }
  }
  JobOutcome outcome = decide_outcome(run.view);
  std::fputs(format_status(outcome.record).c_str(), stdout);
  std::fflush(stdout);
  auto printed = Clock::now();
  // A guest that powered itself off after sending its record: libvirt is killing qemu already
  // and removes the transient domain when qemu's monitor closes; destroying it would wait
  // ~200 ms for qemu's death. The files go at once: qemu, which may hold the overlay and the
  // ISO open a few ms more, runs no guest any more. Every other end destroys the domain first.
  bool left_to_libvirt = run.guest_powered_off && outcome.from_guest;
  if (left_to_libvirt) {
    domain->leave_to_libvirt();
    // qemu, exiting meanwhile, unlinks the sockets it listens on (and libvirt does again when it
    // stops the domain): unlinked here first, either of us may find them gone, and the
    // directory's removal never meets an entry that vanishes under it.
    unlink(files->console_socket().c_str());
    unlink(files->status_socket().c_str());
  } else if (auto r = domain->destroy(); !r) {
    say("warning: " + r.error().message);
  }
  if (auto r = files->remove(); !r) say("warning: " + r.error().message);
  // The numbers smartvm-run(8) and bench/launcher_run report: how soon the guest ran, and how
  // soon after the guest was done smartvm-run was.
  std::string timing = "ran " + std::to_string(ms_between(requested, run.resumed)) + " ms after the request";
  if (run.record_came != Clock::time_point{})
    timing += ", end event " + std::to_string(ms_between(run.record_came, run.end_seen)) + " ms after the record";
  if (run.console_last != Clock::time_point{})
    timing += " and " + std::to_string(ms_between(run.console_last, run.end_seen)) + " ms after the guest's last console output";
  say(run.view.ended + " (" + timing + "); the record printed " + std::to_string(ms_between(run.end_seen, printed)) +
      " ms after the end event, " + (left_to_libvirt ? "the files" : "the domain and the files") + " gone " +
      std::to_string(ms_between(run.end_seen, Clock::now())) + " ms after it" +
      (left_to_libvirt ? " (the domain left to libvirt, which removes it: the guest powered off)" : "") +
      "; exit status " + std::to_string(outcome.exit_status));
  return outcome.exit_status;
}


}  // namespace smartvm::launcher
