// smartvm-context's image writer (libisofs, in process); images are read back by programs that
// share no code with it, xorriso (extract, list) and libblkid's blkid (label), neither of
// which needs the kernel's iso9660.
#include "context_image.hpp"

#include "catch_result.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

using namespace smartvm;
using namespace smartvm::test;
namespace fs = std::filesystem;

namespace {
const char* kJob = "[job]\ncommand = /bin/true\nuser = nobody\n[repository]\ntype = 9p\nsource = adr\n";

fs::perms mode_of(const fs::path& p) { return fs::symlink_status(p).permissions(); }

// The files of a context directory and of the tree extracted from the image, as "name mode".
std::string listing(const fs::path& dir) {
  std::vector<std::string> lines;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    lines.push_back(fs::relative(e.path(), dir).string() + " " + std::to_string(static_cast<unsigned>(mode_of(e.path()))));
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  return all;
}

// The files that are not the image: nothing left under a temporary name.
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// build_context_image as a user that cannot read what root can (a child process dropped to
// nobody when the test runs as root); its error message, or "" when it succeeded.
std::string build_unprivileged(const tools::ContextImageRequest& req) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
                           setresuid(65534, 65534, 65534) != 0))
      _exit(2);
    auto r = tools::build_context_image(req);
    std::string said = r ? "" : r.error().message;
    _exit(write(fds[1], said.data(), said.size()) == static_cast<ssize_t>(said.size()) ? 0 : 3);
  }
  close(fds[1]);
  std::string said;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) said.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return said;
}
}  // namespace

TEST_CASE("a context image holds appliance.ini and the files, labelled CONTEXT, names and modes kept",
          "[context_image]") {
  TempDir t;
  fs::create_directory(t / "in");
  write_file(t / "my-job.ini", kJob);
  write_file(t / "in/input=1.dat", "1 2 3\n");
  fs::permissions(t / "in/input=1.dat", fs::perms(0640));
  write_file(t / "in/données in.txt", "utf-8\n");
  write_file(t / "in/extra/nested.txt", "nested\n");
  write_file(t / "in/extra/bin/run.sh", "#!/bin/sh\n");
  fs::permissions(t / "in/extra/bin/run.sh", fs::perms(0755));
  fs::permissions(t / "in/extra", fs::perms(0750));
  fs::create_symlink("../input=1.dat", t / "in/extra/latest");  // a link stays a link
  tools::ContextImageRequest req;
  req.appliance = (t / "my-job.ini").string();
  req.files = {(t / "in/input=1.dat").string(), (t / "in/données in.txt").string(), (t / "in/extra").string()};
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
  CHECK(read_file(t / "out/données in.txt") == "utf-8\n");
  CHECK(read_file(t / "out/extra/nested.txt") == "nested\n");
  CHECK(read_file(t / "out/extra/bin/run.sh") == "#!/bin/sh\n");
  CHECK(fs::read_symlink(t / "out/extra/latest") == "../input=1.dat");
  CHECK(mode_of(t / "out/appliance.ini") == mode_of(t / "my-job.ini"));
  // Every name and mode under the image's root as on the host (xorriso extracts them as recorded).
  fs::remove(t / "out/appliance.ini");
  CHECK(listing(t / "out") == listing(t / "in"));
  CHECK(mode_of(t / "out/input=1.dat") == fs::perms(0640));
  CHECK(names_in(t.path()) == std::vector<std::string>{"ctx.iso", "in", "my-job.ini", "out"});

  // Another label, and the image replaced whole.
  req.label = "JOB42";
  req.files = {};
  REQUIRE(tools::build_context_image(req));
  CHECK(run_process({"/usr/sbin/blkid", "-o", "value", "-s", "LABEL", req.output}).out == "JOB42\n");
  auto list = run_process({"/usr/bin/xorriso", "-indev", req.output, "-ls", "/"});
  CHECK(list.out == "'appliance.ini'\n");
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
  CHECK(!fs::exists(t / "ctx.iso"));
}

TEST_CASE("files that cannot go into the image are refused before it is written", "[context_image]") {
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
  CHECK(!fs::exists(t / "ctx.iso"));
}

TEST_CASE("an image that cannot be written says where and leaves nothing", "[context_image]") {
  TempDir t;
  write_file(t / "appliance.ini", kJob);
  tools::ContextImageRequest req;
  req.appliance = (t / "appliance.ini").string();
  req.output = (t / "no-such-dir/ctx.iso").string();
  auto r = tools::build_context_image(req);
  REQUIRE(!r);
  CHECK(r.error().message == "write " + req.output + ": No such file or directory");
}

TEST_CASE("a file that cannot be read is an error naming it, and no image is left", "[context_image]") {
  TempDir t;
  fs::permissions(t.path(), fs::perms(0777));  // for the unprivileged child
  write_file(t / "appliance.ini", kJob);
  write_file(t / "secret.dat", "secret\n");
  fs::permissions(t / "secret.dat", fs::perms::none);
  write_file(t / "inputs/deep/locked.dat", "locked\n");
  fs::permissions(t / "inputs/deep/locked.dat", fs::perms::none);
  fs::permissions(t / "inputs", fs::perms(0755));
  fs::permissions(t / "inputs/deep", fs::perms(0755));
  tools::ContextImageRequest req;
  req.appliance = (t / "appliance.ini").string();
  req.output = (t / "ctx.iso").string();

  req.files = {(t / "secret.dat").string()};
  std::string said = build_unprivileged(req);
  CHECK(said == "write " + req.output + ": " + (t / "secret.dat").string() + ": Access to file is not allowed");
  req.files = {(t / "inputs").string()};
  said = build_unprivileged(req);
  CHECK(said.find((t / "inputs/deep/locked.dat").string()) != std::string::npos);
  CHECK(said.find("not allowed") != std::string::npos);
  CHECK(names_in(t.path()) == std::vector<std::string>{"appliance.ini", "inputs", "secret.dat"});

  // A file that even root cannot read: libisofs finds out only while it writes the image
  // (by default it would write zeros in its place and carry on). A write-only kernel attribute.
  std::string write_only = "/sys/bus/pci/rescan";
  if (!fs::exists(write_only)) {
    WARN(write_only + " is not here: the failure while writing is not tried");
    return;
  }
  req.files = {write_only};
  auto r = tools::build_context_image(req);
  REQUIRE(!r);
  CHECK(r.error().message.find("write " + req.output + ": " + write_only + ": ") == 0);
  CHECK(names_in(t.path()) == std::vector<std::string>{"appliance.ini", "inputs", "secret.dat"});
}
