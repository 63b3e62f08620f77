#include "log.hpp"

#include <algorithm>

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace smartvm::log {
namespace {

std::string g_program = "smartvm";
Level g_max = Level::info;
bool g_journal = false;

// systemd sets JOURNAL_STREAM=dev:ino for the stream it connects; if stderr is that stream,
// the native protocol keeps priorities that a plain line would lose.
bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  return fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::error: return "error";
    case Level::warning: return "warning";
    case Level::notice: return "notice";
    case Level::info: return "info";
    case Level::debug: return "debug";
  }
  return "?";
}

}  // namespace

void init(std::string_view program) {
  g_program = program;
  g_journal = stderr_is_journal();
}

void set_max_level(Level level) { g_max = level; }

void write(Level level, std::string_view message) {
  if (level > g_max) return;
  std::string line = g_journal ? "<" + std::to_string(static_cast<int>(level)) + ">" + std::string(message) + "\n"
                               : g_program + ": " + level_name(level) + ": " + std::string(message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

bool Condition::update(const std::string& problem) {
  if (problem == problem_) return false;
  // The clearing is said as loudly as the problem, but no louder than notice: a problem said at
  // info (hidden at the default level) is not followed by a recovery nobody saw the start of.
  if (problem.empty())
    write(std::max(level_, Level::notice), subject_ + ": well again (was: " + problem_ + ")");
  else
    write(level_, subject_ + ": " + problem);
  problem_ = problem;
  return true;
}

}  // namespace smartvm::log
