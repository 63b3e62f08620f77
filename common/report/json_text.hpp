// JSON text as people write it: Boost.JSON 1.81 serializes every double in scientific notation
// ("cpu_use_percent":4.874E1, "load":[3.33E0]), which is valid but hard to read in a report, an
// API answer or a log. This writes the same document with numbers in their shortest form that
// reads back to the same double (48.74, 3.33, 0.25, 1e+300), integers as integers.
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace smartvm {

std::string json_text(const boost::json::value& v);
// Appends to `out` (for callers that build a larger text).
void append_json_text(std::string& out, const boost::json::value& v);

}  // namespace smartvm
