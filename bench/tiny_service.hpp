// The tiny guest's service for the benchmarks that run whole jobs through smartvm-run: an
// empty golden image, the tiny guest's kernel and initrd (direct boot), no network, /bin/true.
#pragma once

#include "process.hpp"
#include "temp_dir.hpp"

#include <filesystem>
#include <string>

namespace smartvm::bench {

// Writes DIR/catalog/tiny.ini and its image DIR/base.qcow2.
inline void write_tiny_service(const std::filesystem::path& dir, const std::string& guest) {
  std::filesystem::create_directories(dir / "catalog");
  test::run_process({"/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", (dir / "base.qcow2").string(), "64M"});
  test::write_file(dir / "catalog/tiny.ini",
                   "[service]\nimage = " + (dir / "base.qcow2").string() +
                       "\nmemory = 192M\nwall_time = 120\nnetwork = none\nstop_grace = 5\nkernel = " + guest +
                       "/vmlinux\ninitrd = " + guest + "/initrd.gz\ncmdline = console=ttyS0 quiet panic=1 smartvm.port\n"
                       "[job]\ncommand = /bin/true\nuser = root\nallow_root = true\nworkdir = run\n"
                       "[repository]\ntype = none\nmountpoint = /tmp\n");
}

}  // namespace smartvm::bench
