#include "token_file.hpp"

#include "small_file.hpp"

#include <sys/stat.h>

namespace smartvm {

Result<std::string> read_token_file(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return os_error("token file " + path);
  if (st.st_mode & S_IROTH) return make_error("token file " + path + " is readable by everyone; chmod o-r it");
  auto text = read_small_file(path, 4096);
  if (!text) return text.error();
  std::string t = text->substr(0, text->find('\n'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\r')) t.pop_back();
  if (t.size() < 16) return make_error("token file " + path + ": the token must have at least 16 characters");
  return t;
}

}  // namespace smartvm
