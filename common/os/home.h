// Home directories of nss_vendor accounts: created by vendorctl add (owner
// the account, 0700, /etc/skel copied), archived or deleted by remove. All
// through directory fds without following links, so a vendor who planted a
// symlink in his home cannot steer root's removal elsewhere.
#pragma once

#include <sys/types.h>

#include <string>

#include "result.h"

namespace vendor::core {

Status create_home(const std::string& home_base, const std::string& name, uid_t uid, gid_t gid,
                   const std::string& skel_dir = "/etc/skel");
// mode: "archive" (moved to home_base/.removed/NAME-TIMESTAMP, root-only),
// "delete" (removed recursively), "keep". Sets `where` to what was done.
Status retire_home(const std::string& home_base, const std::string& name, const std::string& mode,
                   std::string& where);

}  // namespace vendor::core
