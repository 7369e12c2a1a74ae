// pam_vendor.conf(5): one keyword table shared by the module and vendorctl
// (`vendorctl config` dumps the effective values, as `sshd -T` does).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace vendor::core {

inline constexpr const char* kDefaultConfigPath = "/etc/security/pam_vendor.conf";

struct Config {
    std::string path;  // where it was read from ("" = built-in defaults)
    std::string registry_dir = "/etc/pam_vendor/accounts.d";
    std::string state_dir = "/var/lib/pam_vendor";
    std::string nss_dir = "/var/lib/pam_vendor/nss";
    std::string audit_log = "/var/log/pam_vendor/audit.jsonl";
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

struct ConfigKey {
    const char* name;
    const char* help;  // one line, for `vendorctl config --help` and lint against the man page
};
// The keyword table, in documentation order.
const std::vector<ConfigKey>& config_keys();

// Parse text; unknown keys, repeated keys, bad values reject the whole file.
Result<Config> parse_config(std::string_view text, std::string path);
// Read `path` with the safe-open rules. An absent file at the *default* path
// yields the built-in defaults; an absent explicitly named file is an error.
Result<Config> load_config(const std::string& path, bool explicit_path);
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
