// pam_vendor.conf(5): one keyword table shared by the module and vendorctl
// (`vendorctl config` dumps the effective values, as `sshd -T` does).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "result.h"

namespace vendor::core {

inline constexpr const char* kDefaultConfigPath = "/etc/security/pam_vendor.conf";

struct Config {
    std::string path;  // where it was read from ("" = built-in defaults)
    std::string registry_dir = "/etc/pam_vendor/accounts.d";
    std::string state_dir = "/var/lib/pam_vendor";
    // store.h open_store(): local = state_dir; fleet is reserved (FLEET.md:
    // pam_vendor-fleetd over a Unix socket) and refused by this build.
    std::string state_backend = "local";
    std::string nss_dir = "/var/lib/pam_vendor/nss";
    std::string audit_log = "/var/log/pam_vendor/audit.jsonl";
    // Where the audit twins go (sink.h): the local syslog daemon's datagram
    // socket. Only root's config names it, so no user can divert them.
    std::string syslog_socket = "/dev/log";
    std::string host_name;  // empty: gethostname()
    std::string timezone;   // empty: /etc/localtime
    std::string vendor_group = "vendors";
    std::vector<std::string> privileged_groups = {"root",   "sudo", "wheel",   "adm",  "admin",
                                                  "docker", "lxd",  "libvirt", "disk", "shadow"};
    unsigned otp_digits = 8;
    std::int64_t otp_ttl = 600;
    unsigned totp_window = 1;
    std::int64_t max_grant = 12 * 3600;
    unsigned lockout_threshold = 5;
    std::int64_t lockout_time = 900;
    unsigned log_retention_days = 190;
    // Accounts served by nss_vendor (pam_vendor.conf(5) explains the range:
    // above sssd's default AD id-mapping range and Debian's/systemd's
    // reserved ranges, below systemd's 2^31 boundary).
    std::uint32_t uid_min = 2000300000;
    std::uint32_t uid_max = 2000499999;
    std::uint32_t vendor_gid = 2000300000;
    std::string home_base = "/home/vendors";
    std::string shell = "/bin/bash";
    std::vector<std::string> allowed_groups;  // supplementary groups a vendor may be given
    std::string remove_home = "archive";      // archive | delete | keep
    // sshd's AuthorizedKeysCommandUser: may read the published public keys
    // (state_dir/authkeys), nothing else.
    std::string keys_user = "pam-vendor-keys";
    // restrict: no port, agent or X11 forwarding, no ~/.ssh/rc (a vendor key
    // must not tunnel into the hospital network); pty: an interactive shell.
    std::string authorized_keys_options = "restrict,pty";
};

// The keyword table: one row per key drives the parser, `vendorctl config`
// (the dump), `vendorctl config --keys` (the listing the man-page lint
// reads), and salvage_identity(). A new key is one row here, one member of
// Config, one .TP item in pam_vendor.conf(5).
enum class KeyKind {
    path,         // absolute, no space, no . or .. component; trailing '/' dropped
    duration,     // 90s, 10m, 1h30m, 1d (duration.h), within min..max seconds
    count,        // a number within min..max
    id,           // a uid/gid within min..max
    host,         // a host name
    zone,         // a zoneinfo name
    group,        // one group name (files syntax)
    user,         // one user name (files syntax)
    group_list,   // space-separated group names (files syntax)
    names,        // space-separated names, "quoted" when they hold a space (AD groups)
    choice,       // one word of `choices`
    ssh_options,  // an authorized_keys(5) option list
};
// Which keys salvage_identity() keeps from a broken file.
enum class Salvage {
    no,
    identifies_vendors,  // who is a vendor: their denial must not turn into a pass
    logs_denial,         // where and as which host that denial is logged
};
// Where the value lives. Ids (uid_t-sized) and counts share `unsigned`.
static_assert(std::is_same_v<std::uint32_t, unsigned>);
using ConfigField = std::variant<std::string Config::*, std::vector<std::string> Config::*,
                                 unsigned Config::*, std::int64_t Config::*>;
struct ConfigKey {
    const char* name;
    KeyKind kind;
    ConfigField field;
    std::int64_t min, max;  // duration (seconds), count, id
    const char* choices;    // choice: the words, space-separated
    const char* unset;      // shown by the dump for an empty value, e.g. "(gethostname)"
    Salvage salvage;
    const char* help;  // one line, for `vendorctl config --keys`; the default is added there
};
// The table, in documentation order.
std::span<const ConfigKey> config_keys();
const ConfigKey* find_config_key(std::string_view name);
const char* key_kind_name(KeyKind k) noexcept;
// A key's value in the file's own syntax (what the dump prints after "=").
std::string format_config_value(const ConfigKey& k, const Config& c);
// `vendorctl config --keys`: one line per key, tab-separated:
// name, kind (with its range or choices), built-in default, help.
std::string list_config_keys();

// Parse text; unknown keys, repeated keys, bad values reject the whole file.
Result<Config> parse_config(std::string_view text, std::string path);
// Best effort for a broken file: only the keys that say who is a vendor
// (registry_dir, vendor_group, vendor_gid, uid_min, uid_max), so that
// vendors are still denied rather than
// waved through when the administrator's config has a typo, and where that
// denial is logged (audit_log, host_name).
Config salvage_identity(std::string_view text);

// The privilege guard's comparison of a configured privileged_groups name
// with a group the user is in. AD names are case-insensitive, so ASCII case
// is ignored; an unqualified name also matches that name qualified by a
// domain ("domain admins" matches "Domain Admins@corp.example" from sssd and
// "CORP\Domain Admins" from winbind). A match is a denial: matching more
// fails closed.
bool group_name_matches(std::string_view configured, std::string_view actual) noexcept;

// "key = value" lines for every key, effective values.
std::string dump_config(const Config& c);

}  // namespace vendor::core
