// bench_launcher_prepare: smartvm-run's host-side preparation of a job (appliance.ini, context
// ISO, qcow2 overlay, domain XML) against copying the golden image as the paper's prototype
// did, for images of 100 MiB and 1 GiB (data) and 10 GiB (sparse), on a quiet disk and again
// with a disk writer (dd oflag=direct) on the same disk. CPU from getrusage (self + children).
// The context ISO (libisofs, in process) is also timed alone, to tell its share from qemu-img's.
// Usage: bench_launcher_prepare [RUNS] [DIR] [JOBS]
//   DIR: on the disk to measure (default /var/tmp). JOBS: where the jobs' files go (default
//   DIR/jobs); smartvm-run's own default, /run/smartvm/jobs, is a tmpfs on most hosts, where
//   qemu-img's fdatasync of the overlay costs nothing.
#include "context_image.hpp"
#include "disk_writer.hpp"
#include "domain_xml.hpp"
#include "job_files.hpp"
#include "job_preparation.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace smartvm;
using namespace smartvm::launcher;
namespace fs = std::filesystem;

namespace {

struct Sample {
  double wall_ms, cpu_ms;
};

double cpu_ms() {
  rusage self{}, kids{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  auto ms = [](const timeval& t) { return double(t.tv_sec) * 1e3 + double(t.tv_usec) / 1e3; };
  return ms(self.ru_utime) + ms(self.ru_stime) + ms(kids.ru_utime) + ms(kids.ru_stime);
}

template <typename F>
Sample measure(F&& f) {
  double c0 = cpu_ms();
  auto t0 = std::chrono::steady_clock::now();
  f();
  auto t1 = std::chrono::steady_clock::now();
  return {std::chrono::duration<double, std::milli>(t1 - t0).count(), cpu_ms() - c0};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

void run_or_die(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "bench_launcher_prepare: failed: %s\n", cmd.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  fs::path base = argc > 2 ? argv[2] : "/var/tmp";
  std::string tmpl = (base / "smartvm-bench-prepare.XXXXXX").string();
  fs::path dir = mkdtemp(tmpl.data());
  fs::path jobs = argc > 3 ? fs::path(argv[3]) : dir / "jobs";
  struct Image {
    const char* label;
    unsigned long long mib;
    bool sparse;
  };
  const Image images[] = {{"100 MiB", 100, false}, {"1 GiB", 1024, false}, {"10 GiB (sparse)", 10240, true}};
  for (const Image& im : images) {
    std::string path = (dir / (std::to_string(im.mib) + ".raw")).string();
    if (im.sparse) run_or_die("truncate -s " + std::to_string(im.mib) + "M " + path);
    else run_or_die("dd if=/dev/urandom of=" + path + " bs=1M count=" + std::to_string(im.mib) + " status=none");
  }
  run_or_die("sync");
  std::printf("bench_launcher_prepare: %d runs each, in %s, jobs in %s\n\n", runs, dir.c_str(), jobs.c_str());
  std::printf("| load | image | smartvm-run prepare, median ms (CPU ms) | the ISO alone, median ms "
              "| copy + sync, median ms (CPU ms) | copy/prepare |\n");
  std::printf("|---|---|---:|---:|---:|---:|\n");
  for (bool loaded : {false, true}) {
    std::optional<smartvm::bench::DiskWriter> writer;
    if (loaded) {
      writer.emplace(dir.string());
      sleep(2);  // the writer at full speed
    }
    for (const Image& im : images) {
      std::string image = (dir / (std::to_string(im.mib) + ".raw")).string();
      auto loaded_service = parse_service("[service]\nimage = " + image +
                                              "\n[job]\ncommand = /bin/true\nuser = %u\n[repository]\ntype = none\n",
                                          "bench.ini", "bench");
      std::vector<double> prep_wall, prep_cpu, iso_wall, copy_wall, copy_cpu;
      for (int r = 0; r < runs; ++r) {
        std::string id = "job" + std::to_string(r);
        auto request = resolve_request(loaded_service.service, RunOptions{}, "nobody", id);
        auto files = JobFiles::create(jobs.string(), id);
        if (!request || !files) return 1;
        Sample p = measure([&] {
          if (auto ok = prepare_job(loaded_service.service, *request, {}, *files); !ok) {
            std::fprintf(stderr, "%s\n", ok.error().message.c_str());
            std::exit(1);
          }
          DomainPlan plan;
          plan.overlay = files->overlay();
          std::string xml = domain_xml(plan);
          if (xml.empty()) std::exit(1);
        });
        prep_wall.push_back(p.wall_ms);
        prep_cpu.push_back(p.cpu_ms);
        tools::ContextImageRequest iso;
        iso.appliance = files->appliance();
        iso.output = files->dir() + "/alone.iso";
        Sample i = measure([&] {
          if (auto ok = tools::build_context_image(iso); !ok) {
            std::fprintf(stderr, "%s\n", ok.error().message.c_str());
            std::exit(1);
          }
        });
        iso_wall.push_back(i.wall_ms);
        std::string copy = (dir / "copy.raw").string();
        Sample c = measure([&] { run_or_die("cp --sparse=never " + image + " " + copy + " && sync " + copy); });
        copy_wall.push_back(c.wall_ms);
        copy_cpu.push_back(c.cpu_ms);
        fs::remove(copy);
      }
      double pw = median(prep_wall), cw = median(copy_wall);
      std::printf("| %s | %s | %.1f (%.1f) | %.1f | %.1f (%.1f) | %.0fx |\n", loaded ? "disk writer" : "quiet", im.label, pw,
                  median(prep_cpu), median(iso_wall), cw, median(copy_cpu), cw / pw);
      std::fflush(stdout);
    }
  }
  fs::remove_all(dir);
  std::error_code ignored;
  if (argc > 3) fs::remove(jobs, ignored);  // empty now (each job's directory went with it), unless it held more
  return 0;
}
