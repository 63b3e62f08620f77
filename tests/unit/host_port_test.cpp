// The status record to the host: the port found by name, written whole, and never a hang.
#include "host_port.hpp"

#include "temp_dir.hpp"
#include "unique_fd.hpp"

#include "catch_result.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

using namespace smartvm;
using namespace smartvm::agent;
using smartvm::test::TempDir;

TEST_CASE("the status port is found by udev's link or by its name in sysfs", "[agent][host_port]") {
  TempDir dev, sys;
  CHECK(find_virtio_port(kStatusPortName, dev.path().string(), sys.path().string()).empty());
  std::filesystem::create_directories(sys / "class/virtio-ports/vport1p1");
  std::filesystem::create_directories(sys / "class/virtio-ports/vport1p2");
  test::write_file(sys / "class/virtio-ports/vport1p1/name", "org.qemu.guest_agent.0\n");
  test::write_file(sys / "class/virtio-ports/vport1p2/name", std::string(kStatusPortName) + "\n");
  CHECK(find_virtio_port(kStatusPortName, dev.path().string(), sys.path().string()).empty());  // no device node
  test::write_file(dev / "vport1p2", "");
  CHECK(find_virtio_port(kStatusPortName, dev.path().string(), sys.path().string()) == (dev / "vport1p2").string());
  std::filesystem::create_directories(dev / "virtio-ports");
  test::write_file(dev / "virtio-ports" / kStatusPortName, "");
  CHECK(find_virtio_port(kStatusPortName, dev.path().string(), sys.path().string()) ==
        (dev / "virtio-ports" / kStatusPortName).string());
}

TEST_CASE("the record reaches a reader whole", "[agent][host_port]") {
  TempDir t;
  std::string port = (t / "port").string();
  REQUIRE(mkfifo(port.c_str(), 0600) == 0);
  UniqueFd reader(open(port.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  REQUIRE(reader.valid());
  std::string record = "state=succeeded\nexit_code=0\n" + std::string(100000, 'x') + "\n";  // more than a pipe holds
  std::string got;
  std::thread drain([&] {
    char buf[4096];
    for (int idle = 0; idle < 200 && got.size() < record.size();) {
      ssize_t n = read(reader.get(), buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<size_t>(n)), idle = 0;
      else ++idle, usleep(10000);
    }
  });
  auto r = write_to_port(port, record, std::chrono::seconds(10));
  drain.join();
  REQUIRE(r);
  CHECK(got == record);
}

TEST_CASE("a port nobody reads costs at most the deadline", "[agent][host_port]") {
  TempDir t;
  std::string port = (t / "port").string();
  REQUIRE(mkfifo(port.c_str(), 0600) == 0);
  auto absent = write_to_port(port, "state=failed\n", std::chrono::milliseconds(200));
  REQUIRE(!absent);  // no reader at all: at once
  CHECK(absent.error().message.find("open " + port) == 0);

  // A reader that never reads, and a pipe already full: like a virtio port whose host end
  // nobody opened, where a write never completes.
  UniqueFd reader(open(port.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  UniqueFd filler(open(port.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  REQUIRE(filler.valid());
  std::string block(4096, 'f');
  while (write(filler.get(), block.data(), block.size()) > 0) {
  }
  auto start = std::chrono::steady_clock::now();
  auto stuck = write_to_port(port, "state=failed\n", std::chrono::milliseconds(200));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(!stuck);
  CHECK(stuck.error().message == "write to " + port + ": nobody on the host took the record within 200 ms (0 of 13 bytes written)");
  CHECK(seconds < 5);  // returned: the VM's power-off is not held up
}
