#include "glue.h"

#include <security/pam_ext.h>
#include <sodium.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "audit.h"
#include "config.h"
#include "conversation.h"
#include "facts.h"
#include "files.h"
#include "pam_codes.h"
#include "policy.h"
#include "registry.h"
#include "session_record.h"
#include "sink.h"
#include "store.h"
#include "util.h"

namespace vendor::pam {

using namespace vendor::core;

namespace {

constexpr const char* kOtpData = "pam_vendor_otp_ok";
constexpr const char* kSessionData = "pam_vendor_session";
constexpr const char* kSessionEnv = "PAM_VENDOR_SESSION";
constexpr const char* kAuthRanData = "pam_vendor_auth_ran";
constexpr const char* kUserCacheData = "pam_vendor_nss";

struct Args {
    std::string conf = kDefaultConfigPath;
    bool explicit_conf = false;
    std::string bad;  // first unknown argument
};

Args parse_args(int argc, const char** argv) {
    Args a;
    for (int i = 0; i < argc; ++i) {
        std::string_view v = argv[i] ? argv[i] : "";
        if (v.rfind("conf=", 0) == 0) {
            a.conf = std::string(v.substr(5));
            a.explicit_conf = true;
        } else if (a.bad.empty()) {
            a.bad = escape(v, 64);
        }
    }
    return a;
}

const char* item(pam_handle_t* pamh, int type) {
    const void* v = nullptr;
    if (pam_get_item(pamh, type, &v) != PAM_SUCCESS) return nullptr;
    return static_cast<const char*>(v);
}

// Everything one phase knows, for the one log line it writes.
struct Ctx {
    pam_handle_t* pamh;
    Phase phase;
    std::string user;
    Config cfg;
    std::string host;
    Source source;
    UserCache* cache = nullptr;  // NSS answers of this transaction (on the handle)
    // This phase's syslog twin socket: opened and connected at the first
    // event, shared by the phase's events (a lockout after otp_failed).
    std::unique_ptr<SyslogTwin> twin = nullptr;
    const char* phase_event() const {
        switch (phase) {
        case Phase::auth: return "auth";
        case Phase::account: return "account";
        case Phase::open_session: return "session_open";
        case Phase::close_session: return "session_close";
        case Phase::setcred: return "setcred";
        case Phase::chauthtok: return "chauthtok";
        }
        return "pam";
    }

    Result<AuthInfo> auth_info() const {
        return parse_auth_info(pam_getenv(pamh, "SSH_AUTH_INFO_0"));
    }

    Event base(const char* event, const Identity* id) const {
        Event e;
        // An unparsable SSH_AUTH_INFO_0 logs no method (check() denies it).
        if (auto ai = auth_info()) {
            e.methods = ai->methods;
            if (!ai->publickeys.empty()) {
                auto pk = parse_public_key(ai->publickeys.front());
                if (pk) e.key = pk->fingerprint;
            }
        }
        e.event = event;
        e.account = user;
        if (id && id->entry) e.vendor = id->entry->vendor;
        // What the client claimed (PAM_RHOST, SSH_CONNECTION) is user-controlled:
        // escaped like the other items, so the log line stays printable ASCII.
        e.rhost = escape(source.text, 256);
        const char* svc = item(pamh, PAM_SERVICE);
        const char* tty = item(pamh, PAM_TTY);
        e.service = svc ? escape(svc, 64) : "";
        e.tty = tty ? escape(tty, 64) : "";
        e.pid = static_cast<std::int64_t>(getpid());
        return e;
    }

    // Writes the audit line and its syslog twin (emit(), sink.h). False when
    // the audit log could not be written: the caller then denies (R8: no
    // unlogged access). The twin follows the chained line and carries its
    // seq and hash; it is never waited for (a dropped one is counted in the
    // next line). pam_syslog stays for the module's own error lines only:
    // they are rare and name the PAM service and phase.
    bool record(const Event& e) const {
        auto r = twin ? emit(cfg, host, e, *twin) : emit(cfg, host, e, "pam_vendor");
        if (!r.ok()) {
            pam_syslog(pamh, LOG_ERR, "cannot write audit log: %s",
                       escape(r.error->detail, 300).c_str());
            return false;
        }
        if (!r.written.warning.empty()) pam_syslog(pamh, LOG_ERR, "%s", r.written.warning.c_str());
        return true;
    }
};

int deny_code(Phase p) {
    switch (p) {
    case Phase::auth: return PAM_AUTH_ERR;
    case Phase::account: return PAM_PERM_DENIED;
    case Phase::open_session:
    case Phase::close_session: return PAM_SESSION_ERR;
    case Phase::setcred: return PAM_CRED_ERR;
    case Phase::chauthtok: return PAM_PERM_DENIED;
    }
    return PAM_PERM_DENIED;
}

int deny(const Ctx& c, const Identity* id, Reason r, const std::string& detail,
         const char* event = nullptr) {
    Event e = c.base(event ? event : c.phase_event(), id);
    e.result = "denied";
    e.reason = reason_name(r);
    e.detail = detail;
    (void)c.record(e);
    return deny_code(c.phase);
}

void free_data(pam_handle_t*, void* data, int) { std::free(data); }

void free_user_cache(pam_handle_t*, void* data, int) { delete static_cast<UserCache*>(data); }

// The handle's NSS answers: the four phases of one login resolve the user
// once. Without it (pam_set_data failing) every phase asks NSS again.
UserCache* user_cache(pam_handle_t* pamh) {
    const void* d = nullptr;
    if (pam_get_data(pamh, kUserCacheData, &d) == PAM_SUCCESS && d)
        return static_cast<UserCache*>(const_cast<void*>(d));
    auto* cache = new UserCache;
    if (pam_set_data(pamh, kUserCacheData, cache, free_user_cache) != PAM_SUCCESS) {
        delete cache;
        return nullptr;
    }
    return cache;
}

struct SessionData {
    char id[33];
    std::int64_t start_ms;
};

std::string new_session_id() {
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    return to_hex(r, sizeof r);
}

// The PAM conversation behind the core's interface.
class PamConversation final : public Conversation {
  public:
    explicit PamConversation(pam_handle_t* pamh) : pamh_(pamh) {}
    Result<SecretString> prompt(bool echo_off, std::string_view text) override {
        char* resp = nullptr;
        std::string t(text);
        int rc = pam_prompt(pamh_, echo_off ? PAM_PROMPT_ECHO_OFF : PAM_PROMPT_ECHO_ON, &resp, "%s",
                            t.c_str());
        if (rc != PAM_SUCCESS || resp == nullptr) {
            if (resp) {
                sodium_memzero(resp, std::strlen(resp));
                std::free(resp);
            }
            return make_error(Code::io, "conversation failed");
        }
        // Wiped and freed on every way out, a failed allocation of the
        // secret buffer (std::bad_alloc) included.
        struct Wipe {
            char* p;
            ~Wipe() {
                sodium_memzero(p, std::strlen(p));
                std::free(p);
            }
        } wipe{resp};
        return SecretString(std::string_view(resp, strnlen(resp, 4096)));
    }
    void info(std::string_view text) override { say(PAM_TEXT_INFO, text); }
    void error(std::string_view text) override { say(PAM_ERROR_MSG, text); }

  private:
    void say(int style, std::string_view text) {
        std::string t(text);
        (void)pam_prompt(pamh_, style, nullptr, "%s", t.c_str());
    }
    pam_handle_t* pamh_;
};

// The facts of auth and account (PAM items, store, NSS), then the decision.
// Returns PAM_SUCCESS with the verdict in *out, or a denial (logged) when a
// fact could not be read.
int check(Ctx& c, const Identity& id, Store& store, core::Phase phase, bool otp_done,
          bool via_pam_auth, Verdict* out, Gathered* keep = nullptr) {
    const Entry& e = *id.entry;
    auto g = gather(c.cfg, store, e, c.user, now_s(), c.cache);
    if (g.error) return deny(c, &id, *g.error, g.detail);
    g.facts.source = c.source;
    g.facts.otp_done = otp_done;
    auto ai = c.auth_info();
    if (!ai) return deny(c, &id, Reason::auth_info_invalid, ai.error().detail);
    g.facts.publickeys = std::move(ai->publickeys);
    g.facts.via_pam_auth = via_pam_auth;
    *out = decide(phase, e, g.facts);
    if (keep) *keep = std::move(g);
    return PAM_SUCCESS;
}

int do_auth(Ctx& c, const Identity& id, Conversation& conv) {
    // Remember that PAM auth is part of this login: the account phase then
    // requires the pinned key to have come first (key_required).
    if (pam_set_data(c.pamh, kAuthRanData, const_cast<char*>(kAuthRanData), nullptr) != PAM_SUCCESS)
        return deny(c, &id, Reason::internal_error, "pam_set_data failed");
    auto store = open_store(c.cfg);
    Verdict v;
    Gathered facts;
    if (int rc = check(c, id, *store, core::Phase::auth, false, true, &v, &facts);
        rc != PAM_SUCCESS)
        return rc;
    // The decision refuses an account without a code gate (no_auth_factor)
    // and asks for the code when it is all that is missing.
    if (next_step(core::Phase::auth, v) != Next::ask_code) return deny(c, &id, v.reason, v.detail);
    auto answer = ask_code(conv);
    // The prompt may have lasted minutes (up to sshd's LoginGraceTime): what
    // is read and written from here on (code, counter, audit log) goes
    // through directories checked again, by a fresh scope and store, not
    // through descriptors whose checks are as old as the prompt.
    DirScope after_prompt;
    auto fresh = open_store(c.cfg);
    if (!answer) return deny(c, &id, Reason::conversation_error, answer.error().detail);
    auto cv = fresh->consume(c.user, answer->str(), now_s());
    answer = SecretString();
    if (!cv) return deny(c, &id, Reason::state_error, cv.error().detail);
    switch (cv->outcome) {
    case CodeOutcome::locked:
        return deny(c, &id, Reason::locked_out, "code factor locked; code not checked");
    case CodeOutcome::wrong: {
        int r = deny(c, &id, Reason::otp_failed,
                     "wrong or expired code (" + std::to_string(cv->failures) + " consecutive)",
                     "otp_failed");
        if (cv->just_locked) {
            Event e = c.base("lockout", &id);
            e.result = "denied";
            e.reason = reason_name(Reason::locked_out);
            e.detail = "code factor locked for " + std::to_string(c.cfg.lockout_time) + "s after " +
                       std::to_string(c.cfg.lockout_threshold) + " bad codes";
            (void)c.record(e);
        }
        return r;
    }
    case CodeOutcome::accepted_code:
    case CodeOutcome::accepted_totp: break;
    }
    // Re-decide with the code accepted (and the failure count it reset):
    // the verdict logged is the one the policy gives, not an assumption.
    // The facts gathered before the prompt are reused, with the clock moved.
    facts.facts.now = now_s();
    v = decide_after_code(*id.entry, facts.facts);
    if (pam_code(core::Phase::auth, next_step(core::Phase::auth, v)) != PAM_SUCCESS)
        return deny(c, &id, v.reason, v.detail);
    // Mark this handle: the account phase of the same PAM transaction
    // accepts the code gate only through this data, which no user can set.
    char* mark = strdup(c.user.c_str());
    if (!mark) return PAM_BUF_ERR;
    if (pam_set_data(c.pamh, kOtpData, mark, free_data) != PAM_SUCCESS) {
        std::free(mark);
        return deny(c, &id, Reason::internal_error, "pam_set_data failed");
    }
    // Until auth succeeds, a later failure (the otp_used event not written,
    // out of memory) must not leave the mark for the account phase: that
    // turned a denied auth into an allowed account. Replacing existing data
    // allocates nothing.
    struct Unmark {
        pam_handle_t* pamh;
        bool keep = false;
        ~Unmark() {
            if (!keep) (void)pam_set_data(pamh, kOtpData, nullptr, nullptr);
        }
    } unmark{c.pamh};
    Event e = c.base("otp_used", &id);
    e.result = "ok";
    e.reason = "ok";
    e.detail = cv->outcome == CodeOutcome::accepted_code ? "issued code" : "TOTP";
    if (!c.record(e)) return deny_code(c.phase);
    unmark.keep = true;
    return PAM_SUCCESS;
}

bool otp_done_in_handle(const Ctx& c) {
    const void* d = nullptr;
    if (pam_get_data(c.pamh, kOtpData, &d) != PAM_SUCCESS || !d) return false;
    return c.user == static_cast<const char*>(d);
}

int do_account(Ctx& c, const Identity& id) {
    auto store = open_store(c.cfg);
    Verdict v;
    const void* ran = nullptr;
    bool via_auth = pam_get_data(c.pamh, kAuthRanData, &ran) == PAM_SUCCESS && ran;
    if (int rc = check(c, id, *store, core::Phase::account, otp_done_in_handle(c), via_auth, &v);
        rc != PAM_SUCCESS)
        return rc;
    if (pam_code(core::Phase::account, next_step(core::Phase::account, v)) != PAM_SUCCESS)
        return deny(c, &id, v.reason, v.detail);
    Event e = c.base("account", &id);
    e.result = "ok";
    e.reason = "ok";
    if (!c.record(e)) return PAM_PERM_DENIED;
    return PAM_SUCCESS;
}

int do_open_session(Ctx& c, const Identity& id) {
    auto store = open_store(c.cfg);
    std::string sid = new_session_id();
    std::int64_t start = now_ms();
    Event e = c.base("session_open", &id);
    e.session = sid;
    e.result = "ok";
    // The session's facts are the grant and the clock; the decision bounds
    // the session by the grant (runtime_max_s), for pam_systemd stacked after
    // us to stop the user's scope when the activation ends.
    Facts f;
    f.now = start / 1000;
    if (id.entry->access & kAccessGrant) {
        auto g = store->grant(c.user);
        if (!g) return deny(c, &id, Reason::state_error, g.error().detail);
        f.grant = std::move(*g);
    }
    Verdict v = decide(core::Phase::session, *id.entry, f);
    if (pam_code(core::Phase::session, next_step(core::Phase::session, v)) != PAM_SUCCESS)
        return deny(c, &id, v.reason, v.detail);
    if (v.runtime_max_s > 0) {
        std::string secs = std::to_string(v.runtime_max_s);
        char* val = strdup(secs.c_str());
        if (!val) return PAM_BUF_ERR;
        if (pam_set_data(c.pamh, "systemd.runtime_max_sec", val, free_data) != PAM_SUCCESS) {
            std::free(val);
            return deny(c, &id, Reason::internal_error, "pam_set_data failed");
        }
        e.detail = v.detail;
    }
    auto* sd = static_cast<SessionData*>(std::calloc(1, sizeof(SessionData)));
    if (!sd) return PAM_BUF_ERR;
    std::memcpy(sd->id, sid.c_str(), 32);
    sd->start_ms = start;
    if (pam_set_data(c.pamh, kSessionData, sd, free_data) != PAM_SUCCESS) {
        std::free(sd);
        return deny(c, &id, Reason::internal_error, "pam_set_data failed");
    }
    // For applications that close the session in another PAM handle: the
    // environment names the session, the root-only record says whose it is
    // and when it started (the environment is not trusted for either).
    SessionRecord rec{sid, c.user, start, static_cast<std::int64_t>(getpid())};
    if (auto st = write_session_record(c.cfg, rec); !st)
        return deny(c, &id, Reason::state_error, st.error().detail);
    std::string env = std::string(kSessionEnv) + "=" + sid;
    (void)pam_putenv(c.pamh, env.c_str());
    if (!c.record(e)) {
        (void)drop_session_record(c.cfg, sid);
        return PAM_SESSION_ERR;
    }
    return PAM_SUCCESS;
}

int do_close_session(Ctx& c, const Identity& id) {
    std::string sid;
    std::int64_t start = 0;
    std::string why = "no matching session_open in this process";
    const void* d = nullptr;
    if (pam_get_data(c.pamh, kSessionData, &d) == PAM_SUCCESS && d) {
        auto* sd = static_cast<const SessionData*>(d);
        sid.assign(sd->id, strnlen(sd->id, 32));
        start = sd->start_ms;
        (void)drop_session_record(c.cfg, sid);
    } else if (const char* env = pam_getenv(c.pamh, kSessionEnv)) {
        // Only a name: the record written at open must exist and be this
        // account's; it is used once.
        std::string_view v(env, strnlen(env, 64));
        auto rec = take_session_record(c.cfg, v, c.user);
        if (rec) {
            sid = rec->id;
            start = rec->start_ms;
        } else {
            why = "session id from the PAM environment has no session record of this account";
        }
    }
    Event e = c.base("session_close", &id);
    e.result = "ok";
    if (!sid.empty()) {
        e.session = sid;
        std::int64_t dur = (now_ms() - start) / 1000;
        e.duration_s = dur < 0 ? 0 : dur;
    } else {
        e.detail = why;
    }
    if (!c.record(e)) return PAM_SESSION_ERR;
    return PAM_SUCCESS;
}

}  // namespace

void log_unexpected(pam_handle_t* pamh, const char* what) noexcept {
    pam_syslog(pamh, LOG_ERR, "internal error: %s", what ? escape(what, 200).c_str() : "?");
}

int run(Phase phase, pam_handle_t* pamh, int /*flags*/, int argc, const char** argv) {
    if (sodium_init() < 0) return PAM_SYSTEM_ERR;
    // Each directory this phase uses (config, registry, state, log) is
    // walked and checked once, not per file and per event (files.h).
    DirScope dirs;
    Args args = parse_args(argc, argv);
    const char* user = nullptr;
    if (phase == Phase::auth) {
        int rc = pam_get_user(pamh, &user, nullptr);
        if (rc == PAM_CONV_AGAIN) return PAM_INCOMPLETE;
        if (rc != PAM_SUCCESS) return rc;
    } else {
        user = item(pamh, PAM_USER);
    }
    if (!user || !*user) return PAM_USER_UNKNOWN;

    Ctx c{pamh, phase, std::string(user, strnlen(user, 4096)), Config{}, {}, {}};
    // Who is a vendor, on the canonical identity; with a configuration that
    // cannot be used, every source that may name vendors is asked (identity.h,
    // identify_user): vendors are denied, everyone else is left alone.
    c.cache = user_cache(pamh);
    Identification who = identify_user(args.conf, args.explicit_conf, c.user, c.cache);
    c.cfg = std::move(who.cfg);
    Identity id = std::move(who.id);
    std::string config_problem = std::move(who.config_problem);
    if (!args.bad.empty() && config_problem.empty())
        config_problem = "unknown module argument '" + args.bad + "'";
    if (id.kind == Identity::not_vendor) return PAM_IGNORE;

    c.host = this_host(c.cfg);
    c.twin = std::make_unique<SyslogTwin>(c.cfg.syslog_socket, "pam_vendor");
    c.source = resolve_source(pam_getenv(pamh, "SSH_CONNECTION"), item(pamh, PAM_RHOST));
    if (!config_problem.empty()) return deny(c, &id, Reason::config_error, config_problem);
    if (id.kind == Identity::vendor_error) return deny(c, &id, id.error_reason, id.detail);

    switch (phase) {
    case Phase::auth: {
        PamConversation conv(pamh);
        return do_auth(c, id, conv);
    }
    case Phase::account: return do_account(c, id);
    case Phase::open_session: return do_open_session(c, id);
    case Phase::close_session: return do_close_session(c, id);
    case Phase::setcred: return PAM_SUCCESS;  // nothing to establish for a vendor
    case Phase::chauthtok:
        pam_syslog(pamh, LOG_NOTICE, "password change refused for vendor account %s",
                   escape(c.user, 64).c_str());
        return PAM_PERM_DENIED;
    }
    return PAM_SYSTEM_ERR;
}

}  // namespace vendor::pam
