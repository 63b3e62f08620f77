#include "power.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

// The agent's own CPUID check agrees with the kernel's reading of the same bit.
TEST_CASE("the hypervisor check agrees with /proc/cpuinfo", "[power]") {
  std::string cpuinfo = smartvm::test::read_file("/proc/cpuinfo");
  bool kernel_says_vm = cpuinfo.find(" hypervisor") != std::string::npos;
  CHECK(smartvm::agent::running_in_vm() == kernel_says_vm);
}

TEST_CASE("no power action is nothing to do", "[power]") {
  auto r = smartvm::agent::request_power_action(smartvm::PowerAction::none, std::chrono::seconds(0));
  REQUIRE(r.has_value());
  CHECK(r->via == "none");
}
