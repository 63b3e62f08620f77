// A snapshot in the Prometheus text exposition format (version 0.0.4), for nodeld's /metrics:
// smartvm_node_* for the host and the hypervisor, smartvm_domain_* per domain, and
// smartvm_rdma_port_* per port, with labels. Rendered once per cycle, so that a scrape only
// sends a string.
#pragma once

#include "snapshot.hpp"

#include <string>

namespace smartvm::nodeld {

std::string metrics_text(const Snapshot& s);

// Label values escaped as the format wants: backslash, double quote, newline.
std::string escape_label_value(const std::string& v);

}  // namespace smartvm::nodeld
