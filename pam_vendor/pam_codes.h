// The PAM return value of a decision's outcome, per phase: the one mapping
// the glue uses for auth, account and session, and the one the unit tests
// check against `vendorctl explain` (pam_vendor(8), RETURN VALUES).
#pragma once

#include <security/_pam_types.h>

#include "policy.h"

namespace vendor::pam {

// ask_code is not an answer to PAM: the glue prompts and decides again.
// Here it is the answer when no code comes (the conversation fails).
inline int pam_code(core::Phase p, core::Next n) noexcept {
    if (n == core::Next::allow) return PAM_SUCCESS;
    switch (p) {
    case core::Phase::auth: return PAM_AUTH_ERR;
    case core::Phase::account: return PAM_PERM_DENIED;
    case core::Phase::session: return PAM_SESSION_ERR;
    case core::Phase::keys: return PAM_AUTH_ERR;  // sshd refuses the key; PAM never runs
    }
    return PAM_PERM_DENIED;
}

}  // namespace vendor::pam
