// Every user and group lookup of the core, through NSS (getpwnam_r and
// friends), with one buffer policy. Every lookup distinguishes "absent"
// (std::nullopt) from "could not be answered" (an error): an error is never
// read as "not a vendor" or "not privileged".
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.h"

namespace vendor::core {

struct PwInfo {
    std::string name;  // canonical (pw_name)
    uid_t uid = 0;
    gid_t gid = 0;
};
// enoent_is_absent: ENOENT (what glibc returns when the last source is
// unavailable, e.g. nss_vendor before its first index) reads as "absent";
// only vendorctl's collision checks use it, never the module.
Result<std::optional<PwInfo>> lookup_user(std::string_view name, bool enoent_is_absent = false);
// The same by uid (vendorctl's free-id search, the name-collision checks).
Result<std::optional<PwInfo>> lookup_uid(uid_t uid, bool enoent_is_absent = false);

// Every user and group lookup goes through these helpers and their one
// buffer policy (4 KiB, grown on ERANGE up to 4 MiB: an AD or files group
// with thousands of members is still answered, never read as absent).
Result<std::optional<gid_t>> lookup_group(std::string_view group, bool enoent_is_absent = false);
// A group's name by gid; nullopt when the gid has no entry (or no name).
Result<std::optional<std::string>> group_name_of(gid_t gid);
// The user's groups (primary first); getgrouplist has no error return, so a
// list that cannot be completed is an error.
Result<std::vector<gid_t>> groups_of(const std::string& user, gid_t primary);
// A group's gid and member list (gr_mem); absent is std::nullopt.
Result<std::optional<std::pair<gid_t, std::vector<std::string>>>>
lookup_group_members(std::string_view group, bool enoent_is_absent = false);

}  // namespace vendor::core
