// nodeld as the guests' router, in network namespaces the test creates: a guest (its eth0 is
// the other end of the host's vif1.0), the host (nodeld runs there), and storage (its eth0 is
// the other end of the host's "ib0", a veth standing for IPoIB). The guest and the storage
// server share 10.10.0.0/24 and reach each other only through the host's proxy ARP and /32
// routes, as with Xen's vif-route. Namespaces are set up with `ip` (the test's own tooling;
// nodeld itself uses netlink) and deleted, with every veth in them, when the test ends.
#include "background_process.hpp"
#include "conntrack.hpp"
#include "libvirtd.hpp"
#include "netlink.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

using namespace smartvm::test;

namespace {

const char* const kIp = "/sbin/ip";

class NetnsLab {
 public:
  NetnsLab() : prefix_("svt" + std::to_string(getpid())) {}
  ~NetnsLab() {
    for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) run({kIp, "netns", "del", *it});
  }
  std::string ns(const std::string& name) const { return prefix_ + "-" + name; }
  void remove_namespace(const std::string& name) {
    must({kIp, "netns", "del", ns(name)});
    namespaces_.erase(std::find(namespaces_.begin(), namespaces_.end(), ns(name)));
  }
  void add_namespace(const std::string& name) {
    must({kIp, "netns", "add", ns(name)});
    namespaces_.push_back(ns(name));
    must({kIp, "-n", ns(name), "link", "set", "lo", "up"});
  }
  // A veth: `host_end` in the host namespace, eth0 with `address`/24 in namespace `other`.
  void wire(const std::string& host_end, const std::string& other, const std::string& address) {
    must({kIp, "-n", ns("host"), "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns(other)});
    must({kIp, "-n", ns(other), "addr", "add", address + "/24", "dev", "eth0"});
    must({kIp, "-n", ns(other), "link", "set", "eth0", "up"});
  }
  // The usual three: guest g1 (10.10.0.5) behind the host's vif1.0, storage (10.10.0.100) behind
  // its ib0 (10.10.0.1/24).
  void guest_host_storage() {
    for (const char* n : {"host", "g1", "storage"}) add_namespace(n);
    wire("vif1.0", "g1", "10.10.0.5");
    wire("ib0", "storage", "10.10.0.100");
    must({kIp, "-n", ns("host"), "addr", "add", "10.10.0.1/24", "dev", "ib0"});
    must({kIp, "-n", ns("host"), "link", "set", "ib0", "up"});
  }
  ProcessResult run(const std::vector<std::string>& argv) const { return run_process(argv, {{}, std::chrono::seconds(30), {}}); }
  void must(const std::vector<std::string>& argv) const {
    auto r = run(argv);
    INFO(argv[0] << " " << argv.back() << ": " << r.err);
    REQUIRE(r.exit_code == 0);
  }
  std::string in(const std::string& name, const std::string& command) const {
    return run({kIp, "netns", "exec", ns(name), "sh", "-c", command}).out;
  }
  bool ping(const std::string& from, const std::string& to, int count = 2) const {
    return run({kIp, "netns", "exec", ns(from), "ping", "-n", "-q", "-c", std::to_string(count), "-i", "0.2", "-W", "2", to})
               .exit_code == 0;
  }

 private:
  std::string prefix_;
  std::vector<std::string> namespaces_;
};

// libvirt knows one running guest, g5, whose vif5.0 has 10.10.0.20.
std::string config(const std::string& guests, const std::string& learn = "") {
  static TempDir libvirt_node;
  std::string node = (libvirt_node / "node.xml").string();
  write_file(node,
             "<node><cpu><mhz>2000</mhz><model>x86_64</model><active>4</active><nodes>1</nodes><sockets>1</sockets>"
             "<cores>4</cores><threads>1</threads></cpu><memory>8388608</memory>"
             "<domain type='test'><name>g5</name><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
             "<devices><interface type='ethernet'><target dev='vif5.0'/><ip address='10.10.0.20'/></interface></devices>"
             "</domain></node>\n");
  // A long interval: what the test sees happen comes from link events and reloads, not cycles.
  return "[node]\nname = router-test\nlibvirt_uri = test://" + node + "\ninterval = 60\n[report]\nmetrics_listen =\n"
         "[ipoib]\ninterface = ib0\nguest_interfaces = vif*\nguest_subnet = " + learn + "\nguests = " + guests +
         "\nrepository_probe = 10.10.0.100:2049\n";
}

}  // namespace

TEST_CASE("nodeld routes guests onto ib0: ping through the host, guests come and go, foreign routes stay, a restart "
          "loses nothing", "[nodeld][routing]") {
  TempDir t;
  NetnsLab lab;
  lab.guest_host_storage();
  // Routes that are not nodeld's: they must survive every reconcile.
  lab.must({kIp, "-n", lab.ns("host"), "route", "add", "192.0.2.0/24", "dev", "ib0"});
  lab.must({kIp, "-n", lab.ns("host"), "route", "add", "10.10.0.77/32", "dev", "ib0", "proto", "static"});
  CHECK(!lab.ping("g1", "10.10.0.100", 1));  // nothing routes yet

  std::string ini = (t / "nodeld.ini").string();
  write_file(ini, config("vif1.0=10.10.0.5"));
  std::vector<std::string> argv{"/sbin/ip", "netns", "exec", lab.ns("host"), SMARTVM_NODELD_PATH, "--config", ini};
  auto nodeld = std::make_unique<BackgroundProcess>(argv, (t / "nodeld.log").string());
  REQUIRE(nodeld->wait_for_log("1 guest routes added"));
  // The guest's failed ARP for the storage server (above) is retried within a second.
  CHECK(lab.ping("g1", "10.10.0.100", 8));
  // And a TCP transfer, 8 MiB with iperf3, guest to storage through the host.
  {
    BackgroundProcess server({kIp, "netns", "exec", lab.ns("storage"), "iperf3", "-s", "-1", "-B", "10.10.0.100", "--logfile", (t / "iperf3-server.out").string()},
                             (t / "iperf3-server.log").string());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto client = lab.run({kIp, "netns", "exec", lab.ns("g1"), "iperf3", "-c", "10.10.0.100", "-n", "8M"});
    INFO(client.out << client.err);
    CHECK(client.exit_code == 0);
    CHECK(client.out.find("receiver") != std::string::npos);
  }
  std::string routes = lab.in("host", "ip route show proto 215");
  CHECK(routes.find("10.10.0.5 dev vif1.0 scope link src 10.10.0.1") != std::string::npos);
  CHECK(lab.in("host", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/ib0/proxy_arp "
                       "/proc/sys/net/ipv4/conf/vif1.0/proxy_arp") == "1\n1\n1\n");

  // The repository probe: nobody listens on storage's port 2049 yet, then a server does.
  CHECK(nodeld->wait_for_log("repository 10.10.0.100:2049 unreachable"));
  BackgroundProcess nfs({kIp, "netns", "exec", lab.ns("storage"), "busybox", "nc", "-ll", "-p", "2049", "-e", "/bin/true"},
                        (t / "nc.log").string());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  nodeld->signal(SIGHUP);  // a reload probes again
  CHECK(nodeld->wait_for_log("repository 10.10.0.100:2049 reachable again"));

  // A second guest's address is configured, then its interface appears: routed at once (a link
  // event), then it leaves the configuration: its route goes.
  write_file(ini, config("vif1.0=10.10.0.5 vif2.0=10.10.0.6"));
  size_t before_reload = nodeld->log().size();
  nodeld->signal(SIGHUP);
  REQUIRE(nodeld->wait_for_log("reloaded", nullptr, std::chrono::seconds(5), before_reload));
  lab.add_namespace("g2");
  lab.wire("vif2.0", "g2", "10.10.0.6");
  REQUIRE(nodeld->wait_for_log("1 guest routes added, 0 removed; 2 in place", nullptr, std::chrono::seconds(5)));
  CHECK(lab.ping("g2", "10.10.0.100"));

  // Guest 1 pretends to be guest 2: the host drops it (reverse-path filter), storage never sees it.
  auto counter = [&](const std::string& ns, const std::string& file, const std::string& name) {
    std::string text = lab.in(ns, "cat " + file);
    // Two lines per group: the names, then the values.
    size_t names = text.find(name.substr(0, name.find(':') + 1));
    std::string header = text.substr(names, text.find('\n', names) - names);
    size_t values = text.find('\n', names) + 1;
    std::string row = text.substr(values, text.find('\n', values) - values);
    std::istringstream h(header), v(row);
    std::string key, value;
    while (h >> key && v >> value)
      if (key == name.substr(name.find(':') + 1)) return std::stol(value);
    return -1L;
  };
  long echoes_before = counter("storage", "/proc/net/snmp", "Icmp:InEchos");
  long dropped_before = counter("host", "/proc/net/netstat", "TcpExt:IPReversePathFilter");
  lab.must({kIp, "-n", lab.ns("g1"), "addr", "add", "10.10.0.6/32", "dev", "eth0"});
  lab.run({kIp, "netns", "exec", lab.ns("g1"), "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-I", "10.10.0.6", "10.10.0.100"});
  CHECK(counter("storage", "/proc/net/snmp", "Icmp:InEchos") == echoes_before);
  CHECK(counter("host", "/proc/net/netstat", "TcpExt:IPReversePathFilter") >= dropped_before + 3);
  CHECK(lab.ping("g1", "10.10.0.100"));  // its own address still works

  write_file(ini, config("vif1.0=10.10.0.5"));
  nodeld->signal(SIGHUP);
  REQUIRE(nodeld->wait_for_log("0 guest routes added, 1 removed; 1 in place"));
  CHECK(!lab.ping("g2", "10.10.0.100", 1));
  CHECK(lab.in("host", "ip route show proto 215").find("10.10.0.6") == std::string::npos);

  // A third guest nobody configured is learned from its ARP request, inside guest_subnet only.
  lab.remove_namespace("g2");  // it has left: its interface, and the kernel's routes through it, are gone
  write_file(ini, config("vif1.0=10.10.0.5", "10.10.0.0/25"));
  size_t seen = nodeld->log().size();
  nodeld->signal(SIGHUP);
  REQUIRE(nodeld->wait_for_log("reloaded", nullptr, std::chrono::seconds(5), seen));
  lab.add_namespace("g3");
  lab.wire("vif3.0", "g3", "10.10.0.8");
  CHECK(lab.ping("g3", "10.10.0.100", 8));
  CHECK(lab.in("host", "ip route show proto 215").find("10.10.0.8 dev vif3.0") != std::string::npos);
  lab.add_namespace("g4");
  lab.wire("vif4.0", "g4", "10.10.0.200");  // outside 10.10.0.0/25
  CHECK(!lab.ping("g4", "10.10.0.100", 3));
  CHECK(lab.in("host", "ip route show proto 215").find("10.10.0.200") == std::string::npos);

  // A guest libvirt knows (its XML names vif5.0 and 10.10.0.20): routed when its interface appears.
  lab.add_namespace("g5");
  lab.wire("vif5.0", "g5", "10.10.0.20");
  bool routed = false;  // before the guest sent anything: not learned, known from libvirt
  for (int i = 0; i < 60 && !routed; ++i) {
    routed = lab.in("host", "ip route show proto 215").find("10.10.0.20 dev vif5.0") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(routed);
  CHECK(lab.ping("g5", "10.10.0.100", 4));

  // nodeld restarts while the guest pings: the routes stay, no packet is lost.
  std::string ping_out = (t / "ping.out").string();
  BackgroundProcess pinger({"/bin/sh", "-c", "exec ip netns exec " + lab.ns("g1") + " ping -n -c 30 -i 0.1 10.10.0.100 > " + ping_out},
                           (t / "ping.log").string());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(nodeld->stop() == 0);
  nodeld = std::make_unique<BackgroundProcess>(argv, (t / "nodeld2.log").string());
  REQUIRE(nodeld->wait_for_log("ready: first report made"));
  CHECK(nodeld->log().find("guest routes added") == std::string::npos);  // nothing to change
  std::string summary;
  for (int i = 0; i < 100 && summary.find("packets transmitted") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    summary = read_file(ping_out);
  }
  INFO(summary);
  CHECK(summary.find("30 packets transmitted, 30 received, 0% packet loss") != std::string::npos);
  std::string foreign = lab.in("host", "ip route show");
  CHECK(foreign.find("192.0.2.0/24 dev ib0") != std::string::npos);
  CHECK(foreign.find("10.10.0.77 dev ib0 proto static") != std::string::npos);
  CHECK(nodeld->stop() == 0);
}

TEST_CASE("nodeld reconciles 200 guest interfaces that libvirt knows, and follows them when half go away",
          "[nodeld][routing]") {
  TempDir t;
  NetnsLab lab;
  for (const char* n : {"host", "far"}) lab.add_namespace(n);
  lab.wire("ib0", "far", "10.30.0.100");
  lab.must({kIp, "-n", lab.ns("host"), "addr", "add", "10.30.0.1/16", "dev", "ib0"});
  lab.must({kIp, "-n", lab.ns("host"), "link", "set", "ib0", "up"});
  // 200 guests: vif<i>.0 on the host, its peer in "far" (unconfigured: only the host side matters).
  std::string batch, node =
      "<node><cpu><mhz>2000</mhz><model>x86_64</model><active>64</active><nodes>1</nodes><sockets>1</sockets>"
      "<cores>64</cores><threads>1</threads></cpu><memory>268435456</memory>\n";
  for (int i = 1; i <= 200; ++i) {
    std::string vif = "vif" + std::to_string(i) + ".0", address = "10.30." + std::to_string(i / 250 + 1) + "." +
                                                               std::to_string(i % 250 + 1);
    batch += "link add " + vif + " type veth peer name p" + std::to_string(i) + " netns " + lab.ns("far") + "\n";
    node += "<domain type='test'><name>g" + std::to_string(i) +
            "</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices><interface type='ethernet'>"
            "<target dev='" + vif + "'/><ip address='" + address + "'/></interface></devices></domain>\n";
  }
  write_file(t / "links.batch", batch);
  lab.must({kIp, "-n", lab.ns("host"), "-batch", (t / "links.batch").string()});
  write_file(t / "node.xml", node + "</node>\n");
  write_file(t / "nodeld.ini", "[node]\nname = many\nlibvirt_uri = test://" + (t / "node.xml").string() +
                                   "\ninterval = 60\n[report]\nmetrics_listen =\n[ipoib]\ninterface = ib0\n");
  BackgroundProcess nodeld({kIp, "netns", "exec", lab.ns("host"), SMARTVM_NODELD_PATH, "--config", (t / "nodeld.ini").string()},
                           (t / "nodeld.log").string());
  REQUIRE(nodeld.wait_for_log("200 guest routes added, 0 removed; 200 in place", nullptr, std::chrono::seconds(20)));
  auto count_lines = [&](const std::string& cmd) {
    std::string out = lab.in("host", cmd);
    return std::count(out.begin(), out.end(), '\n');
  };
  CHECK(count_lines("ip route show proto 215") == 200);
  CHECK(count_lines("ip -4 addr show | grep 'inet 10.30.0.1/32'") == 200);
  // Its peer is down, hence "linkdown".
  CHECK(lab.in("host", "ip route show proto 215 | grep 'vif17.0'").find("10.30.1.18 dev vif17.0 scope link src 10.30.0.1") == 0);

  // Half of the guests' interfaces go; the kernel takes their routes, nodeld adds none back.
  batch.clear();
  for (int i = 1; i <= 200; i += 2) batch += "link del vif" + std::to_string(i) + ".0\n";
  write_file(t / "del.batch", batch);
  lab.must({kIp, "-n", lab.ns("host"), "-batch", (t / "del.batch").string()});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the link events' reconcile
  CHECK(count_lines("ip route show proto 215") == 100);
  CHECK(nodeld.log().find("guest routes added", nodeld.log().find("200 in place") + 1) == std::string::npos);
  CHECK(nodeld.stop() == 0);
}

namespace {

// Runs `fn` in a child that joined network namespace `ns`; its return value is the exit status.
int in_netns(const std::string& ns, const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(100);
    _exit(fn());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// A tracked UDP flow from `from` to the storage server's NFS port, as the old VM left it.
int track_flow(const char* from) {
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  nf_conntrack* ct = nfct_new();
  if (!h || !ct) return 1;
  uint32_t src = 0, dst = 0;
  inet_pton(AF_INET, from, &src);
  inet_pton(AF_INET, "10.10.0.100", &dst);
  nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u32(ct, ATTR_IPV4_SRC, src);
  nfct_set_attr_u32(ct, ATTR_IPV4_DST, dst);
  nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_UDP);
  nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(700));
  nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(2049));
  nfct_set_attr_u32(ct, ATTR_TIMEOUT, 300);
  nfct_setobjopt(ct, NFCT_SOPT_SETUP_REPLY);  // the reply tuple, mirrored
  int r = nfct_query(h, NFCT_Q_CREATE, ct);
  if (r != 0) std::perror("conntrack create");
  nfct_destroy(ct);
  nfct_close(h);
  return r == 0 ? 0 : 2;
}

}  // namespace

TEST_CASE("nodeld: a guest address a new VM takes over loses the old VM's tracked connections", "[nodeld][routing]") {
  TempDir t;
  NetnsLab lab;
  lab.guest_host_storage();
  std::string ini = (t / "nodeld.ini").string();
  write_file(ini, config("vif1.0=10.10.0.5 vif6.0=10.10.0.5"));
  BackgroundProcess nodeld({kIp, "netns", "exec", lab.ns("host"), SMARTVM_NODELD_PATH, "--config", ini},
                           (t / "nodeld.log").string());
  REQUIRE(nodeld.wait_for_log("1 guest routes added"));
  REQUIRE(in_netns(lab.ns("host"), [] { return track_flow("10.10.0.5"); }) == 0);
  REQUIRE(in_netns(lab.ns("host"), [] { return track_flow("10.10.0.7"); }) == 0);  // somebody else's
  auto count = [&](const char* address) {
    return in_netns(lab.ns("host"), [address] {
      uint32_t a = 0;
      inet_pton(AF_INET, address, &a);
      auto n = smartvm::nodeld::count_connections(a);
      return n ? int(*n) : 99;
    });
  };
  REQUIRE(count("10.10.0.5") == 1);

  // The VM behind vif1.0 is gone; a new one comes up behind vif6.0 with the same address.
  lab.remove_namespace("g1");
  lab.add_namespace("g6");
  lab.wire("vif6.0", "g6", "10.10.0.5");
  REQUIRE(nodeld.wait_for_log("10.10.0.5 belongs to a new guest now"));
  CHECK(count("10.10.0.5") == 0);
  CHECK(count("10.10.0.7") == 1);
  CHECK(lab.ping("g6", "10.10.0.100", 4));
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld routes a guest the moment libvirtd starts its domain (lifecycle event, then its XML)",
          "[nodeld][routing][libvirtd]") {
  TempDir t;
  NetnsLab lab;
  lab.guest_host_storage();
  Libvirtd libvirtd(t);
  REQUIRE(libvirtd.start());
  lab.add_namespace("g7");
  lab.wire("vif7.0", "g7", "10.10.0.30");  // the interface is there; nobody knows its address yet
  std::string ini = (t / "nodeld.ini").string();
  write_file(ini, "[node]\nname = events\nlibvirt_uri = " + libvirtd.uri() +
                      "\ninterval = 60\n[report]\nmetrics_listen =\n[ipoib]\ninterface = ib0\n");
  BackgroundProcess nodeld({kIp, "netns", "exec", lab.ns("host"), SMARTVM_NODELD_PATH, "--config", ini},
                           (t / "nodeld.log").string());
  REQUIRE(nodeld.wait_for_log("ready: first report made"));
  CHECK(lab.in("host", "ip route show proto 215").find("10.10.0.30") == std::string::npos);
  write_file(t / "g7.xml", "<domain type='test'><name>g7</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
                           "<devices><interface type='ethernet'><target dev='vif7.0'/><ip address='10.10.0.30'/>"
                           "</interface></devices></domain>\n");
  auto created = lab.run({"/usr/bin/virsh", "-c", libvirtd.uri(), "create", (t / "g7.xml").string()});
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);
  // Well within the 60 s interval: the started event made nodeld read the domain at once.
  CHECK(nodeld.wait_for_log("1 guest routes added", nullptr, std::chrono::seconds(5)));
  CHECK(lab.ping("g7", "10.10.0.100", 4));
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld learns no address a guest claims that is the repository's, keeps rp_filter on from the start, and "
          "still learns the guest's own", "[nodeld][routing]") {
  TempDir t;
  NetnsLab lab;
  lab.guest_host_storage();
  // Guest g3 is unknown: its address is to be learned from 10.10.0.0/24, which holds the
  // repository (storage, 10.10.0.100) too.
  lab.add_namespace("g3");
  lab.wire("vif3.0", "g3", "10.10.0.8");
  std::string ini = (t / "nodeld.ini").string();
  write_file(ini, config("vif1.0=10.10.0.5", "10.10.0.0/24"));
  BackgroundProcess nodeld({kIp, "netns", "exec", lab.ns("host"), SMARTVM_NODELD_PATH, "--config", ini},
                           (t / "nodeld.log").string());
  REQUIRE(nodeld.wait_for_log("ready: first report made"));
  CHECK(lab.in("host", "cat /proc/sys/net/ipv4/conf/vif3.0/rp_filter") == "1\n");  // before it sent anything

  // g3 takes the NFS server's address and asks for another guest with it.
  lab.must({kIp, "-n", lab.ns("g3"), "addr", "add", "10.10.0.100/32", "dev", "eth0"});
  lab.run({kIp, "netns", "exec", lab.ns("g3"), "ping", "-n", "-q", "-c", "3", "-i", "0.3", "-W", "1", "-I", "10.10.0.100", "10.10.0.5"});
  CHECK(nodeld.wait_for_log("guest interface vif3.0 claims 10.10.0.100, the repository's address: not learned"));
  CHECK(lab.in("host", "ip route show proto 215").find("10.10.0.100") == std::string::npos);
  CHECK(lab.ping("g1", "10.10.0.100"));  // the host's other guests still reach the real one

  // Its own address is learned, and routed.
  lab.must({kIp, "-n", lab.ns("g3"), "addr", "del", "10.10.0.100/32", "dev", "eth0"});
  CHECK(lab.ping("g3", "10.10.0.100", 8));
  CHECK(lab.in("host", "ip route show proto 215").find("10.10.0.8 dev vif3.0") != std::string::npos);
  CHECK(occurrences(nodeld.log(), "claims 10.10.0.100") == 1);
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld leaves a foreign /32 to a guest's address alone and says so once", "[nodeld][routing]") {
  TempDir t;
  NetnsLab lab;
  lab.guest_host_storage();
  lab.must({kIp, "-n", lab.ns("host"), "route", "add", "10.10.0.5/32", "dev", "ib0", "proto", "static"});
  std::string ini = (t / "nodeld.ini").string();
  write_file(ini, config("vif1.0=10.10.0.5"));
  BackgroundProcess nodeld({kIp, "netns", "exec", lab.ns("host"), SMARTVM_NODELD_PATH, "--config", ini},
                           (t / "nodeld.log").string());
  REQUIRE(nodeld.wait_for_log("ready: first report made"));
  size_t seen = nodeld.log().size();
  nodeld.signal(SIGHUP);  // a second reconcile
  REQUIRE(nodeld.wait_for_log("reloaded", nullptr, std::chrono::seconds(5), seen));
  CHECK(lab.in("host", "ip route show 10.10.0.5/32") == "10.10.0.5 dev ib0 proto static scope link \n");
  CHECK(lab.in("host", "ip route show proto 215").empty());
  CHECK(occurrences(nodeld.log(), "a route to 10.10.0.5/32 that is not nodeld's") == 1);
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld restarted while libvirt does not answer keeps the routes of libvirt's guests", "[nodeld][routing]") {
  TempDir t;
  NetnsLab lab;
  lab.guest_host_storage();
  lab.add_namespace("g5");
  lab.wire("vif5.0", "g5", "10.10.0.20");  // libvirt's g5 (config())
  std::string ini = (t / "nodeld.ini").string();
  write_file(ini, config("vif1.0=10.10.0.5"));
  std::vector<std::string> argv{kIp, "netns", "exec", lab.ns("host"), SMARTVM_NODELD_PATH, "--config", ini};
  {
    BackgroundProcess nodeld(argv, (t / "nodeld.log").string());
    REQUIRE(nodeld.wait_for_log("2 guest routes added"));
    CHECK(nodeld.stop() == 0);
  }
  // libvirtd is down now: a socket nobody listens on.
  std::string text = read_file(ini);
  size_t at = text.find("libvirt_uri = ");
  text.replace(at, text.find('\n', at) - at, "libvirt_uri = qemu+unix:///system?socket=" + (t / "none.sock").string());
  write_file(ini, text);
  BackgroundProcess nodeld(argv, (t / "nodeld2.log").string());
  REQUIRE(nodeld.wait_for_log("ready: first report made"));
  CHECK(lab.in("host", "ip route show proto 215").find("10.10.0.20 dev vif5.0") != std::string::npos);
  CHECK(nodeld.log().find("removed") == std::string::npos);
  CHECK(lab.ping("g5", "10.10.0.100"));
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld's netlink dumps are made again when the kernel says a change interrupted them", "[nodeld][routing]") {
  TempDir t;
  NetnsLab lab;
  lab.add_namespace("host");
  // 3000 addresses: a dump of them takes several reads, time enough for a change in between.
  std::string batch;
  for (int i = 0; i < 3000; ++i)
    batch += "addr add 10.40." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + "/32 dev lo\n";
  write_file(t / "addresses.batch", batch);
  lab.must({kIp, "-n", lab.ns("host"), "-batch", (t / "addresses.batch").string()});
  // Somebody changes addresses all the time meanwhile.
  BackgroundProcess churn({kIp, "netns", "exec", lab.ns("host"), "sh", "-c",
                           "while :; do ip addr add 10.41.0.1/32 dev lo; ip addr del 10.41.0.1/32 dev lo; sleep 0.02; done"},
                          (t / "churn.log").string());
  int failures = in_netns(lab.ns("host"), [] {
    auto nl = smartvm::nodeld::Netlink::open();
    if (!nl) return 100;
    int bad = 0;
    for (int i = 0; i < 200; ++i) {
      auto a = nl->addresses();
      // Complete or an error, never a torn list: 3000 or 3001 of ours, and lo's 127.0.0.1.
      if (!a || a->size() < 3001 || a->size() > 3002) ++bad;
    }
    return bad;
  });
  churn.stop();
  CHECK(failures == 0);
}

TEST_CASE("nodeld on a host without the IPoIB interface: no IPoIB, not unfit, unless guests are configured to be routed",
          "[nodeld][routing]") {
  TempDir t;
  NetnsLab lab;
  lab.add_namespace("host");  // only lo: no ib0
  std::string ini = (t / "nodeld.ini").string();
  auto write_config = [&](const std::string& guests) {
    write_file(ini, "[node]\nname = no-ib\nlibvirt_uri = test:///default\ninterval = 60\n[report]\n"
                    "metrics_listen = 127.0.0.1:0\n[ipoib]\ninterface = ib0\nmode = route\nguests = " + guests + "\n");
  };
  write_config("");
  BackgroundProcess nodeld({kIp, "netns", "exec", lab.ns("host"), SMARTVM_NODELD_PATH, "--config", ini},
                           (t / "nodeld.log").string());
  int port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(port > 0);
  REQUIRE(nodeld.wait_for_log("ready: first report made"));
  auto metrics = [&] { return lab.in("host", "curl -s -m 5 http://127.0.0.1:" + std::to_string(port) + "/metrics"); };
  CHECK(metrics().find("smartvm_node_routing_ok{node=\"no-ib\"} 1\n") != std::string::npos);
  CHECK(occurrences(nodeld.log(), "no IPoIB interface ib0 on this host") == 1);
  CHECK(nodeld.log().find("not found") == std::string::npos);

  // A guest to be routed here: now the missing interface is a fault, and the node unfit.
  write_config("vif1.0=10.10.0.5");
  size_t seen = nodeld.log().size();
  nodeld.signal(SIGHUP);
  REQUIRE(nodeld.wait_for_log("reloaded", nullptr, std::chrono::seconds(5), seen));
  CHECK(nodeld.log().find("routing: IPoIB interface ib0 not found; guests are not routed", seen) != std::string::npos);
  CHECK(metrics().find("smartvm_node_routing_ok{node=\"no-ib\"} 0\n") != std::string::npos);
  CHECK(occurrences(nodeld.log(), "no IPoIB interface ib0 on this host") == 1);
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld's netlink changes go together: 2500 routes in few sendmsg calls, a failing one named and the others made",
          "[nodeld][routing]") {
  TempDir t;
  NetnsLab lab;
  lab.add_namespace("host");
  lab.must({kIp, "-n", lab.ns("host"), "link", "add", "vif1.0", "type", "veth", "peer", "name", "q1"});
  lab.must({kIp, "-n", lab.ns("host"), "link", "set", "vif1.0", "up"});
  lab.must({kIp, "-n", lab.ns("host"), "addr", "add", "10.50.0.1/16", "dev", "vif1.0"});
  constexpr int kRoutes = 2500;  // more than one sendmsg takes
  auto destination = [](int i) { return "10.50." + std::to_string(i / 250 + 1) + "." + std::to_string(i % 250 + 1); };
  // Route 400 goes through a device that does not exist, route 1700 is a second request for
  // route 1699's key: each fails on its own, in the middle of a batch.
  std::string failures = (t / "failures").string();
  int child = in_netns(lab.ns("host"), [&] {
    alarm(60);  // an acknowledgement waited for forever fails the test instead of hanging it
    auto nl = smartvm::nodeld::Netlink::open();
    if (!nl) return 100;
    auto links = nl->links();
    if (!links) return 101;
    auto vif = std::find_if(links->begin(), links->end(), [](const auto& l) { return l.name == "vif1.0"; });
    if (vif == links->end()) return 101;
    uint32_t source = 0;
    smartvm::nodeld::parse_ipv4("10.50.0.1", source);
    std::vector<smartvm::nodeld::NetChange> changes;
    for (int i = 0; i < kRoutes; ++i) {
      uint32_t a = 0;
      smartvm::nodeld::parse_ipv4(destination(i == 1700 ? 1699 : i), a);
      changes.push_back(smartvm::nodeld::AddRoute{a, i == 400 ? 999999 : vif->index, source});
    }
    auto results = nl->apply(changes);
    if (results.size() != changes.size()) return 102;
    std::string text;
    for (size_t i = 0; i < results.size(); ++i)
      if (!results[i]) text += std::to_string(i) + " " + results[i].error().message + "\n";
    write_file(failures, text);
    return 0;
  });
  REQUIRE(child == 0);
  CHECK(read_file(failures) == "400 route " + destination(400) + "/32: No such device\n1700 route " + destination(1699) +
                                   "/32: File exists\n");
  // What the kernel has: every other route, read back by `ip`.
  std::istringstream routes(lab.in("host", "ip route show proto 215"));
  std::set<std::string> present;
  for (std::string line; std::getline(routes, line);) present.insert(line.substr(0, line.find(' ')));
  CHECK(present.size() == kRoutes - 2);
  CHECK(!present.count(destination(400)));
  for (int i : {0, 1, 399, 401, 1023, 1024, 1699, 1701, 2048, kRoutes - 1}) {
    INFO(destination(i));
    CHECK(present.count(destination(i)));
  }
}
