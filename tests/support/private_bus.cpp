#include "private_bus.hpp"

#include "process.hpp"

#include <systemd/sd-bus.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace smartvm::test {

PrivateBus::PrivateBus() {
  // Other users may connect (tests of who may call what): the socket's directory must let them.
  chmod(dir_.path().c_str(), 0755);
  std::string sock = (dir_ / "bus.sock").string();
  std::string pidfile = (dir_ / "pid").string();
  std::string addrfile = (dir_ / "addr").string();
  std::string conf = (dir_ / "bus.conf").string();
  write_file(conf,
             "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" "
             "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
             "<busconfig><type>system</type><listen>unix:path=" + sock + "</listen>"
             "<auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>"
             "<allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/></policy></busconfig>\n");
  std::string cmd = "dbus-daemon --config-file=" + conf + " --fork --print-address=3 --print-pid=4 3>" + addrfile +
                    " 4>" + pidfile;
  if (system(cmd.c_str()) != 0) throw std::runtime_error("dbus-daemon did not start");
  pid_ = std::stoi(read_file(pidfile));
  address_ = read_file(addrfile);
  while (!address_.empty() && (address_.back() == '\n')) address_.pop_back();
}

PrivateBus::~PrivateBus() {
  if (pid_ <= 0) return;
  // The daemon forked away from us, so it is not our child: watch it go by its pid. Its
  // directory is removed only afterwards, or the daemon's own unlink of its socket races ours.
  kill(pid_, SIGTERM);
  for (int i = 0; i < 200 && process_alive(pid_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (process_alive(pid_)) kill(pid_, SIGKILL);
}

namespace {

int on_method(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* svc = static_cast<FakePowerService*>(userdata);
  std::string member = sd_bus_message_get_member(m);
  std::string call = member + "(";
  if (member == "StartUnit") {
    const char *unit = nullptr, *mode = nullptr;
    sd_bus_message_read(m, "ss", &unit, &mode);
    call += std::string(unit) + "," + mode;
    svc->record(call + ")");
    return sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/job/1");
  }
  int interactive = -1;
  sd_bus_message_read(m, "b", &interactive);
  call += interactive ? "true" : "false";
  svc->record(call + ")");
  return sd_bus_reply_method_return(m, "");
}

const sd_bus_vtable kLogind[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("PowerOff", "b", "", on_method, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Reboot", "b", "", on_method, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Halt", "b", "", on_method, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

const sd_bus_vtable kSystemd[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("StartUnit", "ss", "o", on_method, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

}  // namespace

FakePowerService::FakePowerService(const std::string& address, Kind kind) {
  thread_ = std::thread([this, address, kind] {
    sd_bus* bus = nullptr;
    sd_bus_slot* slot = nullptr;
    bool ok = sd_bus_new(&bus) >= 0 && sd_bus_set_address(bus, address.c_str()) >= 0 &&
              sd_bus_set_bus_client(bus, 1) >= 0 && sd_bus_start(bus) >= 0;
    if (ok && kind == Kind::logind)
      ok = sd_bus_add_object_vtable(bus, &slot, "/org/freedesktop/login1", "org.freedesktop.login1.Manager", kLogind,
                                    this) >= 0 &&
           sd_bus_request_name(bus, "org.freedesktop.login1", 0) >= 0;
    if (ok && kind == Kind::systemd)
      ok = sd_bus_add_object_vtable(bus, &slot, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                    kSystemd, this) >= 0 &&
           sd_bus_request_name(bus, "org.freedesktop.systemd1", 0) >= 0;
    ready_ = true;
    while (ok && !stop_) {
      int r = sd_bus_process(bus, nullptr);
      if (r < 0) break;
      if (r == 0) sd_bus_wait(bus, 50000);
    }
    sd_bus_slot_unref(slot);
    sd_bus_flush_close_unref(bus);
  });
  while (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakePowerService::~FakePowerService() {
  stop_ = true;
  thread_.join();
}

void FakePowerService::record(std::string call) {
  std::lock_guard lock(mutex_);
  calls_.push_back(std::move(call));
}

std::vector<std::string> FakePowerService::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

}  // namespace smartvm::test
