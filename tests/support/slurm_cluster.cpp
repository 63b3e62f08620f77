#include "slurm_cluster.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace smartvm::test {
namespace fs = std::filesystem;

namespace {

// A port nobody listens on now (the kernel's pick for port 0); the daemons bind it moments later.
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

SlurmCluster::SlurmCluster(const TempDir& dir, Options options)
    : root_((dir / "slurm").string()), options_(options),
      node_(options.cgroup ? "smv" + std::to_string(getpid()) : "localhost") {}

SlurmCluster::~SlurmCluster() { stop(); }

bool SlurmCluster::start() {
  for (const char* d : {"etc", "run", "log", "spool", "state", "key"}) fs::create_directories(root_ + "/" + d);
  // munged refuses a socket whose directories others cannot search, and a key others can read.
  for (fs::path p = root_; p != p.parent_path(); p = p.parent_path()) {
    if (p == fs::path("/tmp") || p == fs::path("/")) break;
    chmod(p.c_str(), 0755);
  }
  chmod((root_ + "/key").c_str(), 0700);
  {
    std::random_device rd;
    std::ofstream key(root_ + "/key/munge.key", std::ios::binary);
    for (int i = 0; i < 1024; ++i) key.put(static_cast<char>(rd()));
  }
  chmod((root_ + "/key/munge.key").c_str(), 0400);
  int ctld_port = free_port(), slurmd_port = free_port();
  std::ofstream(root_ + "/etc/plugstack.conf").flush();
  std::ofstream conf(root_ + "/etc/slurm.conf");
  conf << "ClusterName=smartvmtest\n"
          "SlurmctldHost=localhost(127.0.0.1)\n"
          "SlurmUser=root\n"
       << "SlurmctldPort=" << ctld_port << "\nSlurmdPort=" << slurmd_port << "\n"
       << "AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=" << root_ << "/run/munge.sock\n"
       << "StateSaveLocation=" << root_ << "/state\nSlurmdSpoolDir=" << root_ << "/spool\n"
       << "SlurmctldPidFile=" << root_ << "/run/slurmctld.pid\nSlurmdPidFile=" << root_ << "/run/slurmd.pid\n"
       << "SlurmctldLogFile=" << root_ << "/log/slurmctld.log\nSlurmdLogFile=" << root_ << "/log/slurmd.log\n"
       << "PlugStackConfig=" << root_ << "/etc/plugstack.conf\n"
       << "MailProg=/bin/true\n"
       << (options_.cgroup ? "ProctrackType=proctrack/cgroup\nTaskPlugin=task/cgroup,task/affinity\n"
                           : "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/affinity\n")
       << "JobCompType=jobcomp/filetxt\nJobCompLoc=" << root_ << "/log/jobcomp.log\n"
       << "AccountingStorageType=accounting_storage/none\n"
          "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core_Memory\n"
          // Without it each job waits ~3 s for the batch scheduler.
          "SchedulerParameters=batch_sched_delay=0\n"
       << "KillWait=" << options_.kill_wait_seconds << "\n"
       << "MinJobAge=300\nReturnToService=2\n"
       << "NodeName=" << node_ << " NodeAddr=127.0.0.1 CPUs=" << options_.cpus << " RealMemory=" << options_.memory_mib
       << " State=UNKNOWN\n"
       << "PartitionName=smartvm Nodes=" << node_ << " Default=YES MaxTime=INFINITE State=UP\n";
  conf.close();
  std::ofstream(root_ + "/etc/cgroup.conf") << "CgroupPlugin=cgroup/v1\nConstrainCores=yes\nConstrainRAMSpace=yes\n";
  munged_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"/usr/sbin/munged", "-F", "--key-file=" + root_ + "/key/munge.key",
                               "--socket=" + root_ + "/run/munge.sock", "--pid-file=" + root_ + "/run/munged.pid",
                               "--log-file=" + root_ + "/log/munged.log", "--seed-file=" + root_ + "/run/munge.seed"},
      root_ + "/log/munged.out");
  if (!munged_->wait_for_log("Created 2 work threads", nullptr, std::chrono::seconds(10)) &&
      !fs::exists(root_ + "/run/munge.sock"))
    return false;
  slurmctld_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"/usr/sbin/slurmctld", "-D", "-f", root_ + "/etc/slurm.conf"}, root_ + "/log/slurmctld.out",
      env());
  slurmd_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"/usr/sbin/slurmd", "-D", "-N", node_, "-f", root_ + "/etc/slurm.conf"},
      root_ + "/log/slurmd.out", env());
  for (int i = 0; i < 150; ++i) {
    ProcessResult r = client({"/usr/bin/sinfo", "-h", "-N", "-o", "%T"}, std::chrono::seconds(5));
    if (r.exit_code == 0 && r.out.rfind("idle", 0) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void SlurmCluster::stop() {
  // slurmd first (it ends its steps), then the controller, then munge that both talk to.
  for (auto* p : {&slurmd_, &slurmctld_, &munged_})
    if (*p) {
      (*p)->stop();
      p->reset();
    }
  if (!options_.cgroup) return;
  // The cgroups Slurm's cgroup plugins made and left (empty once the jobs are gone), deepest first.
  std::error_code ec;
  for (const fs::directory_entry& controller : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    fs::path top = controller.path() / ("slurm_" + node_);
    if (!fs::is_directory(top, ec)) continue;
    std::vector<fs::path> dirs{top};
    for (auto it = fs::recursive_directory_iterator(top, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec)) dirs.push_back(it->path());
    for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) rmdir(d->c_str());
  }
}

std::vector<std::string> SlurmCluster::env() const { return {"SLURM_CONF=" + root_ + "/etc/slurm.conf"}; }

ProcessResult SlurmCluster::client(std::vector<std::string> argv, std::chrono::milliseconds limit) const {
  return run_process(argv, {env(), limit, {}});
}

std::optional<std::string> SlurmCluster::submit(const std::vector<std::string>& args, std::string* why) const {
  std::vector<std::string> argv{"/usr/bin/sbatch", "--parsable"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = client(argv);
  if (r.exit_code != 0) {
    if (why) *why = r.err;
    return std::nullopt;
  }
  std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
  return id;
}

std::map<std::string, std::string> SlurmCluster::job(const std::string& id) const {
  std::map<std::string, std::string> fields;
  ProcessResult r = client({"/usr/bin/scontrol", "show", "job", "-o", id}, std::chrono::seconds(10));
  std::istringstream words(r.out);
  std::string w;
  while (words >> w)
    if (size_t eq = w.find('='); eq != std::string::npos) fields.emplace(w.substr(0, eq), w.substr(eq + 1));
  return fields;
}

std::string SlurmCluster::wait_for_end(const std::string& id, std::chrono::milliseconds limit) const {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    std::string state = job(id)["JobState"];
    if (!state.empty() && state != "PENDING" && state != "RUNNING" && state != "SUSPENDED" && state != "CONFIGURING" &&
        state != "COMPLETING")
      return state;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

bool SlurmCluster::wait_for_running(const std::string& id, std::chrono::milliseconds limit) const {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (job(id)["JobState"] == "RUNNING") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string SlurmCluster::completion_log() const { return read_all(root_ + "/log/jobcomp.log"); }

std::string SlurmCluster::logs() const {
  std::string out;
  for (const char* f : {"munged.out", "slurmctld.log", "slurmctld.out", "slurmd.log", "slurmd.out"})
    out += std::string("== ") + f + "\n" + read_all(root_ + "/log/" + f);
  return out;
}

}  // namespace smartvm::test
