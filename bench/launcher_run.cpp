// Whole jobs through smartvm-run against a private libvirtd (tests/support/libvirtd, under its
// subreaper) booting the tiny guest as a TCG domain: how soon after the request the guest runs
// (against libvirt's own create time), how soon after the guest is done smartvm-run sees it
// (the agent's record, sent right before its power-off, to libvirt's end event) and has cleaned
// up and exited, how long libvirt then takes to remove the domain by itself (one at a time
// only), and the whole job; then N jobs at once. The numbers are smartvm-run's own account on
// stderr (smartvm-run(8), OUTPUT).
//
// Usage (root): bench_launcher_run [RUNS, default 5] [CONCURRENT, default 4]
#include "bench_numbers.hpp"
#include "libvirtd.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "tiny_service.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <vector>

using namespace smartvm::test;
using namespace smartvm::bench;
namespace fs = std::filesystem;

namespace {

struct Numbers {
  double create_ms = -1, ran_ms = -1, record_to_event_ms = -1, console_to_event_ms = -1, event_to_print_ms = -1,
         event_to_clean_ms = -1, exit_to_domain_gone_ms = -1, whole_s = -1;
  int exit_code = -1;
};

Numbers numbers_of(const ProcessResult& r) {
  Numbers n;
  n.exit_code = r.exit_code;
  n.whole_s = r.seconds;
  n.create_ms = grab(r.err, "created in ([0-9]+) ms");
  n.ran_ms = grab(r.err, "ran ([0-9]+) ms after the request");
  n.record_to_event_ms = grab(r.err, "end event ([0-9]+) ms after the record");
  n.console_to_event_ms = grab(r.err, "([0-9]+) ms after the guest's last console output");
  n.event_to_print_ms = grab(r.err, "the record printed ([0-9]+) ms after the end event");
  n.event_to_clean_ms = grab(r.err, "the files gone ([0-9]+) ms after it");
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  int concurrent = argc > 2 ? std::atoi(argv[2]) : 4;
  std::string guest = SMARTVM_GUEST_DIR;
  if (!fs::exists(guest + "/vmlinux")) {
    std::fprintf(stderr, "bench_launcher_run: no %s/vmlinux: build the guest first (ctest -R vm-guest-build)\n", guest.c_str());
    return 1;
  }
  TempDir t;
  Libvirtd libvirtd(t);
  MachineCgroupsCleanup cleanup("smartvm-");
  if (!libvirtd.start()) {
    std::fprintf(stderr, "bench_launcher_run: libvirtd did not start:\n%s\n", libvirtd.log().c_str());
    return 1;
  }
  write_tiny_service(t.path(), guest);
  auto args = [&](const std::string& id) {
    return std::vector<std::string>{SMARTVM_RUN_PATH, "--catalog", (t / "catalog").string(), "--service", "tiny",
                                    "--runtime-dir", (t / "jobs").string(), "--connect", libvirtd.qemu_uri(),
                                    "--job-id", id};
  };
  ProcessOptions o;
  o.limit = std::chrono::seconds(180);
  // The first create makes libvirtd probe qemu (seconds): not a job's cost.
  run_process(args("warm-up"), o);

  std::vector<Numbers> seq;
  for (int i = 0; i < runs; ++i) {
    seq.push_back(numbers_of(run_process(args("seq-" + std::to_string(i)), o)));
    // After smartvm-run's exit, libvirt removes the domain of a guest that powered itself off.
    if (auto gone = wait_domains_gone(libvirtd.qemu_uri(), std::chrono::seconds(10)))
      seq.back().exit_to_domain_gone_ms = double(gone->count());
  }

  // N at once: each smartvm-run in a child of its own, all started together.
  std::vector<Numbers> par(size_t(std::max(concurrent, 0)));
  std::vector<pid_t> kids;
  TempDir out;
  for (int i = 0; i < concurrent; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      ProcessResult r = run_process(args("par-" + std::to_string(i)), o);
      Numbers n = numbers_of(r);
      write_file(out / std::to_string(i),
                 std::to_string(n.exit_code) + " " + std::to_string(n.create_ms) + " " + std::to_string(n.ran_ms) + " " +
                     std::to_string(n.record_to_event_ms) + " " + std::to_string(n.console_to_event_ms) + " " +
                     std::to_string(n.event_to_print_ms) + " " + std::to_string(n.event_to_clean_ms) + " " +
                     std::to_string(n.whole_s) + "\n");
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) waitpid(k, nullptr, 0);
  // libvirt removes the domains of guests that powered off by themselves; one still there after
  // that (a job killed at its limit) would leave its qemu behind.
  wait_domains_gone(libvirtd.qemu_uri(), std::chrono::seconds(10));
  destroy_domains(libvirtd.qemu_uri());
  int par_ok = 0;
  for (int i = 0; i < concurrent; ++i) {
    Numbers& n = par[size_t(i)];
    if (std::sscanf(read_file(out / std::to_string(i)).c_str(), "%d %lf %lf %lf %lf %lf %lf %lf", &n.exit_code, &n.create_ms,
                    &n.ran_ms, &n.record_to_event_ms, &n.console_to_event_ms, &n.event_to_print_ms, &n.event_to_clean_ms,
                    &n.whole_s) == 8 &&
        n.exit_code == 0)
      ++par_ok;
  }

  auto row = [](const char* what, const std::vector<Numbers>& v) {
    std::vector<double> c, r, over, e, console, print, clean, exit, gone, whole;
    int ok = 0;
    for (const Numbers& n : v) {
      ok += n.exit_code == 0;
      c.push_back(n.create_ms);
      r.push_back(n.ran_ms);
      over.push_back(n.ran_ms - n.create_ms);
      e.push_back(n.record_to_event_ms);
      console.push_back(n.console_to_event_ms);
      print.push_back(n.event_to_print_ms);
      clean.push_back(n.event_to_clean_ms);
      exit.push_back(n.console_to_event_ms + n.event_to_clean_ms);
      gone.push_back(n.exit_to_domain_gone_ms);
      whole.push_back(n.whole_s);
    }
    double g = median(gone);
    std::printf("| %s | %d/%zu | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s | %.1f |\n", what, ok, v.size(),
                median(c), median(r), median(over), median(e), median(console), median(print), median(clean), median(exit),
                g < 0 ? "-" : std::to_string(long(g)).c_str(), median(whole));
  };
  std::printf("| jobs | exit 0 | virDomainCreateXML, ms | request to guest running, ms | of it not libvirt's create, ms "
              "| record to end event, ms | guest's last console output to end event, ms | end event to record printed, ms "
              "| end event to files gone (and the domain, where smartvm-run destroys it), ms "
              "| guest's last console output to smartvm-run's exit, ms | smartvm-run's exit to domain gone (libvirt), ms "
              "| whole job, s |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  row("one at a time (median)", seq);
  row(("" + std::to_string(concurrent) + " at once (median)").c_str(), par);
  return par_ok == concurrent ? 0 : 1;
}
