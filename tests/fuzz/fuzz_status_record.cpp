// Status files are read back by schedulers and tests: parsing must not crash, and a record that
// parses must survive a second format/parse round unchanged.
#include "status_record.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = smartvm::parse_status(text);
  if (!r) return 0;
  std::string once = smartvm::format_status(*r);
  auto again = smartvm::parse_status(once);
  if (!again || smartvm::format_status(*again) != once) std::abort();
  return 0;
}
