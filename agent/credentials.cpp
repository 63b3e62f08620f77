#include "credentials.hpp"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cstdlib>

namespace smartvm::agent {

Result<Credentials> lookup_credentials(const JobSpec& spec) {
  std::vector<char> buf(16384);
  struct passwd pw {}, *pwp = nullptr;
  int err = getpwnam_r(spec.user.c_str(), &pw, buf.data(), buf.size(), &pwp);
  if (!pwp) {
    if (err && err != ENOENT && err != ESRCH) return os_error("[job] user: look up \"" + spec.user + "\"", err);
    return make_error("[job] user: no user \"" + spec.user + "\" in this guest's user database");
  }
  Credentials c{pwp->pw_name, pwp->pw_uid, pwp->pw_gid, {}, pwp->pw_dir ? pwp->pw_dir : "/"};
  if (c.uid == 0 && !spec.allow_root)
    return make_error("[job] user: \"" + spec.user + "\" is root; set [job] allow_root = true to allow that");

  if (!spec.group.empty()) {
    std::vector<char> gbuf(16384);
    struct group gr {}, *grp = nullptr;
    err = getgrnam_r(spec.group.c_str(), &gr, gbuf.data(), gbuf.size(), &grp);
    if (!grp) {
      if (err && err != ENOENT && err != ESRCH) return os_error("[job] group: look up \"" + spec.group + "\"", err);
      return make_error("[job] group: no group \"" + spec.group + "\" in this guest's group database");
    }
    c.gid = grp->gr_gid;
  }

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
  return c;
}

}  // namespace smartvm::agent
