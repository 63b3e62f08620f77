// The signals that ask a program to stop (SIGTERM from systemd or kill, SIGINT from a terminal),
// as one set: blocked before threads start, waited for with sigtimedwait or a signalfd.
#pragma once

#include <signal.h>

namespace smartvm {

inline sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace smartvm
