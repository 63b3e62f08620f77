// Errors as values. Library code returns Result<T>; only the caller that decides what to do
// logs, once, with the whole chain of causes in the message.
#pragma once

#include <boost/system/result.hpp>

#include <ostream>
#include <string>
#include <system_error>

namespace smartvm {

struct Error {
  // Both parts are named so that a plain string converts to Result<std::string>'s value,
  // never to its error.
  Error() = default;
  Error(std::string m, std::error_code c) : message(std::move(m)), code(c) {}

  std::string message;   // complete, user-facing: what failed, on what, and why
  std::error_code code;  // the OS cause when there is one

  // "context: message", for adding the step or object at a higher level.
  Error context(const std::string& what) const { return {what + ": " + message, code}; }
};

inline std::ostream& operator<<(std::ostream& os, const Error& e) { return os << e.message; }

template <class T>
using Result = boost::system::result<T, Error>;

// An Error from errno (or an explicit errno value): "what: strerror".
Error os_error(const std::string& what, int err = -1);
inline Error make_error(std::string message) { return {std::move(message), {}}; }

// Lets Result<T>::value() throw when a caller insists on a value that is not there.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

}  // namespace smartvm
