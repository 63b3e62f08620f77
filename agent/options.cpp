#include "options.hpp"

#include "parse_number.hpp"

namespace smartvm::agent {

const char* usage_text() {
  return "Usage: smartvm-agent [OPTION]...\n"
         "Run the job described by this VM's context, record its exit status in the data\n"
         "repository, and power the VM off.\n"
         "\n"
         "  --context PATH      use PATH (a block device, an ISO image or a directory) as the\n"
         "                      context instead of finding the filesystem labelled LABEL\n"
         "  --label LABEL       the context's filesystem label (default CONTEXT)\n"
         "  --context-wait SEC  how long to wait for the context device to appear (default 60)\n"
         "  --power ACTION      none, poweroff, reboot or halt; overrides [power] action\n"
         "  --dry-run           read and check the context, print the plan, change nothing\n"
         "  --verbose           log debug messages too\n"
         "  --help              show this help and exit\n"
         "  --version           show the version and exit\n"
         "\n"
         "Exit status: 0 when the job ran and its status was recorded (whatever the job's\n"
         "result), 1 when setup failed or the status could not be recorded, 2 on a usage error.\n"
         "See smartvm-agent(8).\n";
}

ParsedOptions parse_options(const std::vector<std::string>& args) {
  ParsedOptions p;
  auto fail = [&p](std::string msg) {
    p.action = ParsedOptions::Action::usage_error;
    p.error = std::move(msg);
    return p;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    bool has_inline = false;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    auto need_value = [&](std::string& out) -> bool {
      if (has_inline) return out = value, true;
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    if (a == "--help" || a == "-h") {
      p.action = ParsedOptions::Action::help;
      return p;
    } else if (a == "--version") {
      p.action = ParsedOptions::Action::version;
      return p;
    } else if (a == "--dry-run") {
      p.options.dry_run = true;
    } else if (a == "--verbose") {
      p.options.verbose = true;
    } else if (a == "--context") {
      if (!need_value(p.options.context) || p.options.context.empty()) return fail("--context needs a path");
    } else if (a == "--label") {
      if (!need_value(p.options.label) || p.options.label.empty()) return fail("--label needs a label");
    } else if (a == "--context-wait") {
      std::string v;
      if (!need_value(v)) return fail("--context-wait needs a number of seconds");
      auto secs = parse_integer<unsigned>(v);
      if (!secs || *secs > 3600) return fail("--context-wait: \"" + v + "\" is not a number of seconds from 0 to 3600");
      p.options.context_wait = std::chrono::seconds(*secs);
    } else if (a == "--power") {
      std::string v;
      if (!need_value(v)) return fail("--power needs an action");
      p.options.power = power_action_from_string(v);
      if (!p.options.power) return fail("--power: \"" + v + "\" is not one of none, poweroff, reboot, halt");
    } else {
      return fail("unknown argument \"" + args[i] + "\"");
    }
  }
  return p;
}

}  // namespace smartvm::agent
