// smartvm-context: builds and checks job contexts for smartvm VMs. See smartvm-context(1).
#include "context_image.hpp"
#include "smartvm_version.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "Usage: smartvm-context build [-o ISO] [--label LABEL] appliance.ini [FILE...]\n"
    "       smartvm-context check appliance.ini\n"
    "\n"
    "build   check appliance.ini (or an OpenNebula context.sh) with smartvm-agent's own\n"
    "        parser, then write an ISO 9660 image (Rock Ridge, Joliet) labelled LABEL\n"
    "        (default CONTEXT) holding it and each FILE (or directory) at its root.\n"
    "        -o ISO  the image to write (default ctx.iso); written atomically.\n"
    "check   only check; print every problem as FILE:LINE: message.\n"
    "\n"
    "The job's user and symbolic links in the repository can only be checked in the guest\n"
    "(smartvm-agent --dry-run). Exit status: 0 valid (and written), 1 invalid or not\n"
    "written, 2 usage error.\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "smartvm-context: %s\nTry 'smartvm-context --help'.\n", msg.c_str());
  return 2;
}

bool print_diagnostics(const std::string& path) {
  auto ds = smartvm::tools::check_job_description(path);
  if (!ds) {
    std::fprintf(stderr, "smartvm-context: %s\n", ds.error().message.c_str());
    return false;
  }
  for (const auto& d : *ds) std::fprintf(stderr, "%s\n", d.format().c_str());
  return !smartvm::has_errors(*ds);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("missing command (build or check)");
  if (args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args[0] == "--version") {
    std::printf("smartvm-context %s\n", smartvm::kVersion);
    return 0;
  }
  if (args[0] == "check") {
    if (args.size() != 2) return usage_error("check takes exactly one appliance.ini");
    return print_diagnostics(args[1]) ? 0 : 1;
  }
  if (args[0] != "build") return usage_error("unknown command \"" + args[0] + "\"");

  smartvm::tools::ContextImageRequest req;
  std::vector<std::string> positional;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "-o" || args[i] == "--output") {
      if (++i == args.size()) return usage_error(args[i - 1] + " needs a file name");
      req.output = args[i];
    } else if (args[i] == "--label") {
      if (++i == args.size() || args[i].empty() || args[i].size() > 32)
        return usage_error("--label needs a label of 1 to 32 characters");
      req.label = args[i];
    } else if (args[i].size() > 1 && args[i][0] == '-') {
      return usage_error("unknown option \"" + args[i] + "\"");
    } else {
      positional.push_back(args[i]);
    }
  }
  if (positional.empty()) return usage_error("build needs an appliance.ini");
  req.appliance = positional[0];
  req.files.assign(positional.begin() + 1, positional.end());

  if (!print_diagnostics(req.appliance)) {
    std::fprintf(stderr, "smartvm-context: %s is not valid; no image written\n", req.appliance.c_str());
    return 1;
  }
  if (auto r = smartvm::tools::build_context_image(req); !r) {
    std::fprintf(stderr, "smartvm-context: %s\n", r.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", req.output.c_str());
  return 0;
}
