#include "durable_file.hpp"

#include "temp_dir.hpp"
#include "unique_fd.hpp"

#include "catch_result.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>

using namespace smartvm;
using smartvm::test::TempDir;

namespace {
size_t entries(const std::filesystem::path& dir) {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}
}  // namespace

TEST_CASE("an atomic write replaces the file and leaves no temporary file", "[durable]") {
  TempDir t;
  UniqueFd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  REQUIRE(write_file_atomically(dir.get(), "status", "old\n", 0644));
  REQUIRE(write_file_atomically(dir.get(), "status", "new\n", 0640));
  CHECK(test::read_file(t / "status") == "new\n");
  CHECK(entries(t.path()) == 1);
  struct stat st {};
  stat((t / "status").c_str(), &st);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("a failed atomic write leaves the old file untouched", "[durable]") {
  TempDir t;
  UniqueFd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  REQUIRE(write_file_atomically(dir.get(), "status", "old\n", 0644));
  std::filesystem::create_directory(t / "sub");
  // Renaming a file over a directory fails after the data was written.
  auto r = write_file_atomically(dir.get(), "sub", "x", 0644);
  REQUIRE(!r);
  CHECK(r.error().message.find("write sub: rename") == 0);
  CHECK(test::read_file(t / "status") == "old\n");
  CHECK(entries(t.path()) == 2);
}

TEST_CASE("a reserved file commits into its reserved space", "[durable]") {
  TempDir t;
  UniqueFd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  auto f = ReservedFile::reserve(dir.get(), "exit_status", 4096, 0644);
  REQUIRE(f);
  CHECK(entries(t.path()) == 1);  // the hidden temporary file holds the space
  CHECK(!std::filesystem::exists(t / "exit_status"));
  REQUIRE(f->commit("state=succeeded\n"));
  CHECK(test::read_file(t / "exit_status") == "state=succeeded\n");
  CHECK(entries(t.path()) == 1);
}

TEST_CASE("a reserved file whose temporary file was deleted is still written", "[durable]") {
  TempDir t;
  UniqueFd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  auto f = ReservedFile::reserve(dir.get(), "exit_status", 4096, 0644);
  REQUIRE(f);
  for (auto& e : std::filesystem::directory_iterator(t.path())) std::filesystem::remove(e.path());
  REQUIRE(f->commit("state=failed\n"));
  CHECK(test::read_file(t / "exit_status") == "state=failed\n");
}

TEST_CASE("an uncommitted reservation leaves nothing behind", "[durable]") {
  TempDir t;
  UniqueFd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  { auto f = ReservedFile::reserve(dir.get(), "exit_status", 4096, 0644); REQUIRE(f); }
  CHECK(entries(t.path()) == 0);
}
