#include "policy.h"

#include <cstring>

#include "duration.h"
#include "util.h"

namespace vendor::core {

namespace {

// The reasons table (pam_vendor(8), REASONS): one row per Reason, in enum
// order, checked at compile time. reason_name() and `vendorctl reasons`
// read it; the man-page lint reads that listing.
constexpr ReasonInfo kReasons[] = {
    {Reason::ok, "ok", "allowed"},
    {Reason::source_unknown, "source_unknown", "no usable client address"},
    {Reason::source_not_allowed, "source_not_allowed",
     "the client address is in none of the entry's from blocks"},
    {Reason::host_not_allowed, "host_not_allowed",
     "this server's name matches none of the entry's hosts"},
    {Reason::not_activated, "not_activated", "the account needs an activation and has none"},
    {Reason::grant_expired, "grant_expired", "the last activation has ended"},
    {Reason::outside_hours, "outside_hours", "outside the entry's business hours"},
    {Reason::privileged_group, "privileged_group",
     "the vendor is uid 0 or in one of privileged_groups"},
    {Reason::locked_out, "locked_out", "too many consecutive wrong codes: code factor locked"},
    {Reason::otp_required, "otp_required", "a one-time code is needed and none was accepted"},
    {Reason::otp_failed, "otp_failed", "the code was wrong, malformed, used or expired"},
    {Reason::key_not_pinned, "key_not_pinned",
     "sshd accepted a public key that is not pinned in the entry"},
    {Reason::key_required, "key_required",
     "the account has pinned keys but PAM auth ran without a public key first"},
    {Reason::no_pinned_key, "no_pinned_key",
     "key view: the account has no pinned key, sshd gets none"},
    {Reason::no_auth_factor, "no_auth_factor",
     "PAM auth asked of an account without a code gate (keys only)"},
    {Reason::name_not_canonical, "name_not_canonical",
     "the typed name is an alias or case variant of a vendor account"},
    {Reason::uid_mismatch, "uid_mismatch", "entry, uid index and NSS disagree on the uid"},
    {Reason::config_error, "config_error",
     "configuration missing, insecure or invalid, or a bad module argument"},
    {Reason::registry_error, "registry_error",
     "the registry entry is unreadable, insecure or invalid"},
    {Reason::no_entry, "no_entry", "in the vendor group or id range without a registry entry"},
    {Reason::state_error, "state_error", "grant, code, counter or TOTP state unusable"},
    {Reason::conversation_error, "conversation_error", "the PAM conversation gave no answer"},
    {Reason::auth_info_invalid, "auth_info_invalid", "SSH_AUTH_INFO_0 cannot be parsed"},
    {Reason::internal_error, "internal_error", "something that should not happen"},
};

constexpr bool reasons_in_enum_order() {
    for (std::size_t i = 0; i < std::size(kReasons); ++i)
        if (static_cast<std::size_t>(kReasons[i].reason) != i) return false;
    return std::size(kReasons) == static_cast<std::size_t>(Reason::internal_error) + 1;
}
static_assert(reasons_in_enum_order(), "kReasons: one row per Reason, in enum order");

}  // namespace

std::span<const ReasonInfo> reasons() noexcept { return kReasons; }

const char* reason_name(Reason r) noexcept {
    auto i = static_cast<std::size_t>(r);
    return i < std::size(kReasons) ? kReasons[i].name : "internal_error";
}

Source resolve_source(const char* ssh_connection, const char* rhost) {
    Source s;
    std::string_view rh = rhost ? std::string_view(rhost) : std::string_view();
    if (rh.size() > 1024) rh = rh.substr(0, 1024);
    if (ssh_connection && *ssh_connection) {
        std::string_view sc(ssh_connection);
        if (sc.size() > 1024) sc = sc.substr(0, 1024);
        auto first = sc.substr(0, sc.find(' '));
        s.text = std::string(first);
        auto a = parse_ip(first);
        if (!a) return s;  // unknown
        // SSH_CONNECTION is in the PAM environment, which a caller may have
        // filled (su with an imported environment, a PAM application of the
        // user's): it counts only next to a PAM_RHOST with the same literal
        // address, as sshd sets both (UseDNS no). A missing rhost, a name or
        // another address: trust neither.
        auto ra = parse_ip(rh);
        if (!ra || !(*ra == *a)) {
            s.text += rh.empty() ? std::string(" (no rhost)") : " (rhost " + std::string(rh) + ")";
            return s;
        }
        s.kind = Source::remote;
        s.addr = a;
        s.text = a->str();
        return s;
    }
    if (rh.empty()) {
        s.kind = Source::local;
        s.text = "local";
        return s;
    }
    s.text = std::string(rh);
    if (auto a = parse_ip(rh)) {
        s.kind = Source::remote;
        s.addr = a;
        s.text = a->str();
    }
    return s;
}

namespace {

bool word_chars(std::string_view w, std::string_view extra, bool alnum) {
    if (w.empty()) return false;
    for (char ch : w) {
        bool ok = (ch >= 'a' && ch <= 'z') || extra.find(ch) != std::string_view::npos ||
                  (alnum && ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')));
        if (!ok) return false;
    }
    return true;
}

}  // namespace

Result<AuthInfo> parse_auth_info(const char* info) {
    constexpr std::size_t kMax = 65536;
    AuthInfo out;
    if (!info) return out;
    std::string_view rest(info, strnlen(info, kMax + 1));
    if (rest.size() > kMax) return make_error(Code::too_large, "SSH_AUTH_INFO_0 is too long");
    std::size_t lineno = 0;
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        ++lineno;
        auto bad = [&](const char* why) {
            return make_error(Code::invalid,
                              "SSH_AUTH_INFO_0 line " + std::to_string(lineno) + ": " + why);
        };
        if (line.empty()) continue;  // the newline after the last method
        for (unsigned char ch : line)
            if (ch < 0x20 || ch >= 0x7f) return bad("control or non-ASCII character");
        auto sp = line.find(' ');
        auto word = line.substr(0, sp);
        // sshd writes "keyboard-interactive/pam" (method/submethod): the
        // method is what pam_vendor(8) and the audit log name.
        auto slash = word.find('/');
        auto method = word.substr(0, slash);
        if (method.size() > 32 || !word_chars(method, "-", false)) return bad("not a method name");
        if (slash != std::string_view::npos) {
            auto submethod = word.substr(slash + 1);
            if (submethod.size() > 32 || !word_chars(submethod, "-_.@", true))
                return bad("not a submethod name");
        }
        if (out.methods.size() > 1024) return bad("too many methods");
        bool seen = false;
        for (const auto& m : split(out.methods, ','))
            if (m == method) seen = true;
        if (!seen) out.methods += (out.methods.empty() ? "" : ",") + std::string(method);
        if (method != "publickey") continue;
        // "publickey TYPE BASE64[ more]" (certificates add ID/CA fields).
        if (sp == std::string_view::npos) return bad("publickey without a key");
        auto key = line.substr(sp + 1);
        auto sp2 = key.find(' ');
        auto type = key.substr(0, sp2);
        auto blob = sp2 == std::string_view::npos ? std::string_view() : key.substr(sp2 + 1);
        blob = blob.substr(0, blob.find(' '));
        if (type.size() > 64 || !word_chars(type, "-.@", true))
            return bad("publickey with a malformed key type");
        if (blob.empty() || !word_chars(blob, "+/=", true))
            return bad("publickey without its base64 key");
        if (out.publickeys.size() >= 64) return bad("too many public keys");
        out.publickeys.push_back(std::string(type) + " " + std::string(blob));
    }
    return out;
}

bool key_pinned(const Entry& e, std::string_view type_and_blob) {
    for (const auto& k : e.keys) {
        auto sp = k.find(' ');
        if (sp == std::string::npos) continue;
        auto sp2 = k.find(' ', sp + 1);
        std::string_view pinned(k.data(), sp2 == std::string::npos ? k.size() : sp2);
        if (pinned == type_and_blob) return true;
    }
    return false;
}

const char* phase_name(Phase p) noexcept {
    switch (p) {
    case Phase::auth: return "auth";
    case Phase::account: return "account";
    case Phase::session: return "session";
    case Phase::keys: return "keys";
    }
    return "account";
}

Next next_step(Phase p, const Verdict& v) noexcept {
    if (v.allow) return Next::allow;
    if (p == Phase::auth && v.reason == Reason::otp_required) return Next::ask_code;
    return Next::deny;
}

namespace {

Verdict deny(Reason r, std::string d) { return Verdict{false, r, std::move(d), 0}; }

// 3a. The grant: the activation must have begun and not ended.
std::optional<Verdict> grant_gate(const Entry& e, const Facts& f) {
    if (!(e.access & kAccessGrant)) return std::nullopt;
    if (!f.grant || f.now < f.grant->not_before)
        return deny(Reason::not_activated, "no current activation");
    if (f.now >= f.grant->not_after)
        return deny(Reason::grant_expired,
                    "activation ended " + format_duration(f.now - f.grant->not_after) + " ago");
    return std::nullopt;
}

// 3b. The hours, in the configured zone. No zone is a configuration that
// could not be used, never "outside hours" (a damaged zone file must not read
// as a schedule).
std::optional<Verdict> hours_gate(const Entry& e, const Facts& f) {
    if (!(e.access & kAccessHours)) return std::nullopt;
    if (!f.tz) return deny(Reason::config_error, "no time zone to judge the hours in");
    if (!e.hours) return deny(Reason::outside_hours, "no schedule");
    auto lt = to_local(*f.tz, f.now);
    if (!e.hours->contains(lt.weekday_mon0, lt.minute_of_day))
        return deny(Reason::outside_hours,
                    "outside '" + escape(e.hours->text, 80) + "' (" + f.tz->name() + ")");
    return std::nullopt;
}

Verdict decide_session(const Entry& e, const Facts& f) {
    if (auto v = grant_gate(e, f)) return *v;
    Verdict ok{true, Reason::ok, "", 0};
    // Bound the session by the grant: pam_systemd (stacked after us) has the
    // user's scope stopped when the activation ends.
    if ((e.access & kAccessGrant) && f.grant) {
        ok.runtime_max_s = f.grant->not_after - f.now;
        ok.detail = "ends with the activation in " + std::to_string(ok.runtime_max_s) + "s";
    }
    return ok;
}

// sshd asks for the keys before any PAM phase and gives no client address:
// the view prints from="..." for sshd to enforce, and PAM checks the source,
// host, privilege and code afterwards.
Verdict decide_keys(const Entry& e, const Facts& f) {
    if (e.keys.empty()) return deny(Reason::no_pinned_key, "no pinned key");
    if (e.from.empty()) return deny(Reason::source_not_allowed, "no source block in 'from'");
    if (auto v = grant_gate(e, f)) return *v;
    if (auto v = hours_gate(e, f)) return *v;
    return Verdict{true, Reason::ok, "", 0};
}

}  // namespace

Verdict decide(Phase p, const Entry& e, const Facts& f) {
    if (p == Phase::session) return decide_session(e, f);
    if (p == Phase::keys) return decide_keys(e, f);
    // 1. Source
    switch (f.source.kind) {
    case Source::unknown:
        return deny(Reason::source_unknown,
                    "source '" + escape(f.source.text, 80) + "' is not a literal address");
    case Source::local:
        if (!e.allow_local)
            return deny(Reason::source_unknown, "no remote address (local login not allowed)");
        break;
    case Source::remote:
        if (!f.source.addr || !any_contains(e.from, *f.source.addr))
            return deny(Reason::source_not_allowed,
                        "source " + escape(f.source.text, 80) + " is not in 'from'");
        break;
    }
    // 2. Host scope
    bool host_ok = false;
    for (const auto& h : e.hosts)
        if (host_glob_match(h, f.host)) host_ok = true;
    if (!host_ok)
        return deny(Reason::host_not_allowed, "host " + escape(f.host, 80) + " is not in 'hosts'");
    // 2b. Pinned keys: what sshd accepted must be one of them, and PAM auth
    // (keyboard-interactive) alone is not enough for an account that has keys.
    for (const auto& k : f.publickeys)
        if (!key_pinned(e, k))
            return deny(Reason::key_not_pinned,
                        "public key " + escape(k.substr(0, k.find(' ')), 40) + " is not pinned");
    if (f.publickeys.empty() && !e.keys.empty() && (f.via_pam_auth || p == Phase::auth))
        return deny(Reason::key_required, "this account logs in with a pinned key first");
    // 3. Access gates
    if (auto v = grant_gate(e, f)) return *v;
    if (auto v = hours_gate(e, f)) return *v;
    // 4. Privilege guard
    if (f.privileged) {
        // uid 0 and system accounts are privileged by their uid, not a group.
        bool by_uid = f.privileged_group.rfind("uid ", 0) == 0 ||
                      f.privileged_group.rfind("system account", 0) == 0;
        return deny(Reason::privileged_group,
                    (by_uid ? std::string() : std::string("member of privileged group ")) +
                        escape(f.privileged_group, 64));
    }
    // 5. Lockout of the code factor, then the code itself. The lock stops
    // guessing: it applies to codes not yet compared. A code this same PAM
    // handle had accepted was compared while the factor was open; the
    // losers of a race with that code (counted after it) may lock the factor
    // for every later login, but must not lock the winner out (pam_vendor(8)).
    if (e.access & kAccessOtp) {
        if (f.failures.locked_until > f.now && !f.otp_done)
            return deny(Reason::locked_out, "code factor locked for " +
                                                format_duration(f.failures.locked_until - f.now));
        if (!f.otp_done) return deny(Reason::otp_required, "a one-time code is required");
    } else if (p == Phase::auth) {
        // 6. All gates open and no code gate: this account authenticates with
        // its key in sshd; PAM auth must not become a password-less way in.
        return deny(Reason::no_auth_factor,
                    "account has no code gate; it logs in with its SSH key (PAM auth refused)");
    }
    return Verdict{true, Reason::ok, "", 0};
}

Verdict decide_after_code(const Entry& e, Facts f) {
    f.otp_done = true;
    f.failures = Failures{};
    f.via_pam_auth = true;
    return decide(Phase::auth, e, f);
}

std::vector<Step> pam_login(const Entry& e, const Facts& f, bool pam_auth, bool code_accepted) {
    std::vector<Step> out;
    bool code_met = false;
    if (pam_auth) {
        Facts fa = f;
        fa.via_pam_auth = true;
        fa.otp_done = false;
        Step s{Phase::auth, decide(Phase::auth, e, fa), Next::deny};
        s.next = next_step(Phase::auth, s.verdict);
        if (s.next == Next::ask_code && code_accepted) {
            s.verdict = decide_after_code(e, fa);
            s.next = next_step(Phase::auth, s.verdict);
            code_met = s.next == Next::allow;
        }
        out.push_back(std::move(s));
    }
    Facts fc = f;
    fc.via_pam_auth = pam_auth;
    fc.otp_done = code_met;
    Step acct{Phase::account, decide(Phase::account, e, fc), Next::deny};
    acct.next = next_step(Phase::account, acct.verdict);
    out.push_back(std::move(acct));
    Step sess{Phase::session, decide(Phase::session, e, f), Next::deny};
    sess.next = next_step(Phase::session, sess.verdict);
    out.push_back(std::move(sess));
    return out;
}

AccountState account_state(const Entry& e, Facts f) {
    AccountState st;
    f.source = Source{};
    if (!e.from.empty()) {
        f.source.kind = Source::remote;
        f.source.addr = e.from.front().base;
        f.source.text = f.source.addr->str();
    } else if (e.allow_local) {
        f.source.kind = Source::local;
        f.source.text = "local";
    } else {
        // No source can pass gate 1; a remote login from anywhere is what
        // explain --from shows for such an entry.
        f.source.kind = Source::remote;
        f.source.text = "(no source block)";
    }
    if (f.source.kind == Source::local || f.source.addr) st.source = f.source.text;
    f.publickeys.clear();
    if (!e.keys.empty()) {
        const std::string& k = e.keys.front();
        auto sp = k.find(' ');
        f.publickeys = {k.substr(0, sp == std::string::npos ? sp : k.find(' ', sp + 1))};
    }
    f.otp_done = false;
    // The login explain assumes: PAM auth when the entry takes a code or
    // there is no key to log in with.
    bool pam_auth = (e.access & kAccessOtp) || f.publickeys.empty();
    auto steps = pam_login(e, f, pam_auth, false);
    for (auto& s : steps)
        if (s.phase == Phase::account) {
            st.verdict = std::move(s.verdict);
            st.next = s.next;
        }
    if (st.verdict.reason == Reason::otp_required) {
        for (const auto& s : pam_login(e, f, pam_auth, true))
            if (s.phase == Phase::account) st.code = s.next == Next::allow;
    }
    bool open = st.next == Next::allow || st.code;
    if (open && (e.access & kAccessGrant) && f.grant) st.until = f.grant->not_after;
    if (st.verdict.reason == Reason::locked_out) st.until = f.failures.locked_until;
    return st;
}

}  // namespace vendor::core
