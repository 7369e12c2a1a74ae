// activate, deactivate, otp, totp, unlock, status, explain
#include <cstdio>

#include "accounts.h"
#include "authkeys.h"
#include "ctl.h"
#include "duration.h"
#include "facts.h"
#include "files.h"
#include "json.h"
#include "policy.h"
#include "util.h"

namespace vendor::cli {

using namespace vendor::core;

namespace {

// Prints a freshly issued code: grouped for reading aloud, or bare with --quiet.
int print_code(Ctl& c, const std::string& name, const IssuedCode& code, std::int64_t ttl,
               bool quiet) {
    if (quiet) {
        std::printf("%s\n", code.code.c_str());
    } else {
        std::printf("one-time code for %s: %s\n", name.c_str(), group_code(code.code).c_str());
        std::printf("valid once, until %s (%s); read it to the vendor, do not send it in writing\n",
                    local_time(c, code.expires, false).c_str(), format_duration(ttl).c_str());
    }
    Event ev;
    ev.event = "otp_issued";
    ev.account = name;
    ev.detail = "valid " + format_duration(ttl);
    audit(c, ev);
    return kExitOk;
}

}  // namespace

int cmd_activate(Ctl& c) {
    std::string name = account_arg(c);
    if (!c.args.has("--for")) throw UsageError{"activate needs --for DURATION (e.g. 2h, 1h30m)"};
    auto d = parse_duration(c.args.get("--for"));
    if (!d) return fail(d.error());
    if (*d <= 0) return fail("--for must be longer than 0s");
    if (*d > c.cfg.max_grant)
        return fail("--for " + format_duration(*d) + " is longer than max_grant (" +
                    format_duration(c.cfg.max_grant) + ")");
    auto e = load_entry(c, name);
    if (!e) return fail(e.error());
    if (!(e->access & kAccessGrant))
        return fail("account " + name + " has access '" + format_access(e->access) +
                    "': activation does not apply (use vendorctl otp for code-only accounts)");
    std::string ticket = c.args.get("--ticket"), reason = c.args.get("--reason");
    for (auto why :
         {check_free_text("--ticket", ticket, 128), check_free_text("--reason", reason, 512)})
        if (!why.empty()) return fail(why);
    std::int64_t now = now_s();
    Grant g{name, now, now + *d, operator_name(), ticket, reason};
    // Stored and published under the registry lock: a concurrent `key add`
    // or deactivate cannot be lost from sshd's view.
    auto views = Accounts(c.cfg).grant(g);
    if (!views) return fail(views.error());
    if (!report_views(*views)) return kExitRefused;
    Event ev;
    ev.event = "grant";
    ev.account = name;
    ev.vendor = e->vendor;
    ev.operator_name = g.operator_name;
    ev.ticket = ticket;
    ev.duration_s = *d;
    ev.detail = reason;
    audit(c, ev);
    std::printf("%s activated until %s (%s)\n", name.c_str(),
                local_time(c, g.not_after, true).c_str(), format_duration(*d).c_str());
    if (e->access & kAccessOtp) {
        std::int64_t ttl = c.cfg.otp_ttl;
        auto store = open_store(c.cfg);
        auto code = store->issue_code(name, c.cfg.otp_digits, ttl, now);
        if (!code) return fail(code.error());
        return print_code(c, name, *code, ttl, false);
    }
    return kExitOk;
}

int cmd_deactivate(Ctl& c) {
    std::string name = account_arg(c);
    auto e = load_entry(c, name);
    if (!e) return fail(e.error());
    bool existed = false;
    auto views = Accounts(c.cfg).end_grant(name, &existed);
    if (!views) return fail(views.error());
    if (!report_views(*views)) return kExitRefused;
    Event ev;
    ev.event = "revoke";
    ev.account = name;
    ev.vendor = e->vendor;
    ev.detail = existed ? "activation ended" : "no activation to end";
    audit(c, ev);
    std::printf("%s: %s\n", name.c_str(), existed ? "deactivated" : "was not active");
    return kExitOk;
}

int cmd_otp(Ctl& c) {
    std::string name = account_arg(c);
    std::int64_t ttl = c.cfg.otp_ttl;
    if (c.args.has("--ttl")) {
        auto d = parse_duration(c.args.get("--ttl"));
        if (!d) return fail(d.error());
        if (*d < 30 || *d > 3600) return fail("--ttl must be between 30s and 1h");
        ttl = *d;
    }
    auto e = load_entry(c, name);
    if (!e) return fail(e.error());
    if (!(e->access & kAccessOtp))
        return fail("account " + name + " has access '" + format_access(e->access) +
                    "': it takes no code");
    auto store = open_store(c.cfg);
    auto code = store->issue_code(name, c.cfg.otp_digits, ttl, now_s());
    if (!code) return fail(code.error());
    return print_code(c, name, *code, ttl, c.args.has("--quiet"));
}

int cmd_totp(Ctl& c) {
    std::string sub = need_pos(c, 0, "enroll or code");
    std::string name = account_arg(c, 1);
    auto e = load_entry(c, name);
    if (!e) return fail(e.error());
    if (!(e->access & kAccessOtp))
        return fail("account " + name + " has access '" + format_access(e->access) +
                    "': it takes no code");
    auto store = open_store(c.cfg);
    if (sub == "enroll") {
        auto en = store->totp_enroll(name, c.host);
        if (!en) return fail(en.error());
        Event ev;
        ev.event = "totp_enrolled";
        ev.account = name;
        ev.vendor = e->vendor;
        audit(c, ev);
        std::printf(
            "TOTP secret for %s (keep it with the helpdesk; never give it to the vendor):\n%s\n",
            name.c_str(), en->uri.c_str());
        return kExitOk;
    }
    if (sub == "code") {
        auto code = store->totp_code(name, now_s());
        if (!code) return fail(code.error());
        // Reading the current code out opens the account like an issued
        // code does: it is recorded the same way.
        Event ev;
        ev.event = "otp_issued";
        ev.account = name;
        ev.vendor = e->vendor;
        ev.detail = "current TOTP code shown";
        audit(c, ev);
        if (c.args.has("--quiet")) std::printf("%s\n", code->c_str());
        else std::printf("current TOTP code for %s: %s\n", name.c_str(), group_code(*code).c_str());
        return kExitOk;
    }
    throw UsageError{"totp takes 'enroll NAME' or 'code NAME'"};
}

int cmd_unlock(Ctl& c) {
    std::string name = account_arg(c);
    auto e = load_entry(c, name);
    if (!e) return fail(e.error());
    auto store = open_store(c.cfg);
    if (auto st = store->unlock(name); !st) return fail(st.error());
    Event ev;
    ev.event = "unlock";
    ev.account = name;
    ev.vendor = e->vendor;
    audit(c, ev);
    std::printf("%s: code failures cleared\n", name.c_str());
    return kExitOk;
}

int cmd_status(Ctl& c) {
    Accounts accounts(c.cfg);
    auto listed = accounts.names();
    if (!listed) return fail(listed.error());
    const auto& names = *listed;
    // Last login per account, from the audit log (the record of truth), read
    // from its end: an unreadable log shows none.
    std::map<std::string, LastLogin> last;
    if (auto l = accounts.last_logins(names)) last = std::move(*l);
    auto store = open_store(c.cfg);
    std::int64_t now = now_s();
    Json arr = Json::array();
    if (!c.json)
        std::printf("%-16s %-18s %-12s %-32s %-24s %s\n", "NAME", "VENDOR", "ACCESS", "STATE",
                    "FROM", "LAST LOGIN");
    int rc = kExitOk;
    for (const auto& n : names) {
        auto e = load_entry(c, n);
        if (!e) {
            std::fprintf(stderr, "vendorctl: %s: %s\n", n.c_str(), e.error().detail.c_str());
            rc = kExitRefused;
            continue;
        }
        // The module's own verdict for a login from the entry's sources
        // (account phase): status and pam_vendor.so cannot disagree.
        AccountState st = account_state(c.cfg, *e, *store, n, now);
        const char* verdict = st.next == Next::allow ? "allow" : st.code ? "code" : "deny";
        std::string state = verdict;
        if (st.next != Next::allow && !st.code)
            state += std::string(" ") + reason_name(st.verdict.reason);
        if (st.until) state += " until " + local_time(c, st.until, st.until - now >= 20 * 3600);
        std::string from;
        for (const auto& b : e->from) from += (from.empty() ? "" : ",") + b.str();
        if (e->allow_local) from += (from.empty() ? "" : ",") + std::string("local");
        std::string ll = "never";
        if (auto it = last.find(n); it != last.end())
            ll = local_time(c, it->second.at, true) + " from " + escape(it->second.rhost, 40);
        if (c.json) {
            Json j = Json::object();
            j.set("name", n)
                .set("vendor", e->vendor)
                .set("access", format_access(e->access))
                .set("state", state)
                .set("verdict", verdict)
                .set("reason", reason_name(st.verdict.reason))
                .set("detail", st.verdict.detail);
            // Every documented field in every object: null when it has no value.
            if (st.until) j.set("until", format_rfc3339(st.until));
            else j.set_null("until");
            j.set("from", from);
            if (auto it = last.find(n); it != last.end()) {
                j.set("last_login", format_rfc3339(it->second.at))
                    .set("last_rhost", it->second.rhost);
            } else {
                j.set_null("last_login").set_null("last_rhost");
            }
            arr.push(std::move(j));
        } else {
            std::printf("%-16s %-18s %-12s %-32s %-24s %s\n", n.c_str(),
                        escape(e->vendor, 18).c_str(), format_access(e->access).c_str(),
                        state.c_str(), from.c_str(), ll.c_str());
        }
    }
    if (c.json) std::printf("%s\n", arr.dump_pretty().c_str());
    return rc;
}

namespace {

const char* next_word(Next n) {
    switch (n) {
    case Next::allow: return "allow";
    case Next::ask_code: return "code";
    case Next::deny: return "deny";
    }
    return "deny";
}

// The key view's verdict for NAME at `at`: the published view, read and
// decided as `vendorctl authorized-keys` does.
Verdict key_view_of(const Ctl& c, const std::string& name, std::int64_t at) {
    auto v = read_authkeys(c.cfg, name);
    if (!v) {
        return Verdict{false, Reason::state_error,
                       v.error().code == Code::not_found
                           ? "no public view published (vendorctl rewrites it on every change)"
                           : v.error().detail,
                       0};
    }
    return key_view_verdict(c.cfg, *v, at);
}

Result<Phase> parse_phase(const std::string& s) {
    for (Phase p : {Phase::auth, Phase::account, Phase::session, Phase::keys})
        if (s == phase_name(p)) return p;
    return make_error(Code::invalid, "--phase takes auth, account, session or keys");
}

}  // namespace

int cmd_explain(Ctl& c) {
    std::string name = need_pos(c, 0, "account NAME");
    if (!c.args.has("--from")) throw UsageError{"explain needs --from IP (or --from local)"};
    std::string from = c.args.get("--from");
    std::int64_t at = now_s();
    if (c.args.has("--at")) {
        auto t = parse_rfc3339(c.args.get("--at"));
        if (!t) throw UsageError{"--at takes an RFC 3339 time such as 2026-11-30T09:15:00+01:00"};
        at = *t;
    }
    std::optional<Phase> only;
    if (c.args.has("--phase")) {
        auto p = parse_phase(c.args.get("--phase"));
        if (!p) throw UsageError{p.error().detail};
        only = *p;
    }
    // --key FILE: the public key sshd accepted (publickey) before PAM;
    // --key none: no key (keyboard-interactive only); neither: the entry's
    // first pinned key, if it has one (the usual login).
    std::optional<std::string> key;
    bool key_given = c.args.has("--key");
    if (key_given && c.args.get("--key") != "none") {
        auto text = read_input_file(c.args.get("--key"), 65536);
        if (!text) return fail(text.error());
        auto pk = parse_public_key(text->substr(0, text->find('\n')));
        if (!pk) return fail("--key: " + pk.error().detail);
        key = pk->type + " " + pk->blob_b64;
    }
    // The same identification, facts and decisions as pam_vendor.so (and,
    // for the keys phase, as vendorctl authorized-keys). An unusable
    // configuration is identified as the module does (identify_user).
    Identity id;
    std::string config_problem = c.config_problem;
    if (!config_problem.empty()) {
        Identification who = identify_user(c.config_path, c.explicit_config, name);
        id = std::move(who.id);
        config_problem = who.config_problem;
    } else {
        id = identify(c.cfg, name);
    }
    if (id.kind == Identity::not_vendor) {
        if (c.json) {
            Json j = Json::object();
            j.set("account", name).set("vendor_account", false).set("verdict", "ignore");
            std::printf("%s\n", j.dump_pretty().c_str());
        } else {
            std::printf(
                "%s is not a vendor account: pam_vendor returns PAM_IGNORE and logs nothing\n",
                escape(name, 64).c_str());
        }
        return kExitOk;
    }
    std::vector<Step> steps;
    std::vector<Step> steps_with_code;  // the same login with a valid code typed
    auto all_phases = [&](Reason r, const std::string& d) {
        for (Phase p : {Phase::keys, Phase::auth, Phase::account, Phase::session})
            steps.push_back(Step{p, Verdict{false, r, d, 0}, Next::deny});
        steps_with_code = steps;
    };
    if (!config_problem.empty()) {
        all_phases(Reason::config_error, config_problem);
    } else if (id.kind == Identity::vendor_error) {
        all_phases(id.error_reason, id.detail);
    } else {
        const Entry& e = *id.entry;
        if (!key_given && !e.keys.empty()) {
            std::string k = e.keys.front();
            auto sp = k.find(' ');
            key = k.substr(0, k.find(' ', sp + 1));
        }
        // sshd asks the key view for a publickey login; PAM auth runs when
        // keyboard-interactive is part of the login: the entry takes a code,
        // or there is no key.
        bool pam_auth = (e.access & kAccessOtp) || !key;
        auto store = open_store(c.cfg);
        auto g = gather(c.cfg, *store, e, name, at);
        if (key) steps.push_back(Step{Phase::keys, key_view_of(c, name, at), Next::deny});
        if (g.error) {
            for (Phase p : {Phase::auth, Phase::account, Phase::session})
                if (p != Phase::auth || pam_auth)
                    steps.push_back(Step{p, Verdict{false, *g.error, g.detail, 0}, Next::deny});
            steps_with_code = steps;
        } else {
            g.facts.source = from == "local" ? resolve_source(nullptr, nullptr)
                                             : resolve_source(nullptr, from.c_str());
            if (key) g.facts.publickeys = {*key};
            // --phase auth asks for PAM auth even where the login has none.
            bool run_auth = pam_auth || only == Phase::auth;
            steps_with_code = steps;
            for (auto& s : pam_login(e, g.facts, run_auth, c.args.has("--with-code")))
                steps.push_back(std::move(s));
            for (auto& s : pam_login(e, g.facts, run_auth, true))
                steps_with_code.push_back(std::move(s));
        }
        for (auto& s : steps)
            if (s.phase == Phase::keys) s.next = next_step(Phase::keys, s.verdict);
        for (auto& s : steps_with_code)
            if (s.phase == Phase::keys) s.next = next_step(Phase::keys, s.verdict);
    }
    if (only) {
        auto keep = [&](std::vector<Step>& v) {
            std::vector<Step> out;
            for (auto& s : v)
                if (s.phase == *only) out.push_back(std::move(s));
            v = std::move(out);
        };
        keep(steps);
        keep(steps_with_code);
        if (steps.empty()) {
            // The keys phase of a login without a key: the view is not asked.
            if (*only != Phase::keys) return fail("internal: no such phase");
            steps.push_back(Step{Phase::keys, key_view_of(c, name, at), Next::deny});
            steps.back().next = next_step(Phase::keys, steps.back().verdict);
            steps_with_code = steps;
        }
    }
    // The login's verdict: the first phase that does not let it through.
    const Step* first = nullptr;
    for (const auto& s : steps)
        if (s.next != Next::allow && !first) first = &s;
    bool allow = first == nullptr;
    bool code_would_do = !allow && !c.args.has("--with-code");
    for (const auto& s : steps_with_code)
        if (s.next != Next::allow) code_would_do = false;
    // A code changes nothing for an account without a code gate.
    if (id.entry && !(id.entry->access & kAccessOtp)) code_would_do = false;
    Verdict v = allow ? Verdict{true, Reason::ok, "", 0} : first->verdict;
    if (c.json) {
        Json j = Json::object();
        j.set("account", name).set("vendor_account", true).set("verdict", allow ? "allow" : "deny");
        j.set("reason", reason_name(v.reason))
            .set("detail", v.detail)
            .set("at", format_rfc3339(at));
        if (code_would_do) j.set("allow_with_code", true);
        Json phases = Json::array();
        for (const auto& s : steps) {
            Json p = Json::object();
            p.set("phase", phase_name(s.phase))
                .set("verdict", next_word(s.next))
                .set("reason", reason_name(s.verdict.reason))
                .set("detail", s.verdict.detail);
            if (s.verdict.runtime_max_s > 0) p.set("runtime_max_s", s.verdict.runtime_max_s);
            else p.set_null("runtime_max_s");
            phases.push(std::move(p));
        }
        j.set("phases", std::move(phases));
        std::printf("%s\n", j.dump_pretty().c_str());
    } else {
        for (const auto& s : steps) {
            std::printf("  %-8s %-5s %s", phase_name(s.phase), next_word(s.next),
                        reason_name(s.verdict.reason));
            if (!s.verdict.detail.empty()) std::printf(" (%s)", s.verdict.detail.c_str());
            std::printf("\n");
        }
        if (allow) {
            std::printf("allow: %s from %s at %s\n", name.c_str(), escape(from, 64).c_str(),
                        local_time(c, at, true).c_str());
        } else {
            std::printf("deny: %s (%s)\n", reason_name(v.reason), v.detail.c_str());
            if (code_would_do)
                std::printf("with a valid one-time code (keyboard-interactive): allow\n");
        }
    }
    return allow ? kExitOk : kExitRefused;
}

// Every reason the module logs and explain predicts, with its meaning
// (pam_vendor(8), REASONS); needs neither root nor a configuration.
int cmd_reasons(Ctl& c) {
    if (c.json) {
        Json arr = Json::array();
        for (const auto& r : reasons()) {
            Json j = Json::object();
            j.set("reason", r.name).set("meaning", r.meaning);
            arr.push(std::move(j));
        }
        std::printf("%s\n", arr.dump_pretty().c_str());
        return kExitOk;
    }
    for (const auto& r : reasons()) std::printf("%s\t%s\n", r.name, r.meaning);
    return kExitOk;
}

}  // namespace vendor::cli
