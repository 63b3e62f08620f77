// What nodeld and smartvm-run both need from libvirt, written once: its event loop on a thread
// of its own, its errors as text, and the namespace of the mark smartvm-run puts on a job's
// domain and nodeld reads back.
#pragma once

#include "error.hpp"

#include <string>

namespace smartvm {

// smartvm-run's mark on a job domain: <metadata><smartvm:job xmlns:smartvm=URI> with the
// service, the job id, the requesting user and the pid of the smartvm-run that waits for it
// (launcher/domain_xml.cpp writes it, nodeld/libvirt/domain_devices.cpp reads it).
inline constexpr const char* kJobMetadataNamespace = "https://smartvm.dev/xmlns/job/1";

// "WHAT: libvirt's last error message" (of this thread).
std::string libvirt_error(const std::string& what);

// libvirt's default event loop on a thread of its own for the life of the process: it carries
// lifecycle events and connection keepalives. It must be registered before the first
// connection is opened, as libvirt requires; the first call starts it, later ones say whether
// that worked. It also stops libvirt printing every error to stderr: the callers say what
// failed themselves, once.
Result<void> start_libvirt_event_loop();

}  // namespace smartvm
