// The host-side preparation with the real qemu-img; the ISO read back by xorriso and blkid.
#include "job_preparation.hpp"

#include "job_spec.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include "catch_result.hpp"

#include <filesystem>

using namespace smartvm;
using namespace smartvm::launcher;
using namespace smartvm::test;

namespace {
LoadedService service_on(const TempDir& t) {
  write_file(t / "golden.qcow2", "");
  auto made = run_process({"/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", (t / "golden.qcow2").string(), "1G"});
  REQUIRE(made.exit_code == 0);
  return parse_service("[service]\nimage = " + (t / "golden.qcow2").string() +
                           "\n[job]\ncommand = /bin/cat\nargs = %j.in\nuser = %u\n[repository]\ntype = 9p\nsource = adr\n",
                       "svc.ini", "svc");
}
}  // namespace

TEST_CASE("a job is prepared: its context ISO and its overlay", "[launcher][preparation]") {
  TempDir t;
  auto svc = service_on(t);
  REQUIRE(svc.ok());
  RunOptions o;
  o.args = {"extra arg"};
  auto req = resolve_request(svc.service, o, "nobody", "42");
  REQUIRE(req);
  write_file(t / "42.in", "input\n");
  std::filesystem::permissions(t / "42.in", std::filesystem::perms(0604));
  auto files = JobFiles::create((t / "jobs").string(), "42");
  REQUIRE(files);
  REQUIRE(prepare_job(svc.service, *req, {(t / "42.in").string()}, *files));

  auto x = run_process({"/usr/bin/xorriso", "-osirrox", "on", "-indev", files->context_iso(), "-extract", "/",
                        (t / "out").string()});
  REQUIRE(x.exit_code == 0);
  CHECK(run_process({"/usr/bin/xorriso", "-indev", files->context_iso(), "-ls", "/"}).out == "'42.in'\n'appliance.ini'\n");
  CHECK(read_file(t / "out/appliance.ini") == req->appliance);
  CHECK(read_file(t / "out/42.in") == "input\n");
  CHECK(std::filesystem::status(t / "out/appliance.ini").permissions() == std::filesystem::perms(0644));
  CHECK(std::filesystem::status(t / "out/42.in").permissions() == std::filesystem::perms(0604));
  CHECK(run_process({"/usr/sbin/blkid", "-o", "value", "-s", "LABEL", files->context_iso()}).out == "CONTEXT\n");
  auto job = load_job_spec(IniDocument::parse(read_file(t / "out/appliance.ini"), "appliance.ini"));
  REQUIRE(job.ok());
  CHECK(job.spec.args == std::vector<std::string>{"42.in", "extra arg"});
  auto info = run_process({"/usr/bin/qemu-img", "info", files->overlay()});
  CHECK(info.out.find("backing file: " + (t / "golden.qcow2").string()) != std::string::npos);
}

TEST_CASE("a preparation that fails says which part", "[launcher][preparation]") {
  TempDir t;
  auto svc = service_on(t);
  REQUIRE(svc.ok());
  auto req = resolve_request(svc.service, RunOptions{}, "nobody", "7");
  REQUIRE(req);
  auto files = JobFiles::create((t / "jobs").string(), "7");
  REQUIRE(files);
  auto missing_input = prepare_job(svc.service, *req, {(t / "nope.dat").string()}, *files);
  REQUIRE(!missing_input);
  CHECK(missing_input.error().message.find("the context ISO: " + (t / "nope.dat").string()) == 0);

  Service gone = svc.service;
  gone.image = (t / "gone.qcow2").string();
  auto files2 = JobFiles::create((t / "jobs").string(), "8");
  REQUIRE(files2);
  auto missing_image = prepare_job(gone, *req, {}, *files2);
  REQUIRE(!missing_image);
  CHECK(missing_image.error().message.find("create the overlay " + files2->overlay() + " on " + gone.image) == 0);
  CHECK(!std::filesystem::exists(files2->overlay()));
}
