// Logging for the programs (never for library code, which returns errors instead).
// Under systemd, when stderr is connected to the journal (JOURNAL_STREAM matches), each line is
// "<priority>message": journald takes the priority from the prefix, and a unit with
// StandardError=journal+console still shows the line on the console (native journal messages
// would not reach it). Otherwise lines are "program: level: message", for a console, a serial
// log or a test.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace smartvm::log {

enum class Level { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

void init(std::string_view program);
void set_max_level(Level level);

void write(Level level, std::string_view message);
inline void error(std::string_view m) { write(Level::error, m); }
inline void warning(std::string_view m) { write(Level::warning, m); }
inline void notice(std::string_view m) { write(Level::notice, m); }
inline void info(std::string_view m) { write(Level::info, m); }
inline void debug(std::string_view m) { write(Level::debug, m); }

// What a library is given to say things with: only a program's top level writes the log, so a
// module that has something to say calls the function it was handed (empty: nothing is said).
using Say = std::function<void(Level, const std::string&)>;
// The Say that writes to this log.
inline Say to_log() {
  return [](Level level, const std::string& message) { write(level, message); };
}

// A condition said once: when it appears, when its reason changes, and when it clears, never at
// every cycle it lasts. The one place that holds "what did we say last" for a daemon's top level.
class Condition {
 public:
  // `subject` starts each line ("libvirt connection to qemu:///system"); `level` is for the
  // problem; its clearing is said at the same level, or at notice for a warning or an error.
  Condition(std::string subject, Level level) : subject_(std::move(subject)), level_(level) {}

  // An empty `problem` means all is well. Returns true when this call logged.
  bool update(const std::string& problem);
  const std::string& problem() const { return problem_; }

 private:
  std::string subject_;
  Level level_;
  std::string problem_;
};

}  // namespace smartvm::log
