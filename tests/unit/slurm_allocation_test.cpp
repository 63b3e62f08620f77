#include "slurm_allocation.hpp"

#include "catch_result.hpp"

using namespace smartvm;
using namespace smartvm::launcher;

TEST_CASE("slurm: no SLURM_JOB_ID is no allocation", "[slurm]") {
  auto a = slurm_allocation({{"HOME", "/root"}}, {0, 1});
  REQUIRE(a);
  CHECK(!*a);
}

TEST_CASE("slurm: a batch step's id, CPUs and memory, as sbatch -c 2 --mem 1500 gives them", "[slurm]") {
  auto a = slurm_allocation({{"SLURM_JOB_ID", "42"}, {"SLURM_CPUS_ON_NODE", "2"}, {"SLURM_MEM_PER_NODE", "1500"}}, {3, 2});
  REQUIRE(a);
  REQUIRE(*a);
  CHECK((*a)->job_id == "slurm-42");
  CHECK((*a)->slurm_job_id == "42");
  CHECK((*a)->cpus == 2);
  CHECK((*a)->cpuset == std::vector<unsigned>{2, 3});
  CHECK((*a)->memory_bytes == uint64_t(1500) << 20);
}

TEST_CASE("slurm: an srun step is named by its step, and memory per CPU counts every CPU", "[slurm]") {
  auto a = slurm_allocation({{"SLURM_JOB_ID", "7"}, {"SLURM_STEP_ID", "3"}, {"SLURM_MEM_PER_CPU", "100"}}, {0, 1, 2, 3});
  REQUIRE(a);
  CHECK((*a)->job_id == "slurm-7.3");
  CHECK((*a)->slurm_job_id == "7");  // scontrol asks about the job, not the step
  CHECK((*a)->cpus == 4);
  CHECK((*a)->memory_bytes == uint64_t(400) << 20);
}

TEST_CASE("slurm: malformed variables are refused, naming them", "[slurm]") {
  CHECK(slurm_allocation({{"SLURM_JOB_ID", "x"}}, {0}).error().message.find("SLURM_JOB_ID=\"x\"") == 0);
  CHECK(slurm_allocation({{"SLURM_JOB_ID", "1"}, {"SLURM_MEM_PER_NODE", "2G"}}, {0}).error().message.find("SLURM_MEM_PER_NODE") == 0);
  CHECK(slurm_allocation({{"SLURM_JOB_ID", "1"}}, {}).error().message.find("which CPUs") != std::string::npos);
}

TEST_CASE("slurm: the request takes the allocation, and may ask less but never more", "[slurm]") {
  SlurmAllocation a{"slurm-9", 2, uint64_t(1024) << 20, {0, 1}, "9"};
  RunOptions o;
  REQUIRE(apply_allocation(o, a));
  CHECK(o.job_id == "slurm-9");
  CHECK(o.cores == 2u);
  CHECK(o.memory_bytes == uint64_t(1024) << 20);
  RunOptions less;
  less.cores = 1;
  less.job_id = "mine";
  REQUIRE(apply_allocation(less, a));
  CHECK(less.cores == 1u);
  CHECK(less.job_id == "mine");
  RunOptions more;
  more.cores = 4;
  CHECK(apply_allocation(more, a).error().message.find("--cores 4 is more than the Slurm job's 2 CPUs") == 0);
  RunOptions big;
  big.memory_bytes = uint64_t(4096) << 20;
  CHECK(apply_allocation(big, a).error().message.find("--memory 4096M is more than the Slurm job's 1024M") == 0);
  // An allocation larger than the service's maxima: the VM gets the service's most.
  RunOptions capped;
  REQUIRE(apply_allocation(capped, a, {1, uint64_t(512) << 20}));
  CHECK(capped.cores == 1u);
  CHECK(capped.memory_bytes == uint64_t(512) << 20);
}

TEST_CASE("slurm: CPU lists in libvirt's cpuset syntax", "[slurm]") {
  CHECK(cpuset_text({0}) == "0");
  CHECK(cpuset_text({0, 1, 2, 3}) == "0-3");
  CHECK(cpuset_text({0, 2, 3, 4, 8}) == "0,2-4,8");
  CHECK(cpuset_text({}).empty());
}
