// log, prune
#include <cstdio>

#include "ctl.h"
#include "duration.h"
#include "facts.h"
#include "files.h"
#include "json.h"
#include "util.h"

namespace vendor::cli {

using namespace vendor::core;

// Six months of a busy server fit; beyond that, prune first.
constexpr std::size_t kMaxLog = std::size_t{1} << 30;

Result<std::string> read_audit(const Ctl& c) {
    bool found = false;
    SafeOpts o;
    o.max_size = kMaxLog;
    auto r = safe_read_optional(c.cfg.audit_log, found, o);
    if (r && !found) return std::string();
    return r;
}

// The head record beside the log (audit.h); `found` false when absent.
Result<AuditHead> read_head(const Ctl& c, bool& found) {
    SafeOpts o;
    o.max_size = 4096;
    o.allow_group_read = false;
    auto r = safe_read_optional(head_path(c.cfg), found, o);
    if (!r) return std::move(r).error();
    if (!found) return AuditHead{};
    return parse_head(*r);
}

// Everything `log --verify` checks, also the gate of `prune`.
Result<VerifyResult> verify_log(const Ctl& c, std::string_view content) {
    VerifyOpts o;
    o.now_s = now_s();
    o.retention_days = c.cfg.log_retention_days;
    bool found = false;
    auto head = read_head(c, found);
    if (!head) return std::move(head).error();
    if (found) o.head = *head;
    auto v = audit_verify(content, o);
    if (!found && !content.empty())
        v.warnings.push_back("no head record " + head_path(c.cfg) +
                             " (first run after an upgrade?): the end of the log is not checked "
                             "until the next event writes it");
    return v;
}

int print_verify(const Ctl& c, const VerifyResult& v) {
    const char* log = c.cfg.audit_log.c_str();
    if (c.json) {
        Json j = Json::object();
        j.set("lines", static_cast<std::int64_t>(v.lines)).set("intact", v.breaks.empty());
        j.set("last_seq", static_cast<std::int64_t>(v.last_seq));
        if (!v.breaks.empty())
            j.set("first_bad_line", static_cast<std::int64_t>(v.first_bad)).set("why", v.why);
        Json breaks = Json::array();
        for (const auto& b : v.breaks) {
            Json e = Json::object();
            e.set("line", static_cast<std::int64_t>(b.line)).set("why", b.why);
            breaks.push(std::move(e));
        }
        j.set("breaks", std::move(breaks));
        Json warnings = Json::array();
        for (const auto& w : v.warnings) warnings.push(std::string_view(w));
        j.set("warnings", std::move(warnings));
        std::printf("%s\n", j.dump_pretty().c_str());
    } else {
        for (const auto& w : v.warnings) std::printf("%s: warning: %s\n", log, w.c_str());
        for (const auto& b : v.breaks)
            std::printf("%s: line %zu: %s\n", log, b.line, b.why.c_str());
        if (v.breaks.empty()) std::printf("%s: %zu lines, chain intact\n", log, v.lines);
        else std::printf("%s: %zu lines, %zu break(s)\n", log, v.lines, v.breaks.size());
    }
    return v.breaks.empty() ? kExitOk : kExitRefused;
}

int cmd_log(Ctl& c) {
    auto content = read_audit(c);
    if (!content) return fail(content.error());
    if (c.args.has("--verify")) {
        auto v = verify_log(c, *content);
        if (!v) return fail(v.error());
        return print_verify(c, *v);
    }
    std::int64_t since_ms = 0;
    if (c.args.has("--since")) {
        auto d = parse_duration(c.args.get("--since"));
        if (!d) return fail(d.error());
        since_ms = (now_s() - *d) * 1000;
    }
    std::string account = c.args.get("--account");
    if (!account.empty()) require_name(account);
    Json arr = Json::array();
    if (!c.json)
        std::printf("%-16s %-15s %-14s %-16s %-7s %-20s %s\n", "TIME", "EVENT", "ACCOUNT", "FROM",
                    "RESULT", "REASON", "DETAIL");
    std::string_view rest = *content;
    std::size_t lineno = 0;
    int rc = kExitOk;
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        ++lineno;
        if (line.empty()) continue;
        auto r = parse_audit_line(line);
        if (!r) {
            std::fprintf(stderr, "vendorctl: %s: line %zu unreadable: %s\n",
                         c.cfg.audit_log.c_str(), lineno, r.error().detail.c_str());
            rc = kExitRefused;
            continue;
        }
        if (r->ts_ms < since_ms) continue;
        if (!account.empty() && r->account != account) continue;
        if (c.json) {
            auto doc = Json::parse(line, "audit line");
            if (doc) arr.push(std::move(*doc));
            continue;
        }
        std::string detail = r->detail;
        if (r->duration_s)
            detail = "duration " + format_duration(*r->duration_s) +
                     (detail.empty() ? "" : "; " + detail);
        if (!r->operator_name.empty())
            detail = "by " + r->operator_name + (r->ticket.empty() ? "" : " ticket " + r->ticket) +
                     (detail.empty() ? "" : "; " + detail);
        std::printf("%-16s %-15s %-14s %-16s %-7s %-20s %s\n",
                    local_time(c, r->ts_ms / 1000, true).c_str(), escape(r->event, 15).c_str(),
                    escape(r->account, 14).c_str(), escape(r->rhost, 16).c_str(),
                    escape(r->result, 7).c_str(), escape(r->reason, 20).c_str(),
                    escape(detail, 120).c_str());
    }
    if (c.json) std::printf("%s\n", arr.dump_pretty().c_str());
    return rc;
}

int cmd_prune(Ctl& c) {
    bool force = c.args.has("--force");
    // The retention floor and the chain of the content rewritten are the
    // core's rules (audit_prune checks both again under the log's lock);
    // this first pass also checks the head record.
    if (auto st = prune_retention_ok(c.cfg.log_retention_days, force); !st) return fail(st.error());
    auto content = read_audit(c);
    if (!content) return fail(content.error());
    auto v = verify_log(c, *content);
    if (!v) return fail(v.error());
    if (!v->breaks.empty())
        return fail("audit log chain broken at line " + std::to_string(v->first_bad) + " (" +
                    v->why + "); not pruning");
    if (content->empty()) {
        std::printf("audit log empty; nothing to prune\n");
        return kExitOk;
    }
    PruneOpts opts;
    opts.now_ms = now_ms();
    opts.retention_days = c.cfg.log_retention_days;
    opts.host = c.host;
    opts.operator_name = operator_name();
    opts.force = force;
    bool dry_run = c.args.has("--dry-run");
    auto plan = prune_log(c.cfg, opts, dry_run, kMaxLog);
    if (!plan) return fail(plan.error());
    std::printf("%s%zu lines dropped (%zu whole months before %s), %zu kept\n",
                dry_run ? "dry run: " : "", plan->dropped, plan->months,
                format_rfc3339(plan->pruned_before).c_str(), plan->kept);
    return kExitOk;
}

}  // namespace vendor::cli
