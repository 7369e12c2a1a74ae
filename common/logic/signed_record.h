// The fleet's signed record envelope (issue 10; FLEET.md §2.2): the etcd
// value, an inbox file and the local cache all hold
//   {"v":1,"payload":"<base64 of the exact payload bytes>","sshsig":"<base64 of the SSHSIG blob>"}
// The signature is checked before a single byte of the payload is parsed;
// then the payload must agree with what signed it: its type with the
// namespace, its operator with the allowed_signers principal of the key, its
// fleet with ours. pam_vendor-registry(5) SIGNED RECORDS is the promise.
// Fleet foundation: not yet used by the module or vendorctl.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "allowed_signers.h"
#include "records.h"
#include "result.h"

namespace vendor::core {

inline constexpr std::string_view kNsGrant = "grant@pam-vendor";
inline constexpr std::string_view kNsCode = "code@pam-vendor";
inline constexpr std::string_view kNsAccount = "account@pam-vendor";
inline constexpr std::size_t kMaxEnvelope = 64 * 1024;
inline constexpr std::size_t kMaxPayload = 32 * 1024;

// A verified grant-state record (namespace grant@pam-vendor): a grant, or a
// revocation (a signed record with a higher seq that ends it).
struct SignedGrant {
    std::string type;  // "grant" or "revoke"
    std::string fleet;
    std::vector<std::string> hosts;  // host patterns (registry.h host_glob_match)
    std::int64_t issued_at = 0;
    std::int64_t revoked_at = 0;  // revoke only
    // account, not_before, not_after, operator, ticket, reason, seq;
    // signer = the key's "SHA256:..." fingerprint, signature = the SSHSIG blob
    // in base64 (as in the envelope).
    Grant grant;
    std::string payload;  // the exact verified bytes
};

struct EnvelopeCheck {
    const AllowedSigners* signers = nullptr;
    std::string_view fleet;    // ours (configured fleet id)
    std::string_view account;  // the account the record is filed under; empty: any
    std::int64_t now = 0;      // for valid-after / valid-before of the key
    bool require_uv = false;   // FIDO keys: require user verification
};

// Code::invalid (malformed envelope or payload), Code::too_large, or
// Code::refused (signature, key trust, namespace, type, operator, fleet,
// account), each with a precise detail.
Result<SignedGrant> open_grant_record(std::string_view envelope, const EnvelopeCheck& check);

// The envelope text for a payload and its SSHSIG blob (armored or raw), as
// vendorctl will store it; also what the tests build.
Result<std::string> make_envelope(std::string_view payload, std::string_view sshsig);

}  // namespace vendor::core
