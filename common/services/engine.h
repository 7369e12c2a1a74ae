// The I/O half of the decision: find out who is a vendor, load the entry,
// gather the facts (grant, failures, groups, clock, zone) and call decide().
// Shared by pam_vendor.so and vendorctl so that `vendorctl explain` gives the
// verdict the module would give.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "files.h"
#include "policy.h"
#include "registry.h"
#include "result.h"
#include "schedule.h"
#include "store.h"

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

// The NSS facts identification needs. Every lookup distinguishes "absent"
// (std::nullopt) from "could not be answered" (an error): an error is never
// read as "not a vendor" or "not privileged".
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

// The registry's uid index (registry_dir/.uids, written by vendorctl):
// uid -> account name of every entry whose uid is known. Missing or
// damaged, it is rebuilt in memory from the entries; unreadable is an error.
Result<std::vector<std::pair<std::uint32_t, std::string>>> registered_uids(const Config& c);
std::string uid_index_text(const std::vector<std::pair<std::uint32_t, std::string>>& uids);
Result<std::vector<std::pair<std::uint32_t, std::string>>> parse_uid_index(std::string_view text);

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

std::string this_host(const Config& c);
Result<TimeZone> load_zone(const Config& c);

struct Gathered {
    Facts facts;
    std::shared_ptr<TimeZone> zone;  // facts.tz points here (stable across moves)
    std::optional<Reason> error;     // set when a fact could not be read: deny with it
    std::string detail;
};
// Everything decide() needs except the source and otp_done, which the
// caller sets (PAM items or the command line).
Gathered gather(const Config& c, Store& store, const Entry& e, std::string_view user,
                std::int64_t now, UserCache* cache = nullptr);

// `vendorctl status` for one account: gather() then account_state(); a
// fact that cannot be read is the denial the module would log with it.
AccountState account_state(const Config& c, const Entry& e, Store& store, std::string_view user,
                           std::int64_t now, UserCache* cache = nullptr);

// Operator name for grants and admin events: SUDO_USER when run through sudo
// by root, else the login name of the real uid.
std::string operator_name();

}  // namespace vendor::core
