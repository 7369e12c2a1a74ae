// audit.h: the hash-chained JSON-lines audit log (R8) and its syslog form.
//
// Each line carries prev = SHA-256 of the line before it. So an edit of the
// content of line k (keeping valid JSON and its own prev) is reported at line
// k + 1, whose prev no longer matches; an edit of line k's prev, a removed or
// reordered line is reported at k. The chain alone cannot see an edit of the
// very last line: that needs the last hash kept elsewhere (not asserted here).
#include "audit.h"

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

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < s.size()) {
        auto nl = s.find('\n', at);
        if (nl == std::string::npos) nl = s.size();
        out.push_back(s.substr(at, nl - at));
        at = nl + 1;
    }
    return out;
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
    Log() { cfg.audit_log = dir / "log/audit.jsonl"; }
    void append(const Event& e) {
        auto r = audit_append(cfg, "web-01", e);
        if (!r.ok()) fail_msg("audit_append: %s", r.error().detail.c_str());
        written.push_back(*r);
    }
    std::string content() const { return slurp(cfg.audit_log); }
};

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
    // A cut exactly at a line end is a shorter, intact log.
    auto lines = lines_of(content);
    lines.pop_back();
    assert_int_equal(first_bad(join(lines)), 0);
    // An append after a torn line starts a line of its own (the event is not
    // glued to the fragment and lost) and chains to the fragment, so verify
    // reports the torn line itself.
    auto torn = content.substr(0, content.size() - 20);
    write_file(log.cfg.audit_log, torn, 0600);
    log.append(event("auth", "acme", "ok"));
    auto after = lines_of(log.content());
    assert_int_equal(after.size(), 6);
    assert_str_eq(after[4], lines_of(torn).back());
    assert_str_eq(after[5], log.written.back());
    assert_ok(parse_audit_line(after[5]));
    assert_true(contains(after[5], "\"prev\":\"" + line_hash(after[4]) + "\""));
    v = audit_verify(log.content(), "");
    assert_int_equal(v.first_bad, 5);
    assert_true(contains(v.why, "JSON"));
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

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(append_and_verify),
        cmocka_unit_test(edited_line),
        cmocka_unit_test(removed_and_reordered),
        cmocka_unit_test(truncated_tail),
        cmocka_unit_test(anchors_and_prune),
        cmocka_unit_test(parse_round_trip),
        cmocka_unit_test(parse_refused),
        cmocka_unit_test(insecure_log_refused),
        cmocka_unit_test(kv_lines),
        cmocka_unit_test(invalid_utf8_escaped),
    };
    return RUN_GROUP("audit", tests);
}
