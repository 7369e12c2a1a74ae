// activate, deactivate, otp, totp, unlock, status, explain
#include <cstdio>

#include "accounts.h"
#include "ctl.h"
#include "duration.h"
#include "engine.h"
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
        auto store = make_local_store(c.cfg);
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
    auto store = make_local_store(c.cfg);
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
    auto store = make_local_store(c.cfg);
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
    auto store = make_local_store(c.cfg);
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
    auto store = make_local_store(c.cfg);
    std::int64_t now = now_s();
    Json arr = Json::array();
    if (!c.json)
        std::printf("%-16s %-18s %-12s %-30s %-24s %s\n", "NAME", "VENDOR", "ACCESS", "STATE",
                    "FROM", "LAST LOGIN");
    int rc = kExitOk;
    for (const auto& n : names) {
        auto e = load_entry(c, n);
        if (!e) {
            std::fprintf(stderr, "vendorctl: %s: %s\n", n.c_str(), e.error().detail.c_str());
            rc = kExitRefused;
            continue;
        }
        std::string state;
        std::int64_t until = 0;
        auto f = store->failures(n);
        auto g = store->grant(n);
        if (!f || !g) {
            state = "state unreadable";
        } else if ((e->access & kAccessOtp) && f->locked_until > now) {
            state = "locked until " + local_time(c, f->locked_until, false);
            until = f->locked_until;
        } else if (e->access & kAccessGrant) {
            if (*g && (*g)->not_before <= now && (*g)->not_after > now) {
                until = (*g)->not_after;
                bool today = (*g)->not_after - now < 20 * 3600;
                state = "active until " + local_time(c, (*g)->not_after, !today);
            } else {
                state = "inactive";
            }
        } else if (e->access & kAccessHours) {
            auto z = load_zone(c.cfg);
            TimeZone tz = z ? std::move(*z) : TimeZone::utc();
            auto lt = to_local(tz, now);
            state = e->hours && e->hours->contains(lt.weekday_mon0, lt.minute_of_day)
                        ? "in hours"
                        : "out of hours";
        } else {
            state = "code on request";
        }
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
                .set("state", state);
            // Every documented field in every object: null when it has no value.
            if (until) j.set("until", format_rfc3339(until));
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
            std::printf("%-16s %-18s %-12s %-30s %-24s %s\n", n.c_str(),
                        escape(e->vendor, 18).c_str(), format_access(e->access).c_str(),
                        state.c_str(), from.c_str(), ll.c_str());
        }
    }
    if (c.json) std::printf("%s\n", arr.dump_pretty().c_str());
    return rc;
}

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
    // The same identification, facts and decision as pam_vendor.so.
    Identity id = identify(c.cfg, name);
    Verdict v;
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
    if (id.kind == Identity::vendor_error) {
        v = Verdict{false, id.error_reason, id.detail};
    } else {
        auto store = make_local_store(c.cfg);
        auto g = gather(c.cfg, *store, *id.entry, name, at);
        if (g.error) {
            v = Verdict{false, *g.error, g.detail};
        } else {
            g.facts.source = from == "local" ? resolve_source(nullptr, nullptr)
                                             : resolve_source(nullptr, from.c_str());
            g.facts.otp_done = c.args.has("--with-code");
            v = decide(*id.entry, g.facts);
        }
    }
    bool code_would_do = v.reason == Reason::otp_required;
    if (c.json) {
        Json j = Json::object();
        j.set("account", name)
            .set("vendor_account", true)
            .set("verdict", v.allow ? "allow" : "deny");
        j.set("reason", reason_name(v.reason))
            .set("detail", v.detail)
            .set("at", format_rfc3339(at));
        if (code_would_do) j.set("allow_with_code", true);
        std::printf("%s\n", j.dump_pretty().c_str());
    } else if (v.allow) {
        std::printf("allow: %s from %s at %s\n", name.c_str(), escape(from, 64).c_str(),
                    local_time(c, at, true).c_str());
    } else {
        std::printf("deny: %s (%s)\n", reason_name(v.reason), v.detail.c_str());
        if (code_would_do)
            std::printf("with a valid one-time code (keyboard-interactive): allow\n");
    }
    return v.allow ? kExitOk : kExitRefused;
}

}  // namespace vendor::cli
