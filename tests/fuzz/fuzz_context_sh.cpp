// An OpenNebula context.sh from an untrusted context: read as data, never run.
#include "context_document.hpp"
#include "job_spec.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)smartvm::load_job_spec(smartvm::parse_context_sh(text));
  return 0;
}
