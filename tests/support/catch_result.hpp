// Lets Catch2 print a Result<T> in a failed assertion: its error message, or "a value".
#pragma once

#include "error.hpp"

#include <catch2/catch.hpp>

namespace Catch {
template <class T>
struct StringMaker<smartvm::Result<T>> {
  static std::string convert(const smartvm::Result<T>& r) { return r ? "a value" : "error: " + r.error().message; }
};
}  // namespace Catch
