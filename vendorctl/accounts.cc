// add, remove, list, show, config
#include <grp.h>

#include <algorithm>
#include <cstdio>

#include "accounts.h"
#include "ctl.h"
#include "facts.h"
#include "files.h"
#include "json.h"
#include "util.h"

namespace vendor::cli {

using namespace vendor::core;

namespace {

// A lookup that cannot be answered is an error, not "no such group".
Result<bool> group_exists(const std::string& name) {
    auto gr = lookup_group(name, true);
    if (!gr) return std::move(gr).error();
    return gr->has_value();
}

}  // namespace

int cmd_reindex(Ctl& c) {
    auto r = Accounts(c.cfg).reindex();
    if (!r) return fail(r.error());
    for (const auto& [name, uid] : r->uids_recorded)
        std::printf("%s: recorded uid %u\n", name.c_str(), uid);
    if (r->views.nss_error) return fail(*r->views.nss_error);
    for (const auto& [name, err] : r->views.key_view_errors)
        std::fprintf(stderr, "vendorctl: public key view of %s not updated: %s\n", name.c_str(),
                     err.detail.c_str());
    const auto& problems = r->views.nss_problems;
    std::printf("NSS index: %zu account(s) in %s/index\n", r->views.nss_served,
                c.cfg.nss_dir.c_str());
    for (const auto& p : problems) std::fprintf(stderr, "vendorctl: refused: %s\n", p.c_str());
    if (!problems.empty())
        std::fprintf(stderr,
                     "vendorctl: %zu account(s) refused: an nss_vendor account left out of "
                     "the index does not resolve; fix or remove it\n",
                     problems.size());
    return r->views.key_view_errors.empty() && problems.empty() ? kExitOk : kExitRefused;
}

int cmd_add(Ctl& c) {
    std::string name = account_arg(c);
    if (c.args.pos.size() > 1)
        throw UsageError{"unexpected argument '" + escape(c.args.pos[1], 64) + "'"};
    if (!c.args.has("--vendor")) throw UsageError{"add needs --vendor ORG"};
    if (!c.args.has("--from") && !c.args.has("--local"))
        throw UsageError{"add needs --from CIDR[,CIDR...]"};
    Entry e;
    e.name = name;
    e.vendor = c.args.get("--vendor");
    if (e.vendor.empty()) return fail("--vendor must be 1 to 256 characters");
    if (auto why = check_free_text("--vendor", e.vendor, 256); !why.empty()) return fail(why);
    e.any_source = c.args.has("--allow-any-source");
    for (const auto& list : c.args.all("--from")) {
        for (const auto& f : split(list, ',')) {
            auto cidr = parse_cidr(f);
            if (!cidr) return fail(cidr.error());
            if (auto st = check_wide(*cidr, e.any_source); !st) return fail(st.error());
            e.from.push_back(*cidr);
        }
    }
    e.allow_local = c.args.has("--local");
    if (c.args.has("--access")) {
        auto a = parse_access(c.args.get("--access"));
        if (!a) return fail(a.error());
        e.access = *a;
    }
    if (c.args.has("--hours")) {
        auto s = parse_schedule(c.args.get("--hours"));
        if (!s) return fail(s.error());
        e.hours = std::move(*s);
        if (!c.args.has("--access")) e.access = kAccessHours;
    }
    if ((e.access & kAccessHours) && !e.hours)
        return fail("access 'hours' needs --hours SPEC (e.g. 'Mon-Fri 08:00-18:00')");
    for (const auto& file : c.args.all("--key")) {
        auto text = read_input_file(file, 65536);
        if (!text) return fail(text.error());
        std::size_t n = 0;
        for (const auto& line : split(*text, '\n')) {
            if (line.empty() || line[0] == '#') continue;
            // The error names the key by its rank, never by the file's bytes.
            auto k = parse_public_key(line);
            if (!k)
                return fail(escape(file, 200) + ": key " + std::to_string(n + 1) + ": " +
                            k.error().detail);
            e.keys.push_back(k->type + " " + k->blob_b64 +
                             (k->comment.empty() ? "" : " " + k->comment));
            ++n;
        }
        if (n == 0) return fail(escape(file, 200) + ": no public key in file");
    }
    if (c.args.has("--hosts")) {
        e.hosts.clear();
        for (const auto& h : split(c.args.get("--hosts"), ',')) {
            if (!valid_host_pattern(h)) return fail("bad host pattern '" + escape(h, 64) + "'");
            e.hosts.push_back(h);
        }
        if (e.hosts.empty()) return fail("--hosts is empty");
    }
    e.comment = c.args.get("--comment");
    if (auto why = check_free_text("--comment", e.comment, 1024); !why.empty()) return fail(why);
    e.existing = c.args.has("--existing");
    if (e.existing) {
        if (c.args.has("--shell") || c.args.has("--groups"))
            throw UsageError{
                "--shell and --groups are for accounts served by nss_vendor, not --existing"};
        if (!(e.access & kAccessOtp))
            return fail("--existing accounts (e.g. in AD) need a code whose secret is not in AD: "
                        "use --access "
                        "otp or grant+otp");
    } else {
        e.shell = c.args.has("--shell") ? c.args.get("--shell") : c.cfg.shell;
        if (e.shell.empty() || e.shell[0] != '/' || e.shell.find(':') != std::string::npos)
            return fail("--shell must be an absolute path");
        e.home = c.cfg.home_base + "/" + name;
        for (const auto& g : split(c.args.get("--groups"), ',')) {
            bool allowed = std::find(c.cfg.allowed_groups.begin(), c.cfg.allowed_groups.end(), g) !=
                           c.cfg.allowed_groups.end();
            bool priv = std::any_of(c.cfg.privileged_groups.begin(), c.cfg.privileged_groups.end(),
                                    [&](const std::string& p) { return group_name_matches(p, g); });
            if (priv)
                return fail("group '" + escape(g, 64) +
                            "' is privileged: a vendor can never be in it");
            if (!allowed)
                return fail("group '" + escape(g, 64) +
                            "' is not in allowed_groups (pam_vendor.conf)");
            auto there = group_exists(g);
            if (!there) return fail(there.error());
            if (!*there) return fail("group '" + escape(g, 64) + "' does not exist");
            e.groups.push_back(g);
        }
    }
    e.created = format_rfc3339(now_s());
    e.created_by = operator_name();
    auto r = Accounts(c.cfg).add(std::move(e));
    if (!r) return fail(r.error());
    if (!report_views(r->views)) return kExitRefused;
    e = std::move(r->entry);
    Event ev;
    ev.event = "account_added";
    ev.account = name;
    ev.vendor = e.vendor;
    ev.detail = "access=" + format_access(e.access) + " from=" + std::to_string(e.from.size()) +
                " block(s)";
    audit(c, ev);
    std::printf("added vendor account %s (%s), access %s", name.c_str(),
                escape(e.vendor, 80).c_str(), format_access(e.access).c_str());
    if (e.existing) std::printf(", existing account (not served by nss_vendor)\n");
    else std::printf(", uid %u, home %s\n", e.uid, e.home.c_str());
    if (e.access & kAccessGrant)
        std::printf("disabled until the helpdesk runs: vendorctl activate %s --for DURATION\n",
                    name.c_str());
    return kExitOk;
}

int cmd_remove(Ctl& c) {
    std::string name = account_arg(c);
    std::string mode = c.cfg.remove_home;
    if (c.args.has("--keep-home")) mode = "keep";
    if (c.args.has("--delete-home")) mode = "delete";
    if (c.args.has("--archive-home")) mode = "archive";
    auto r = Accounts(c.cfg).remove(name, mode, c.args.has("--keep-state"));
    if (!r) return fail(r.error());
    // A key view left behind only warns: its entry is gone, no gate opens.
    (void)report_views(r->views);
    if (r->views.nss_error) return kExitRefused;
    const auto& e = r->entry;
    const std::string& home_note = r->home_note;
    Event ev;
    ev.event = "account_removed";
    ev.account = name;
    if (e) ev.vendor = e->vendor;
    ev.detail = home_note;
    audit(c, ev);
    std::printf("removed vendor account %s%s%s\n", name.c_str(), home_note.empty() ? "" : "; home ",
                home_note.c_str());
    return kExitOk;
}

namespace {

Json entry_json(const Entry& e) {
    Json j = Json::object();
    j.set("name", e.name).set("vendor", e.vendor).set("access", format_access(e.access));
    Json from = Json::array();
    for (const auto& f : e.from) from.push(f.str());
    j.set("from", std::move(from));
    j.set("local", e.allow_local);
    j.set("any_source", e.any_source);
    if (e.hours) j.set("hours", e.hours->text);
    Json hosts = Json::array();
    for (const auto& h : e.hosts) hosts.push(h);
    j.set("hosts", std::move(hosts));
    Json keys = Json::array();
    for (const auto& k : e.keys) {
        auto pk = parse_public_key(k);
        keys.push(pk ? pk->type + " " + pk->fingerprint +
                           (pk->comment.empty() ? "" : " " + pk->comment)
                     : k);
    }
    j.set("keys", std::move(keys));
    if (!e.comment.empty()) j.set("comment", e.comment);
    j.set("existing", e.existing);
    if (!e.existing) {
        j.set("uid", static_cast<std::int64_t>(e.uid)).set("home", e.home).set("shell", e.shell);
        Json groups = Json::array();
        for (const auto& g : e.groups) groups.push(g);
        j.set("groups", std::move(groups));
    }
    if (!e.created.empty()) j.set("created", e.created);
    if (!e.created_by.empty()) j.set("created_by", e.created_by);
    return j;
}

std::string join_from(const Entry& e) {
    std::string s;
    for (const auto& f : e.from) s += (s.empty() ? "" : ",") + f.str();
    if (e.allow_local) s += (s.empty() ? "" : ",") + std::string("local");
    return s;
}

}  // namespace

int cmd_list(Ctl& c) {
    auto names = Accounts(c.cfg).names();
    if (!names) return fail(names.error());
    Json arr = Json::array();
    int rc = kExitOk;
    if (!c.json) std::printf("%-20s %-24s %-16s %s\n", "NAME", "VENDOR", "ACCESS", "FROM");
    for (const auto& n : *names) {
        auto e = load_entry(c, n);
        if (!e) {
            std::fprintf(stderr, "vendorctl: %s: %s\n", n.c_str(), e.error().detail.c_str());
            rc = kExitRefused;
            continue;
        }
        if (c.json) arr.push(entry_json(*e));
        else
            std::printf("%-20s %-24s %-16s %s\n", n.c_str(), escape(e->vendor, 24).c_str(),
                        format_access(e->access).c_str(), join_from(*e).c_str());
    }
    if (c.json) std::printf("%s\n", arr.dump_pretty().c_str());
    return rc;
}

int cmd_show(Ctl& c) {
    std::string name = account_arg(c);
    auto e = load_entry(c, name);
    if (!e) return fail(e.error());
    auto store = open_store(c.cfg);
    auto g = store->grant(name);
    auto f = store->failures(name);
    auto t = store->totp_enrolled(name);
    std::int64_t now = now_s();
    if (c.json) {
        Json j = entry_json(*e);
        // Every documented field, null when it has no value (vendorctl(8)).
        if (g && *g && (*g)->not_after > now) {
            j.set("active_until", format_rfc3339((*g)->not_after));
            j.set("operator", (*g)->operator_name);
            if ((*g)->ticket.empty()) j.set_null("ticket");
            else j.set("ticket", (*g)->ticket);
        } else {
            j.set_null("active_until").set_null("operator").set_null("ticket");
        }
        if (f && f->locked_until > now) j.set("locked_until", format_rfc3339(f->locked_until));
        else j.set_null("locked_until");
        if (t) j.set("totp_enrolled", *t);
        else j.set_null("totp_enrolled");
        std::printf("%s\n", j.dump_pretty().c_str());
        return kExitOk;
    }
    std::printf("account:   %s\nvendor:    %s\naccess:    %s\n", e->name.c_str(),
                escape(e->vendor, 200).c_str(), format_access(e->access).c_str());
    std::printf("from:      %s%s\n", join_from(*e).c_str(),
                e->any_source ? " (any source allowed)" : "");
    if (e->existing) std::printf("account:   existing (resolved by another NSS source)\n");
    else {
        std::string groups;
        for (const auto& gr : e->groups) groups += (groups.empty() ? "" : ",") + gr;
        std::printf("uid:       %u (group %s)\nhome:      %s\nshell:     %s\n", e->uid,
                    c.cfg.vendor_group.c_str(), e->home.c_str(), e->shell.c_str());
        if (!groups.empty()) std::printf("groups:    %s\n", groups.c_str());
    }
    if (e->hours) std::printf("hours:     %s\n", escape(e->hours->text, 200).c_str());
    std::string hosts;
    for (const auto& h : e->hosts) hosts += (hosts.empty() ? "" : ",") + h;
    std::printf("hosts:     %s\n", hosts.c_str());
    for (const auto& k : e->keys) {
        auto pk = parse_public_key(k);
        if (pk)
            std::printf("key:       %s %s %s\n", pk->type.c_str(), pk->fingerprint.c_str(),
                        escape(pk->comment, 80).c_str());
    }
    if (!e->comment.empty()) std::printf("comment:   %s\n", escape(e->comment, 200).c_str());
    if (!e->created.empty())
        std::printf("created:   %s by %s\n", e->created.c_str(), escape(e->created_by, 64).c_str());
    if (!g) std::printf("grant:     unreadable: %s\n", g.error().detail.c_str());
    else if (*g && (*g)->not_after > now)
        std::printf("grant:     active until %s (by %s%s%s)\n",
                    local_time(c, (*g)->not_after, true).c_str(),
                    escape((*g)->operator_name, 64).c_str(),
                    (*g)->ticket.empty() ? "" : ", ticket ", escape((*g)->ticket, 64).c_str());
    else std::printf("grant:     none\n");
    if (f && f->locked_until > now)
        std::printf("lockout:   code factor locked until %s\n",
                    local_time(c, f->locked_until, true).c_str());
    if (t && *t) std::printf("totp:      enrolled\n");
    return kExitOk;
}

int cmd_config(Ctl& c) {
    if (c.args.has("--keys")) {
        if (c.args.has("--check")) throw UsageError{"--keys and --check do not go together"};
        std::printf("%s", list_config_keys().c_str());
        return kExitOk;
    }
    if (c.args.has("--check")) {
        std::printf("%s: ok\n", c.cfg.path.empty() ? "(built-in defaults)" : c.cfg.path.c_str());
        return kExitOk;
    }
    std::printf("%s", dump_config(c.cfg).c_str());
    return kExitOk;
}

}  // namespace vendor::cli
