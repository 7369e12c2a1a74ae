// The policy decision: one pure function used by every phase of
// pam_vendor.so (auth, account, session), by sshd's key view (vendorctl
// authorized-keys) and by `vendorctl explain`. Same phase and facts, same
// verdict, same reason string (pam_vendor(8) lists them).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net.h"
#include "records.h"
#include "registry.h"
#include "schedule.h"

namespace vendor::core {

enum class Reason {
    ok,
    source_unknown,
    source_not_allowed,
    host_not_allowed,
    not_activated,
    grant_expired,
    outside_hours,
    privileged_group,
    locked_out,
    otp_required,
    otp_failed,
    key_not_pinned,      // sshd accepted a public key that is not pinned in the entry
    key_required,        // PAM auth without a prior public key, for an account with pinned keys
    no_pinned_key,       // key view: the account has no pinned key, sshd gets none
    no_auth_factor,      // auth asked of an account with no code gate: keys only
    name_not_canonical,  // the typed name is an alias or case variant of a vendor account
    uid_mismatch,        // entry, uid index and NSS disagree on the account's uid
    // errors: the vendor is denied because something could not be trusted
    config_error,
    registry_error,
    no_entry,
    state_error,
    conversation_error,
    auth_info_invalid,  // sshd's SSH_AUTH_INFO_0 has a line of unknown shape
    internal_error,
};

struct ReasonInfo {
    Reason reason;
    const char* name;     // the log token; a .TP item of pam_vendor(8), REASONS
    const char* meaning;  // one line, for `vendorctl reasons`
};
// Every reason, in enum order.
std::span<const ReasonInfo> reasons() noexcept;
const char* reason_name(Reason r) noexcept;

// Where the login comes from.
struct Source {
    enum Kind { remote, local, unknown } kind = unknown;
    std::optional<IpAddr> addr;
    std::string text;  // what was seen, for the log (escaped by the logger)
};

// Client address: PAM_RHOST when it is a literal address. SSH_CONNECTION,
// when set, must name the same address (its first field), else the source
// is `unknown`: alone (no rhost) or next to a host name (UseDNS yes) it is
// only an environment variable anyone upstream may have set. A hostname, a
// malformed value, or two values that disagree are `unknown`; no
// SSH_CONNECTION and no rhost at all is a `local` login.
Source resolve_source(const char* ssh_connection, const char* rhost);

struct Facts {
    Source source;
    std::string host;  // this server's name, for the entry's host scope
    std::int64_t now = 0;
    const TimeZone* tz = nullptr;
    std::optional<Grant> grant;
    bool privileged = false;
    std::string privileged_group;  // which one, for the log
    Failures failures;
    bool otp_done = false;  // a code was accepted by auth in this same PAM handle
    // From sshd's SSH_AUTH_INFO_0: the public keys that authenticated this
    // connection before PAM ran ("TYPE BASE64"), and whether PAM auth itself
    // is part of this login (keyboard-interactive).
    std::vector<std::string> publickeys;
    bool via_pam_auth = false;
};

// SSH_AUTH_INFO_0 as sshd writes it: one method per line, e.g.
// "publickey ssh-ed25519 AAAA...\nkeyboard-interactive/pam". Returns the
// methods in order, submethods dropped ("publickey,keyboard-interactive"),
// and the public keys seen. A line of any other shape is an error, never
// skipped: a skipped "publickey" line would hide a key from the pinned-key
// gate. Absent (nullptr) or empty is no method at all.
struct AuthInfo {
    std::string methods;
    std::vector<std::string> publickeys;  // "TYPE BASE64"
};
Result<AuthInfo> parse_auth_info(const char* info);
// Is "TYPE BASE64" one of the entry's pinned keys?
bool key_pinned(const Entry& e, std::string_view type_and_blob);

// Which decision is asked. auth: PAM auth (keyboard-interactive); account:
// PAM account; session: PAM open_session; keys: sshd's AuthorizedKeysCommand
// (vendorctl authorized-keys), before any PAM phase.
enum class Phase { auth, account, session, keys };
const char* phase_name(Phase p) noexcept;

struct Verdict {
    bool allow = false;
    Reason reason = Reason::internal_error;
    std::string detail;  // for the log line
    // session: the session ends with the activation, in this many seconds
    // (0: no bound). pam_systemd reads it as systemd.runtime_max_sec.
    std::int64_t runtime_max_s = 0;
};

// What the caller does with a verdict: auth asks for the code when the code
// is all that is missing (otp_required); every other denial is final.
enum class Next { allow, ask_code, deny };
Next next_step(Phase p, const Verdict& v) noexcept;

// The gates of each phase (pam_vendor(8), DECISION):
//   auth, account  source, host, pinned keys, grant, hours, privilege,
//                  lockout, code; auth also refuses an account without a
//                  code gate (no_auth_factor: it logs in with its key only)
//   session        grant (runtime_max_s is its end)
//   keys           pinned keys (no_pinned_key), a source block, grant, hours;
//                  sshd itself enforces the source (from="...") and PAM the rest
Verdict decide(Phase p, const Entry& e, const Facts& f);
// The auth phase again once the code typed at the prompt was accepted: the
// code gate is met and the failure count it reset is zero.
Verdict decide_after_code(const Entry& e, Facts f);

// PAM's side of one login, phase by phase, as pam_vendor.so runs it: auth
// when keyboard-interactive is part of the login (pam_auth), account (the
// code gate met only by a code auth accepted in this login), session.
// `vendorctl explain` prints these; the module makes the same calls.
struct Step {
    Phase phase = Phase::account;
    Verdict verdict;
    Next next = Next::deny;
};
std::vector<Step> pam_login(const Entry& e, const Facts& f, bool pam_auth, bool code_accepted);

// `vendorctl status`: the account phase as the module would judge a login
// from the entry's own sources (status has no client address): from the
// first `from` block's base address, else a local login when the entry
// allows one; with the usual login's key (the first pinned one) and PAM auth
// when the entry takes a code. It is pam_login()'s account step for that
// source, so status says what `vendorctl explain --phase account` says.
// Every gate after the source is the same for any address in the blocks.
struct AccountState {
    Verdict verdict;         // the account phase with no code typed
    Next next = Next::deny;  // its step: allow or deny
    // otp_required is all that is missing: a login with a valid code would
    // pass (pam_login with the code accepted allows the account phase).
    bool code = false;
    std::int64_t until = 0;  // allow/code: the grant's end; locked_out: the lock's end; 0: none
    std::string source;      // what was judged: an address, "local", or "" (no source)
};
// `f` as gather() fills it; its source, keys and code fields are set here.
AccountState account_state(const Entry& e, Facts f);

// The account phase (kept for the callers that ask only that one).
inline Verdict decide(const Entry& e, const Facts& f) { return decide(Phase::account, e, f); }

}  // namespace vendor::core
