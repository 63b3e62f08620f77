// Reports arrive from the network: decoding must never crash, and what decodes must have a
// free capacity within its capacity.
#include "node_report.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = smartvm::decode_report(std::string_view(reinterpret_cast<const char*>(data), size));
  if (r && (r->free_cores() > r->capacity_cores || r->free_memory_kib() > r->capacity_memory_kib)) std::abort();
  return 0;
}
