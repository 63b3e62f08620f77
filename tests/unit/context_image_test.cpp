// smartvm-context's image writer, with the real xorriso; images are read back by xorriso
// (extract) and libblkid's blkid (label), neither of which needs the kernel's iso9660.
#include "context_image.hpp"

#include "catch_result.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <filesystem>

using namespace smartvm;
using namespace smartvm::test;

namespace {
const char* kJob = "[job]\ncommand = /bin/true\nuser = nobody\n[repository]\ntype = 9p\nsource = adr\n";
}

TEST_CASE("a context image holds appliance.ini and the files, labelled CONTEXT", "[context_image]") {
  TempDir t;
  write_file(t / "my-job.ini", kJob);
  write_file(t / "input=1.dat", "1 2 3\n");
  write_file(t / "extra/nested.txt", "nested\n");
  tools::ContextImageRequest req;
  req.appliance = (t / "my-job.ini").string();
  req.files = {(t / "input=1.dat").string(), (t / "extra").string()};
  req.output = (t / "ctx.iso").string();
  REQUIRE(tools::build_context_image(req));

  auto label = run_process({"/usr/sbin/blkid", "-o", "value", "-s", "LABEL", req.output});
  CHECK(label.out == "CONTEXT\n");
  auto type = run_process({"/usr/sbin/blkid", "-o", "value", "-s", "TYPE", req.output});
  CHECK(type.out == "iso9660\n");
  auto x = run_process({"/usr/bin/xorriso", "-osirrox", "on", "-indev", req.output, "-extract", "/", (t / "out").string()});
  REQUIRE(x.exit_code == 0);
  CHECK(read_file(t / "out/appliance.ini") == kJob);
  CHECK(read_file(t / "out/input=1.dat") == "1 2 3\n");
  CHECK(read_file(t / "out/extra/nested.txt") == "nested\n");
  CHECK(!std::filesystem::exists(t / "out/my-job.ini"));
}

TEST_CASE("an invalid appliance.ini gives the agent's messages and no image", "[context_image]") {
  TempDir t;
  write_file(t / "appliance.ini", "[job]\ncommand = /bin/true\nuser = root\ntimeout = soon\n");
  auto ds = tools::check_job_description((t / "appliance.ini").string());
  REQUIRE(ds.has_value());
  REQUIRE(ds->size() >= 2);
  std::string all;
  for (const auto& d : *ds) all += d.format() + "\n";
  CHECK(all.find((t / "appliance.ini").string() + ":3: [job] user: jobs do not run as root") != std::string::npos);
  CHECK(all.find((t / "appliance.ini").string() + ":4: [job] timeout: \"soon\" is not a whole number") != std::string::npos);

  tools::ContextImageRequest req;
  req.appliance = (t / "appliance.ini").string();
  req.output = (t / "ctx.iso").string();
  CHECK(!tools::build_context_image(req));
  CHECK(!std::filesystem::exists(t / "ctx.iso"));
}

TEST_CASE("files that cannot go into the image are refused before xorriso runs", "[context_image]") {
  TempDir t;
  write_file(t / "appliance.ini", kJob);
  write_file(t / "a/data", "1");
  write_file(t / "b/data", "2");
  tools::ContextImageRequest req;
  req.appliance = (t / "appliance.ini").string();
  req.output = (t / "ctx.iso").string();
  req.files = {(t / "a/data").string(), (t / "b/data").string()};
  CHECK(tools::build_context_image(req).error().message ==
        (t / "b/data").string() + ": a second file named \"data\" in the context");
  req.files = {(t / "missing").string()};
  CHECK(tools::build_context_image(req).error().message == (t / "missing").string() + ": No such file or directory");
  req.files = {(t / "appliance.ini").string()};
  CHECK(tools::build_context_image(req).error().message.find("a second file named \"appliance.ini\"") != std::string::npos);
  CHECK(!std::filesystem::exists(t / "ctx.iso"));
}

TEST_CASE("a failing xorriso is reported with what it said", "[context_image]") {
  TempDir t;
  write_file(t / "appliance.ini", kJob);
  tools::ContextImageRequest req;
  req.appliance = (t / "appliance.ini").string();
  req.output = (t / "no-such-dir/ctx.iso").string();
  auto r = tools::build_context_image(req);
  REQUIRE(!r);
  CHECK(r.error().message.find("xorriso failed with status") != std::string::npos);
  CHECK(tools::graft_point("a=b", "/x\\y") == "a\\=b=/x\\\\y");
}
