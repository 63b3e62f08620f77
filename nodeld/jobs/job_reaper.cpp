#include "job_reaper.hpp"

#include "job_locks.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <filesystem>

namespace smartvm::nodeld {

namespace fs = std::filesystem;

namespace {

// The names of the real directories directly in `dir` (symlinks are not followed, nor named).
Result<std::set<std::string>> directories_in(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;  // no job has run since boot
  if (ec) return make_error("read " + dir + ": " + ec.message());
  for (const auto& entry : it)
    if (entry.symlink_status(ec).type() == fs::file_type::directory) out.insert(entry.path().filename());
  return out;
}

// Destroys the domain by its UUID (a new run under the same name has another): true when this
// call destroyed it, false when it was gone or stopped already (its directory may go either way).
Result<bool> destroy(LibvirtConnection& connection, const JobDomainRef& d) {
  auto held = connection.lock();
  auto conn = connection.open(held);
  if (!conn) return conn.error();
  virDomainPtr dom = virDomainLookupByUUIDString(*conn, d.uuid.c_str());
  if (!dom) {
    if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) return false;
    auto error = make_error(libvirt_error("look up domain " + d.name));
    connection.close_if_dead(held);
    return error;
  }
  int rc = virDomainDestroy(dom);
  bool gone = rc == 0 || virGetLastErrorCode() == VIR_ERR_NO_DOMAIN || virGetLastErrorCode() == VIR_ERR_OPERATION_INVALID;
  Result<bool> out = rc == 0;
  if (!gone) out = make_error(libvirt_error("destroy domain " + d.name));
  virDomainFree(dom);
  if (!gone) connection.close_if_dead(held);
  return out;
}

void remove_directory(const std::string& dir, CleanupOutcome& out, const std::string& why) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) out.problems.push_back("remove " + dir + ": " + ec.message());
  else out.done.push_back("removed " + dir + " (" + why + ")");
}

}  // namespace

CleanupOutcome clean_up_jobs(LibvirtConnection& connection, const CleanupSettings& settings,
                             const std::vector<JobDomainRef>& domains, const std::set<std::string>& ending_before) {
  CleanupOutcome out;
  CleanupView view;
  view.runtime_dir = settings.runtime_dir;
  view.domains = domains;
  view.ending_before = ending_before;
  auto dirs = directories_in(settings.runtime_dir);
  if (!dirs) {
    out.problems.push_back(dirs.error().message);
    return out;
  }
  view.directories = std::move(*dirs);
  // Held from here to the end of the pass: what is removed is removed while nobody can lock it.
  JobLocks locks;
  for (const std::string& dir : directories_to_probe(view)) view.locks[dir] = locks.probe(dir);
  for (const auto& [dir, why] : locks.errors()) out.problems.push_back(why);
  CleanupPlan plan = plan_job_cleanup(view);
  out.ending = plan.ending;
  for (const OrphanJob& o : plan.orphans) {
    auto destroyed = destroy(connection, o.domain);
    if (!destroyed) {
      out.problems.push_back("job " + o.domain.job.job_id + ": " + destroyed.error().message);
      continue;  // its files stay while its domain may use them
    }
    // Gone by itself meanwhile (its job ended): nothing to say, nothing counted.
    if (*destroyed) {
      ++out.cleaned;
      out.done.push_back("job " + o.domain.job.job_id + " (" + o.domain.job.service + ", " + o.domain.job.owner +
                         "): destroyed domain " + o.domain.name + ": " + o.reason);
    }
    for (const std::string& dir : o.directories) remove_directory(dir, out, "job " + o.domain.job.job_id);
  }
  for (const std::string& dir : plan.leftovers) {
    size_t before = out.problems.size();
    remove_directory(dir, out, "left behind: no job domain uses it and no smartvm-run is making it");
    if (out.problems.size() == before) ++out.cleaned;
  }
  return out;
}

bool JobReaper::start(std::shared_ptr<LibvirtConnection> connection, CleanupSettings settings,
                      std::vector<JobDomainRef> domains, std::function<void(CleanupOutcome)> done) {
  return worker_.run(io_, [this, connection = std::move(connection), settings = std::move(settings),
                           domains = std::move(domains), ending = ending_, done = std::move(done)]() mutable {
    CleanupOutcome outcome;
    try {
      outcome = clean_up_jobs(*connection, settings, domains, ending);
    } catch (const std::exception& e) {
      outcome.problems.push_back(std::string("job cleanup: unexpected failure: ") + e.what());
    }
    // Back on the io_context's thread, where ending_ is read for the next pass.
    return [this, done = std::move(done), outcome = std::move(outcome)]() mutable {
      ending_ = outcome.ending;
      done(std::move(outcome));
    };
  });
}

}  // namespace smartvm::nodeld
