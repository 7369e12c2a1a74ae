// The public view of an account that sshd's AuthorizedKeysCommand needs:
// state_dir/authkeys/NAME.json, root-owned, mode 0640, group of keys_user.
// It holds the pinned keys, the source blocks, the access gates, the hours
// and the end of the current grant — never a code hash or a TOTP secret.
// vendorctl rewrites it after every change that affects it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "policy.h"
#include "registry.h"
#include "result.h"
#include "schedule.h"
#include "store.h"

namespace vendor::core {

struct PublicView {
    std::string name;
    std::vector<std::string> from;  // CIDR text
    unsigned access = 0;
    std::string hours;
    std::vector<std::string> keys;
    std::int64_t grant_not_before = 0, grant_not_after = 0;
};

// Write (or remove, when `e` is null) the public view of one account.
Status publish_authkeys(const Config& c, const std::string& name, const Entry* e,
                        const std::optional<Grant>& g);
Result<PublicView> read_authkeys(const Config& c, const std::string& name);

// The key view's decision: decide(Phase::keys) on the view (no_pinned_key,
// source_not_allowed, not_activated, grant_expired, outside_hours;
// config_error when the zone cannot be read, state_error for a damaged view).
Verdict key_view_verdict(const Config& c, const PublicView& v, std::int64_t now);

// The authorized_keys lines sshd gets for this account now; empty when the
// key view's verdict denies, and then `why` names its reason.
std::vector<std::string> authorized_keys_lines(const Config& c, const PublicView& v,
                                               std::int64_t now, std::string* why = nullptr);

}  // namespace vendor::core
