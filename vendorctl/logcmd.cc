// log, prune
#include <cstdio>

#include "ctl.h"
#include "duration.h"
#include "engine.h"
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

int cmd_log(Ctl& c) {
    auto content = read_audit(c);
    if (!content) return fail(content.error());
    if (c.args.has("--verify")) {
        auto v = audit_verify(*content, "");
        if (c.json) {
            Json j = Json::object();
            j.set("lines", static_cast<std::int64_t>(v.lines)).set("intact", v.first_bad == 0);
            if (v.first_bad)
                j.set("first_bad_line", static_cast<std::int64_t>(v.first_bad)).set("why", v.why);
            std::printf("%s\n", j.dump_pretty().c_str());
        } else if (v.first_bad) {
            std::printf("%s: line %zu: %s\n", c.cfg.audit_log.c_str(), v.first_bad, v.why.c_str());
        } else {
            std::printf("%s: %zu lines, chain intact\n", c.cfg.audit_log.c_str(), v.lines);
        }
        return v.first_bad ? kExitRefused : kExitOk;
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

namespace {

Result<std::string> parse_first_prev(std::string_view text) {
    auto line = text.substr(0, text.find('\n'));
    auto doc = Json::parse(line, "audit line");
    if (!doc) return std::move(doc).error();
    std::string prev;
    if (auto st = JsonReader(doc->get(), "audit line").str("prev", prev, true, 64); !st)
        return st.error();
    return prev;
}

struct Pruner : RewriteFn {
    std::int64_t cutoff_s = 0;
    std::size_t dropped = 0, kept = 0;
    std::string host;
    std::string op;
    bool dry_run = false;
    Result<std::string> rewrite(std::string_view content) override {
        // Whole months only: a month goes when its last second is older than
        // the cutoff, so the log always holds at least log_retention_days.
        std::string last_dropped;
        std::string_view rest = content;
        std::string kept_text;
        while (!rest.empty()) {
            auto nl = rest.find('\n');
            if (nl == std::string_view::npos)
                return make_error(Code::invalid, "audit log ends with a partial line");
            auto line = rest.substr(0, nl);
            rest.remove_prefix(nl + 1);
            auto r = parse_audit_line(line);
            if (!r)
                return make_error(Code::invalid,
                                  "audit log has an unreadable line; run vendorctl log --verify");
            std::int64_t y;
            unsigned m, d;
            civil_from_days(r->ts_ms / 1000 / 86400, y, m, d);
            std::int64_t next_month =
                days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400;
            if (kept == 0 && next_month <= cutoff_s) {
                last_dropped = std::string(line);
                ++dropped;
            } else {
                kept_text.append(line.data(), line.size());
                kept_text += '\n';
                ++kept;
            }
        }
        if (dropped == 0 || dry_run) return std::string(content);
        // The kept log starts with a log_pruned header carrying the hash of
        // the last dropped line, then the kept lines exactly as they were
        // (a central collector's copies still match them).
        Json j = Json::object();
        j.set("ts", format_rfc3339_ms(now_ms())).set("host", host).set("event", "log_pruned");
        j.set("operator", op)
            .set("detail", "dropped " + std::to_string(dropped) + " lines before " +
                               format_rfc3339(cutoff_s));
        // The chain resumes at the first kept line: the header carries the
        // prev that line already has (after an earlier prune, that is not
        // the hash of the last dropped line, which was an older header).
        std::string anchor = line_hash(last_dropped);
        if (!kept_text.empty()) {
            auto first = parse_first_prev(kept_text);
            if (!first) return std::move(first).error();
            anchor = *first;
        }
        j.set("prev", anchor);
        return j.dump() + "\n" + kept_text;
    }
};

}  // namespace

int cmd_prune(Ctl& c) {
    if (c.cfg.log_retention_days < 183 && !c.args.has("--force"))
        return fail(
            "log_retention_days is " + std::to_string(c.cfg.log_retention_days) +
            ", below the 6 months (183 days) the guideline requires; use --force to prune anyway");
    // Check the chain before rewriting it: never launder a tampered log.
    auto content = read_audit(c);
    if (!content) return fail(content.error());
    auto v = audit_verify(*content, "");
    if (v.first_bad)
        return fail("audit log chain broken at line " + std::to_string(v.first_bad) +
                    "; not pruning");
    Pruner p;
    p.cutoff_s = now_s() - static_cast<std::int64_t>(c.cfg.log_retention_days) * 86400;
    p.host = c.host;
    p.op = operator_name();
    p.dry_run = c.args.has("--dry-run");
    if (content->empty()) {
        std::printf("audit log empty; nothing to prune\n");
        return kExitOk;
    }
    if (auto st = locked_rewrite(c.cfg.audit_log, kMaxLog, p); !st) return fail(st.error());
    std::printf("%s%zu lines dropped (whole months before %s), %zu kept\n",
                p.dry_run ? "dry run: " : "", p.dropped, format_rfc3339(p.cutoff_s).c_str(),
                p.kept);
    return kExitOk;
}

}  // namespace vendor::cli
