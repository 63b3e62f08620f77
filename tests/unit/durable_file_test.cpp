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

namespace {
// The one hidden temporary file a reservation made.
std::filesystem::path reservation_in(const std::filesystem::path& dir) {
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind(".exit_status.", 0) == 0) return e.path();
  return {};
}
}  // namespace

TEST_CASE("a reservation replaced by somebody else is never renamed into place", "[durable]") {
  TempDir t;
  UniqueFd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  std::string forged = "state=succeeded\nexit_code=0\n";
  auto kind = GENERATE(as<std::string>{}, "file", "symlink", "fifo");
  auto f = ReservedFile::reserve(dir.get(), "exit_status", 4096, 0644);
  REQUIRE(f);
  auto temp = reservation_in(t.path());
  REQUIRE(!temp.empty());
  CHECK(f->tampering().empty());
  std::filesystem::remove(temp);
  if (kind == "file") {
    test::write_file(temp, forged);
  } else if (kind == "symlink") {
    test::write_file(t / "elsewhere", forged);
    std::filesystem::create_symlink(t / "elsewhere", temp);
  } else {
    REQUIRE(mkfifo(temp.c_str(), 0644) == 0);
  }
  std::string said = f->tampering();
  INFO(said);
  CHECK(said.rfind(temp.filename().string() + " was replaced by ", 0) == 0);
  REQUIRE(f->commit("state=failed\nexit_code=9\n"));
  CHECK(std::filesystem::is_regular_file(std::filesystem::symlink_status(t / "exit_status")));
  CHECK(test::read_file(t / "exit_status") == "state=failed\nexit_code=9\n");
  CHECK(!std::filesystem::exists(std::filesystem::symlink_status(temp)));
  if (kind == "symlink") CHECK(test::read_file(t / "elsewhere") == forged);
}

TEST_CASE("a reservation removes the previous record and reservations nobody holds", "[durable]") {
  TempDir t;
  UniqueFd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  test::write_file(t / "exit_status", "state=succeeded\n");     // the previous run's record
  test::write_file(t / ".exit_status.0123abcd", "");            // a killed agent's reservation
  std::filesystem::create_directory(t / ".exit_status.0000ffff");  // not a file: left alone
  test::write_file(t / ".exit_status.notmine", "");              // not a name the agent makes
  auto f = ReservedFile::reserve(dir.get(), "exit_status", 4096, 0644);
  REQUIRE(f);
  CHECK(!std::filesystem::exists(t / "exit_status"));
  CHECK(!std::filesystem::exists(t / ".exit_status.0123abcd"));
  CHECK(std::filesystem::exists(t / ".exit_status.0000ffff"));
  CHECK(std::filesystem::exists(t / ".exit_status.notmine"));
  CHECK(f->tampering().empty());
  REQUIRE(f->commit("state=failed\n"));
  CHECK(test::read_file(t / "exit_status") == "state=failed\n");
}

TEST_CASE("a committed reservation has the mode it was reserved with", "[durable]") {
  TempDir t;
  UniqueFd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  auto f = ReservedFile::reserve(dir.get(), "exit_status", 4096, 0640);
  REQUIRE(f);
  chmod(reservation_in(t.path()).c_str(), 0666);  // its owner, the job, may change it
  REQUIRE(f->commit("state=failed\n"));
  struct stat st {};
  REQUIRE(stat((t / "exit_status").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}
