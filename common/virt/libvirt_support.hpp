// What nodeld and smartvm-run both need from libvirt, written once: its event loop on a thread
// of its own, and its errors as text.
#pragma once

#include "error.hpp"

#include <string>

namespace smartvm {

// "WHAT: libvirt's last error message" (of this thread).
std::string libvirt_error(const std::string& what);

// libvirt's default event loop on a thread of its own for the life of the process: it carries
// lifecycle events and connection keepalives. It must be registered before the first
// connection is opened, as libvirt requires; the first call starts it, later ones say whether
// that worked. It also stops libvirt printing every error to stderr: the callers say what
// failed themselves, once.
Result<void> start_libvirt_event_loop();

}  // namespace smartvm
