#include "shell_words.hpp"

#include "catch_result.hpp"

using namespace smartvm;
using Words = std::vector<std::string>;

TEST_CASE("words split like a POSIX shell splits them", "[shell_words]") {
  CHECK(*split_shell_words("--input \"in put.dat\" -t 4") == Words{"--input", "in put.dat", "-t", "4"});
  CHECK(*split_shell_words("  a\tb  ") == Words{"a", "b"});
  CHECK(*split_shell_words("'it''s' \"\" x") == Words{"its", "", "x"});
  CHECK(*split_shell_words("'a \"b\" \\c'") == Words{"a \"b\" \\c"});
  CHECK(*split_shell_words("\"a \\\"b\\\" \\$HOME \\x\"") == Words{"a \"b\" $HOME \\x"});
  CHECK(*split_shell_words("a\\ b c\\'d") == Words{"a b", "c'd"});
  CHECK(*split_shell_words("pre'mid'\"post\"") == Words{"premidpost"});
  CHECK(*split_shell_words("'>' '|'") == Words{">", "|"});
  CHECK(split_shell_words("")->empty());
}

TEST_CASE("unquoted shell syntax and broken quoting are refused with the column", "[shell_words]") {
  CHECK(split_shell_words("a > out").error().message.find("'>' at column 3: no shell runs the job") == 0);
  CHECK(split_shell_words("x; rm").error().message.find("';' at column 2") == 0);
  CHECK(split_shell_words("$HOME").error().message.find("'$' at column 1") == 0);
  CHECK(split_shell_words("\"$HOME\"").error().message.find("'$' inside double quotes at column 2") == 0);
  CHECK(split_shell_words("'open").error().message == "unterminated single quote at column 1");
  CHECK(split_shell_words("a \"open").error().message == "unterminated double quote at column 3");
  CHECK(split_shell_words("a\\").error().message == "a backslash at the end of the line");
}

TEST_CASE("quoting round-trips through splitting", "[shell_words]") {
  Words words{"plain", "with space", "it's", "", "$x", "a\"b"};
  std::string line;
  for (const auto& w : words) line += quote_shell_word(w) + " ";
  CHECK(*split_shell_words(line) == words);
}
