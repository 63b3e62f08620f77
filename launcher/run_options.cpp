#include "run_options.hpp"

#include "config_reader.hpp"

#include <algorithm>
#include <charconv>

namespace smartvm::launcher {

const char* run_usage_text() {
  return "Usage: smartvm-run --service NAME [OPTION]... [-- ARGS...]\n"
         "       smartvm-run --appliance FILE [OPTION]...\n"
         "       smartvm-run --check [--catalog DIR]\n"
         "Run one job in a smart VM on this node: a copy-on-write overlay of the service's golden\n"
         "image, a context ISO with the job, a transient libvirt domain; wait for it, print the\n"
         "agent's step log and the job's status record, leave nothing behind.\n"
         "\n"
         "  --service NAME      the service, CATALOG/NAME.ini\n"
         "  --appliance FILE    a one-off job: FILE is the appliance.ini (and the [service] keys)\n"
         "  --cores N           vCPUs (default and maximum: the service's)\n"
         "  --memory SIZE       memory, with K, M, G or T (default and maximum: the service's)\n"
         "  --time LIMIT        wall time: seconds, a number with s, m, h or d, or H:MM:SS\n"
         "  --job-id ID         the job's id, unique on this node (default: generated)\n"
         "  --input FILE        put FILE on the context ISO beside appliance.ini (repeatable)\n"
         "  --catalog DIR       the services catalog (default /etc/smartvm/services.d)\n"
         "  --libvirt-uri URI, --connect URI\n"
         "                      libvirt's URI (default: nodeld's, else qemu:///system)\n"
         "  --runtime-dir DIR   where the jobs' files are (default /run/smartvm/jobs)\n"
         "  --check             check every service of the catalog, print FILE:LINE: problems\n"
         "  --dry-run           print the job's appliance.ini and domain XML; create nothing\n"
         "  --help, --version\n"
         "  -- ARGS...          the job's arguments, after the service's own\n"
         "\n"
         "In a Slurm job (SLURM_JOB_ID set) the job id is slurm-ID, the cores and memory default to\n"
         "the allocation's and may not exceed it, and the vCPUs are pinned to the job's CPUs;\n"
         "SIGTSTP suspends the domain, SIGCONT resumes it.\n"
         "\n"
         "Exit status (as timeout(1) and env(1)): the job's exit code when it ran; 128+N when it\n"
         "died of signal N; 124 timed out; 125 setup failed (in the VM or on the host); 126 the\n"
         "request could not be started; 127 no such service; 2 usage error. See smartvm-run(8).\n";
}

bool valid_job_id(const std::string& id) {
  if (id.empty() || id.size() > 64 || id.front() == '.' || id.front() == '-') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

ParsedRunOptions parse_run_options(const std::vector<std::string>& args) {
  ParsedRunOptions p;
  RunOptions& o = p.options;
  auto fail = [&p](std::string msg) {
    p.action = ParsedRunOptions::Action::usage_error;
    p.error = std::move(msg);
    return p;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], value;
    if (a == "--") {
      o.args.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    bool has_inline = false;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    auto need = [&]() -> std::optional<std::string> {
      if (has_inline) return value.empty() ? std::nullopt : std::optional(value);
      if (i + 1 >= args.size() || args[i + 1].empty()) return std::nullopt;
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      p.action = ParsedRunOptions::Action::help;
      return p;
    } else if (a == "--version") {
      p.action = ParsedRunOptions::Action::version;
      return p;
    } else if (a == "--check") {
      o.check = true;
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else if (a == "--service" || a == "--appliance" || a == "--job-id" || a == "--input" || a == "--catalog" ||
               a == "--libvirt-uri" || a == "--connect" || a == "--runtime-dir") {
      auto v = need();
      if (!v) return fail(a + " needs a value");
      if (a == "--service") o.service = *v;
      else if (a == "--appliance") o.appliance = *v;
      else if (a == "--job-id") o.job_id = *v;
      else if (a == "--input") o.inputs.push_back(*v);
      else if (a == "--catalog") o.catalog = *v;
      else if (a == "--runtime-dir") o.runtime_dir = *v;
      else o.libvirt_uri = *v;
    } else if (a == "--cores") {
      auto v = need();
      unsigned n = 0;
      if (!v) return fail("--cores needs a number");
      auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec != std::errc() || ptr != v->data() + v->size() || n == 0 || n > 1024)
        return fail("--cores: \"" + *v + "\" is not a number of cores from 1 to 1024");
      o.cores = n;
    } else if (a == "--memory") {
      auto v = need();
      if (!v) return fail("--memory needs a size");
      o.memory_bytes = parse_size(*v);
      if (!o.memory_bytes || *o.memory_bytes == 0) return fail("--memory: \"" + *v + "\" is not a size such as 2G or 512M");
    } else if (a == "--time") {
      auto v = need();
      if (!v) return fail("--time needs a limit");
      o.time_seconds = parse_duration(*v);
      if (!o.time_seconds || *o.time_seconds == 0)
        return fail("--time: \"" + *v + "\" is not a length of time such as 3600, 90m, 2h or 1:30:00");
    } else {
      return fail("unknown argument \"" + args[i] + "\" (the job's own arguments go after \"--\")");
    }
  }
  if (o.check) return p;
  if (o.service.empty() == o.appliance.empty()) return fail("give either --service NAME or --appliance FILE");
  if (!o.job_id.empty() && !valid_job_id(o.job_id))
    return fail("--job-id: \"" + o.job_id + "\" is not a job id (letters, digits, '-', '_', '.', at most 64)");
  return p;
}

}  // namespace smartvm::launcher
