#include "io_probe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

using Clock = std::chrono::steady_clock;

void write_text(const std::string& file, const std::string& text) {
  std::ofstream out(file);
  out << text << std::flush;
  if (!out) {
    std::fprintf(stderr, "bench_io_storm: writing %s: %s\n", file.c_str(), std::strerror(errno));
    std::exit(1);
  }
}

Probe probe(const std::string& dir, int seconds) {
  std::vector<double> ms;
  std::string data = dir + "/probe.dat", meta = dir + "/probe.meta";
  char page[4096];
  std::memset(page, 'p', sizeof page);
  auto end = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < end) {
    auto t = Clock::now();
    int fd = open(data.c_str(), O_WRONLY | O_CREAT, 0600);
    if (fd >= 0) {
      if (write(fd, page, sizeof page) < 0 || fdatasync(fd) < 0) std::perror("probe");
      close(fd);
    }
    int m = open(meta.c_str(), O_WRONLY | O_CREAT, 0600);
    if (m >= 0) close(m);
    unlink(meta.c_str());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  unlink(data.c_str());
  std::sort(ms.begin(), ms.end());
  Probe p;
  p.samples = ms.size();
  if (!ms.empty()) {
    p.p50_ms = ms[ms.size() / 2];
    p.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  }
  return p;
}


void print_table(const std::vector<Phase>& phases, double unthrottled) {
  double idle99 = phases.empty() ? 0 : phases[0].probe.p99_ms;
  std::printf("| phase                       | probe p50 (ms) | probe p99 (ms) | p99 / idle | guest MiB/s | guest / unthrottled |\n");
  std::printf("|-----------------------------|----------------|----------------|------------|-------------|---------------------|\n");
  for (const Phase& ph : phases) {
    char guest[32] = "-", share[32] = "-";
    if (ph.guest_mib_s >= 0) std::snprintf(guest, sizeof guest, "%.1f", ph.guest_mib_s);
    if (ph.guest_mib_s >= 0 && unthrottled > 0) std::snprintf(share, sizeof share, "%.2f", ph.guest_mib_s / unthrottled);
    std::printf("| %-27s | %14.2f | %14.2f | %10.1f | %11s | %19s |\n", ph.name.c_str(), ph.probe.p50_ms, ph.probe.p99_ms,
                idle99 > 0 ? ph.probe.p99_ms / idle99 : 0, guest, share);
  }
}
