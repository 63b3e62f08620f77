// Per-node credentials: a node's token is "NAME:HMAC", the HMAC-SHA256 (hex) of its name keyed
// with the frontend's node secret. The frontend keeps no per-node state to check one, a token
// names the one node it may report for, and `smartvm-frontend --node-token NAME` prints it for
// the sysadmin to copy into that node's token_file.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smartvm::frontend {

std::string node_token(std::string_view secret, std::string_view node);

// The node a presented token is valid for, or nullopt (compared in constant time).
std::optional<std::string> node_of_token(std::string_view secret, std::string_view token);

// Constant-time equality of two strings (the length may leak, the contents do not).
bool same_secret(std::string_view a, std::string_view b);

}  // namespace smartvm::frontend
