#include "shell_words.hpp"

namespace smartvm {

Result<std::vector<std::string>> split_shell_words(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    std::string at = " at column " + std::to_string(i + 1);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return make_error("unterminated single quote" + at);
      word.append(line.substr(i + 1, end - i - 1));
      in_word = true;
      i = end;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size() && std::string_view("\"\\$`\n").find(line[j + 1]) != std::string_view::npos)
          ++j;
        else if (line[j] == '$' || line[j] == '`')
          return make_error(std::string("'") + line[j] + "'" + " inside double quotes" + " at column " +
                            std::to_string(j + 1) + ": no shell expands it; escape it as \\" + line[j] +
                            " or use single quotes");
        word += line[j];
      }
      if (j == line.size()) return make_error("unterminated double quote" + at);
      in_word = true;
      i = j;
    } else if (c == '\\') {
      if (i + 1 == line.size()) return make_error("a backslash at the end of the line");
      word += line[++i];
      in_word = true;
    } else if (std::string_view("|&;<>()$`").find(c) != std::string_view::npos) {
      return make_error(std::string("'") + c + "'" + at +
                        ": no shell runs the job, so shell operators and expansions do not work; quote it to "
                        "pass it as text");
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::string quote_shell_word(std::string_view word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                              "-_./=:,+@%") == std::string_view::npos)
    return std::string(word);
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace smartvm
