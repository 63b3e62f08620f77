// Connection tracking entries of one IPv4 address (libnetfilter_conntrack): when a new VM takes
// over a guest address, the old VM's tracked connections must not answer for it (NAT state,
// an established-flow verdict), so they are removed.
#pragma once

#include "error.hpp"

#include <cstdint>

namespace smartvm::nodeld {

// Removes every entry whose original source or destination is `address` (network order);
// returns how many. A kernel without connection tracking has none to remove.
Result<size_t> forget_connections(uint32_t address);

// How many entries mention `address` (for tests and the report).
Result<size_t> count_connections(uint32_t address);

}  // namespace smartvm::nodeld
