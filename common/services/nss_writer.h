// Compiles the NSS index (nss_index.h) from the registry. Called by vendorctl
// after every change; the module only ever sees a complete file (atomic
// rename), and never an id outside the configured range.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "registry.h"
#include "result.h"

namespace vendor::core {

struct NssUser {
    std::string name, gecos, dir, shell;
    std::uint32_t uid = 0, gid = 0;
    std::vector<std::uint32_t> sup;  // supplementary gids
};

struct NssGroup {
    std::string name;
    std::uint32_t gid = 0;
    std::vector<std::string> members;
};

Result<std::string> build_nss_index(std::vector<NssUser> users, std::vector<NssGroup> groups,
                                    std::uint32_t id_min, std::uint32_t id_max);

// Installs index bytes at `path` the one way the module sees at once: the
// file being replaced is marked superseded, then the new one is renamed over
// it (atomic_write_superseding; nss_index.h explains why in that order).
Status install_nss_index(std::string_view path, std::string_view bytes, mode_t mode = 0644);

// Reads every registry entry, resolves supplementary groups (getgrnam_r),
// builds and atomically installs nss_dir/index (0644, directory 0755) and
// the registry's uid index (registry_dir/.uids, 0600). An account whose name
// or uid another NSS source already serves (a restored /etc/passwd, a reused
// name) is left out of the NSS index and described in `problems`: it must
// not take over someone else's files. Returns the number of accounts served.
Result<std::size_t> compile_nss_index(const Config& c,
                                      std::vector<std::string>* problems = nullptr);

// Problems with an entry's identity on this system: for an nss_vendor
// account, its name or uid served by another source; for an existing
// account, root, a system uid (< 1000), a name that resolves under another
// spelling, a uid other than the recorded one. "" when none.
std::string identity_problem(const Config& c, const Entry& e);

// Ids of removed nss_vendor accounts, never given out again by vendorctl
// add: the removed vendor's files (a kept or archived home, anything left in
// /tmp or /var/mail) are still owned by that uid, and the next vendor must not
// own them. registry_dir/.retired-uids, root-only, one "UID NAME DATE" line
// per removal, written by vendorctl remove under the registry lock
// (nss_vendor(8)). A line that does not parse fails the whole file.
std::string retired_uids_path(const Config& c);
Result<std::vector<std::uint32_t>> parse_retired_uids(std::string_view text);
Result<std::vector<std::uint32_t>> load_retired_uids(const Config& c);  // no file: none
Status retire_uid(const Config& c, std::uint32_t uid, std::string_view name, std::int64_t when);

}  // namespace vendor::core
