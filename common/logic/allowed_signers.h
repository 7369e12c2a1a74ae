// OpenSSH ALLOWED SIGNERS (ssh-keygen(1)): which operator key may sign which
// record type, and until when. The file is pushed by config management,
// never read from etcd (issue 10, trust model); auditors check records with
// `ssh-keygen -Y verify -f` on the same file. pam_vendor-registry(5) SIGNED
// RECORDS documents the subset accepted here.
//
// One line: PRINCIPALS [OPTIONS] KEYTYPE BASE64 [COMMENT]. Stricter than
// OpenSSH, and always in the direction of less trust: a line that is damaged
// or uses something unsupported is skipped and reported in `problems`, never
// trusted in part.
//   - principals: comma-separated plain names [A-Za-z0-9._@-], optionally in
//     double quotes; wildcards (* ? !) are refused, since a principal must
//     name one operator (the record's `operator`);
//   - namespaces="a,b" is required (OpenSSH reads its absence as "every
//     namespace": that would give a helpdesk key admin rights), plain names;
//   - valid-after= / valid-before= YYYYMMDD[HHMM[SS]][Z]: with Z the instant
//     in UTC; without it the wall time is read in the most restrictive time
//     zone (UTC+14 for valid-before, UTC-12 for valid-after), so no server,
//     whatever its zone, trusts a key longer than ssh-keygen would;
//   - cert-authority is not supported; any other option is unknown;
//   - key types ssh-ed25519 and sk-ssh-ed25519@openssh.com only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace vendor::core {

inline constexpr std::size_t kMaxAllowedSignersLine = 16384;

struct AllowedSigner {
    std::size_t line = 0;
    std::vector<std::string> principals;
    std::vector<std::string> namespaces;
    std::optional<std::int64_t> valid_after;   // epoch seconds, trusted from
    std::optional<std::int64_t> valid_before;  // epoch seconds, trusted until (inclusive)
    std::string key_type;
    std::string key_blob;  // SSH wire format, compared byte for byte
    std::string fingerprint;
};

struct AllowedSigners {
    std::vector<AllowedSigner> signers;
    std::vector<std::string> problems;  // "line N: why", one per skipped line
};

// Fails only on a text larger than kMaxFileSize; every bad line is skipped.
Result<AllowedSigners> parse_allowed_signers(std::string_view text);

// YYYYMMDD[HHMM[SS]][Z] -> epoch seconds; `zone_shift_s` is added when there is
// no Z (see above). Exposed for the tests.
Result<std::int64_t> parse_signer_time(std::string_view s, std::int64_t zone_shift_s);

// The principal a key (SSH wire blob) signs as for namespace `ns` at time
// `at`, or Code::refused naming why: not listed, not for this namespace,
// expired, not yet valid, or listed for several principals (one key, one
// operator: ambiguity is refused).
Result<std::string> who_signed(const AllowedSigners& allowed, std::string_view key_blob,
                               std::string_view ns, std::int64_t at);

}  // namespace vendor::core
