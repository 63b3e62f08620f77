#include "host_sample.hpp"

#include <cmath>

namespace smartvm::frontend {
namespace json = boost::json;

namespace {

double number_at(const json::object* o, const char* key) {
  const json::value* v = o ? o->if_contains(key) : nullptr;
  return v && v->is_number() ? v->to_number<double>() : NAN;
}

const json::object* object_at(const json::object* o, const char* key) {
  const json::value* v = o ? o->if_contains(key) : nullptr;
  return v && v->is_object() ? &v->get_object() : nullptr;
}

}  // namespace

HostSample sample_of(const NodeReport& r, int64_t arrived) {
  const json::object* host = object_at(r.raw.is_object() ? &r.raw.get_object() : nullptr, "host");
  HostSample s;
  s.time = arrived;
  s.cpu_use_percent = number_at(host, "cpu_use_percent");
  s.load1 = NAN;
  if (const json::value* load = host ? host->if_contains("load") : nullptr; load && load->is_array())
    if (!load->get_array().empty() && load->get_array()[0].is_number()) s.load1 = load->get_array()[0].to_number<double>();
  s.io_pressure = number_at(object_at(host, "pressure"), "io");
  s.free_memory_kib = number_at(host, "memory_free_kib");
  return s;
}

}  // namespace smartvm::frontend
