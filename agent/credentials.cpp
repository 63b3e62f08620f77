#include "credentials.hpp"

#include "parse_number.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

namespace smartvm::agent {
namespace {

// A decimal id, as chown(1) and systemd's User= accept one.
std::optional<unsigned> as_number(const std::string& s) { return parse_integer<unsigned>(s); }

// getpwnam_r, then getpwuid_r for a number that names nobody: the database has the last word
// on both, so "65534" is whoever the guest calls 65534, and an id it does not know is refused
// like an unknown name (the job needs a home directory and groups).
template <typename Entry, typename ByName, typename ById>
Result<Entry*> look_up(const std::string& key, const std::string& name, const char* what, Entry& entry,
                       std::vector<char>& buf, ByName by_name, ById by_id) {
  buf.resize(16384);
  Entry* found = nullptr;
  int err = by_name(name.c_str(), &entry, buf.data(), buf.size(), &found);
  if (!found)
    if (auto id = as_number(name)) err = by_id(*id, &entry, buf.data(), buf.size(), &found);
  if (found) return found;
  if (err && err != ENOENT && err != ESRCH) return os_error(key + ": look up \"" + name + "\"", err);
  return make_error(key + ": no " + what + " \"" + name + "\" in this guest's " + what + " database");
}

}  // namespace

Result<Credentials> lookup_credentials(const JobSpec& spec) {
  std::vector<char> buf;
  struct passwd pw {};
  auto pwp = look_up("[job] user", spec.user, "user", pw, buf, getpwnam_r,
                     [](unsigned id, passwd* e, char* b, size_t n, passwd** r) { return getpwuid_r(id, e, b, n, r); });
  if (!pwp) return pwp.error();
  Credentials c{(*pwp)->pw_name, (*pwp)->pw_uid, (*pwp)->pw_gid, {}, (*pwp)->pw_dir ? (*pwp)->pw_dir : "/"};
  const std::string allow = "; set [job] allow_root = true to allow that";
  if (c.uid == 0 && !spec.allow_root) return make_error("[job] user: \"" + spec.user + "\" is root" + allow);

  if (!spec.group.empty()) {
    std::vector<char> gbuf;
    struct group gr {};
    auto grp = look_up("[job] group", spec.group, "group", gr, gbuf, getgrnam_r,
                       [](unsigned id, group* e, char* b, size_t n, group** r) { return getgrgid_r(id, e, b, n, r); });
    if (!grp) return grp.error();
    c.gid = (*grp)->gr_gid;
  }
  // Group 0 opens what root's group may read or write: as much root as the user is.
  if (c.gid == 0 && !spec.allow_root)
    return make_error(spec.group.empty() ? "[job] user: the primary group of \"" + c.user + "\" is root (gid 0)" + allow
                                         : "[job] group: \"" + spec.group + "\" is root (gid 0)" + allow);

  // The supplementary groups initgroups(3) would set, resolved here because the child
  // process may only call async-signal-safe functions after fork.
  int n = 32;
  for (;;) {
    c.groups.resize(static_cast<size_t>(n));
    int want = n;
    if (getgrouplist(c.user.c_str(), c.gid, c.groups.data(), &want) >= 0) {
      c.groups.resize(static_cast<size_t>(want));
      break;
    }
    if (want <= n) return make_error("[job] user: cannot list the groups of \"" + c.user + "\"");
    n = want;
  }
  if (!spec.allow_root && std::find(c.groups.begin(), c.groups.end(), gid_t(0)) != c.groups.end())
    return make_error("[job] user: \"" + c.user + "\" is a member of the root group (gid 0)" + allow);
  return c;
}

}  // namespace smartvm::agent
