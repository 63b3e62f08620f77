// appliance.ini from an untrusted context: parse and validate must never crash or hang,
// and every diagnostic must name the file.
#include "ini_document.hpp"
#include "job_spec.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = smartvm::load_job_spec(smartvm::IniDocument::parse(text, "appliance.ini"));
  for (const auto& d : loaded.diagnostics)
    if (d.format().rfind("appliance.ini", 0) != 0) std::abort();
  return 0;
}
