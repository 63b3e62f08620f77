// Logging for the programs (never for library code, which returns errors instead).
// Under systemd, when stderr is connected to the journal (JOURNAL_STREAM matches), messages go
// to the journal with their priority and structured fields; otherwise they go to stderr as
// "program: level: message", which is what a console, a serial log or a test reads.
#pragma once

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

}  // namespace smartvm::log
