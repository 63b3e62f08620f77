// The job's overlay, made by the real qemu-img on sparse golden images.
#include "overlay.hpp"

#include "captured_run.hpp"
#include "temp_dir.hpp"

#include "catch_result.hpp"

#include <sys/stat.h>

#include <boost/json.hpp>

using namespace smartvm;
using namespace smartvm::launcher;
using smartvm::test::TempDir;

namespace {
boost::json::object image_info(const std::string& path) {
  std::string out;
  auto st = run_captured({"qemu-img", "info", "--output=json", path}, out);
  REQUIRE(st);
  REQUIRE(*st == 0);
  return boost::json::parse(out).as_object();
}
}  // namespace

TEST_CASE("an overlay is backed by the golden image and copies none of it", "[launcher][overlay]") {
  TempDir t;
  std::string base = (t / "golden.raw").string();
  test::write_file(base, "");
  std::filesystem::resize_file(base, 10ull << 30);  // a sparse 10 GiB image
  std::string overlay = (t / "job.qcow2").string();
  REQUIRE(create_overlay({base, "raw", overlay}));
  auto info = image_info(overlay);
  CHECK(info.at("format").as_string() == "qcow2");
  CHECK(info.at("backing-filename").as_string() == base);
  CHECK(info.at("backing-filename-format").as_string() == "raw");
  CHECK(info.at("virtual-size").to_number<uint64_t>() == 10ull << 30);
  CHECK(std::filesystem::file_size(overlay) < (1u << 20));  // metadata only
}

TEST_CASE("an overlay that cannot be made leaves nothing and says why", "[launcher][overlay]") {
  TempDir t;
  std::string overlay = (t / "job.qcow2").string();
  auto missing = create_overlay({(t / "missing.qcow2").string(), "qcow2", overlay});
  REQUIRE(!missing);
  INFO(missing.error().message);
  CHECK(missing.error().message.find("create the overlay " + overlay + " on " + (t / "missing.qcow2").string() +
                                     ": qemu-img failed with status 1: ") == 0);
  CHECK(missing.error().message.find("No such file or directory") != std::string::npos);
  CHECK(!std::filesystem::exists(overlay));

  test::write_file(overlay, "somebody's");
  auto exists = create_overlay({(t / "missing.qcow2").string(), "qcow2", overlay});
  REQUIRE(!exists);
  CHECK(exists.error().message == "create the overlay " + overlay + ": it exists already");
  CHECK(test::read_file(overlay) == "somebody's");

  auto no_tool = create_overlay({(t / "missing.qcow2").string(), "qcow2", (t / "other.qcow2").string(),
                                 (t / "no-qemu-img").string()});
  REQUIRE(!no_tool);
  CHECK(no_tool.error().message.find("(is qemu-utils installed?)") != std::string::npos);
}
