#include "conntrack.hpp"

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include <cerrno>
#include <vector>

namespace smartvm::nodeld {

namespace {

struct Match {
  uint32_t address;
  std::vector<nf_conntrack*> found;  // clones, freed by the caller
};

int collect(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* m = static_cast<Match*>(data);
  if (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) != AF_INET) return NFCT_CB_CONTINUE;
  if (nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC) == m->address || nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST) == m->address)
    m->found.push_back(nfct_clone(ct));
  return NFCT_CB_CONTINUE;
}

Result<Match> find(uint32_t address) {
  Match m{address, {}};
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  if (!h) {
    if (errno == EPROTONOSUPPORT || errno == ENOENT) return m;  // no connection tracking here
    return os_error("conntrack netlink");
  }
  nfct_callback_register(h, NFCT_T_ALL, collect, &m);
  uint32_t family = AF_INET;
  int r = nfct_query(h, NFCT_Q_DUMP, &family);
  Error e = r < 0 ? os_error("conntrack dump") : Error{};
  nfct_close(h);
  if (r < 0) {
    for (nf_conntrack* ct : m.found) nfct_destroy(ct);
    return e;
  }
  return m;
}

}  // namespace

Result<size_t> count_connections(uint32_t address) {
  auto m = find(address);
  if (!m) return m.error();
  for (nf_conntrack* ct : m->found) nfct_destroy(ct);
  return m->found.size();
}

Result<size_t> forget_connections(uint32_t address) {
  auto m = find(address);
  if (!m) return m.error();
  if (m->found.empty()) return size_t(0);
  // A handle of its own: queries cannot be made from inside the dump's callback.
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  if (!h) {
    for (nf_conntrack* ct : m->found) nfct_destroy(ct);
    return os_error("conntrack netlink");
  }
  size_t removed = 0;
  for (nf_conntrack* ct : m->found) {
    // ENOENT: it expired meanwhile, which is as good.
    if (nfct_query(h, NFCT_Q_DESTROY, ct) == 0 || errno == ENOENT) ++removed;
    nfct_destroy(ct);
  }
  nfct_close(h);
  return removed;
}

}  // namespace smartvm::nodeld
