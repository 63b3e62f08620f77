// A snapshot as the report's JSON (docs/report.md, schema 1): the body of the POST to the
// frontend, the output of --once, and what GetReport answers on the bus.
#pragma once

#include "snapshot.hpp"

#include <boost/json/object.hpp>

#include <string>

namespace smartvm::nodeld {

boost::json::object report_json(const Snapshot& s);
std::string report_text(const Snapshot& s);  // serialized, one line

}  // namespace smartvm::nodeld
