#include "temp_dir.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace smartvm::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "smartvm-test.XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  // remove_all gives up at the first entry that vanished under it; go again until it is gone.
  std::error_code ec;
  for (int i = 0; i < 5 && std::filesystem::exists(path_, ec); ++i) std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& p, const std::string& content) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace smartvm::test
