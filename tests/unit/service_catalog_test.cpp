// The services catalog: [service] keys, the job template checked by the agent's own parser,
// the files a service needs on the host, and the appliance.ini of one request.
#include "job_request.hpp"
#include "job_spec.hpp"
#include "service_catalog.hpp"

#include "temp_dir.hpp"

#include "catch_result.hpp"

#include <sys/stat.h>

using namespace smartvm;
using namespace smartvm::launcher;
using smartvm::test::TempDir;

namespace {

const std::string kBlast =
    "[service]\n"
    "description = BLAST searches\n"
    "image = /var/lib/smartvm/images/blast.qcow2\n"
    "cores = 2\nmax_cores = 4\nmemory = 2G\nmax_memory = 4G\nwall_time = 1h\nmax_wall_time = 1d\n"
    "kernel = /boot/vmlinux\ninitrd = /boot/initrd.gz\ncmdline = console=ttyS0 quiet\n"
    "[job]\ncommand = /opt/blast/bin/blastn\nargs = -db nt -out %j.out\nworkdir = runs/%u/%j\nuser = %u\n"
    "[repository]\ntype = nfs\nsource = 10.10.0.1:/export/adr\n";

std::vector<std::string> errors(const LoadedService& l) {
  std::vector<std::string> out;
  for (const auto& d : l.diagnostics) out.push_back(d.format());
  return out;
}

}  // namespace

TEST_CASE("a service's keys, defaults and maxima", "[launcher][catalog]") {
  auto l = parse_service(kBlast, "blast.ini", "blast");
  INFO(errors(l).size());
  REQUIRE(l.ok());
  const Service& s = l.service;
  CHECK(s.name == "blast");
  CHECK(s.image == "/var/lib/smartvm/images/blast.qcow2");
  CHECK(s.image_format == "qcow2");
  CHECK(s.cores == 2);
  CHECK(s.max_cores == 4);
  CHECK(s.memory_bytes == 2ull << 30);
  CHECK(s.max_memory_bytes == 4ull << 30);
  CHECK(s.wall_time == std::chrono::hours(1));
  CHECK(s.max_wall_time == std::chrono::hours(24));
  CHECK(s.kernel == "/boot/vmlinux");
  CHECK(s.cmdline == "console=ttyS0 quiet");
  CHECK(s.job_template.size() == 6);

  auto minimal = parse_service("[service]\nimage = /i.raw\n[job]\ncommand = /bin/true\nuser = u\n[repository]\ntype = none\n",
                               "m.ini", "m");
  REQUIRE(minimal.ok());
  CHECK(minimal.service.image_format == "raw");
  CHECK(minimal.service.max_cores == 1);
  CHECK(minimal.service.max_wall_time == minimal.service.wall_time);
  CHECK(minimal.service.network == "route");
  CHECK(minimal.service.stop_grace == std::chrono::seconds(60));
  auto graced = parse_service("[service]\nimage = /i.raw\nstop_grace = 2m\n[job]\ncommand = /bin/true\nuser = u\n"
                              "[repository]\ntype = none\n", "g.ini", "g");
  REQUIRE(graced.ok());
  CHECK(graced.service.stop_grace == std::chrono::seconds(120));
}

TEST_CASE("every problem of a service file is named by file and line", "[launcher][catalog]") {
  auto l = parse_service(
      "[service]\nimage = relative.qcow2\ncores = 4\nmax_cores = 2\nmemory = 1M\nwall_time = soon\ninitrd = /i\n"
      "[job]\ncommand = /bin/true\nworkdir = ../%j\nuser = %u\n[repository]\ntype = none\n[extra]\nk = v\n",
      "bad.ini", "bad");
  auto e = errors(l);
  REQUIRE(e.size() == 7);
  CHECK(e[0] == "bad.ini:2: [service] image: \"relative.qcow2\" is not an absolute path");
  CHECK(e[1] == "bad.ini:4: [service] max_cores: is less than cores (4)");
  CHECK(e[2] == "bad.ini:5: [service] memory: is less than 64M");
  CHECK(e[3].find("bad.ini:6: [service] wall_time: \"soon\" is not a length of time") == 0);
  CHECK(e[4] == "bad.ini:7: [service] initrd: needs a kernel: an initrd alone does not boot");
  CHECK(e[5] == "bad.ini:10: [job] workdir: \"../check\" escapes the repository through \"..\"");
  CHECK(e[6] == "bad.ini:15: [extra]: not a section of a service (service, job, env, repository, status or power)");
  CHECK(!l.ok());
}

TEST_CASE("the catalog check looks at the host's files", "[launcher][catalog]") {
  TempDir t;
  std::filesystem::create_directory(t / "services.d");
  test::write_file(t / "image.qcow2", "");
  test::write_file(t / "services.d/good.ini", "[service]\nimage = " + (t / "image.qcow2").string() +
                                                  "\n[job]\ncommand = /bin/true\nuser = %u\n[repository]\ntype = none\n");
  test::write_file(t / "services.d/gone.ini", "[service]\nimage = " + (t / "missing.qcow2").string() +
                                                  "\nkernel = " + t.path().string() +
                                                  "\n[job]\ncommand = /bin/true\nuser = %u\n[repository]\ntype = none\n");
  test::write_file(t / "services.d/README", "not a service");
  test::write_file(t / "services.d/shared.ini", "[service]\nimage = " + (t / "image.qcow2").string() + "\nshare = " +
                                                    (t / "image.qcow2").string() + "\nshare_tag = a/b\n" +
                                                    "[job]\ncommand = /bin/true\nuser = %u\n[repository]\ntype = none\n");
  auto shared = load_service((t / "services.d").string(), "shared");
  REQUIRE(shared.diagnostics.size() == 2);
  std::string shared_file = (t / "services.d/shared.ini").string();
  CHECK(shared.diagnostics[0].format() == shared_file + ":4: [service] share_tag: \"a/b\" is not a mount tag (1 to 31 of [A-Za-z0-9_-])");
  CHECK(shared.diagnostics[1].format() == shared_file + ":3: [service] share: " + (t / "image.qcow2").string() + ": not a directory");
  std::filesystem::remove(t / "services.d/shared.ini");
  auto ds = check_catalog((t / "services.d").string());
  REQUIRE(ds.size() == 2);
  std::string gone = (t / "services.d/gone.ini").string();
  CHECK(ds[0].format() == gone + ":2: [service] image: " + (t / "missing.qcow2").string() + ": No such file or directory");
  CHECK(ds[1].format() == gone + ":3: [service] kernel: " + t.path().string() + ": not a file");
  CHECK(load_service((t / "services.d").string(), "good").ok());
  CHECK(!load_service((t / "services.d").string(), "../services.d/good").ok());
  CHECK(check_catalog((t / "nowhere").string()).at(0).format() == (t / "nowhere").string() + ": No such file or directory");
}

TEST_CASE("a request gets the service's defaults, within its maxima", "[launcher][request]") {
  auto l = parse_service(kBlast, "blast.ini", "blast");
  REQUIRE(l.ok());
  RunOptions o;
  auto r = resolve_request(l.service, o, "alice", "20261202-1-42");
  REQUIRE(r);
  CHECK(r->job_id == "20261202-1-42");
  CHECK(r->cores == 2);
  CHECK(r->memory_bytes == 2ull << 30);
  CHECK(r->wall_time == std::chrono::hours(1));
  o.cores = 5;
  CHECK(resolve_request(l.service, o, "alice", "j").error().message ==
        "--cores 5: service blast allows at most 4 (max_cores in blast.ini)");
  o.cores = 4;
  o.memory_bytes = 8ull << 30;
  CHECK(resolve_request(l.service, o, "alice", "j").error().message ==
        "--memory 8192M: service blast allows at most 4096M (max_memory in blast.ini)");
  o.memory_bytes = 4ull << 30;
  o.time_seconds = 2 * 86400;
  CHECK(resolve_request(l.service, o, "alice", "j").error().message ==
        "--time 172800 s: service blast allows at most 86400 s (max_wall_time in blast.ini)");
  o.time_seconds = 60;
  o.job_id = "42";
  r = resolve_request(l.service, o, "alice", "unused");
  REQUIRE(r);
  CHECK(r->job_id == "42");
  CHECK(r->cores == 4);
  CHECK(r->wall_time == std::chrono::seconds(60));
  CHECK(domain_name_for(r->job_id) == "smartvm-42");
}

TEST_CASE("the job's appliance.ini expands %j and %u and carries the request's arguments", "[launcher][request]") {
  auto l = parse_service(kBlast, "blast.ini", "blast");
  REQUIRE(l.ok());
  std::string text = appliance_for(l.service, "42", "alice", {"-query", "my seqs.fa", "it's", "a ;b"});
  INFO(text);
  auto job = load_job_spec(IniDocument::parse(text, "appliance.ini"));
  for (const auto& d : job.diagnostics) UNSCOPED_INFO(d.format());
  REQUIRE(job.ok());
  CHECK(job.spec.workdir == "runs/alice/42");
  CHECK(job.spec.user == "alice");
  CHECK(job.spec.args == std::vector<std::string>{"-db", "nt", "-out", "42.out", "-query", "my seqs.fa", "it's", "a ;b"});
  CHECK(job.spec.repository.source == "10.10.0.1:/export/adr");
  // Without args in the template, the request's come in a [job] of their own.
  auto bare = parse_service("[service]\nimage = /i\n[job]\ncommand = /bin/echo\nuser = u\n[repository]\ntype = none\n",
                            "b.ini", "b");
  REQUIRE(bare.ok());
  auto spec = load_job_spec(IniDocument::parse(appliance_for(bare.service, "1", "u", {"x y"}), "a.ini"));
  REQUIRE(spec.ok());
  CHECK(spec.spec.args == std::vector<std::string>{"x y"});
}

TEST_CASE("the example catalog entry is a valid service", "[launcher][catalog]") {
  std::string path = std::string(SMARTVM_SOURCE_DIR) + "/examples/services.d/blast.ini";
  auto l = parse_service(test::read_file(path), path, "blast");
  for (const auto& d : l.diagnostics) UNSCOPED_INFO(d.format());
  CHECK(l.diagnostics.empty());
  CHECK(l.service.max_cores == 4);
}
