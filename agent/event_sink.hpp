// What the agent's parts say happened (the job started, a timeout, a lost connection to
// systemd, the power path taken), for the agent's top level (main.cpp) to log: library code
// does not log itself (log.hpp), it tells a sink the top level provides.
#pragma once

#include "log.hpp"

#include <functional>
#include <string>

namespace smartvm::agent {

using EventSink = log::Say;  // the same for every program's libraries

// An empty sink drops the event (unit tests, a caller with nobody to tell).
inline void tell(const EventSink& sink, log::Level level, const std::string& message) {
  if (sink) sink(level, message);
}

}  // namespace smartvm::agent
