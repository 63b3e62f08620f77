#include "json_text.hpp"

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

namespace smartvm {
namespace json = boost::json;

namespace {

void append_double(std::string& out, double d) {
  // JSON has no NaN or infinity; Boost.JSON writes them as null-like tokens that do not parse.
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
  out.append(buf, end);
}

}  // namespace

void append_json_text(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; return;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case json::kind::int64: {
      char buf[24];
      out.append(buf, std::to_chars(buf, buf + sizeof buf, v.get_int64()).ptr);
      return;
    }
    case json::kind::uint64: {
      char buf[24];
      out.append(buf, std::to_chars(buf, buf + sizeof buf, v.get_uint64()).ptr);
      return;
    }
    case json::kind::double_: append_double(out, v.get_double()); return;
    case json::kind::string: out += json::serialize(v.get_string()); return;  // Boost.JSON's escaping
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json_text(out, e);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const json::key_value_pair& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string_view(kv.key()));
        out += ':';
        append_json_text(out, kv.value());
      }
      out += '}';
      return;
    }
  }
}

std::string json_text(const json::value& v) {
  std::string out;
  append_json_text(out, v);
  return out;
}

}  // namespace smartvm
