#include "catch_result.hpp"
#include "guest_router.hpp"
#include "rdma_source.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

// libibverbs cannot open a device of a fake sysfs tree, so the ports come from this.
class FakeDevices : public RdmaDevices {
 public:
  explicit FakeDevices(std::vector<RdmaPort> ports) : ports_(std::move(ports)) {}
  Result<std::vector<RdmaPort>> ports() override { return ports_; }

 private:
  std::vector<RdmaPort> ports_;
};

void fake_interface(const test::TempDir& t, const std::string& name, const std::string& type, const std::string& address,
                    const std::string& mode, const std::string& mtu) {
  auto dir = t / ("class/net/" + name);
  std::filesystem::create_directories(dir);
  test::write_file(dir / "type", type + "\n");
  test::write_file(dir / "address", address + "\n");
  if (!mode.empty()) test::write_file(dir / "mode", mode + "\n");
  test::write_file(dir / "mtu", mtu + "\n");
}

RdmaPort port(const std::string& device, unsigned n, uint64_t guid) {
  RdmaPort p;
  p.device = device;
  p.port = n;
  p.state = "ACTIVE";
  p.phys_state = "LinkUp";
  p.rate_gbps = 100;
  p.mtu = 4096;
  p.link_layer = "InfiniBand";
  p.port_guid = guid;
  return p;
}

}  // namespace

TEST_CASE("nodeld: RDMA ports are tied to their IPoIB interfaces by GUID", "[nodeld][rdma]") {
  test::TempDir t;
  // ib0 and its P_Key child ib0.8001 carry port 1's GUID; ib1 is port 2's; eth0 is no IPoIB.
  fake_interface(t, "ib0", "32", "80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de", "connected", "65520");
  fake_interface(t, "ib0.8001", "32", "80:00:00:49:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de", "datagram", "2044");
  fake_interface(t, "ib1", "32", "80:00:01:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:df", "datagram", "4092");
  fake_interface(t, "eth0", "1", "52:54:00:12:34:56", "", "1500");
  RdmaSource source(std::make_unique<FakeDevices>(std::vector<RdmaPort>{
                        port("mlx5_0", 1, 0x0002c903000abcdeULL), port("mlx5_0", 2, 0x0002c903000abcdfULL),
                        port("mlx5_1", 1, 0x1111111111111111ULL)}),
                    t.path().string());
  auto ports = source.collect();
  REQUIRE(ports);
  REQUIRE(ports->size() == 3);
  CHECK((*ports)[0].ipoib_interface == "ib0");
  CHECK((*ports)[0].ipoib_mode == "connected");
  CHECK((*ports)[0].ipoib_mtu == 65520);
  CHECK((*ports)[1].ipoib_interface == "ib1");
  CHECK((*ports)[1].ipoib_mode == "datagram");
  CHECK((*ports)[2].ipoib_interface.empty());  // no IPoIB on that port
}

TEST_CASE("nodeld: IPoIB interfaces are read from sysfs and nothing else is taken for one", "[nodeld][rdma]") {
  test::TempDir t;
  fake_interface(t, "ib0", "32", "80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de", "datagram", "2044");
  fake_interface(t, "ibbad", "32", "not-an-address", "datagram", "2044");
  fake_interface(t, "lo", "772", "00:00:00:00:00:00", "", "65536");
  auto found = scan_ipoib_interfaces(t.path().string());
  REQUIRE(found);
  REQUIRE(found->size() == 1);
  CHECK((*found)[0].name == "ib0");
  CHECK((*found)[0].port_guid == 0x0002c903000abcdeULL);
  CHECK(!scan_ipoib_interfaces((t / "nowhere").string()));
}

TEST_CASE("nodeld: this machine has no RDMA devices, which is a quiet, normal state", "[nodeld][rdma]") {
  // libibverbs says ENOSYS here (no RDMA in the kernel): no ports, no error.
  auto ports = make_verbs_devices()->ports();
  REQUIRE(ports);
  CHECK(ports->empty());
  RdmaSource source(make_verbs_devices(), "/sys");
  auto collected = source.collect();
  REQUIRE(collected);
  CHECK(collected->empty());
}

TEST_CASE("nodeld: port rates from verbs width and speed codes", "[nodeld][rdma]") {
  CHECK(ib_rate_gbps(2, 4) == 40);    // 4x QDR
  CHECK(ib_rate_gbps(2, 32) == 100);  // 4x EDR
  CHECK(ib_rate_gbps(2, 64) == 200);  // 4x HDR
  CHECK(ib_rate_gbps(1, 1) == 2.5);   // 1x SDR
  CHECK(ib_rate_gbps(3, 4) == 0);     // not a width code
  CHECK(std::string(ib_phys_state_name(5)) == "LinkUp");
}

TEST_CASE("nodeld: the IPoIB mode the router reports comes from sysfs", "[nodeld][rdma]") {
  test::TempDir t;
  fake_interface(t, "ib0", "32", "80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de", "connected", "65520");
  fake_interface(t, "eth0", "1", "52:54:00:12:34:56", "", "1500");
  CHECK(read_ipoib_mode(t.path().string(), "ib0") == "connected");
  CHECK(read_ipoib_mode(t.path().string(), "eth0").empty());
  CHECK(read_ipoib_mode(t.path().string(), "ib9").empty());
}

namespace {

// A port as the kernel shows it under class/infiniband (the files ibstat reads).
void fake_port(const test::TempDir& t, const std::string& device, unsigned n, const std::string& state,
               const std::string& phys_state, const std::string& rate, const std::string& link_layer, const std::string& gid) {
  auto dir = t / ("class/infiniband/" + device + "/ports/" + std::to_string(n));
  std::filesystem::create_directories(dir / "gids");
  test::write_file(dir / "state", state + "\n");
  test::write_file(dir / "phys_state", phys_state + "\n");
  test::write_file(dir / "rate", rate + "\n");
  if (!link_layer.empty()) test::write_file(dir / "link_layer", link_layer + "\n");
  test::write_file(dir / "gids/0", gid + "\n");
}

}  // namespace

TEST_CASE("nodeld: RDMA ports are read from sysfs as ibstat reads them, without opening a device", "[nodeld][rdma]") {
  test::TempDir t;
  fake_port(t, "mlx5_0", 1, "4: ACTIVE", "5: LinkUp", "100 Gb/sec (4X EDR)", "InfiniBand",
            "fe80:0000:0000:0000:0002:c903:000a:bcde");
  fake_port(t, "mlx5_0", 2, "1: DOWN", "3: Disabled", "10 Gb/sec (4X)", "", "fe80:0000:0000:0000:0002:c903:000a:bcdf");
  fake_port(t, "mlx5_1", 1, "4: ACTIVE", "5: LinkUp", "25 Gb/sec (1X EDR)", "Ethernet",
            "fe80:0000:0000:0000:5254:00ff:fe12:3456");
  fake_interface(t, "ib0", "32", "80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de", "connected", "65520");
  // libibverbs cannot open these devices (none exists here): the ports are there all the same.
  RdmaSource source(make_host_devices(t.path().string()), t.path().string());
  auto ports = source.collect();
  REQUIRE(ports);
  REQUIRE(ports->size() == 3);
  const RdmaPort& p = (*ports)[0];
  CHECK(p.device == "mlx5_0");
  CHECK(p.port == 1);
  CHECK(p.state == "ACTIVE");
  CHECK(p.phys_state == "LinkUp");
  CHECK(p.rate_gbps == 100);
  CHECK(p.link_layer == "InfiniBand");
  CHECK(p.port_guid == 0x0002c903000abcdeULL);
  CHECK(p.mtu == 0);  // only verbs knows the active MTU
  CHECK(p.ipoib_interface == "ib0");
  CHECK(p.ipoib_mode == "connected");
  CHECK((*ports)[1].state == "DOWN");
  CHECK((*ports)[1].phys_state == "Disabled");
  CHECK((*ports)[1].rate_gbps == 10);
  CHECK((*ports)[1].link_layer == "InfiniBand");  // no link_layer file: an older kernel
  CHECK((*ports)[2].link_layer == "Ethernet");
  CHECK((*ports)[2].rate_gbps == 25);
}

TEST_CASE("nodeld: an unreadable port file is an error naming it, and no class/infiniband is no ports", "[nodeld][rdma]") {
  test::TempDir t;
  auto none = read_sysfs_ports(t.path().string());
  REQUIRE(none);
  CHECK(none->empty());
  fake_port(t, "mlx5_0", 1, "4: ACTIVE", "5: LinkUp", "40 Gb/sec (4X QDR)", "InfiniBand", "fe80:0000:0000:0000:0002:c903:000a:bcde");
  std::filesystem::remove(t / "class/infiniband/mlx5_0/ports/1/phys_state");
  auto broken = read_sysfs_ports(t.path().string());
  REQUIRE(!broken);
  CHECK(broken.error().message.find("class/infiniband/mlx5_0/ports/1/phys_state") != std::string::npos);
}
