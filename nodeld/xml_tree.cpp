#include "xml_tree.hpp"

#include <boost/property_tree/xml_parser.hpp>

#include <sstream>

namespace smartvm::nodeld {

namespace pt = boost::property_tree;

Result<pt::ptree> parse_xml_tree(const std::string& xml, const char* what) {
  pt::ptree tree;
  try {
    std::istringstream in(xml);
    pt::read_xml(in, tree);
  } catch (const pt::xml_parser_error& e) {
    return make_error(std::string(what) + ": " + e.message() + " at line " + std::to_string(e.line()));
  }
  return tree;
}

}  // namespace smartvm::nodeld
