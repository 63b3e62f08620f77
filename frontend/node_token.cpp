#include "node_token.hpp"

#include "node_report.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace smartvm::frontend {

std::string node_token(std::string_view secret, std::string_view node) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(node.data()),
       node.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out(node);
  out += ':';
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

std::optional<std::string> node_of_token(std::string_view secret, std::string_view token) {
  // Node names have no ':', so the last one separates the name from the MAC.
  size_t colon = token.rfind(':');
  if (secret.empty() || colon == std::string_view::npos) return std::nullopt;
  std::string_view node = token.substr(0, colon);
  if (!valid_node_name(node) || !same_secret(node_token(secret, node), token)) return std::nullopt;
  return std::string(node);
}

bool same_secret(std::string_view a, std::string_view b) {
  unsigned diff = a.size() != b.size();
  for (size_t i = 0; i < b.size(); ++i) diff |= static_cast<unsigned>(i < a.size() ? a[i] ^ b[i] : 1);
  return diff == 0;
}

}  // namespace smartvm::frontend
