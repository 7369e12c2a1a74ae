// sink.h / the audit field table: one emit() for the module and vendorctl,
// whose syslog twin never blocks (a wedged syslog daemon must not stall
// sshd) and whose dropped twins are counted into the next line; and one
// field table behind the JSON line, the key=value form and the parser.
#include "sink.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <variant>

#include "audit.h"
#include "files.h"
#include "util.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

// A syslog daemon that never reads: a datagram socket bound at `path`.
struct DeafSyslog {
    int fd = -1;
    explicit DeafSyslog(const std::string& path) {
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        assert_true(path.size() < sizeof sa.sun_path);
        std::memcpy(sa.sun_path, path.data(), path.size());
        assert_int_equal(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    }
    ~DeafSyslog() { ::close(fd); }
    // Fill its queue from other sockets until the kernel refuses even a
    // fresh one (a sender's own buffer may fill before the queue does).
    std::size_t fill(const std::string& path) const {
        std::size_t n = 0;
        for (int i = 0; i < 64; ++i) {
            SyslogTwin t(path, "filler");
            std::size_t sent = 0;
            while (t.send("event=filler", false)) ++sent;
            assert_true(t.last_errno() == EAGAIN || t.last_errno() == ENOBUFS);
            if (sent == 0) return n;
            n += sent;
        }
        fail_msg("the queue of a socket that never reads did not fill");
        return n;
    }
    // Read everything queued; the last datagram not from the filler.
    std::string drain() const {
        std::string last;
        char buf[9000];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0) break;
            std::string d(buf, static_cast<std::size_t>(n));
            if (!contains(d, " filler[")) last = d;
        }
        return last;
    }
};

std::uint64_t counter(const Config& c) {
    auto n = parse_twins_record(slurp(twins_path(c)));
    assert_ok(n);
    return *n;
}

VerifyResult verify(const Config& c) {
    VerifyOpts o;
    auto h = parse_head(slurp(head_path(c)));
    assert_ok(h);
    o.head = *h;
    return audit_verify(slurp(c.audit_log), o);
}

// Item: 200 events against a syslog socket whose queue is full: every one
// completes at once, every chained line is written and chained, every twin is
// dropped and counted, and the next line says how many.
void wedged_syslog_never_blocks(void**) {
    TmpDir dir;
    Config c;
    c.audit_log = dir / "log/audit.jsonl";
    c.syslog_socket = dir / "log.sock";
    DeafSyslog deaf(c.syslog_socket);
    assert_true(deaf.fill(c.syslog_socket) > 0);
    Event e;
    e.event = "auth";
    e.account = "acme";
    e.result = "denied";
    e.reason = "not_activated";
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 200; ++i) {
        auto r = emit(c, "web-01", e, "pam_vendor");
        assert_true(r.ok());
        assert_int_equal(r.written.twins_sent, 0);
        assert_int_equal(r.written.twins_dropped, 1);
        assert_int_equal(r.written.twins_pending, static_cast<std::uint64_t>(i + 1));
        assert_true(r.twin_errno == EAGAIN || r.twin_errno == ENOBUFS);
    }
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    std::printf("# 200 events, syslog queue full: %lld ms\n", static_cast<long long>(ms));
    // A blocking send would hang here for ever; allow a slow sanitizer build.
    assert_true(ms < 20000);
    auto lines = lines_of(slurp(c.audit_log));
    assert_int_equal(lines.size(), 200);
    auto v = verify(c);
    assert_int_equal(v.first_bad, 0);
    assert_int_equal(v.last_seq, 200);
    // Line k reports the k - 1 twins dropped before it.
    auto first = parse_audit_line(lines[0]);
    assert_ok(first);
    assert_int_equal(first->twins_dropped, 0);
    assert_false(contains(lines[0], "twins_dropped"));
    auto last = parse_audit_line(lines[199]);
    assert_ok(last);
    assert_int_equal(last->twins_dropped, 199);
    assert_int_equal(counter(c), 200);
    // syslog reads again: the next twin goes out carrying the count, in
    // RFC 3164 form (authpriv.notice for a denial), and the count restarts.
    (void)deaf.drain();
    auto r = emit(c, "web-01", e, "pam_vendor");
    assert_true(r.ok());
    assert_int_equal(r.written.twins_sent, 1);
    assert_int_equal(r.written.twins_pending, 0);
    std::string d = deaf.drain();
    assert_true(d.rfind("<85>", 0) == 0);
    assert_true(contains(d, " pam_vendor[" + std::to_string(::getpid()) + "]: event=auth "));
    assert_true(contains(d, " twins_dropped=200 seq=201 hash=" + r.written.hash));
    assert_int_equal(counter(c), 0);
    auto again = emit(c, "web-01", e, "vendorctl");
    assert_true(again.ok());
    assert_false(contains(again.written.line, "twins_dropped"));
    std::string d2 = deaf.drain();
    assert_true(contains(d2, " vendorctl["));
    assert_int_equal(verify(c).first_bad, 0);
}

// No syslog daemon at all (nothing bound, or bound and gone): dropped and
// counted the same way, never an error of the event.
void absent_syslog_counted(void**) {
    TmpDir dir;
    Config c;
    c.audit_log = dir / "log/audit.jsonl";
    c.syslog_socket = dir / "nothing.sock";
    Event e;
    e.event = "grant";
    for (int i = 0; i < 3; ++i) {
        auto r = emit(c, "web-01", e, "vendorctl");
        assert_true(r.ok());
        assert_int_equal(r.written.twins_dropped, 1);
        assert_int_equal(r.twin_errno, ENOENT);
    }
    { DeafSyslog gone(c.syslog_socket); }
    auto r = emit(c, "web-01", e, "vendorctl");
    assert_true(r.ok());
    assert_int_equal(r.twin_errno, ECONNREFUSED);
    assert_int_equal(counter(c), 4);
    assert_true(contains(r.written.line, "\"twins_dropped\":3,"));
    // A malformed counter is an error of the log (fail closed), not a reset.
    write_file(twins_path(c), "garbage\n", 0600);
    auto bad = emit(c, "web-01", e, "vendorctl");
    assert_false(bad.ok());
    assert_int_equal(bad.error->code, Code::invalid);
    assert_false(bad.bare_twin_sent);
}

// A phase's events share one twin socket (issue 9 §7: one socket and one
// connect per PAM phase, not per event): every twin arrives on it; against a
// queue that is full the sends still return at once and are counted.
void shared_twin_one_socket(void**) {
    TmpDir dir;
    Config c;
    c.audit_log = dir / "log/audit.jsonl";
    c.syslog_socket = dir / "log.sock";
    DeafSyslog daemon(c.syslog_socket);
    Event e;
    e.event = "account";
    SyslogTwin twin(c.syslog_socket, "pam_vendor");
    for (int i = 0; i < 3; ++i) {
        auto r = emit(c, "web-01", e, twin);
        assert_true(r.ok());
        assert_int_equal(r.written.twins_sent, 1);
    }
    int got = 0;
    char buf[9000];
    while (::recv(daemon.fd, buf, sizeof buf, MSG_DONTWAIT) > 0) ++got;
    assert_int_equal(got, 3);
    assert_true(daemon.fill(c.syslog_socket) > 0);
    for (int i = 0; i < 3; ++i) {
        auto r = emit(c, "web-01", e, twin);
        assert_true(r.ok());
        assert_int_equal(r.written.twins_dropped, 1);
        assert_true(r.twin_errno == EAGAIN || r.twin_errno == ENOBUFS);
    }
    assert_int_equal(counter(c), 3);
    assert_int_equal(verify(c).first_bad, 0);
}

// Every field of the table survives the JSON line and the parser; the key
// order is the table's, framed by ts, host and seq, prev (the chain and the
// fuzz corpus rely on the line format); the key=value form has every kv field.
void field_table_round_trip(void**) {
    TmpDir dir;
    Config c;
    c.audit_log = dir / "log/audit.jsonl";
    Event e;
    std::int64_t n = 7;
    for (const auto& f : audit_fields()) {
        std::visit(
            [&](auto m) {
                auto& v = e.*m;
                using V = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<V, std::string>) v = std::string("v-") + f.name;
                else v = n++;
            },
            f.member);
    }
    auto w = audit_append(c, "web-01", e);
    assert_ok(w);
    // twins_dropped is the core's (emit() sets it under the lock; the
    // wedged-syslog test reads it back): the caller's value is not written.
    assert_false(contains(w->line, "twins_dropped"));
    e.twins_dropped = 0;
    auto a = parse_audit_line(w->line);
    assert_ok(a);
    assert_str_eq(a->host, "web-01");
    assert_int_equal(*a->seq, 1);
    std::string kv = audit_kv(e);
    for (const auto& f : audit_fields()) {
        std::visit(
            [&](auto m) {
                const auto& want = e.*m;
                const auto& got = (*a).*m;
                if (want != got) fail_msg("field %s lost in the round trip", f.name);
            },
            f.member);
        if (std::string_view(f.name) != "twins_dropped")
            assert_true(contains(w->line, std::string("\"") + f.name + "\":"));
        if (f.kv && std::string_view(f.name) != "twins_dropped")
            assert_true(contains(kv, std::string(f.name) + "="));
        else assert_false(contains(kv, std::string(f.name) + "="));
    }
    // The order of the keys in the line is the table's.
    std::size_t at = w->line.find("\"host\":");
    for (const auto& f : audit_fields()) {
        if (std::string_view(f.name) == "twins_dropped") continue;
        auto k = w->line.find(std::string("\"") + f.name + "\":", at);
        if (k == std::string::npos) fail_msg("field %s out of order", f.name);
        at = k;
    }
    assert_true(w->line.find("\"seq\":1,\"prev\":\"\"}") != std::string::npos);
    // Those fields used to be dropped by the parser.
    assert_str_eq(a->vendor, "v-vendor");
    assert_str_eq(a->tty, "v-tty");
    assert_str_eq(a->methods, "v-methods");
    assert_str_eq(a->key, "v-key");
    assert_true(a->pid > 0);
    // An existing line (main's format) parses to the same bytes' fields.
    const char* old = R"({"ts":"2026-11-28T07:39:07.123Z","host":"web-01","event":"auth",)"
                      R"("account":"acme","vendor":"ACME","rhost":"192.0.2.10","service":"sshd",)"
                      R"("tty":"ssh","pid":4242,"result":"ok","reason":"ok",)"
                      R"("methods":"publickey","key":"SHA256:abc","seq":3,"prev":""})";
    auto o = parse_audit_line(old);
    assert_ok(o);
    Event oe = *o;
    auto j = audit_append(c, "web-01", oe);
    assert_ok(j);
    std::string tail_old = std::string(old).substr(std::string(old).find("\"event\""));
    tail_old = tail_old.substr(0, tail_old.find(",\"seq\""));
    assert_true(contains(j->line, tail_old));
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(wedged_syslog_never_blocks),
        cmocka_unit_test(absent_syslog_counted),
        cmocka_unit_test(shared_twin_one_socket),
        cmocka_unit_test(field_table_round_trip),
    };
    return RUN_GROUP("sink", tests);
}
