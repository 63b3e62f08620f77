#include "run_node.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

namespace smartvm::test {
namespace fs = std::filesystem;

RunNode::RunNode() : libvirtd_(t_), cleanup_("smartvm-") {
  fs::create_directories(t_ / "catalog");
  ProcessResult img = run_process({"/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", (t_ / "base.qcow2").string(), "64M"});
  REQUIRE(img.exit_code == 0);
  REQUIRE(libvirtd_.start());
}

// A failed check may leave a job's domain running (its smartvm-run killed at the time limit),
// and a qemu outlives its libvirtd: every domain goes before the libvirtd does.
RunNode::~RunNode() { destroy_domains(libvirtd_.qemu_uri()); }

void RunNode::service(const std::string& name, const std::string& script, const std::string& repository) {
  std::string guest = SMARTVM_GUEST_DIR;
  write_file(t_ / "catalog" / (name + ".ini"),
             "[service]\nimage = " + (t_ / "base.qcow2").string() + "\nmemory = 256M\nwall_time = 60\n"
             "network = none\nstop_grace = 2\nkernel = " + guest + "/vmlinux\ninitrd = " + guest +
             "/initrd.gz\ncmdline = console=ttyS0 quiet panic=1 smartvm.port\n"
             "[job]\ncommand = /bin/sh\nargs = -c '" + script + "'\nuser = root\nallow_root = true\nworkdir = run\n" +
             repository);
}

std::vector<std::string> RunNode::run_args(const std::string& service, const std::string& job_id,
                                           const std::string& uri) const {
  std::vector<std::string> args{SMARTVM_RUN_PATH, "--catalog", (t_ / "catalog").string(), "--service", service,
                                "--runtime-dir", jobs(), "--connect", uri.empty() ? libvirtd_.qemu_uri() : uri};
  if (!job_id.empty()) args.insert(args.end(), {"--job-id", job_id});
  return args;
}

ProcessResult RunNode::run(const std::string& service, const std::string& job_id, std::vector<std::string> extra,
                           std::function<bool(pid_t)> while_running) const {
  std::vector<std::string> argv = run_args(service, job_id);
  argv.insert(argv.end(), extra.begin(), extra.end());
  ProcessOptions o;
  o.limit = std::chrono::seconds(90);
  o.while_running = std::move(while_running);
  return run_process(argv, o);
}

void RunNode::check_nothing_left() const {
  // The files at once: smartvm-run removes them before it exits, on every path.
  std::string left;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(jobs(), ec)) left += e.path().string() + "\n";
  INFO("left in " << jobs() << ":\n" << left);
  CHECK(left.empty());
  // The domain of a guest that powered itself off is libvirt's to remove (smartvm-run(8)): it
  // goes by itself within moments of smartvm-run's exit. A bound, not a timing: a domain still
  // here after it is left behind.
  CHECK(wait_domains_gone(libvirtd_.qemu_uri(), std::chrono::seconds(10)).has_value());
}

std::optional<StatusRecord> record_in(const std::string& out) {
  // The record follows the console, whose lines all start with the job's id.
  size_t at = out.rfind("state=", 0) == 0 ? 0 : out.find("\nstate=");
  if (at == std::string::npos) return std::nullopt;
  auto parsed = parse_status(out.substr(at == 0 ? 0 : at + 1));
  if (!parsed) return std::nullopt;
  return *parsed;
}

StatusRecord expect(const ProcessResult& r, int exit_code, JobState state) {
  CHECK(r.exit_code == exit_code);
  auto rec = record_in(r.out);
  REQUIRE(rec);
  CHECK(rec->state == state);
  return *rec;
}

}  // namespace smartvm::test
