// bench_libvirt_floor: the smallest libvirt client there is, the floor of any program that links
// libvirt (as issue 3 requires nodeld to). It opens URI, fetches every domain's stats once (as
// nodeld's cycle does), says "ready" and sleeps until killed, so that bench_nodeld can read its
// resident memory from /proc next to nodeld's. Links libvirt and nothing else of ours.
// Usage: bench_libvirt_floor URI
#include <libvirt/libvirt.h>

#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench_libvirt_floor URI\n");
    return 2;
  }
  virConnectPtr conn = virConnectOpenReadOnly(argv[1]);
  if (conn == nullptr) return 1;
  virDomainStatsRecordPtr* stats = nullptr;
  int n = virConnectGetAllDomainStats(conn, 0, &stats, 0);
  if (n < 0) return 1;
  virDomainStatsRecordListFree(stats);
  std::printf("ready %d\n", n);
  std::fflush(stdout);
  for (;;) pause();
}
