#include "host_processes.hpp"

#include "small_file.hpp"

#include <csignal>
#include <cerrno>
#include <filesystem>
#include <sstream>

namespace smartvm::nodeld {

Result<std::map<int64_t, std::string>> read_process_names(const std::string& proc_root) {
  std::map<int64_t, std::string> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(proc_root, ec);
  if (ec) return make_error("read " + proc_root + ": " + ec.message());
  for (const auto& entry : it) {
    std::string name = entry.path().filename();
    if (name.empty() || name.size() > 18 || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto comm = read_small_file(entry.path() / "comm", 64);
    if (!comm) continue;  // gone since the listing
    std::string text = std::move(*comm);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    out.emplace(std::stoll(name), std::move(text));
  }
  return out;
}

bool all_processes_visible(const std::string& proc_root) {
  auto mountinfo = read_small_file(proc_root + "/self/mountinfo", 4 << 20);
  if (!mountinfo) return false;
  std::istringstream lines(*mountinfo);
  std::string line;
  bool found = false;
  while (std::getline(lines, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
    std::istringstream fields(line);
    std::string id, parent, dev, root, mountpoint;
    fields >> id >> parent >> dev >> root >> mountpoint;
    size_t dash = line.find(" - ");
    if (mountpoint != proc_root || dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype, source, super;
    tail >> fstype >> source >> super;
    if (fstype != "proc") continue;
    // The last mount on the path is the one seen; hidepid=0/off hides nothing.
    size_t at = super.find("hidepid=");
    std::string hidepid = at == std::string::npos ? "0" : super.substr(at + 8, super.find(',', at) - at - 8);
    found = hidepid == "0" || hidepid == "off";
  }
  return found;
}

bool process_exists(int64_t pid) {
  if (pid <= 0 || pid > INT32_MAX) return false;
  return kill(pid_t(pid), 0) == 0 || errno != ESRCH;
}

}  // namespace smartvm::nodeld
