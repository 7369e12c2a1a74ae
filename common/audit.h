// The audit log (R8): one JSON object per line, each carrying the hash of
// the line before it (`prev`), so that `vendorctl log --verify` detects an
// edited, removed or reordered line. Every event is also rendered as one
// key=value line for syslog (authpriv) by the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "result.h"

namespace vendor::core {

struct Event {
    std::string event;  // auth, account, session_open, ...
    std::string account;
    std::string vendor;
    std::string rhost;
    std::string service;
    std::string tty;
    std::int64_t pid = 0;
    std::string session;  // session id
    std::string result;   // ok / denied ("" for admin events)
    std::string reason;
    std::string operator_name;
    std::string ticket;
    std::optional<std::int64_t> duration_s;
    std::string detail;   // free text (escaped), e.g. the error behind a denial
    std::string methods;  // auth methods seen (SSH_AUTH_INFO_0 types)
    std::string key;      // fingerprint of the public key used, "SHA256:.."
};

// Appends the event (ts and host filled here), returns the line written.
Result<std::string> audit_append(const Config& c, const std::string& host, const Event& e);
// The syslog form: "event=auth account=acme rhost=... result=denied reason=..."
std::string audit_kv(const Event& e);

struct AuditRecord {
    std::string line;
    std::int64_t ts_ms = 0;
    std::string event, account, rhost, result, reason, operator_name, ticket, session, service,
        detail;
    std::optional<std::int64_t> duration_s;
};
Result<AuditRecord> parse_audit_line(std::string_view line);

// Verify the chain. `anchor` is the hash the first line's prev must equal;
// with an empty anchor, a first line that is a `log_pruned` event (written by
// vendorctl prune) supplies it. Returns the 1-based number of the
// first broken line, or 0 when the whole file is intact.
struct VerifyResult {
    std::size_t lines = 0;
    std::size_t first_bad = 0;
    std::string why;
};
VerifyResult audit_verify(std::string_view content, std::string_view anchor);
std::string line_hash(std::string_view line);

}  // namespace vendor::core
