// Whether the data repository's NFS server answers from this host: a TCP connect to
// [ipoib] repository_probe with a deadline, on the Asio loop (never a mount, which could hang
// in the kernel). A node whose probe fails reports itself unfit for jobs.
#pragma once

#include "routing_status.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace smartvm::nodeld {

// Connects to `target` ("host:port") and calls `done` on the loop within `deadline`.
void probe_repository(boost::asio::io_context& io, const std::string& target, std::chrono::milliseconds deadline,
                      std::function<void(ProbeResult)> done);

}  // namespace smartvm::nodeld
