#include "context_document.hpp"
#include "small_file.hpp"
#include "job_spec.hpp"

#include <catch2/catch.hpp>

using namespace smartvm;
using namespace std::chrono_literals;

namespace {

LoadedJobSpec load(const std::string& text) { return load_job_spec(IniDocument::parse(text, "appliance.ini")); }

std::vector<std::string> errors(const LoadedJobSpec& l) {
  std::vector<std::string> out;
  for (const auto& d : l.diagnostics)
    if (d.severity == Diagnostic::Severity::error) out.push_back(d.format());
  return out;
}

const char* kFull = R"([job]
command = /opt/solver/bin/solve
args = --input "in put.dat" -t 4
workdir = runs/42
user = svc
group = staff
umask = 0027
timeout = 3600
kill_grace = 30
stdout = stdout.log
stderr = logs/stderr.log
output_limit = 64M

[env]
OMP_NUM_THREADS = 4

[repository]
type = nfs
source = 10.10.0.1:/export/adr
mountpoint = /mnt/adr
options = vers=4.2,proto=tcp
attempts = 10
retry_delay = 2

[status]
file = exit_status
heartbeat = 10

[power]
action = poweroff
delay = 0
)";

}  // namespace

TEST_CASE("the DESIGN.md example appliance.ini loads completely", "[job_spec]") {
  auto l = load(kFull);
  REQUIRE(l.diagnostics.empty());
  const JobSpec& s = l.spec;
  CHECK(s.command == "/opt/solver/bin/solve");
  CHECK(!s.command_in_repository);
  CHECK(s.args == std::vector<std::string>{"--input", "in put.dat", "-t", "4"});
  CHECK(s.workdir == "runs/42");
  CHECK(s.user == "svc");
  CHECK(s.group == "staff");
  CHECK(s.umask == 0027);
  CHECK(s.timeout == 3600s);
  CHECK(s.kill_grace == 30s);
  CHECK(s.stdout_path == "runs/42/stdout.log");
  CHECK(s.stderr_path == "runs/42/logs/stderr.log");
  CHECK(s.output_limit == 64ull << 20);
  CHECK(s.env == std::vector<std::pair<std::string, std::string>>{{"OMP_NUM_THREADS", "4"}});
  CHECK(s.repository.type == RepositoryType::nfs);
  CHECK(s.repository.source == "10.10.0.1:/export/adr");
  CHECK(s.repository.options == "vers=4.2,proto=tcp");
  CHECK(s.repository.attempts == 10);
  CHECK(s.status_path == "runs/42/exit_status");
  CHECK(s.heartbeat == 10s);
  CHECK(s.power == PowerAction::poweroff);
}

TEST_CASE("the commented example appliance.ini is valid and complete", "[job_spec]") {
  auto text = read_small_file(SMARTVM_SOURCE_DIR "/examples/appliance.ini");
  REQUIRE(text.has_value());
  auto l = load_job_spec(IniDocument::parse(*text, "examples/appliance.ini"));
  CHECK(l.diagnostics.empty());  // no error, and no unknown key either
  CHECK(l.spec.output_limit == 1ull << 30);
  CHECK(l.spec.umask == 0027);
}

TEST_CASE("defaults fill what a minimal appliance.ini leaves out", "[job_spec]") {
  auto l = load("[job]\ncommand = bin/run\nuser = svc\n[repository]\ntype = 9p\nsource = adr\n");
  REQUIRE(l.ok());
  CHECK(l.spec.command == "bin/run");
  CHECK(l.spec.command_in_repository);
  CHECK(l.spec.workdir == "");
  CHECK(l.spec.stdout_path == "stdout.log");
  CHECK(l.spec.status_path == "exit_status");
  CHECK(l.spec.umask == 0022);
  CHECK(l.spec.timeout == 0s);
  CHECK(l.spec.repository.mountpoint == "/mnt/adr");
  CHECK(l.spec.power == PowerAction::poweroff);
}

TEST_CASE("every invalid value is reported in one pass", "[job_spec]") {
  auto l = load(R"([job]
command = ../../bin/evil
args = a > b
workdir = ../outside
user = root
timeout = soon
[env]
1BAD = x
[repository]
type = smb
mountpoint = relative
[status]
file = ../../../etc/shadow
[power]
action = explode
)");
  auto e = errors(l);
  REQUIRE(e.size() == 10);
  CHECK(e[0] == "appliance.ini:2: [job] command: \"../../bin/evil\" escapes the repository through \"..\"");
  CHECK(e[1].find("appliance.ini:3: [job] args: '>' at column 3") == 0);
  CHECK(e[2] == "appliance.ini:4: [job] workdir: \"../outside\" escapes the repository through \"..\"");
  CHECK(e[3] == "appliance.ini:5: [job] user: jobs do not run as root unless [job] allow_root = true");
  CHECK(e[4] == "appliance.ini:6: [job] timeout: \"soon\" is not a whole number from 0 to 31622400");
  CHECK(e[5].find("appliance.ini:8: [env] 1BAD: not a valid environment variable name") == 0);
  CHECK(e[6] == "appliance.ini:10: [repository] type: \"smb\" is not one of nfs, 9p, virtiofs, bind or none");
  CHECK(e[7] == "appliance.ini:11: [repository] mountpoint: \"relative\" must be an absolute path other than /");
  CHECK(e[8] == "appliance.ini:13: [status] file: \"../../../etc/shadow\" escapes the repository through \"..\"");
  CHECK(e[9] == "appliance.ini:15: [power] action: \"explode\" is not one of none, poweroff, reboot or halt");
}

TEST_CASE("missing required keys are named", "[job_spec]") {
  auto e = errors(load("[repository]\ntype = nfs\n"));
  CHECK(e == std::vector<std::string>{"appliance.ini: [repository] source: is required but missing",
                                      "appliance.ini: [job] command: is required but missing",
                                      "appliance.ini: [job] user: is required but missing"});
}

TEST_CASE("a broken context still yields its power action", "[job_spec]") {
  auto l = load("[job]\ncommand = \n[power]\naction = reboot\n");
  CHECK(!l.ok());
  CHECK(l.spec.power == PowerAction::reboot);
}

TEST_CASE("root is allowed only on request", "[job_spec]") {
  CHECK(load("[job]\ncommand=/bin/true\nuser=root\nallow_root=true\n[repository]\ntype=none\n").ok());
  CHECK(load("[job]\ncommand=/bin/true\nuser=u\ngroup=root\nallow_root=true\n[repository]\ntype=none\n").ok());
  for (const char* group : {"root", "0"}) {
    auto e = errors(load(std::string("[job]\ncommand=/bin/true\nuser=u\ngroup=") + group + "\n[repository]\ntype=none\n"));
    REQUIRE(e.size() == 1);
    CHECK(e[0] == "appliance.ini:4: [job] group: jobs do not run with the root group unless [job] allow_root = true");
  }
}

TEST_CASE("the status file cannot be the job's output", "[job_spec]") {
  auto e = errors(load("[job]\ncommand=/bin/true\nuser=u\nstdout=out\n[repository]\ntype=none\n[status]\nfile=out\n"));
  REQUIRE(e.size() == 1);
  CHECK(e[0] == "appliance.ini:8: [status] file: must not be the same file as the job's stdout or stderr");
}

TEST_CASE("unknown keys and sections are warnings, not errors", "[job_spec]") {
  auto l = load("[job]\ncommand=/bin/true\nuser=u\ncomand=typo\n[repository]\ntype=none\n[extra]\nk=v\n");
  CHECK(l.ok());
  REQUIRE(l.diagnostics.size() == 2);
  CHECK(l.diagnostics[0].format() == "appliance.ini:4: warning: [job] comand: unknown key, ignored");
  CHECK(l.diagnostics[1].format() == "appliance.ini:8: warning: [extra] k: unknown key, ignored");
}
