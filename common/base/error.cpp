#include "error.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace smartvm {

Error os_error(const std::string& what, int err) {
  if (err < 0) err = errno;
  return {what + ": " + std::strerror(err), std::error_code(err, std::generic_category())};
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

}  // namespace smartvm
