// audit.h: the hash-chained JSON-lines audit log (R8) and its syslog form.
//
// Each line carries prev = SHA-256 of the line before it. So an edit of the
// content of line k (keeping valid JSON and its own prev) is reported at line
// k + 1, whose prev no longer matches; an edit of line k's prev, a removed or
// reordered line is reported at k. The chain alone cannot see an edit of the
// very last line or lost last lines: the head record beside the log can.
#include "audit.h"

#include "accounts.h"

#include <sys/mount.h>

#include <cstdlib>

#include "files.h"
#include "util.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

Event event(const char* name, const char* account, const char* result) {
    Event e;
    e.event = name;
    e.account = account;
    e.vendor = "ACME";
    e.rhost = "192.0.2.10";
    e.service = "sshd";
    e.result = result;
    e.reason = std::string(result) == "ok" ? "ok" : "not_activated";
    e.pid = 4242;
    return e;
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

struct Log {
    TmpDir dir;
    Config cfg;
    std::vector<std::string> written;
    AuditWritten last;
    Log() { cfg.audit_log = dir / "log/audit.jsonl"; }
    void append(const Event& e) {
        auto r = audit_append(cfg, "web-01", e);
        if (!r.ok()) fail_msg("audit_append: %s", r.error().detail.c_str());
        written.push_back(r->line);
        last = *r;
    }
    std::string content() const { return slurp(cfg.audit_log); }
    AuditHead head() const {
        auto h = parse_head(slurp(head_path(cfg)));
        if (!h.ok()) fail_msg("head record: %s", h.error().detail.c_str());
        return *h;
    }
    VerifyResult verify(const std::string& text) const {
        VerifyOpts o;
        o.head = head();
        return audit_verify(text, o);
    }
};

bool has_break(const VerifyResult& v, std::size_t line, const std::string& why) {
    for (const auto& b : v.breaks)
        if (b.line == line && contains(b.why, why)) return true;
    return false;
}

void print_breaks(const VerifyResult& v) {
    for (const auto& b : v.breaks) print_message("#   break line %zu: %s\n", b.line, b.why.c_str());
}

void fill(Log& log) {
    log.append(event("auth", "acme", "denied"));
    log.append(event("grant", "acme", ""));
    log.append(event("auth", "acme", "ok"));
    log.append(event("session_open", "acme", "ok"));
    log.append(event("session_close", "acme", "ok"));
}

std::size_t first_bad(const std::string& content, std::string_view anchor = "") {
    return audit_verify(content, anchor).first_bad;
}

void append_and_verify(void**) {
    Log log;
    fill(log);
    auto content = log.content();
    assert_str_eq(content, join(log.written));
    auto lines = lines_of(content);
    assert_int_equal(lines.size(), 5);
    auto v = audit_verify(content, "");
    assert_int_equal(v.lines, 5);
    assert_int_equal(v.first_bad, 0);
    // The chain itself: the first prev is empty, then the hash of the line before.
    assert_true(contains(lines[0], "\"prev\":\"\""));
    for (std::size_t i = 1; i < lines.size(); ++i)
        assert_true(contains(lines[i], "\"prev\":\"" + line_hash(lines[i - 1]) + "\""));
    assert_int_equal(line_hash("").size(), 64);
    assert_str_eq(line_hash("abc"),
                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // Created private, in a private directory.
    struct stat st {};
    assert_int_equal(::stat(log.cfg.audit_log.c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(::stat((log.dir / "log").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(audit_verify("", "").first_bad, 0);
    assert_int_equal(audit_verify("", "").lines, 0);
}

void edited_line(void**) {
    Log log;
    fill(log);
    auto lines = lines_of(log.content());
    // Content of line 2 changed, still valid JSON, own prev intact: line 3 breaks.
    auto edited = lines;
    auto at = edited[1].find("\"account\":\"acme\"");
    assert_true(at != std::string::npos);
    edited[1][at + 14] = 'f';  // acme -> acmf
    assert_int_equal(first_bad(join(edited)), 3);
    // One byte of the timestamp.
    edited = lines;
    at = edited[1].find("\"ts\":\"") + 6 + 3;
    edited[1][at] = edited[1][at] == '9' ? '8' : static_cast<char>(edited[1][at] + 1);
    assert_int_equal(first_bad(join(edited)), 3);
    // Line 2's own prev changed: line 2 breaks.
    edited = lines;
    at = edited[1].find("\"prev\":\"") + 8;
    edited[1][at] = edited[1][at] == 'a' ? 'b' : 'a';
    assert_int_equal(first_bad(join(edited)), 2);
    // Line 2 no longer JSON.
    edited = lines;
    edited[1].back() = ',';
    auto v = audit_verify(join(edited), "");
    assert_int_equal(v.first_bad, 2);
    assert_true(contains(v.why, "JSON"));
    // Line 2 without a prev at all.
    edited = lines;
    edited[1] = R"({"ts":"2026-11-28T07:39:07.000Z","event":"auth"})";
    v = audit_verify(join(edited), "");
    assert_int_equal(v.first_bad, 2);
    assert_true(contains(v.why, "prev"));
}

void removed_and_reordered(void**) {
    Log log;
    fill(log);
    auto lines = lines_of(log.content());
    auto cut = lines;
    cut.erase(cut.begin() + 1);  // line 2 removed: the new line 2 does not chain
    assert_int_equal(first_bad(join(cut)), 2);
    cut = lines;
    cut.erase(cut.begin());  // first line removed
    assert_int_equal(first_bad(join(cut)), 1);
    cut = lines;
    std::swap(cut[1], cut[2]);
    assert_int_equal(first_bad(join(cut)), 2);
    cut = lines;
    cut.insert(cut.begin() + 2, "not json");
    assert_int_equal(first_bad(join(cut)), 3);
    cut = lines;
    cut.insert(cut.begin() + 2, cut[1]);  // a line replayed
    assert_int_equal(first_bad(join(cut)), 3);
    // Blank line in the middle: refused too.
    cut = lines;
    cut.insert(cut.begin() + 3, "");
    assert_int_equal(first_bad(join(cut)), 4);
}

void truncated_tail(void**) {
    Log log;
    fill(log);
    auto content = log.content();
    auto v = audit_verify(content.substr(0, content.size() - 1), "");  // last newline lost
    assert_int_equal(v.first_bad, 5);
    assert_true(contains(v.why, "terminated"));
    v = audit_verify(content.substr(0, content.size() - 20), "");  // half a line
    assert_int_equal(v.first_bad, 5);
    assert_int_equal(v.lines, 4);
    // A cut exactly at a line end is a shorter, intact chain (the head
    // record sees it: head_record below).
    auto lines = lines_of(content);
    lines.pop_back();
    assert_int_equal(first_bad(join(lines)), 0);
}

// Item 6: a torn last line (crash or ENOSPC mid-write) is cut off under the
// lock by the next append, which says so in a log_repaired line; the chain
// goes on from the last complete line and stays intact.
void torn_tail_repaired(void**) {
    Log log;
    fill(log);
    auto content = log.content();
    auto lines = lines_of(content);
    auto torn = content + lines[2].substr(0, 37);  // a write of line 6 torn after 37 bytes
    write_file(log.cfg.audit_log, torn, 0600);
    auto v = log.verify(torn);
    assert_int_equal(v.breaks.size(), 1);
    assert_true(has_break(v, 6, "not terminated"));
    log.append(event("auth", "acme", "ok"));
    assert_int_equal(log.last.torn_bytes, 37);
    auto after = lines_of(log.content());
    assert_int_equal(after.size(), 7);
    for (std::size_t i = 0; i < 5; ++i) assert_str_eq(after[i], lines[i]);
    assert_true(contains(after[5], "\"event\":\"log_repaired\""));
    assert_true(contains(after[5], "\"dropped_bytes\":37"));
    assert_true(contains(after[5], "\"seq\":6"));
    assert_true(contains(after[5], "\"prev\":\"" + line_hash(after[4]) + "\""));
    assert_ok(parse_audit_line(after[5]));
    assert_str_eq(after[6], log.written.back());
    assert_true(contains(after[6], "\"seq\":7,\"prev\":\"" + line_hash(after[5]) + "\""));
    v = log.verify(log.content());
    print_breaks(v);
    assert_int_equal(v.breaks.size(), 0);
    assert_int_equal(v.last_seq, 7);
    // Both lines reach syslog, the repair first.
    assert_int_equal(log.last.twins.size(), 2);
    assert_true(log.last.twins[0].rfind("event=log_repaired ", 0) == 0);
    assert_true(contains(log.last.twins[0], " seq=6 hash=" + line_hash(after[5])));
    // A log that is nothing but a fragment is cut to nothing.
    Log bare;
    bare.append(event("auth", "acme", "ok"));
    write_file(bare.cfg.audit_log, "{\"ts\":\"2026-", 0600);
    assert_ok(remove_file(head_path(bare.cfg)));  // the very first write tore
    bare.append(event("auth", "acme", "ok"));
    auto b = lines_of(bare.content());
    assert_int_equal(b.size(), 2);
    assert_true(contains(b[0], "\"event\":\"log_repaired\""));
    assert_true(contains(b[0], "\"seq\":1,\"prev\":\"\""));
    assert_int_equal(bare.verify(bare.content()).breaks.size(), 0);
}

// The same through a real full file system: a 64 KiB tmpfs (root only).
void torn_tail_enospc(void**) {
    if (geteuid() != 0) {
        skip();
        return;
    }
    Log log;
    make_dir(log.dir / "log", 0700);
    std::string mnt = log.dir / "log";
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k,mode=0700") != 0) {
        skip();  // no mount in this container
        return;
    }
    // Something to free afterwards, then fill the rest with events.
    write_file(mnt + "/filler", std::string(16384, 'x'), 0600);
    Event e = event("auth", "acme", "denied");
    e.detail = std::string(900, 'd');
    int ok = 0;
    std::string err;
    for (int i = 0; i < 400; ++i) {
        auto r = audit_append(log.cfg, "web-01", e);
        if (!r.ok()) {
            err = r.error().detail;
            break;
        }
        ++ok;
    }
    std::string full = slurp(log.cfg.audit_log);
    ::unlink((mnt + "/filler").c_str());
    auto r = audit_append(log.cfg, "web-01", event("auth", "acme", "ok"));
    std::string after = slurp(log.cfg.audit_log);
    std::string head = slurp(head_path(log.cfg));
    ::umount2(mnt.c_str(), MNT_DETACH);
    if (err.empty()) fail_msg("the tmpfs never filled up (%d appends)", ok);
    assert_true(contains(err, "write"));
    assert_true(ok > 10);
    assert_ok(r);
    print_message("#   %d appends fitted; then: %s; torn tail cut: %zu bytes\n", ok, err.c_str(),
                  r->torn_bytes);
    VerifyOpts o;
    o.head = *parse_head(head);
    auto v = audit_verify(after, o);
    print_breaks(v);
    assert_int_equal(v.breaks.size(), 0);
    assert_int_equal(v.last_seq, static_cast<std::uint64_t>(ok + (r->torn_bytes ? 2 : 1)));
    if (full.back() != '\n') {
        assert_true(r->torn_bytes > 0);
        assert_true(contains(after, "\"event\":\"log_repaired\""));
    }
}

// Item 6: verify reports every break and carries on past one.
void every_break_reported(void**) {
    Log log;
    fill(log);
    log.append(event("auth", "acme", "ok"));
    auto lines = lines_of(log.content());
    auto bad = lines;
    auto at = bad[1].find("\"account\":\"acme\"");
    bad[1][at + 14] = 'f';       // line 2 edited: line 3 breaks
    bad.erase(bad.begin() + 3);  // line 4 removed: the new line 4 breaks
    auto v = audit_verify(join(bad), "");
    print_breaks(v);
    assert_int_equal(v.breaks.size(), 2);
    assert_true(has_break(v, 3, "prev does not match"));
    assert_true(has_break(v, 4, "seq 5 follows seq 3"));
    assert_int_equal(v.first_bad, 3);
    // A torn line an earlier version left in the middle (the next line
    // chained to it), in a log of legacy lines (no seq) that goes on with
    // seq: one break, then the chain is followed again.
    std::vector<std::string> old;
    std::string prev;
    for (int i = 0; i < 3; ++i) {
        old.push_back(R"({"ts":"2026-10-0)" + std::to_string(i + 1) +
                      R"(T08:00:00.000Z","event":"auth","prev":")" + prev + "\"}");
        prev = line_hash(old.back());
    }
    old.push_back(R"({"ts":"2026-10-04T08:0)");
    prev = line_hash(old.back());
    old.push_back(R"({"ts":"2026-10-05T08:00:00.000Z","event":"auth","prev":")" + prev + "\"}");
    for (int i = 1; i <= 2; ++i) {
        prev = line_hash(old.back());
        old.push_back(R"({"ts":"2026-10-06T08:00:00.000Z","event":"auth","seq":)" +
                      std::to_string(i) + R"(,"prev":")" + prev + "\"}");
    }
    v = audit_verify(join(old), "");
    print_breaks(v);
    assert_int_equal(v.breaks.size(), 1);
    assert_true(has_break(v, 4, "JSON"));
    assert_int_equal(v.last_seq, 2);
    // Once seq has started, a line without one is a break.
    old.push_back(R"({"ts":"2026-10-06T08:00:00.000Z","event":"auth","prev":")" +
                  line_hash(old.back()) + "\"}");
    assert_true(has_break(audit_verify(join(old), ""), 8, "no seq"));
}

// Item 7: the head record sees what the chain cannot.
void head_record(void**) {
    Log log;
    fill(log);
    auto content = log.content();
    auto lines = lines_of(content);
    auto h = log.head();
    assert_int_equal(h.seq, 5);
    assert_int_equal(h.size, content.size());
    assert_str_eq(h.hash, line_hash(lines.back()));
    assert_int_equal(slurp(head_path(log.cfg)).size(), kHeadSize);
    struct stat st {};
    assert_int_equal(::stat(head_path(log.cfg).c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(log.verify(content).breaks.size(), 0);
    // The last line deleted, the last two.
    auto cut = lines;
    cut.pop_back();
    auto v = log.verify(join(cut));
    assert_true(has_break(v, 5, "last 1 line(s) were removed"));
    cut.pop_back();
    assert_true(has_break(log.verify(join(cut)), 4, "last 2 line(s)"));
    // The last line edited (the chain alone cannot see it).
    auto edited = lines;
    auto at = edited[4].find("\"account\":\"acme\"");
    edited[4][at + 14] = 'f';
    assert_int_equal(first_bad(join(edited)), 0);
    assert_true(has_break(log.verify(join(edited)), 5, "edited"));
    // Truncated to 0, or deleted (read as empty).
    v = log.verify("");
    assert_int_equal(v.breaks.size(), 1);
    assert_true(has_break(v, 1, "empty or missing"));
    // Rotated away: the next line chains on from the head record, so the
    // new file starts with a visible gap, and the two files put together
    // are one intact chain.
    std::string rotated = log.dir / "log/audit.jsonl.1";
    assert_int_equal(::rename(log.cfg.audit_log.c_str(), rotated.c_str()), 0);
    log.append(event("auth", "acme", "ok"));
    assert_true(contains(log.last.warning, "does not end where its head record says"));
    assert_int_equal(log.last.seq, 6);
    v = log.verify(log.content());
    assert_true(has_break(v, 1, "continues an earlier log"));
    v = audit_verify(slurp(rotated) + log.content(), "");
    print_breaks(v);
    assert_int_equal(v.breaks.size(), 0);
    assert_int_equal(v.last_seq, 6);
    // Last line deleted, then a login: the gap is not papered over.
    Log del;
    fill(del);
    auto dl = lines_of(del.content());
    dl.pop_back();
    write_file(del.cfg.audit_log, join(dl), 0600);
    del.append(event("auth", "acme", "ok"));
    v = del.verify(del.content());
    print_breaks(v);
    assert_true(has_break(v, 5, "seq 6 follows seq 4"));
    // The last line edited to the same length, then a login: the new line
    // chains to the line the head record names, so the edit shows.
    Log same;
    fill(same);
    auto sl = lines_of(same.content());
    auto at5 = sl[4].find("\"account\":\"acme\"");
    sl[4][at5 + 14] = 'f';
    write_file(same.cfg.audit_log, join(sl), 0600);
    same.append(event("auth", "acme", "ok"));
    v = same.verify(same.content());
    print_breaks(v);
    assert_true(has_break(v, 6, "prev does not match"));
    // A malformed head record makes the append fail (closed).
    write_file(head_path(del.cfg), "garbage", 0600);
    assert_err(audit_append(del.cfg, "web-01", event("auth", "acme", "ok")), Code::invalid);
    assert_int_equal(::chmod(head_path(del.cfg).c_str(), 0640), 0);
    assert_err(audit_append(del.cfg, "web-01", event("auth", "acme", "ok")), Code::insecure);
    assert_false(parse_head("").ok());
    assert_false(parse_head(format_head(h).substr(1)).ok());
    auto again = parse_head(format_head(h));
    assert_ok(again);
    assert_int_equal(again->seq, h.seq);
    assert_str_eq(again->hash, h.hash);
}

void seq_and_twins(void**) {
    Log log;
    fill(log);
    auto lines = lines_of(log.content());
    for (std::size_t i = 0; i < lines.size(); ++i) {
        auto r = parse_audit_line(lines[i]);
        assert_ok(r);
        assert_true(r->seq.has_value());
        assert_int_equal(*r->seq, i + 1);
    }
    // The twin: key=value form, then the line's seq and hash.
    assert_int_equal(log.last.twins.size(), 1);
    assert_str_eq(log.last.twins[0], audit_kv(event("session_close", "acme", "ok")) +
                                         " seq=5 hash=" + line_hash(lines[4]));
    assert_int_equal(log.last.seq, 5);
    assert_str_eq(log.last.hash, line_hash(lines[4]));
    // Replayed / duplicated seq.
    auto dup = lines;
    dup.insert(dup.begin() + 2, dup[1]);
    assert_true(has_break(audit_verify(join(dup), ""), 3, "seq 2 follows seq 2"));
    assert_false(
        parse_audit_line(R"({"ts":"2026-11-28T07:39:07.123Z","event":"auth","seq":0,"prev":""})")
            .ok());
}

// ---- prune (item 8) and the log_pruned header (item 7) ---------------------

constexpr std::int64_t kDay = 86400;

// A log of one line a day from `from` for `days` days, seq from 1.
std::string daily_log(std::int64_t from, int days) {
    std::string out, prev;
    for (int i = 0; i < days; ++i) {
        std::string l = R"({"ts":")" + format_rfc3339_ms((from + i * kDay) * 1000) +
                        R"(","host":"web-01","event":"auth","account":"acme","seq":)" +
                        std::to_string(i + 1) + R"(,"prev":")" + prev + "\"}";
        prev = line_hash(l);
        out += l + "\n";
    }
    return out;
}

PruneOpts prune_at(std::int64_t now_s, bool force = false) {
    PruneOpts o;
    o.now_ms = now_s * 1000;
    o.retention_days = 190;
    o.host = "web-01";
    o.operator_name = "alice";
    o.force = force;
    return o;
}

VerifyResult verify_at(const std::string& text, std::int64_t now_s) {
    VerifyOpts o;
    o.now_s = now_s;
    o.retention_days = 190;
    return audit_verify(text, o);
}

void prune_months(void**) {
    std::int64_t start = days_from_civil(2026, 1, 10) * kDay;
    auto log = daily_log(start, 230);       // 2026-01-10 .. 2026-08-27
    std::int64_t now = start + 230 * kDay;  // 2026-08-28: cutoff 2026-02-19, drops January
    auto p = audit_prune(log, prune_at(now));
    assert_ok(p);
    assert_int_equal(p->dropped, 22);
    assert_int_equal(p->months, 1);
    assert_int_equal(p->pruned_before, days_from_civil(2026, 2, 1) * kDay);
    auto out = lines_of(p->out);
    assert_int_equal(out.size(), 230 - 22 + 1);
    assert_true(contains(out[0], "\"event\":\"log_pruned\""));
    assert_true(contains(out[0], "\"pruned_before\":\"2026-02-01T00:00:00Z\""));
    assert_true(contains(out[0], "\"dropped\":22,\"seq\":22,"));
    auto v = verify_at(p->out, now);
    print_breaks(v);
    assert_int_equal(v.breaks.size(), 0);
    assert_int_equal(v.last_seq, 230);
    assert_int_equal(p->head.seq, 230);
    assert_int_equal(p->head.size, p->out.size());
    // The daily timer a month later prunes again (the first header goes
    // with February; before, it was kept and blocked every later prune).
    auto q = audit_prune(p->out, prune_at(now + 31 * kDay));
    assert_ok(q);
    assert_int_equal(q->dropped, 28);
    assert_int_equal(q->kept, 230 - 22 - 28);
    assert_int_equal(lines_of(q->out).size(), q->kept + 1);
    v = verify_at(q->out, now + 31 * kDay);
    print_breaks(v);
    assert_int_equal(v.breaks.size(), 0);
    // Nothing to drop: unchanged.
    auto n = audit_prune(q->out, prune_at(now + 32 * kDay));
    assert_ok(n);
    assert_int_equal(n->dropped, 0);
    assert_str_eq(n->out, q->out);
}

void prune_refuses_wrong_clock(void**) {
    std::int64_t start = days_from_civil(2026, 1, 10) * kDay;
    auto log = daily_log(start, 230);
    std::int64_t now = start + 230 * kDay;
    // The clock behind the newest line.
    auto r = audit_prune(log, prune_at(start + 100 * kDay));
    assert_err(r, Code::refused);
    assert_true(contains(r.error().detail, "before the newest line"));
    // The clock a year ahead: the daily timer must not empty the log.
    r = audit_prune(log, prune_at(now + 365 * kDay));
    assert_err(r, Code::refused);
    assert_true(contains(r.error().detail, "every line"));
    // More than three months at once.
    r = audit_prune(log, prune_at(now + 100 * kDay));
    assert_err(r, Code::refused);
    assert_true(contains(r.error().detail, "4 months at once"));
    r = audit_prune(log, prune_at(now + 70 * kDay));  // three months: fine
    assert_ok(r);
    assert_int_equal(r->months, 3);
    // --force does it, and the result still verifies.
    r = audit_prune(log, prune_at(now + 365 * kDay, true));
    assert_ok(r);
    assert_int_equal(r->kept, 0);
    assert_int_equal(lines_of(r->out).size(), 1);
    assert_int_equal(verify_at(r->out, now + 365 * kDay).breaks.size(), 0);
    assert_err(audit_prune(log + "{\"ts\"", prune_at(now)), Code::invalid);
    // The core's own rules, whoever calls it: the six-month floor unless
    // forced, and never a rewrite of a log whose chain is broken.
    PruneOpts shortr = prune_at(now);
    shortr.retention_days = 90;
    assert_err(audit_prune(log, shortr), Code::refused);
    shortr.force = true;
    assert_ok(audit_prune(log, shortr));
    auto edited = lines_of(log);
    auto at = edited[3].find("web-01");
    assert_true(at != std::string::npos);
    edited[3].replace(at, 6, "web-02");
    assert_err(audit_prune(join(edited), prune_at(now)), Code::refused);
}

void forged_pruned_header(void**) {
    std::int64_t start = days_from_civil(2026, 1, 10) * kDay;
    auto log = daily_log(start, 230);
    std::int64_t now = start + 230 * kDay;
    auto p = audit_prune(log, prune_at(now));
    assert_ok(p);
    auto out = lines_of(p->out);
    auto forge = [&](const std::string& from, const std::string& to) {
        auto f = out;
        auto at = f[0].find(from);
        assert_true(at != std::string::npos);
        f[0].replace(at, from.size(), to);
        print_breaks(verify_at(join(f), now));
        return verify_at(join(f), now);
    };
    // A cutoff inside the retention: the header admits to dropping lines
    // that had to be kept.
    auto v = forge("_before\":\"2026-02-01", "_before\":\"2026-07-01");
    assert_true(has_break(v, 1, "inside the retention"));
    v = forge("_before\":\"2026-02-01", "_before\":\"2026-02-02");
    assert_true(has_break(v, 1, "not the start of a month"));
    // The first kept line older than the stated cutoff.
    v = forge("_before\":\"2026-02-01", "_before\":\"2025-12-01");
    assert_int_equal(v.breaks.size(), 0);  // older cutoff, lines after it: consistent
    auto f = out;
    f.insert(f.begin() + 1, lines_of(log)[21]);  // a January line kept behind the header
    v = verify_at(join(f), now);
    assert_true(has_break(v, 2, "older than the pruned_before"));
    v = forge("\"dropped\":22,", "");
    assert_true(has_break(v, 1, "without a valid"));
    // Lines cut from the top behind a forged header: seq does not continue.
    f = out;
    f.erase(f.begin() + 1, f.begin() + 4);
    v = verify_at(join(f), now);
    assert_true(has_break(v, 2, "seq 26 follows seq 22"));
    // A header of the previous version (no pruned_before, no seq): accepted
    // with a warning.
    std::string legacy =
        R"({"ts":"2026-08-28T00:00:00.000Z","host":"web-01","event":"log_pruned","prev":""})";
    v = verify_at(legacy + "\n", now);
    assert_int_equal(v.breaks.size(), 0);
    assert_int_equal(v.warnings.size(), 1);
}

void anchors_and_prune(void**) {
    Log log;
    fill(log);
    auto lines = lines_of(log.content());
    // An explicit anchor must match the first line's prev.
    assert_int_equal(first_bad(join(lines), std::string(64, 'a')), 1);
    // After a prune the kept log starts with log_pruned, whose prev is the
    // hash of the last line dropped: the chain resumes from there.
    auto pruned = std::vector<std::string>(lines.begin() + 2, lines.end());
    assert_int_equal(first_bad(join(pruned)), 1);  // plain cut: broken
    std::string marker =
        R"({"ts":"2026-11-28T07:39:07.000Z","host":"web-01","event":"log_pruned","prev":")" +
        line_hash(lines[0]) + R"("})";
    std::vector<std::string> kept = {marker};
    // Re-chain the kept lines after the marker, as prune does.
    std::string prev = line_hash(marker);
    for (std::size_t i = 2; i < lines.size(); ++i) {
        auto l = lines[i];
        auto at = l.find("\"prev\":\"") + 8;
        l.replace(at, 64, prev);
        kept.push_back(l);
        prev = line_hash(l);
    }
    assert_int_equal(first_bad(join(kept)), 0);
    assert_int_equal(first_bad(join(kept), line_hash(lines[0])), 0);
    assert_int_equal(first_bad(join(kept), std::string(64, 'b')), 1);
    // log_pruned is only trusted as the first line.
    auto late = lines;
    late.insert(late.begin() + 2, marker);
    assert_int_equal(first_bad(join(late)), 3);
}

void parse_round_trip(void**) {
    Log log;
    Event e;
    e.event = "session_close";
    e.account = "acme";
    e.vendor = "ACME";
    e.rhost = "2001:db8::5";
    e.service = "sshd";
    e.tty = "ssh";
    e.pid = 1234;
    e.session = "s-42";
    e.result = "ok";
    e.reason = "ok";
    e.operator_name = "alice";
    e.ticket = "INC-1";
    e.duration_s = 3725;
    e.methods = "publickey,keyboard-interactive";
    e.detail = "quote \" backslash \\ newline \n tab \t";
    auto before = now_ms();
    log.append(e);
    auto after = now_ms();
    auto a = parse_audit_line(log.written[0]);
    assert_ok(a);
    assert_str_eq(a->line, log.written[0]);
    assert_str_eq(a->event, "session_close");
    assert_str_eq(a->account, "acme");
    assert_str_eq(a->rhost, "2001:db8::5");
    assert_str_eq(a->service, "sshd");
    assert_str_eq(a->session, "s-42");
    assert_str_eq(a->result, "ok");
    assert_str_eq(a->reason, "ok");
    assert_str_eq(a->operator_name, "alice");
    assert_str_eq(a->ticket, "INC-1");
    assert_str_eq(a->detail, e.detail);
    assert_true(a->duration_s.has_value());
    assert_int_equal(*a->duration_s, 3725);
    assert_true(a->ts_ms >= before - before % 1000 && a->ts_ms <= after);
    // The raw line is one physical line.
    assert_false(contains(log.written[0], "\n"));
    // Minimal admin event: optional fields stay empty.
    Event g;
    g.event = "grant";
    log.append(g);
    auto b = parse_audit_line(log.written[1]);
    assert_ok(b);
    assert_str_eq(b->account, "");
    assert_false(b->duration_s.has_value());
    auto ms = parse_audit_line(R"({"ts":"2026-11-28T07:39:07.123Z","event":"auth","prev":""})");
    assert_ok(ms);
    assert_int_equal(ms->ts_ms, 1795851547123);
}

void parse_refused(void**) {
    for (const char* l :
         {"", "{}", "[]", "null", "not json", R"({"event":"auth","prev":""})",
          R"({"ts":"2026-11-28T07:39:07.123Z","prev":""})",
          R"({"ts":"2026-11-28T07:39:07.123Z","event":"auth"})",
          R"({"ts":"yesterday","event":"auth","prev":""})",
          R"({"ts":"2026-02-30T07:39:07.123Z","event":"auth","prev":""})",
          R"({"ts":"2026-11-28T07:39:07.123Z","event":"auth","prev":"","extra":1})",
          R"({"ts":"2026-11-28T07:39:07.123Z","event":"auth","prev":"","pid":"12"})",
          R"({"ts":"2026-11-28T07:39:07.123Z","event":"auth","prev":"","duration_s":1.5})",
          R"({"ts":"2026-11-28T07:39:07.123Z","event":7,"prev":""})",
          R"({"ts":"2026-11-28T07:39:07.123Z","event":"auth","prev":""} trailing)"})
        if (parse_audit_line(l).ok()) fail_msg("audit line accepted: %s", l);
    std::string long_prev = R"({"ts":"2026-11-28T07:39:07.123Z","event":"auth","prev":")" +
                            std::string(65, 'a') + "\"}";
    assert_false(parse_audit_line(long_prev).ok());
}

void insecure_log_refused(void**) {
    Log log;
    fill(log);
    assert_int_equal(::chmod(log.cfg.audit_log.c_str(), 0666), 0);
    assert_err(audit_append(log.cfg, "web-01", event("auth", "acme", "ok")), Code::insecure);
    assert_int_equal(::chmod(log.cfg.audit_log.c_str(), 0600), 0);
    assert_int_equal(::chmod((log.dir / "log").c_str(), 0777), 0);
    assert_err(audit_append(log.cfg, "web-01", event("auth", "acme", "ok")), Code::insecure);
}

void kv_lines(void**) {
    auto e = event("auth", "acme", "denied");
    e.detail = "bad \"code\"\nnext=1";
    e.operator_name = "al ice";
    e.duration_s = 90;
    auto kv = audit_kv(e);
    assert_true(kv.rfind("event=auth ", 0) == 0);
    assert_true(contains(kv, " account=acme "));
    assert_true(contains(kv, " rhost=192.0.2.10 "));
    assert_true(contains(kv, " result=denied "));
    assert_true(contains(kv, " reason=not_activated"));
    assert_true(contains(kv, " duration_s=90"));
    // Values with spaces are quoted; quotes and control characters escaped.
    assert_true(contains(kv, " operator=\"al ice\""));
    assert_true(contains(kv, " detail=\"bad \\x22code\\x22\\x0anext=1\""));
    for (char c : kv)
        if (static_cast<unsigned char>(c) < 0x20) fail_msg("control character in '%s'", kv.c_str());
    // A value cannot forge another key: no raw space outside quotes.
    Event f;
    f.event = "auth";
    f.account = "x\tresult=ok";
    f.rhost = "a\nreason=ok";
    kv = audit_kv(f);
    assert_str_eq(kv, "event=auth account=x\\x09result=ok rhost=a\\x0areason=ok");
    // Empty fields are left out.
    Event g;
    g.event = "grant";
    assert_str_eq(audit_kv(g), "event=grant");
    // Long values are capped.
    g.detail = std::string(5000, 'd');
    assert_true(audit_kv(g).size() < 300);
}

// Item 13: whatever slipped past the input checks (an old registry entry, a
// PAM item, a user name) must not make the audit line invalid JSON: bytes
// that are not UTF-8 are written as \xHH text, the rest is kept.
void invalid_utf8_escaped(void**) {
    Log log;
    Event e = event("grant", "acme", "ok");
    e.vendor = "Soci\xc3\xa9t\xc3\xa9 \xff\xfe";
    e.ticket = "T-\xe2\x82";
    e.detail = "reason \xc0\xaf";
    e.rhost = "\xed\xa0\x80";
    log.append(e);
    const auto& line = log.written.back();
    assert_true(valid_utf8(line));
    auto r = parse_audit_line(line);
    assert_ok(r);
    assert_str_eq(r->ticket, "T-\\xe2\\x82");
    assert_str_eq(r->rhost, "\\xed\\xa0\\x80");
    assert_true(contains(line, "Soci\xc3\xa9t\xc3\xa9 \\\\xff\\\\xfe"));
    assert_int_equal(audit_verify(slurp(log.cfg.audit_log), "").first_bad, 0);
    // A line of an older version carrying raw invalid bytes is not JSON.
    assert_false(parse_audit_line("{\"ts\": \"2026-11-28T07:39:07.000Z\", \"event\": \"x\", "
                                  "\"ticket\": \"\xff\", \"prev\": \"\"}")
                     .ok());
}

}  // namespace

// status: the last successful session_open of each account, found from the
// end of the log (Accounts::last_logins), within the scan cap.
void last_logins_from_the_tail(void**) {
    Log log;
    Event e = event("session_open", "acme", "ok");
    log.append(e);
    log.append(event("session_open", "beta", "ok"));
    e.rhost = "192.0.2.11";
    log.append(e);  // acme's last
    log.append(event("session_open", "acme", "denied"));
    for (int i = 0; i < 400; ++i) log.append(event("auth", "gamma", "denied"));
    Accounts accounts(log.cfg);
    auto l = accounts.last_logins({"acme", "beta", "gamma"});
    assert_ok(l);
    assert_int_equal(l->size(), 2);
    assert_str_eq(l->at("acme").rhost, "192.0.2.11");
    assert_str_eq(l->at("beta").rhost, "192.0.2.10");
    assert_true(l->at("acme").at > 1700000000);
    // Beyond the cap: not looked at.
    auto capped = accounts.last_logins({"acme", "beta"}, 4096);
    assert_ok(capped);
    assert_true(capped->empty());
    // No log: no login.
    Config none = log.cfg;
    none.audit_log = log.dir / "log/none.jsonl";
    auto empty = Accounts(none).last_logins({"acme"});
    assert_ok(empty);
    assert_true(empty->empty());
}

// prune_log: the plan applied to the file in the core (vendorctl prune only
// renders it); --dry-run leaves the file as it is.
void prune_log_in_place(void**) {
    Log log;
    std::int64_t start = days_from_civil(2026, 1, 10) * kDay;
    std::string text = daily_log(start, 230);
    assert_ok(ensure_dir(log.dir / "log", 0700));
    write_file(log.cfg.audit_log, text, 0600);
    struct stat st0 {
    }, st1{};
    assert_int_equal(stat(log.cfg.audit_log.c_str(), &st0), 0);
    auto dry = prune_log(log.cfg, prune_at(start + 230 * kDay), true, std::size_t{64} << 20);
    assert_ok(dry);
    assert_int_equal(dry->dropped, 22);
    assert_str_eq(log.content(), text);
    assert_int_equal(stat(log.cfg.audit_log.c_str(), &st1), 0);
    assert_int_equal(st0.st_ino, st1.st_ino);
    auto p = prune_log(log.cfg, prune_at(start + 230 * kDay), false, std::size_t{64} << 20);
    assert_ok(p);
    assert_str_eq(log.content(), p->out);
    auto h = log.head();
    assert_int_equal(h.seq, 230);
    assert_int_equal(h.size, p->out.size());
    auto v = log.verify(log.content());
    print_breaks(v);
    assert_int_equal(v.breaks.size(), 0);
    // An append after the prune goes on from the head record.
    log.append(event("auth", "acme", "ok"));
    v = log.verify(log.content());
    print_breaks(v);
    assert_int_equal(v.breaks.size(), 0);
    assert_int_equal(v.last_seq, 231);
}

// ---- the shipper's cursor (issue 9, section 3) -----------------------------

ShipCursor cursor_at(const std::string& line, bool with_seq = true) {
    ShipCursor c;
    c.hash = line_hash(line);
    if (with_seq) {
        auto r = parse_audit_line(line);
        if (r.ok() && r->seq) c.seq = static_cast<std::uint64_t>(*r->seq);
    }
    return c;
}

ShipBatch after(const Config& cfg, const ShipCursor& from, ShipLimits lim = {}) {
    auto b = audit_after(cfg, from, lim);
    if (!b.ok()) fail_msg("audit_after: %s", b.error().detail.c_str());
    if (b->kind != ShipBatch::ok)
        print_message("#   audit_after: kind %d: %s\n", b->kind, b->why.c_str());
    return *b;
}

void ship_cursor_normal(void**) {
    Log log;
    fill(log);
    // From the start: every line, in order; the cursor moves to the last.
    auto b = after(log.cfg, ShipCursor{});
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_true(b.lines == log.written);
    assert_false(b.more);
    assert_int_equal(b.next.seq, 5);
    assert_str_eq(b.next.hash, line_hash(log.written[4]));
    // After line 2, by hash and seq, or by hash alone.
    for (bool with_seq : {true, false}) {
        b = after(log.cfg, cursor_at(log.written[1], with_seq));
        assert_int_equal(b.kind, ShipBatch::ok);
        assert_int_equal(b.lines.size(), 3);
        assert_str_eq(b.lines[0], log.written[2]);
        assert_str_eq(b.lines[2], log.written[4]);
    }
    // Up to date: nothing, the cursor stays.
    b = after(log.cfg, cursor_at(log.written[4]));
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_true(b.lines.empty());
    assert_str_eq(b.next.hash, line_hash(log.written[4]));
    // An absent log is empty.
    Config none = log.cfg;
    none.audit_log = log.dir / "log/none.jsonl";
    b = after(none, ShipCursor{});
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_true(b.lines.empty());
    // The persisted cursor: fixed size, atomic, 0600, beside the log.
    auto none_yet = read_cursor(log.cfg, "relp");
    assert_ok(none_yet);
    assert_false(none_yet->has_value());
    ShipCursor cur = cursor_at(log.written[2]);
    assert_int_equal(format_cursor(cur).size(), kCursorSize);
    assert_ok(write_cursor(log.cfg, "relp", cur));
    assert_str_eq(cursor_path(log.cfg, "relp"), log.cfg.audit_log + ".cursor.relp");
    struct stat st {};
    assert_int_equal(stat(cursor_path(log.cfg, "relp").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    auto back = read_cursor(log.cfg, "relp");
    assert_ok(back);
    assert_true(back->has_value());
    assert_int_equal((*back)->seq, 3);
    assert_str_eq((*back)->hash, cur.hash);
    assert_err(write_cursor(log.cfg, "../x", cur), Code::invalid);
    assert_err(read_cursor(log.cfg, "Relp"), Code::invalid);
    assert_err(write_cursor(log.cfg, "relp", ShipCursor{}), Code::invalid);
    assert_false(valid_cursor_name(""));
    assert_false(valid_cursor_name(std::string(33, 'a')));
    assert_true(valid_cursor_name("relp-central_1"));
    std::string text = format_cursor(cur);
    assert_err(parse_cursor(text.substr(1)), Code::invalid);
    text[text.size() - 2] = 'G';
    assert_err(parse_cursor(text), Code::invalid);
    write_file(cursor_path(log.cfg, "relp"), "garbage\n", 0600);
    assert_err(read_cursor(log.cfg, "relp"), Code::invalid);
}

void ship_cursor_after_prune(void**) {
    Log log;
    std::int64_t start = days_from_civil(2026, 1, 10) * kDay;
    auto before = lines_of(daily_log(start, 230));
    auto p = audit_prune(daily_log(start, 230), prune_at(start + 230 * kDay));
    assert_ok(p);
    assert_int_equal(p->dropped, 22);
    assert_ok(ensure_dir(log.dir / "log", 0700));
    write_file(log.cfg.audit_log, p->out, 0600);
    auto out = lines_of(p->out);
    // Acknowledged up to a line that was pruned: the gap is told.
    auto b = after(log.cfg, cursor_at(before[9]));
    assert_int_equal(b.kind, ShipBatch::pruned);
    assert_int_equal(b.first_seq, 23);
    assert_int_equal(b.missing, 12);
    assert_true(b.lines.empty());
    // The same without its seq: the hash is simply not there.
    b = after(log.cfg, cursor_at(before[9], false));
    assert_int_equal(b.kind, ShipBatch::unknown);
    assert_int_equal(b.first_seq, 23);
    // Up to the last line dropped: nothing lost; the log_pruned header
    // (chained to that line) comes first, then the kept lines.
    b = after(log.cfg, cursor_at(before[21]));
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_int_equal(b.lines.size(), out.size());
    assert_true(contains(b.lines[0], "\"event\":\"log_pruned\""));
    assert_str_eq(b.lines[1], before[22]);
    assert_str_eq(b.lines.back(), before[229]);
    // A kept line: the rest, as before the prune.
    b = after(log.cfg, cursor_at(before[99]));
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_int_equal(b.lines.size(), 130);
    assert_str_eq(b.lines[0], before[100]);
    // Resuming after the gap: from the start, header first.
    b = after(log.cfg, ShipCursor{});
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_true(b.lines == out);
}

void ship_cursor_torn_tail(void**) {
    Log log;
    fill(log);
    auto content = log.content();
    write_file(log.cfg.audit_log, content + log.written[2].substr(0, 37), 0600);
    // The torn (or still being written) line is never shipped.
    auto b = after(log.cfg, cursor_at(log.written[4]));
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_true(b.lines.empty());
    b = after(log.cfg, ShipCursor{});
    assert_true(b.lines == log.written);
    // The next append cuts it and says so; the shipper goes on from line 5.
    log.append(event("auth", "acme", "ok"));
    b = after(log.cfg, cursor_at(log.written[4]));
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_int_equal(b.lines.size(), 2);
    assert_true(contains(b.lines[0], "\"event\":\"log_repaired\""));
    assert_str_eq(b.lines[1], log.written.back());
    assert_int_equal(b.next.seq, 7);
}

void ship_cursor_unknown_and_forked(void**) {
    Log log;
    fill(log);
    // A hash the log never had.
    ShipCursor stranger;
    stranger.hash = line_hash("not a line of this log");
    auto b = after(log.cfg, stranger);
    assert_int_equal(b.kind, ShipBatch::unknown);
    assert_int_equal(b.first_seq, 1);
    // ... at a seq the log has: another line is there, the logs forked.
    stranger.seq = 3;
    b = after(log.cfg, stranger);
    assert_int_equal(b.kind, ShipBatch::forked);
    assert_true(contains(b.why, "another line at seq 3"));
    // ... beyond the log's end: the shipper saw a log this is not.
    stranger.seq = 99;
    b = after(log.cfg, stranger);
    assert_int_equal(b.kind, ShipBatch::forked);
    // The cursor's hash at another seq.
    ShipCursor wrong_seq = cursor_at(log.written[1]);
    wrong_seq.seq = 4;
    b = after(log.cfg, wrong_seq);
    assert_int_equal(b.kind, ShipBatch::forked);
    // A line edited after the cursor: the chain is broken, nothing shipped.
    auto lines = log.written;
    auto at = lines[3].find("\"acme\"");
    lines[3].replace(at, 6, "\"acmf\"");
    write_file(log.cfg.audit_log, join(lines), 0600);
    b = after(log.cfg, cursor_at(log.written[1]));
    assert_int_equal(b.kind, ShipBatch::forked);
    assert_true(contains(b.why, "does not chain"));
    assert_true(b.lines.empty());
    // A cursor at the edited line, or at the line as it was: the chain
    // breaks right after it either way.
    b = after(log.cfg, cursor_at(log.written[3]));
    assert_int_equal(b.kind, ShipBatch::forked);  // the cursor's line itself was edited
    b = after(log.cfg, cursor_at(lines[3]));
    assert_int_equal(b.kind, ShipBatch::forked);  // line 5 does not chain to the edit
}

// The offset hint: a batch reads forward from it when the line there chains
// to the cursor; a stale hint (prune, edit, a wrong number) falls back to the
// walk from the end and gives the same answer.
void ship_cursor_offset_hint(void**) {
    Log log;
    fill(log);
    auto all = after(log.cfg, ShipCursor{});
    assert_int_equal(all.next.offset, log.content().size());
    auto b = after(log.cfg, all.next);
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_true(b.lines.empty());
    ShipCursor c2 = after(log.cfg, ShipCursor{}, ShipLimits{2, std::size_t{1} << 20}).next;
    assert_int_equal(c2.seq, 2);
    assert_int_equal(c2.offset, log.written[0].size() + log.written[1].size() + 2);
    for (std::uint64_t off : {c2.offset, c2.offset + 5, c2.offset - 1, std::uint64_t{1} << 40}) {
        ShipCursor c = c2;
        c.offset = off;
        b = after(log.cfg, c);
        assert_int_equal(b.kind, ShipBatch::ok);
        assert_int_equal(b.lines.size(), 3);
        assert_str_eq(b.lines[0], log.written[2]);
        assert_int_equal(b.next.offset, log.content().size());
    }
    // A line edited after the cursor, read forward: forked.
    auto lines = log.written;
    lines[3].replace(lines[3].find("\"acme\""), 6, "\"acmf\"");
    write_file(log.cfg.audit_log, join(lines), 0600);
    b = after(log.cfg, c2);
    assert_int_equal(b.kind, ShipBatch::forked);
    assert_true(b.lines.empty());
    // A torn tail is not shipped forward either.
    write_file(log.cfg.audit_log, join(log.written) + "{\"ts\":\"2026-", 0600);
    b = after(log.cfg, c2);
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_int_equal(b.lines.size(), 3);
    assert_false(b.more);
    // Offsets from before a prune: the walk from the end decides.
    Log big;
    std::int64_t start = days_from_civil(2026, 1, 10) * kDay;
    assert_ok(ensure_dir(big.dir / "log", 0700));
    write_file(big.cfg.audit_log, daily_log(start, 230), 0600);
    ShipCursor c10 = after(big.cfg, ShipCursor{}, ShipLimits{10, std::size_t{1} << 20}).next;
    ShipCursor c100 = after(big.cfg, ShipCursor{}, ShipLimits{100, std::size_t{1} << 20}).next;
    assert_int_equal(c100.seq, 100);
    assert_ok(prune_log(big.cfg, prune_at(start + 230 * kDay), false, std::size_t{64} << 20));
    b = after(big.cfg, c10);
    assert_int_equal(b.kind, ShipBatch::pruned);
    assert_int_equal(b.missing, 12);
    b = after(big.cfg, c100);
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_int_equal(b.lines.size(), 130);
    // ... and the cursor it returns has a true offset again.
    b = after(big.cfg, b.next);
    assert_int_equal(b.kind, ShipBatch::ok);
    assert_true(b.lines.empty());
    assert_int_equal(b.next.offset, slurp(big.cfg.audit_log).size());
}

void ship_cursor_batches(void**) {
    Log log;
    constexpr int kLines = 3000;
    auto text = daily_log(days_from_civil(2016, 1, 1) * kDay, kLines);
    assert_ok(ensure_dir(log.dir / "log", 0700));
    write_file(log.cfg.audit_log, text, 0600);
    auto all = lines_of(text);
    for (auto lim : {ShipLimits{128, std::size_t{1} << 20}, ShipLimits{1000, 4096}}) {
        ShipCursor cur;
        std::vector<std::string> shipped;
        int batches = 0;
        while (true) {
            auto b = after(log.cfg, cur, lim);
            assert_int_equal(b.kind, ShipBatch::ok);
            if (b.lines.empty()) break;
            ++batches;
            assert_true(b.lines.size() <= lim.max_lines);
            std::size_t bytes = 0;
            for (const auto& l : b.lines) bytes += l.size() + 1;
            assert_true(bytes <= lim.max_bytes);
            shipped.insert(shipped.end(), b.lines.begin(), b.lines.end());
            assert_int_equal(b.next.seq, shipped.size());
            assert_int_equal(b.more, shipped.size() < all.size());
            cur = b.next;
        }
        assert_int_equal(shipped.size(), all.size());
        assert_true(shipped == all);
        print_message("#   %d lines in %d batches (max %zu lines, %zu bytes)\n", kLines, batches,
                      lim.max_lines, lim.max_bytes);
        if (lim.max_lines == 128) assert_int_equal(batches, (kLines + 127) / 128);
    }
}

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(append_and_verify),
        cmocka_unit_test(edited_line),
        cmocka_unit_test(removed_and_reordered),
        cmocka_unit_test(truncated_tail),
        cmocka_unit_test(torn_tail_repaired),
        cmocka_unit_test(torn_tail_enospc),
        cmocka_unit_test(every_break_reported),
        cmocka_unit_test(head_record),
        cmocka_unit_test(seq_and_twins),
        cmocka_unit_test(prune_months),
        cmocka_unit_test(prune_refuses_wrong_clock),
        cmocka_unit_test(forged_pruned_header),
        cmocka_unit_test(anchors_and_prune),
        cmocka_unit_test(parse_round_trip),
        cmocka_unit_test(parse_refused),
        cmocka_unit_test(insecure_log_refused),
        cmocka_unit_test(kv_lines),
        cmocka_unit_test(invalid_utf8_escaped),
        cmocka_unit_test(last_logins_from_the_tail),
        cmocka_unit_test(prune_log_in_place),
        cmocka_unit_test(ship_cursor_normal),
        cmocka_unit_test(ship_cursor_after_prune),
        cmocka_unit_test(ship_cursor_torn_tail),
        cmocka_unit_test(ship_cursor_unknown_and_forked),
        cmocka_unit_test(ship_cursor_offset_hint),
        cmocka_unit_test(ship_cursor_batches),
    };
    return RUN_GROUP("audit", tests);
}
