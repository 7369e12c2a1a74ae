// The domain state API (read grant, consume code, count failure, approvals).
// Written once, in state.cc, over the versioned key-value layer of kv.h:
// the local state directory is the first backend; a fleet backend (etcd
// behind pam_vendor-fleetd) slots in underneath without touching these rules,
// the policy or the PAM glue. open_store() picks the backend from
// state_backend (pam_vendor.conf(5)).
//
// Keys (kv.h): grants/ACCOUNT, codes/ACCOUNT, failures/ACCOUNT, totp/ACCOUNT,
// approvals/ID.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "records.h"
#include "result.h"

namespace vendor::core {

struct IssuedCode {
    std::string code;  // the digits; shown once, never stored
    std::int64_t expires = 0;
};

enum class CodeOutcome {
    accepted_code,  // an issued one-time code, now consumed
    accepted_totp,  // a structure-held TOTP step, now marked used
    wrong,          // counted as a failure
    locked,         // the code factor is locked; input not even compared
};

struct CodeVerdict {
    CodeOutcome outcome = CodeOutcome::wrong;
    bool just_locked = false;  // this failure reached the threshold
    unsigned failures = 0;
};

struct TotpEnrollment {
    std::string uri;  // otpauth://totp/...
    std::string secret_base32;
};

class Store {
  public:
    virtual ~Store() = default;
    virtual Result<std::optional<Grant>> grant(std::string_view account) = 0;
    virtual Status put_grant(const Grant& g) = 0;
    virtual Status end_grant(std::string_view account, bool* existed) = 0;
    virtual Result<Failures> failures(std::string_view account) = 0;
    virtual Status unlock(std::string_view account) = 0;
    // Replaces any outstanding code of the account.
    virtual Result<IssuedCode> issue_code(std::string_view account, unsigned digits,
                                          std::int64_t ttl, std::int64_t now) = 0;
    virtual Result<bool> has_code(std::string_view account, std::int64_t now) = 0;
    // Atomic across processes: two logins racing with one code, one wins.
    virtual Result<CodeVerdict> consume(std::string_view account, std::string_view input,
                                        std::int64_t now) = 0;
    virtual Result<TotpEnrollment> totp_enroll(std::string_view account,
                                               std::string_view issuer_host) = 0;
    virtual Result<bool> totp_enrolled(std::string_view account) = 0;
    // Current TOTP code, for the helpdesk to read aloud.
    virtual Result<std::string> totp_code(std::string_view account, std::int64_t now) = 0;
    // Remove every piece of state of an account (vendorctl remove).
    virtual Status forget(std::string_view account) = 0;
    // Approvals (not pure: a test double of Store need not have them).
    virtual Status put_approval(const Approval& a);
    virtual Result<std::optional<Approval>> approval(std::string_view id);
    virtual Result<std::vector<Approval>> approvals();
};

class Kv;
// The domain rules over any Kv (tests pass an in-memory one).
std::unique_ptr<Store> make_store(const Config& c, std::unique_ptr<Kv> kv);
// The one constructor the module, vendorctl and the tools call: the backend
// named by state_backend. A backend this build does not have (fleet) gives a
// store whose every operation fails with Code::refused and says so: a vendor
// login is denied, never served from local state.
std::unique_ptr<Store> open_store(const Config& c);

// Digits only after removing spaces and dashes; empty when anything else.
std::string normalize_code(std::string_view input);
// "1234 5678", "123 456 789" ... for reading aloud.
std::string group_code(std::string_view digits);

}  // namespace vendor::core
