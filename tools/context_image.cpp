#include "context_image.hpp"

#include "context_document.hpp"
#include "iso_image_writer.hpp"
#include "job_spec.hpp"
#include "small_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <set>

namespace smartvm::tools {
namespace {

std::string base_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool is_context_sh(const std::string& path) {
  return path.size() >= 3 && path.compare(path.size() - 3, 3, ".sh") == 0;
}

std::string absolute(const std::string& p) {
  if (!p.empty() && p.front() == '/') return p;
  char cwd[4096];
  return getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + p : p;
}

}  // namespace

Result<Diagnostics> check_job_description(const std::string& path) {
  auto text = read_small_file(path);
  if (!text) return text.error();
  IniDocument doc = is_context_sh(path) ? parse_context_sh(*text, path) : IniDocument::parse(*text, path);
  return load_job_spec(doc).diagnostics;
}

Result<void> build_context_image(const ContextImageRequest& req) {
  auto diagnostics = check_job_description(req.appliance);
  if (!diagnostics) return diagnostics.error();
  if (has_errors(*diagnostics)) return make_error(req.appliance + " is not valid");

  // The agent looks for exactly these names at the root of the context.
  std::string root_name = is_context_sh(req.appliance) ? "context.sh" : "appliance.ini";
  std::set<std::string> names{root_name};
  std::vector<IsoRootEntry> entries{{root_name, absolute(req.appliance)}};
  for (const std::string& f : req.files) {
    struct stat st {};
    if (stat(f.c_str(), &st) != 0) return os_error(f);
    std::string name = base_name(f);
    if (name.empty() || name == "/" || name == "." || name == "..") return make_error(f + ": no usable file name");
    if (!names.insert(name).second) return make_error(f + ": a second file named \"" + name + "\" in the context");
    entries.push_back({name, absolute(f)});
  }
  return write_iso_image(req.label, entries, req.output);
}

}  // namespace smartvm::tools
