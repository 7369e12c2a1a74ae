// The state records the decision reads (grants, failure counters,
// approvals): plain values, in the logic layer so that decide() knows
// nothing of where they are kept. The state layer (store.h, state.cc) reads
// and writes them; the fleet's signed records carry the same fields.
#pragma once

#include <cstdint>
#include <string>

namespace vendor::core {

struct Grant {
    std::string account;
    std::int64_t not_before = 0;
    std::int64_t not_after = 0;
    std::string operator_name;
    std::string ticket;
    std::string reason;
    // What a signed fleet record carries (FLEET.md): the signer's key id, the
    // signature over the record, and a per-account monotonic sequence. Local
    // grants: empty signer and signature; put_grant() sets seq to the stored
    // grant's seq + 1 (1 when none is stored).
    std::int64_t seq = 0;
    std::string signer = {};  // initialised: aggregate inits of Grant need not name it
    std::string signature = {};
};

// A supervised session's approval (issue 12 fills the flow in): the key space
// approvals/ID and the record are reserved here.
struct Approval {
    std::string id;       // [A-Za-z0-9._-]{1,64}
    std::string account;  // the vendor account it is for
    std::string state;    // pending | approved | denied
    std::string requested_by;
    std::string decided_by;
    std::int64_t created = 0;
    std::int64_t expires = 0;
    std::string reason;
};

struct Failures {
    unsigned count = 0;             // consecutive bad codes
    std::int64_t locked_until = 0;  // code factor locked while now < locked_until
};

}  // namespace vendor::core
