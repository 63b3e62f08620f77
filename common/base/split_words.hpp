// Whitespace-separated fields, as the kernel prints them in /proc, /sys and cgroup files
// ("rbytes=1 wbytes=2", "8:0 rbps=max"). No quoting: for a job's command line see shell_words.
#pragma once

#include <string_view>
#include <vector>

namespace smartvm {

std::vector<std::string_view> split_words(std::string_view text);

}  // namespace smartvm
