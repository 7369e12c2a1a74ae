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
#include "policy.h"
#include "registry.h"
#include "result.h"
#include "schedule.h"
#include "store.h"

namespace vendor::core {

// Who the user is to pam_vendor.
struct Identity {
    enum Kind {
        not_vendor,    // PAM_IGNORE, no log
        vendor,        // has a readable, valid entry
        vendor_error,  // is (or may be) a vendor but the entry is missing/broken/insecure
    } kind = not_vendor;
    std::optional<Entry> entry;
    Reason error_reason = Reason::internal_error;
    std::string detail;
};

// Cheap test first: fstatat of registry_dir/NAME.json without following
// links; then the vendor group through NSS. Only an existing registry file
// or a group membership makes a vendor.
Identity identify(const Config& c, std::string_view user);

bool user_in_group(std::string_view user, std::string_view group);
// First privileged group (config list) the user belongs to, "" if none.
Result<std::string> privileged_group_of(const Config& c, std::string_view user);

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
                std::int64_t now);

// Operator name for grants and admin events: SUDO_USER when run through sudo
// by root, else the login name of the real uid.
std::string operator_name();

}  // namespace vendor::core
