// The I/O half of the decision: gather the facts (grant, failures, groups,
// clock, zone) that decide() needs for an identified vendor (identity.h).
// Shared by pam_vendor.so and vendorctl so that `vendorctl explain` and
// `vendorctl status` give the verdict the module would give.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config.h"
#include "identity.h"
#include "policy.h"
#include "registry.h"
#include "result.h"
#include "schedule.h"
#include "store.h"

namespace vendor::core {

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
