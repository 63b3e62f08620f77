// bench_guest_routes: nodeld's guest router against the vif-route way (a shell running `ip` for
// each guest), making the same state for 1000 guests: on each guest interface the host's IPoIB
// address as a /32, the link up, proxy ARP on, and a /32 route to the guest with that source.
// Runs in a network namespace of its own (root), with veth pairs standing for the interfaces.
// Usage: bench_guest_routes [GUESTS]
#include "guest_router.hpp"

#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using namespace smartvm::nodeld;
namespace fs = std::filesystem;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string guest_address(int i) { return "10.40." + std::to_string(i / 250 + 1) + "." + std::to_string(i % 250 + 1); }

// Fresh links: ib0 with its address, and GUESTS veth pairs, nothing else on them.
void make_links(const fs::path& dir, int guests) {
  std::ofstream batch(dir / "links.batch");
  batch << "link add ib0 type veth peer name ibpeer\naddr add 10.40.0.1/16 dev ib0\nlink set ib0 up\nlink set ibpeer up\n";
  for (int i = 0; i < guests; ++i) batch << "link add vif" << i << ".0 type veth peer name q" << i << "\n";
  batch.close();
  if (std::system(("ip -batch " + (dir / "links.batch").string()).c_str()) != 0) std::exit(1);
}

void remove_links(const fs::path& dir, int guests) {
  std::ofstream batch(dir / "del.batch");
  batch << "link del ib0\n";
  for (int i = 0; i < guests; ++i) batch << "link del vif" << i << ".0\n";
  batch.close();
  if (std::system(("ip -batch " + (dir / "del.batch").string()).c_str()) != 0) std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int guests = argc > 1 ? std::atoi(argv[1]) : 1000;
  if (unshare(CLONE_NEWNET) != 0) {
    std::perror("bench_guest_routes: unshare(CLONE_NEWNET) (run as root)");
    return 1;
  }
  char tmpl[] = "/tmp/smartvm-bench-routes.XXXXXX";
  fs::path dir = mkdtemp(tmpl);

  make_links(dir, guests);
  auto nl = Netlink::open();
  if (!nl) return 1;
  RoutingInput in;
  in.guest_patterns = {"vif*"};
  for (int i = 0; i < guests; ++i) {
    uint32_t a = 0;
    parse_ipv4(guest_address(i), a);
    in.guest_addresses["vif" + std::to_string(i) + ".0"].push_back(a);
  }
  SystemHostNet host(std::move(*nl));
  GuestRouter router;
  double t0 = now_ms();
  auto first = router.reconcile(host, in);
  double ours = now_ms() - t0;
  t0 = now_ms();
  auto second = router.reconcile(host, in);
  double again = now_ms() - t0;
  if (!first || !second || first->routes != size_t(guests) || second->added != 0) {
    std::fprintf(stderr, "bench_guest_routes: reconcile did not make %d routes\n", guests);
    return 1;
  }
  remove_links(dir, guests);

  // The same state the vif-route way: one script, three `ip` runs and a sysctl write per guest.
  make_links(dir, guests);
  {
    std::ofstream sh(dir / "vif-route.sh");
    sh << "set -e\necho 1 > /proc/sys/net/ipv4/ip_forward\necho 1 > /proc/sys/net/ipv4/conf/ib0/proxy_arp\n";
    for (int i = 0; i < guests; ++i) {
      std::string vif = "vif" + std::to_string(i) + ".0";
      sh << "ip addr add 10.40.0.1/32 dev " << vif << "\nip link set " << vif << " up\necho 1 > /proc/sys/net/ipv4/conf/"
         << vif << "/proxy_arp\nip route add " << guest_address(i) << " dev " << vif << " src 10.40.0.1\n";
    }
  }
  t0 = now_ms();
  int rc = std::system(("sh " + (dir / "vif-route.sh").string()).c_str());
  double shell = now_ms() - t0;
  if (rc != 0) return 1;
  remove_links(dir, guests);
  fs::remove_all(dir);

  std::printf("| %d guests | wall ms |\n|---|---:|\n", guests);
  std::printf("| nodeld reconcile, from nothing | %.1f |\n", ours);
  std::printf("| nodeld reconcile, nothing to change (restart) | %.1f |\n", again);
  std::printf("| vif-route-style shell loop of ip commands | %.1f |\n", shell);
  std::printf("| ratio shell / nodeld | %.1f |\n", shell / ours);
  return 0;
}
