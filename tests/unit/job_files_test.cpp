#include "job_files.hpp"

#include "temp_dir.hpp"

#include "catch_result.hpp"

#include <sys/stat.h>

using namespace smartvm;
using namespace smartvm::launcher;
using smartvm::test::TempDir;

TEST_CASE("a job's directory is its own, and gone with it", "[launcher][job_files]") {
  TempDir t;
  std::string root = (t / "jobs").string();
  {
    auto files = JobFiles::create(root, "42");
    REQUIRE(files);
    CHECK(files->dir() == root + "/42");
    struct stat st {};
    REQUIRE(stat(files->dir().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0711);
    test::write_file(files->overlay(), "disk");
    test::write_file(files->context_iso(), "iso");
    auto again = JobFiles::create(root, "42");
    REQUIRE(!again);
    CHECK(again.error().message == "job 42 exists on this node already (" + root + "/42)");
    CHECK(std::filesystem::exists(files->overlay()));  // the refused request touched nothing
  }
  CHECK(!std::filesystem::exists(root + "/42"));
  CHECK(std::filesystem::is_empty(root));
}

TEST_CASE("a job directory whose sockets could not be bound is refused", "[launcher][job_files]") {
  TempDir t;
  auto r = JobFiles::create((t / std::string(100, 'r')).string(), "42");
  REQUIRE(!r);
  CHECK(r.error().message.find("more than a Unix socket takes (107)") != std::string::npos);
  CHECK(!std::filesystem::exists(t / std::string(100, 'r')));
}

TEST_CASE("a job's files removed early are not removed twice", "[launcher][job_files]") {
  TempDir t;
  auto files = JobFiles::create(t.path().string(), "7");
  REQUIRE(files);
  REQUIRE(files->remove());
  CHECK(!std::filesystem::exists(t / "7"));
  CHECK(files->remove());  // once is enough
}
