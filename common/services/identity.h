// Who is a vendor (pam_vendor(8), WHO IS A VENDOR): the canonical identity,
// the uid index, the vendor group and id range, and the sources asked when
// the configuration cannot be used. Shared by pam_vendor.so and vendorctl.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.h"
#include "files.h"
#include "nss_lookup.h"
#include "policy.h"
#include "registry.h"
#include "result.h"
#include "uid_index.h"

namespace vendor::core {

// Who the user is to pam_vendor (pam_vendor(8), WHO IS A VENDOR), decided on
// the canonical identity: the name as NSS returns it (pw_name) and the uid,
// never on the spelling the client typed.
struct Identity {
    enum Kind {
        not_vendor,    // PAM_IGNORE, no log
        vendor,        // has a readable, valid entry
        vendor_error,  // is (or may be) a vendor but cannot be let through: deny
    } kind = not_vendor;
    std::optional<Entry> entry;
    Reason error_reason = Reason::internal_error;
    std::string detail;
};

// The NSS answers of one PAM transaction, kept on the handle so that the
// four phases of a login ask NSS once (a miss walks every source: files,
// systemd userdb, sssd). Only answers are kept, never errors; keyed by the
// typed name.
struct UserCache {
    bool have_user = false;
    std::string typed;
    std::optional<PwInfo> pw;
    bool have_groups = false;
    std::vector<std::string> group_names;  // names of the canonical user's gids
    // The configuration and the registry entries this handle parsed, each
    // with the identity of the file it came from, taken before the read: a
    // later phase re-validates with safe_stat (every check of safe_read) and
    // parses again only when the file changed; an insecure or unreadable
    // file is the error it always was. Grants and codes are state, never kept.
    struct ConfigMemo {
        std::string path;
        FileId id;
        Config cfg;
    };
    std::optional<ConfigMemo> config;
    struct EntryMemo {
        std::string path;
        FileId id;
        Entry entry;
    };
    std::vector<EntryMemo> entries;
};
// The registry's uid index (registry_dir/.uids, written by vendorctl):
// uid -> account name of every entry whose uid is known. Missing or
// damaged, it is rebuilt in memory from the entries; unreadable is an error.
Result<std::vector<std::pair<std::uint32_t, std::string>>> registered_uids(const Config& c);

// 1. the typed name's registry entry; 2. the canonical identity through
// NSS; 3. canonical name, uid index, entry uid, vendor id range, vendor
// group (by gid too, so a missing NSS index does not hide a member).
Identity identify(const Config& c, std::string_view user, UserCache* cache = nullptr);

// The module's view when its configuration cannot be used: every source
// that may name vendors (the built-in defaults, what can be salvaged from
// the file, every configuration vendorctl saw valid: CONF.known) is asked;
// any that says "vendor" makes a denial with config_error.
struct Identification {
    Config cfg;                  // what the phase runs with (log path, host name)
    std::string config_problem;  // "" when the configuration is usable
    Identity id;
};
Identification identify_user(const std::string& conf_path, bool explicit_conf,
                             std::string_view user, UserCache* cache = nullptr);

// CONF.known: the identity settings (registry_dir, vendor_group, vendor_gid,
// id range, audit_log, host_name) of every valid configuration vendorctl
// loaded from CONF. Root-only; never read while CONF itself is usable.
std::string known_path(const std::string& conf_path);
Result<std::vector<Config>> read_known(const std::string& conf_path);
// Adds `c` to CONF.known when it is not there yet (vendorctl, root).
Status remember_config(const std::string& conf_path, const Config& c);

// First privileged group (config list) the user belongs to, "" if none; a
// system account (uid < 1000) and uid 0 count as privileged.
Result<std::string> privileged_group_of(const Config& c, std::string_view user,
                                        UserCache* cache = nullptr);

}  // namespace vendor::core
