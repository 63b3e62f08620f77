// The benchmark's job: prints CLOCK_MONOTONIC at its start and just before it exits, so the
// benchmark can tell the agent's share of the time from the job's.
#include <cstdio>
#include <ctime>

static long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int main() {
  long long start = now_ns();
  std::printf("exec=%lld\nexit=%lld\n", start, now_ns());
  return 0;
}
