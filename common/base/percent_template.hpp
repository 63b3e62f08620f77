// "%n-%i"-style templates: each %X with a value in the table becomes that value, %% a literal
// %, and any other % sequence stays as it is. Used for guest cgroup paths (nodeld) and the
// services catalog's %j and %u (smartvm-run).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace smartvm {

std::string expand_percent(std::string_view tmpl, const std::map<char, std::string>& values);

}  // namespace smartvm
