// The registry: one JSON file per vendor account, registry_dir/NAME.json,
// root-owned, written only by vendorctl. Format: pam_vendor-registry(5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net.h"
#include "result.h"
#include "schedule.h"

namespace vendor::core {

enum Access : unsigned {
    kAccessGrant = 1u << 0,
    kAccessOtp = 1u << 1,
    kAccessHours = 1u << 2,
};

Result<unsigned> parse_access(std::string_view s);  // "grant+otp"
std::string format_access(unsigned a);

struct Entry {
    std::string name;
    std::string vendor;
    std::vector<Cidr> from;
    bool allow_local = false;  // console / su with no remote host
    bool any_source = false;   // 'from' may hold a wide block (Cidr::is_wide)
    unsigned access = kAccessGrant;
    std::optional<Schedule> hours;  // required iff access has hours
    std::vector<std::string> keys;  // pinned OpenSSH public keys ("type base64 [comment]")
    std::vector<std::string> hosts = {"*"};
    std::string comment;
    // Account served by nss_vendor (existing == false) or registered over an
    // account that resolves elsewhere, e.g. AD through sssd (existing == true).
    bool existing = false;
    // nss_vendor accounts: their uid. Existing accounts: the uid vendorctl
    // resolved at add (and reindex); login checks that it still resolves so.
    std::uint32_t uid = 0;
    bool uid_recorded = false;
    std::string home;                 // nss_vendor accounts only
    std::string shell;                // nss_vendor accounts only
    std::vector<std::string> groups;  // supplementary groups (config allowed_groups)
    std::string created;              // RFC 3339
    std::string created_by;           // operator
};

Result<Entry> parse_entry(std::string_view text, std::string_view expected_name);
// A wide 'from' block (0.0.0.0/0, ::/0, ...) is an error unless any_source.
Status check_wide(const Cidr& c, bool any_source);
std::string serialize_entry(const Entry& e);

// Shell-style glob over host names: '*', '?', '[...]' not supported (none is
// needed for host names); case-insensitive, as DNS names are.
bool host_glob_match(std::string_view pattern, std::string_view host) noexcept;
bool valid_host_pattern(std::string_view p) noexcept;

// OpenSSH public key line validation (algorithm policy of the guideline):
// ed25519, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com,
// sk-ecdsa-sha2-nistp256@openssh.com, ssh-rsa with at least 3072 bits.
struct PublicKey {
    std::string type;
    std::string blob_b64;
    std::string comment;
    unsigned bits = 0;
    std::string fingerprint;  // "SHA256:..." as ssh-keygen -l prints it
};
Result<PublicKey> parse_public_key(std::string_view line);

std::string entry_path(const std::string& registry_dir, std::string_view name);

}  // namespace vendor::core
