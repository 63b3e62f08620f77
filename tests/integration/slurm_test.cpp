// The single-node Slurm the smart-VM scheduling tests run on (tests/support/slurm_cluster): it
// comes up from the test's directory alone, runs a batch job under the allocation asked for,
// records its exit code where smartvm's tests read it, and leaves nothing running.
#include "slurm_cluster.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sys/stat.h>

using namespace smartvm::test;

TEST_CASE("slurm: a private single-node Slurm runs a batch job under its allocation and records its exit code",
          "[slurm]") {
  TempDir t;
  pid_t ctld = -1;
  {
    SlurmCluster slurm(t);
    bool up = slurm.start();
    INFO(slurm.logs());
    REQUIRE(up);
    std::string script = (t / "job.sh").string();
    std::ofstream(script) << "#!/bin/sh\n"
                             "echo \"job $SLURM_JOB_ID cpus $SLURM_CPUS_ON_NODE mem $SLURM_MEM_PER_NODE\"\n"
                             "grep Cpus_allowed_list /proc/self/status\n"
                             "exit 3\n";
    chmod(script.c_str(), 0755);
    std::string why;
    auto id = slurm.submit({"-c", "1", "--mem", "100", "-o", (t / "out.%j").string(), script}, &why);
    INFO(why);
    REQUIRE(id);
    CHECK(slurm.wait_for_end(*id, std::chrono::seconds(60)) == "FAILED");
    CHECK(slurm.job(*id)["ExitCode"] == "3:0");
    CHECK(slurm.completion_log().find("JobId=" + *id + " ") != std::string::npos);
    std::ifstream out(t / ("out." + *id));
    std::string line;
    std::getline(out, line);
    CHECK(line == "job " + *id + " cpus 1 mem 100");
    std::ifstream pid_file(slurm.root() + "/run/slurmctld.pid");
    pid_file >> ctld;
    CHECK(process_alive(ctld));
  }
  // Stopped by the PIDs recorded at their start.
  CHECK(!process_alive(ctld));
}
