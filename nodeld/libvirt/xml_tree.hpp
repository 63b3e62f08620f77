// libvirt's XML (domain descriptions, metadata elements) as a Boost property tree, with a
// parse error that says what was being read and where.
#pragma once

#include "error.hpp"

#include <boost/property_tree/ptree.hpp>

#include <string>

namespace smartvm::nodeld {

Result<boost::property_tree::ptree> parse_xml_tree(const std::string& xml, const char* what);

}  // namespace smartvm::nodeld
