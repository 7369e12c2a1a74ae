// State behind one small interface (read grant, consume code, count failure):
// the local directory is the first implementation; a fleet store over etcd
// can replace it without touching the policy or the PAM glue.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config.h"
#include "result.h"

namespace vendor::core {

struct Grant {
    std::string account;
    std::int64_t not_before = 0;
    std::int64_t not_after = 0;
    std::string operator_name;
    std::string ticket;
    std::string reason;
};

struct Failures {
    unsigned count = 0;             // consecutive bad codes
    std::int64_t locked_until = 0;  // code factor locked while now < locked_until
};

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
};

std::unique_ptr<Store> make_local_store(const Config& c);

// Digits only after removing spaces and dashes; empty when anything else.
std::string normalize_code(std::string_view input);
// "1234 5678", "123 456 789" ... for reading aloud.
std::string group_code(std::string_view digits);

}  // namespace vendor::core
