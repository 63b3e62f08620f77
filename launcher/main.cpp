// smartvm-run: one job request becomes a smart VM on this node. See smartvm-run(8).
#include "run_request.hpp"
#include "run_outcome.hpp"
#include "run_options.hpp"
#include "service_catalog.hpp"
#include "slurm_allocation.hpp"
#include "smartvm_version.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>

using namespace smartvm;
using namespace smartvm::launcher;

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kCannotStart = kExitCannotStart;
constexpr int kNoSuchService = kExitNoSuchService;

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "smartvm-run: %s\nTry 'smartvm-run --help'.\n", msg.c_str());
  return 2;
}

void print(const Diagnostics& ds) {
  for (const Diagnostic& d : ds) std::fprintf(stderr, "%s\n", d.format().c_str());
}

std::string requesting_user() {
  if (passwd* pw = getpwuid(getuid())) return pw->pw_name;
  return std::to_string(getuid());
}

// Unique enough to name a domain on this node: the time and our pid.
std::string generated_job_id() {
  char stamp[32];
  time_t now = time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
  return std::string(stamp) + "-" + std::to_string(getpid());
}

// The Slurm allocation's inputs: the environment and this process's CPU affinity.
std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    if (size_t eq = entry.find('='); eq != std::string_view::npos)
      env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

std::vector<unsigned> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<unsigned> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

}  // namespace

int main(int argc, char** argv) {
  auto requested = Clock::now();
  // From the start: a SIGTERM or SIGINT at any point is handled, never kills smartvm-run with
  // files or a domain left behind.
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  // A reader of stdout that goes away (| head) must not kill smartvm-run with the domain up.
  std::signal(SIGPIPE, SIG_IGN);
  ParsedRunOptions parsed = parse_run_options(std::vector<std::string>(argv + 1, argv + argc));
  switch (parsed.action) {
    case ParsedRunOptions::Action::help: std::fputs(run_usage_text(), stdout); return 0;
    case ParsedRunOptions::Action::version: std::printf("smartvm-run %s\n", kVersion); return 0;
    case ParsedRunOptions::Action::usage_error: return usage_error(parsed.error);
    case ParsedRunOptions::Action::run: break;
  }
  RunOptions& o = parsed.options;
  if (o.check) {
    Diagnostics ds = check_catalog(o.catalog);
    print(ds);
    return has_errors(ds) ? 1 : 0;
  }

  LoadedService loaded;
  if (!o.service.empty()) {
    struct stat st {};
    if (valid_service_name(o.service) && stat((o.catalog + "/" + o.service + ".ini").c_str(), &st) != 0) {
      std::fprintf(stderr, "smartvm-run: no service \"%s\" in %s\n", o.service.c_str(), o.catalog.c_str());
      return kNoSuchService;
    }
    loaded = load_service(o.catalog, o.service);
  } else {
    loaded = load_service_file(o.appliance, "appliance");
  }
  print(loaded.diagnostics);
  if (!loaded.ok()) return kCannotStart;
  const Service& s = loaded.service;
  // In a Slurm job, the VM takes what Slurm gave the job, and never more (smartvm-run(8), SLURM).
  auto allocation = slurm_allocation(environment(), allowed_cpus());
  if (!allocation) {
    std::fprintf(stderr, "smartvm-run: %s\n", allocation.error().message.c_str());
    return kCannotStart;
  }
  if (*allocation) {
    if (auto r = apply_allocation(o, **allocation, {s.max_cores, s.max_memory_bytes}); !r) {
      std::fprintf(stderr, "smartvm-run: %s\n", r.error().message.c_str());
      return kCannotStart;
    }
  }
  auto request = resolve_request(loaded.service, o, requesting_user(), generated_job_id());
  if (!request) {
    std::fprintf(stderr, "smartvm-run: %s\n", request.error().message.c_str());
    return kCannotStart;
  }
  if (*allocation) {
    request->cpuset = cpuset_text((*allocation)->cpuset);
    request->slurm_job = (*allocation)->slurm_job_id;
  }
  if (!o.dry_run) return launch_job(s, *request, o, io, signals, requested);
  DomainPlan plan = plan_for(s, *request, o.runtime_dir + "/" + request->job_id);
  std::printf("# appliance.ini of job %s (wall time %lld s)\n%s\n# domain\n%s", request->job_id.c_str(),
              static_cast<long long>(request->wall_time.count()), request->appliance.c_str(), domain_xml(plan).c_str());
  return 0;
}
