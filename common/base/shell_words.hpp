// Splits a command line into words the way a POSIX shell would, without running a shell:
// 'single quotes' are literal, "double quotes" allow \" \\ \$ \`, a backslash outside quotes
// escapes the next character, and "" is an empty word. Boost's split_unix is not used
// because it treats single quotes like double quotes and drops empty words.
//
// Shell operators and expansions (| & ; < > ( ) $ `) are refused unless quoted: no shell
// runs the job, so "a > out" would not redirect, and silently passing ">" as a word would
// surprise whoever wrote it.
#pragma once

#include "error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace smartvm {

Result<std::vector<std::string>> split_shell_words(std::string_view line);

// The reverse, for logs and plans: each word single-quoted when it needs quoting.
std::string quote_shell_word(std::string_view word);

}  // namespace smartvm
