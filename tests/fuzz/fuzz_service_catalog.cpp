// A services catalog entry as a sysadmin might mistype it: parse, validate and expand must
// never crash or hang, every diagnostic names the file, and a valid entry's appliance.ini
// reads back without errors.
#include "ini_document.hpp"
#include "job_spec.hpp"
#include "service_catalog.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = smartvm::launcher::parse_service(text, "svc.ini", "svc");
  for (const auto& d : loaded.diagnostics)
    if (d.format().rfind("svc.ini", 0) != 0) std::abort();
  if (loaded.ok()) {
    std::string appliance = smartvm::launcher::appliance_for(loaded.service, "42", "nobody", {"a ;b", "it's"});
    if (!smartvm::load_job_spec(smartvm::IniDocument::parse(appliance, "appliance.ini")).ok()) std::abort();
  }
  return 0;
}
