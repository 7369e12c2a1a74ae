// PAM-stack tests of pam_vendor.so: the real module in a real libpam stack
// (through pam_wrapper and private service files), driven as sshd drives it,
// with the helpdesk side done through the real vendorctl. Each test asserts
// the exact PAM return code and the audit line(s) the decision wrote.
//
// The stacks (harness.cc, service_text) make pam_vendor's own answer the
// stack's answer: PAM_SUCCESS, its denial code, or pvt::kIgnored when it
// returned PAM_IGNORE. Every test uses its own account names: no test depends
// on the state another one leaves.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "harness.h"  // last: <cmocka.h> defines macros

using namespace pvt;

namespace {

// ---- helpers -----------------------------------------------------------------------

void add_active(const std::string& name, Spec s = Spec()) {
    add_account(name, s);
    activate(name);
}

Source from_rhost(const char* rhost) {
    Source s;
    s.rhost = std::string(rhost);
    return s;
}

Source from_ssh(const char* ssh_connection, std::optional<std::string> rhost) {
    Source s;
    s.ssh_connection = std::string(ssh_connection);
    s.rhost = std::move(rhost);
    return s;
}

// A code that is certainly not `code`.
std::string wrong_code(const std::string& code) {
    std::string w = code;
    w[0] = w[0] == '9' ? '0' : static_cast<char>(w[0] + 1);
    return w;
}

// Auth with `answer` in a fresh transaction; returns the PAM code.
int auth_with(const std::string& user, const std::string& answer, int* prompts = nullptr,
              const Source& src = Source()) {
    Pam p(kSvc, user, src);
    p.conv.answers = {answer};
    int rc = p.auth();
    if (prompts) *prompts = p.conv.prompts;
    return rc;
}

// Every phase of a transaction for `user` through `service` returns kIgnored,
// checked with libpamtest on a handle that carries the items sshd sets.
void expect_ignored_all_phases(const char* service, const std::string& user,
                               const Source& src = Source()) {
    Pam p(service, user, src);
    struct pam_testcase tests[] = {
        pam_test(PAMTEST_AUTHENTICATE, kIgnored),  pam_test(PAMTEST_SETCRED, kIgnored),
        pam_test(PAMTEST_ACCOUNT, kIgnored),       pam_test(PAMTEST_OPEN_SESSION, kIgnored),
        pam_test(PAMTEST_CLOSE_SESSION, kIgnored), pam_test(PAMTEST_CHAUTHTOK, kIgnored),
        pam_test(PAMTEST_KEEPHANDLE, 0),
    };
    enum pamtest_err perr =
        pamtest_conv(service, user.c_str(), pvt_conv, &p.conv, tests, p.handle());
    if (perr != PAMTEST_ERR_OK) {
        const struct pam_testcase* f = pamtest_failed_case(tests);
        fail_msg("%s for '%.40s' via %s: %s; op %d returned %s (%d)", "all phases ignored",
                 user.c_str(), service, pamtest_strerror(perr),
                 f ? static_cast<int>(f->pam_operation) : -1, f ? rc_name(f->op_rv) : "-",
                 f ? f->op_rv : 0);
    }
    if (p.conv.prompts != 0) fail_msg("a non-vendor user was prompted");
}

void expect_detail(const Event& e, const char* needle) {
    if (!contains(e.s("detail"), needle))
        fail_msg("detail '%s' does not mention '%s'", e.s("detail").c_str(), needle);
}

// The one event since `mark` (checked by expect_events before).
Event only_event(std::size_t mark) {
    auto evs = events_since(mark);
    assert_int_equal(evs.size(), 1);
    return evs[0];
}

// Audit lines are printable ASCII whatever the client sent: no terminal
// escapes, no line breaks, no invalid UTF-8 for the log shippers.
void expect_printable_ascii(const Event& e) {
    for (unsigned char ch : e.raw)
        if (ch < 0x20 || ch >= 0x7f)
            fail_msg("byte 0x%02x in the audit line: %s", ch, e.raw.c_str());
}

bool is_hex32(const std::string& s) {
    return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// ---- what loading the module costs -------------------------------------------------

// libpam dlopens the module in every fresh sshd process: each NEEDED library
// is one more object to map and relocate per login (make bench, "load"). Only
// the libraries the module takes symbols from (linked --as-needed): no libm,
// no libcurl, no shared libstdc++ outside sanitizer builds; -z now and relro
// kept (STYLE.md).
void test_needed_libraries(void**) {
    auto d = run_cmd({"readelf", "-dW", env().module});
    if (d.status != 0) fail_msg("readelf failed: %s", d.err.c_str());
    std::vector<std::string> needed;
    const std::string tag = "Shared library: [";
    for (auto p = d.out.find(tag); p != std::string::npos; p = d.out.find(tag, p)) {
        p += tag.size();
        needed.push_back(d.out.substr(p, d.out.find(']', p) - p));
    }
    auto starts = [](const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; };
    bool sanitized = false;
    for (const auto& n : needed)
        sanitized = sanitized || starts(n, "libasan.so.") || starts(n, "libubsan.so.");
    std::vector<const char*> allowed = {"libjson-c.so.", "libsodium.so.", "liboath.so.",
                                        "libpam.so.",    "libc.so.",      "ld-linux"};
    // ASan/UBSan builds keep the shared C++ runtime (Makefile, PAM_STATIC_RT).
    if (sanitized)
        allowed.insert(allowed.end(),
                       {"libasan.so.", "libubsan.so.", "libstdc++.so.", "libgcc_s.so."});
    std::string all;
    for (const auto& n : needed) all += " " + n;
    for (const auto& n : needed) {
        bool ok = false;
        for (const char* a : allowed) ok = ok || starts(n, a);
        if (!ok) fail_msg("pam_vendor.so NEEDs %s (all:%s)", n.c_str(), all.c_str());
    }
    if (d.out.find("BIND_NOW") == std::string::npos) fail_msg("pam_vendor.so lost -z now");
    auto l = run_cmd({"readelf", "-lW", env().module});
    if (l.status != 0 || l.out.find("GNU_RELRO") == std::string::npos)
        fail_msg("pam_vendor.so lost -z relro");
}

// ---- the module's export list ------------------------------------------------------

void test_exports_only_pam_sm(void**) {
    auto r = run_cmd({"nm", "-D", "--defined-only", env().module});
    if (r.status != 0) fail_msg("nm failed: %s", r.err.c_str());
    std::set<std::string> got;
    std::size_t pos = 0;
    while (pos < r.out.size()) {
        auto nl = r.out.find('\n', pos);
        std::string line =
            r.out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? r.out.size() : nl + 1;
        auto sp = line.rfind(' ');
        if (sp != std::string::npos) got.insert(line.substr(sp + 1));
    }
    const std::set<std::string> want = {"pam_sm_authenticate",  "pam_sm_setcred",
                                        "pam_sm_acct_mgmt",     "pam_sm_open_session",
                                        "pam_sm_close_session", "pam_sm_chauthtok"};
    // ... and the export map says the same.
    std::string map = read_file(env().map);
    std::set<std::string> mapped;
    auto g = map.find("global:"), l = map.find("local:");
    assert_true(g != std::string::npos && l != std::string::npos && g < l);
    std::string globals = map.substr(g + 7, l - g - 7);
    std::string word;
    for (char c : globals) {
        if (c == ';') {
            mapped.insert(word);
            word.clear();
        } else if (c != ' ' && c != '\n' && c != '\t') {
            word += c;
        }
    }
    std::string all;
    for (const auto& s : got) all += " " + s;
    if (got != want) fail_msg("pam_vendor.so exports:%s", all.c_str());
    if (mapped != want) fail_msg("pam_vendor.map does not list exactly the six pam_sm_* functions");
}

// Issue 9 §2: a fleet backend lives behind a local daemon (FLEET.md), so the
// module itself never loads a network library: no libcurl in NEEDED, no curl
// symbol and no dlopen among its imports. Nor a direct call of abort() or a
// failed assert(): neither may end sshd. (std::terminate is still imported:
// GCC's landing pads for noexcept functions; see the closing note of issue 9.)
std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < s.size()) {
        auto nl = s.find('\n', pos);
        if (nl == std::string::npos) nl = s.size();
        out.push_back(s.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

void test_module_imports_no_curl_dlopen_abort(void**) {
    auto d = run_cmd({"readelf", "-d", env().module});
    if (d.status != 0) fail_msg("readelf failed: %s", d.err.c_str());
    if (!contains(d.out, "(NEEDED)")) fail_msg("readelf -d shows no NEEDED entry");
    for (const auto& line : split_lines(d.out))
        if (contains(line, "(NEEDED)") && contains(line, "curl"))
            fail_msg("pam_vendor.so needs %s", line.c_str());
    // With libstdc++ linked in statically (the plain build), the import of
    // abort is its own (std::terminate's default handler); the module's code
    // is then checked through the sanitizer build, which links it dynamically.
    bool own_abort_only = contains(d.out, "libstdc++");
    auto u = run_cmd({"nm", "-D", "--undefined-only", env().module});
    if (u.status != 0) fail_msg("nm failed: %s", u.err.c_str());
    for (const auto& line : split_lines(u.out)) {
        auto sp = line.rfind(' ');
        std::string sym = sp == std::string::npos ? line : line.substr(sp + 1);
        auto at = sym.find('@');
        if (at != std::string::npos) sym.resize(at);
        if (contains(sym, "curl") || sym == "dlopen" || sym == "dlmopen" ||
            (own_abort_only && sym == "abort") || sym == "__assert_fail" ||
            sym == "__assert_perror_fail")
            fail_msg("pam_vendor.so imports %s", sym.c_str());
    }
}

// ---- non-vendor users: PAM_IGNORE everywhere, nothing logged -----------------------

void test_nonvendor_root_ignored(void**) {
    std::size_t m = audit_mark();
    expect_ignored_all_phases(kSvc, "root");
    expect_ignored_all_phases(kSvc, "root", from_rhost("203.0.113.9"));
    Source none;
    none.rhost.reset();
    expect_ignored_all_phases(kSvc, "root", none);
    expect_no_events(m);
}

void test_nonvendor_unknown_user_ignored(void**) {
    std::size_t m = audit_mark();
    expect_ignored_all_phases(kSvc, "pvt_no_such_user");
    expect_ignored_all_phases(kSvc, "nobody", from_rhost("not a host"));
    // Plain libpamtest transaction (its own pam_start, its own conversation).
    struct pam_testcase tests[] = {
        pam_test(PAMTEST_AUTHENTICATE, kIgnored),
        pam_test(PAMTEST_ACCOUNT, kIgnored),
        pam_test(PAMTEST_OPEN_SESSION, kIgnored),
        pam_test(PAMTEST_CLOSE_SESSION, kIgnored),
    };
    const char* none[] = {nullptr};
    struct pamtest_conv_data cd = {none, none, nullptr, nullptr};
    enum pamtest_err perr = run_pamtest(kSvc, "pvt_no_such_user2", &cd, tests, nullptr);
    if (perr != PAMTEST_ERR_OK) fail_msg("run_pamtest: %s", pamtest_strerror(perr));
    expect_no_events(m);
}

// ---- source gate (auth and account) --------------------------------------------------

void test_source_unknown_hostname_rhost(void**) {
    NEED_ROOT();
    add_active("src_host");
    expect_denied_both(kSvc, "src_host", from_rhost("vendor.example.com"), "source_unknown");
    // Strict literal parsing: leading zeros are not an address.
    expect_denied_both(kSvc, "src_host", from_rhost("192.0.2.010"), "source_unknown");
}

void test_source_unknown_empty_rhost(void**) {
    NEED_ROOT();
    add_active("src_empty");
    expect_denied_both(kSvc, "src_empty", from_rhost(""), "source_unknown");
}

void test_source_null_rhost(void**) {
    NEED_ROOT();
    add_active("src_null");
    Source none;
    none.rhost.reset();
    expect_denied_both(kSvc, "src_null", none, "source_unknown");
    // Set and then cleared by the application: still no address.
    {
        std::size_t m = audit_mark();
        Pam p(kSvc, "src_null");
        assert_int_equal(pam_set_item(p.handle(), PAM_RHOST, nullptr), PAM_SUCCESS);
        assert_rc(p.acct(), PAM_PERM_DENIED);
        auto ev = expect_events(m, "src_null", {{"account", "denied", "source_unknown"}});
        expect_detail(ev[0], "local login not allowed");
    }
    // An entry that allows console use (--local) is let in without an address.
    Spec s;
    s.local = true;
    add_active("src_local", s);
    expect_account_ok(kSvc, "src_local", none);
}

void test_source_unknown_malformed_ssh_connection(void**) {
    NEED_ROOT();
    add_active("src_sshbad");
    expect_denied_both(kSvc, "src_sshbad",
                       from_ssh("garbage 50000 10.0.0.1 22", std::string(kGoodIp)),
                       "source_unknown");
    expect_denied_both(kSvc, "src_sshbad", from_ssh("192.0.2.999 50000 10.0.0.1 22", std::nullopt),
                       "source_unknown");
}

void test_source_unknown_ssh_connection_disagrees(void**) {
    NEED_ROOT();
    add_active("src_disagree");
    expect_denied_both(kSvc, "src_disagree",
                       from_ssh("192.0.2.10 50000 10.0.0.1 22", std::string("192.0.2.11")),
                       "source_unknown");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "src_disagree",
              from_ssh("192.0.2.10 50000 10.0.0.1 22", std::string("192.0.2.11")));
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    Event e = only_event(m);
    if (!contains(e.s("rhost"), "192.0.2.10") || !contains(e.s("rhost"), "192.0.2.11"))
        fail_msg("the log should name both addresses, rhost='%s'", e.s("rhost").c_str());
}

void test_source_ssh_connection_needs_rhost(void**) {
    NEED_ROOT();
    add_active("src_sshok");
    // sshd (UseDNS no) sets both to the same literal address.
    expect_account_ok(kSvc, "src_sshok",
                      from_ssh("192.0.2.10 50000 10.0.0.1 22", std::string(kGoodIp)));
    // SSH_CONNECTION is only an environment variable: without a PAM_RHOST
    // that agrees (su with an imported environment, UseDNS yes) it is no
    // source at all, even for an allowed address.
    expect_denied_both(kSvc, "src_sshok", from_ssh("192.0.2.10 50000 10.0.0.1 22", std::nullopt),
                       "source_unknown");
    expect_denied_both(kSvc, "src_sshok", from_ssh("192.0.2.10 50000 10.0.0.1 22", std::string("")),
                       "source_unknown");
    expect_denied_both(kSvc, "src_sshok",
                       from_ssh("192.0.2.10 50000 10.0.0.1 22", std::string("vendor.example.com")),
                       "source_unknown");
    // ... and not a local login either, for an entry that allows one.
    Spec s;
    s.local = true;
    add_active("src_sshloc", s);
    expect_denied_both(kSvc, "src_sshloc", from_ssh("192.0.2.10 50000 10.0.0.1 22", std::nullopt),
                       "source_unknown");
}

void test_source_not_allowed(void**) {
    NEED_ROOT();
    add_active("src_deny");
    expect_denied_both(kSvc, "src_deny", from_rhost("198.51.100.7"), "source_not_allowed");
    expect_denied_both(kSvc, "src_deny", from_rhost("2001:db9::1"), "source_not_allowed");
    expect_denied_both(kSvc, "src_deny", from_rhost("::ffff:198.51.100.7"), "source_not_allowed");
}

void test_source_allowed_forms(void**) {
    NEED_ROOT();
    add_active("src_forms");
    expect_account_ok(kSvc, "src_forms", from_rhost("192.0.2.254"));
    expect_account_ok(kSvc, "src_forms", from_rhost("::ffff:192.0.2.99"));
    expect_account_ok(kSvc, "src_forms", from_rhost("2001:db8::5"));
    std::size_t m = audit_mark();
    expect_account_ok(kSvc, "src_forms", from_rhost("2001:DB8:0:0::6"));
    Event e = only_event(m);
    assert_string_equal(e.s("rhost").c_str(), "2001:db8::6");  // logged in canonical form
}

// The hand-edited entry below would make every later vendorctl add refuse
// (it reads the whole registry): removed afterwards, passed or failed.
int teardown_any_entry(void**) {
    ::unlink(entry_path("src_anyhand").c_str());
    return 0;
}

// ::/0 is not "every address" for IPv4 sources, and an all-addresses block
// is only taken with an explicit flag.
void test_source_any_needs_flag(void**) {
    NEED_ROOT();
    for (const char* wide : {"0.0.0.0/0", "::/0", "2000::/3", "192.0.2.0/24,128.0.0.0/1"}) {
        auto r = vendorctl({"add", "src_wide", "--vendor", "ACME", "--from", wide});
        if (r.status != 1 || !contains(r.err, "--allow-any-source"))
            fail_msg("add --from %s: exit %d, stderr '%s'", wide, r.status, r.err.c_str());
    }
    Spec s;
    s.from = "::/0";
    s.any_source = true;
    add_active("src_any6", s);
    expect_account_ok(kSvc, "src_any6", from_rhost("2001:db8::77"));
    expect_denied_both(kSvc, "src_any6", from_rhost("192.0.2.10"), "source_not_allowed");
    expect_denied_both(kSvc, "src_any6", from_rhost("::ffff:192.0.2.10"), "source_not_allowed");
    s.from = "0.0.0.0/0";
    add_active("src_any4", s);
    expect_account_ok(kSvc, "src_any4", from_rhost("198.51.100.7"));
    expect_denied_both(kSvc, "src_any4", from_rhost("2001:db8::77"), "source_not_allowed");
    // A hand-edited entry with a wide block and no any_source: registry_error.
    add_active("src_anyhand");
    std::string path = entry_path("src_anyhand");
    std::string text = read_file(path);
    auto at = text.find("192.0.2.0/24");
    if (at == std::string::npos) fail_msg("default 'from' not in %s", text.c_str());
    text.replace(at, 12, "0.0.0.0/0");
    write_file(path, text, 0600);
    expect_denied_both(kSvc, "src_anyhand", from_rhost(kGoodIp), "registry_error");
}

// --key FILE: a FIFO, device or directory is refused at once (never opened,
// never waited on), and no error prints the file's content.
void test_key_file_refused(void**) {
    NEED_ROOT();
    std::string secret = env().root + "/not-a-key";
    write_file(secret, "pvtTOKEN:hunter2:$6$pvtSALT$pvtHASH 19000:0:99999:7:::\n", 0600);
    std::string fifo = env().root + "/key-fifo";
    ::unlink(fifo.c_str());
    if (::mkfifo(fifo.c_str(), 0600) != 0) fail_msg("mkfifo");
    add_account("keyf1");
    for (const std::string& f : {secret, fifo, std::string("/dev/zero"), env().root}) {
        std::int64_t t0 = now();
        auto a =
            vendorctl({"add", "keyf2", "--vendor", "ACME", "--from", "192.0.2.0/24", "--key", f});
        auto k = vendorctl({"key", "add", "keyf1", f});
        if (now() - t0 > 5) fail_msg("--key %s took %lld s", f.c_str(), (long long)(now() - t0));
        for (const auto* r : {&a, &k}) {
            if (r->status != 1) fail_msg("--key %s: exit %d, want 1", f.c_str(), r->status);
            for (const char* leak : {"pvtSALT", "pvtHASH", "root:", "hunter2", "pvtTOKEN"})
                if (contains(r->err, leak) || contains(r->out, leak))
                    fail_msg("--key %s printed the file's content: %s", f.c_str(), r->err.c_str());
        }
        if (f != secret && !contains(a.err, "not a regular file"))
            fail_msg("--key %s: '%s'", f.c_str(), a.err.c_str());
    }
    ::unlink(fifo.c_str());
    ::unlink(secret.c_str());
}

// ---- host scope ------------------------------------------------------------------------

void test_host_not_allowed(void**) {
    NEED_ROOT();
    Spec s;
    s.hosts = "db-*.example.org,pvt-host";
    add_active("host_deny", s);
    expect_denied_both(kSvc, "host_deny", Source(), "host_not_allowed");
}

void test_host_allowed_by_pattern(void**) {
    NEED_ROOT();
    Spec s;
    s.hosts = "db-*.example.org,PVT-HOST.*";  // host names compare case-insensitively
    add_active("host_ok", s);
    expect_account_ok(kSvc, "host_ok");
}

// ---- grants ----------------------------------------------------------------------------

void test_not_activated(void**) {
    NEED_ROOT();
    add_account("grant_none");
    expect_denied_both(kSvc, "grant_none", Source(), "not_activated");
    Spec s;
    s.access = "grant+otp";
    add_account("grant_none_otp", s);
    (void)issue_code("grant_none_otp");
    // A valid code does not open an account that is not activated: no prompt.
    expect_denied_both(kSvc, "grant_none_otp", Source(), "not_activated");
}

void test_grant_expired(void**) {
    NEED_ROOT();
    add_account("grant_old");
    write_grant("grant_old", now() - 7200, now() - 3600);
    expect_denied_both(kSvc, "grant_old", Source(), "grant_expired");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "grant_old");
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_detail(only_event(m), "ago");
    // A session cannot be opened on it either (pam_systemd bound = the grant).
    m = audit_mark();
    {
        Pam p(kSvc, "grant_old");
        assert_rc(p.open(), PAM_SESSION_ERR);
    }
    expect_events(m, "grant_old", {{"session_open", "denied", "grant_expired"}});
}

void test_grant_not_yet_valid(void**) {
    NEED_ROOT();
    add_account("grant_future");
    write_grant("grant_future", now() + 3600, now() + 7200);
    expect_denied_both(kSvc, "grant_future", Source(), "not_activated");
}

void test_deactivate(void**) {
    NEED_ROOT();
    add_active("grant_off");
    expect_account_ok(kSvc, "grant_off");
    deactivate("grant_off");
    expect_denied_both(kSvc, "grant_off", Source(), "not_activated");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "grant_off");
        assert_rc(p.open(), PAM_SESSION_ERR);
    }
    expect_events(m, "grant_off", {{"session_open", "denied", "not_activated"}});
}

// Issue 9 §7: the config and the entry are parsed once per PAM handle and
// re-validated by the later phases. An entry changed between two phases of
// one handle is read again (its new 'from' applies), one made insecure is
// refused (registry_error), and the grant is state: a deactivation between
// account and session is seen by the session.
void test_entry_changed_between_phases(void**) {
    NEED_ROOT();
    add_active("chg_entry");
    const std::string path = entry_path("chg_entry");
    const std::string orig = read_file(path);
    std::string moved = orig;
    for (auto pos = moved.find("192.0.2.0/24"); pos != std::string::npos;
         pos = moved.find("192.0.2.0/24"))
        moved.replace(pos, 12, "198.51.100.0/24");
    assert_true(moved != orig);
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "chg_entry");
        assert_rc(p.acct(), PAM_SUCCESS);
        write_file(path, moved, 0600);
        assert_rc(p.acct(), PAM_PERM_DENIED);  // the new 'from' refuses 192.0.2.10
        write_file(path, orig, 0600);
        assert_rc(p.acct(), PAM_SUCCESS);
        assert_int_equal(::chmod(path.c_str(), 0666), 0);
        assert_rc(p.acct(), PAM_PERM_DENIED);
        assert_int_equal(::chmod(path.c_str(), 0600), 0);
        assert_rc(p.acct(), PAM_SUCCESS);
        expect_events(m, "chg_entry",
                      {{"account", "ok", "ok"},
                       {"account", "denied", "source_not_allowed"},
                       {"account", "ok", "ok"},
                       {"account", "denied", "registry_error"},
                       {"account", "ok", "ok"}});
        deactivate("chg_entry");
        m = audit_mark();
        assert_rc(p.open(), PAM_SESSION_ERR);
        expect_events(m, "chg_entry", {{"session_open", "denied", "not_activated"}});
    }
}

// The same for the configuration: made writable by others between two
// phases of one handle, the next phase denies the vendor (config_error).
void test_config_changed_between_phases(void**) {
    NEED_ROOT();
    add_active("chg_conf");
    struct stat st {};
    assert_int_equal(::stat(env().cfg.c_str(), &st), 0);
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "chg_conf");
        assert_rc(p.acct(), PAM_SUCCESS);
        assert_int_equal(::chmod(env().cfg.c_str(), 0666), 0);
        int rc = p.acct();
        assert_int_equal(::chmod(env().cfg.c_str(), st.st_mode & 07777), 0);
        assert_rc(rc, PAM_PERM_DENIED);
        assert_rc(p.acct(), PAM_SUCCESS);
    }
    expect_events(
        m, "chg_conf",
        {{"account", "ok", "ok"}, {"account", "denied", "config_error"}, {"account", "ok", "ok"}});
}

// ---- business hours --------------------------------------------------------------------

void test_outside_hours(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "hours";
    s.hours = schedule_excluding_now();
    add_account("hours_out", s);
    expect_denied_both(kSvc, "hours_out", Source(), "outside_hours");
    // With a grant too: both gates are required.
    s.access = "grant+hours";
    add_active("hours_out_g", s);
    expect_denied_both(kSvc, "hours_out_g", Source(), "outside_hours");
}

void test_inside_hours(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "hours";
    s.hours = schedule_including_now();
    add_account("hours_in", s);
    expect_account_ok(kSvc, "hours_in");
    // No code gate: auth is not a way in (the account logs in with its key).
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "hours_in");
        assert_rc(p.auth(), PAM_AUTH_ERR);
        assert_int_equal(p.conv.prompts, 0);
    }
    expect_events(m, "hours_in", {{"auth", "denied", "no_auth_factor"}});
    // A session without a grant is not bounded by one.
    {
        Pam p(kSvc, "hours_in");
        assert_rc(p.open(), PAM_SUCCESS);
        assert_string_equal(p.getenv("PVT_RUNTIME_MAX_SEC").c_str(), "unset");
        assert_rc(p.close(), PAM_SUCCESS);
    }
}

// ---- privilege guard -------------------------------------------------------------------

void test_privileged_group(void**) {
    if (!env().have_priv_user) {
        skip();  // needs root to create a throwaway member of adm/sudo
        return;
    }
    // vendorctl refuses to register a system account or an administrator:
    // that would lock it out of su, the console and sshd.
    for (const char* u : {kPrivUser, kPrivUser2}) {
        if (u == std::string(kPrivUser2) && !env().have_ext_users) continue;
        auto r = vendorctl({"add", u, "--vendor", "ACME", "--from", "192.0.2.0/24", "--access",
                            "grant+otp", "--existing"});
        assert_int_equal(r.status, 1);
        if (!contains(r.err, "privileged group") && !contains(r.err, "system account"))
            fail_msg("add --existing %s: %s", u, r.err.c_str());
    }
    // An entry that reaches the registry anyway (edited by hand) never lets
    // the account through: the guard denies it with the gates open.
    write_existing_entry(kPrivUser, "grant+otp");
    activate(kPrivUser);
    (void)issue_code(kPrivUser);
    expect_denied_both(kSvc, kPrivUser, Source(), "privileged_group");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, kPrivUser);
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_detail(only_event(m), env().priv_group.c_str());
}

int teardown_root_entry(void**) {
    ::unlink(entry_path("root").c_str());
    ::unlink(entry_path(kPrivUser).c_str());
    return 0;
}

void test_privileged_uid0(void**) {
    NEED_ROOT();
    // vendorctl never registers root...
    auto r = vendorctl({"add", "root", "--vendor", "ACME", "--from", "192.0.2.0/24", "--access",
                        "grant+otp", "--existing"});
    assert_int_equal(r.status, 1);
    if (!contains(r.err, "root")) fail_msg("add root: %s", r.err.c_str());
    // ...and a hand-written entry for root (a misuse) is refused by the
    // guard, gates open or not (pam_vendor(8) says how root recovers).
    write_existing_entry("root", "grant+otp");
    activate("root");
    (void)issue_code("root");
    expect_denied_both(kSvc, "root", Source(), "privileged_group");
}

// ---- canonical identity (aliases, case variants) ----------------------------------

int teardown_ext(void**) {
    for (const char* n : {kExtUser, kExtUser2, "pvt_corrupt"}) (void)vendorctl({"remove", n});
    ::unlink(entry_path("pvt_corrupt").c_str());
    return 0;
}

void test_alias_of_existing_account(void**) {
    if (!env().have_ext_users) {
        skip();  // needs root and a private mount namespace
        return;
    }
    Spec s;
    s.existing = true;
    s.access = "grant+otp";
    add_active(kExtUser, s);
    (void)issue_code(kExtUser);
    // A directory that resolves any case, name@domain and DOMAIN\name to the
    // account registered as pvt_ext1 (tests/pam/nss_pvtci.c): each spelling
    // is denied, never left to the directory's password.
    for (const char* typed : {"PVT_EXT1", "Pvt_Ext1", "pvt_ext1@corp.example", "CORP\\pvt_ext1"})
        expect_denied_both(kSvc, typed, Source(), "name_not_canonical");
    // A second passwd name for the same uid.
    expect_denied_both(kSvc, kExtAlias, Source(), "uid_mismatch");
    // Also without the uid index (rebuilt from the entries).
    ::unlink((env().registry + "/.uids").c_str());
    expect_denied_both(kSvc, kExtAlias, Source(), "uid_mismatch");
    // An index nobody may trust (writable by others) is rebuilt, not read
    // as "no uid registered".
    vendorctl({"reindex"});
    assert_int_equal(::chmod((env().registry + "/.uids").c_str(), 0666), 0);
    expect_denied_both(kSvc, kExtAlias, Source(), "uid_mismatch");
    ::unlink((env().registry + "/.uids").c_str());
    // explain says the same.
    auto r = vendorctl({"explain", "PVT_EXT1", "--from", kGoodIp});
    assert_int_equal(r.status, 1);
    if (!contains(r.out, "name_not_canonical")) fail_msg("explain: %s", r.out.c_str());
    // vendorctl never registers an alias.
    auto a = vendorctl({"add", kExtAlias, "--vendor", "ACME", "--from", "192.0.2.0/24", "--access",
                        "otp", "--existing"});
    assert_int_equal(a.status, 1);
}

// ---- a configuration that cannot be used -----------------------------------------

void test_broken_config_denies_vendors(void**) {
    if (!env().have_ext_users) {
        skip();
        return;
    }
    Spec s;
    s.existing = true;
    s.access = "grant+otp";
    add_active(kExtUser2, s);
    (void)issue_code(kExtUser2);
    // A corrupt entry (for the "insecure file + corrupt entry" case).
    write_file(entry_path("pvt_corrupt"), "{ not json", 0600);
    std::string good = read_file(env().cfg);
    for (const char* k : {"symlink", "bom", "fifo", "dir", "big", "insecure", "missing"}) {
        std::string conf = env().root + "/cfg_" + k + ".conf";
        write_file(conf, good, 0644);
        // vendorctl saw this configuration valid: CONF.known remembers it.
        auto r = vendorctl_with(conf, {"list"});
        if (r.status != 0 && r.status != 1) fail_msg("vendorctl list: %s", r.err.c_str());
        std::string kind = k;
        ::unlink(conf.c_str());
        if (kind == "symlink") {
            std::string real = env().root + "/cfg_real.conf";
            write_file(real, good, 0644);
            assert_int_equal(::symlink(real.c_str(), conf.c_str()), 0);
        } else if (kind == "bom") {
            write_file(conf, "\xEF\xBB\xBF" + good, 0644);
        } else if (kind == "fifo") {
            assert_int_equal(::mkfifo(conf.c_str(), 0644), 0);
        } else if (kind == "dir") {
            assert_int_equal(::mkdir(conf.c_str(), 0755), 0);
        } else if (kind == "big") {
            write_file(conf, good + std::string(2 << 20, '#') + "\n", 0644);
        } else if (kind == "insecure") {
            write_file(conf, good, 0666);
        }
        std::string svc = std::string("pvt_cfg_") + k;
        std::fprintf(stderr, "# broken configuration: %s\n", k);
        const char* users[] = {kExtUser2, "pvt_corrupt"};
        for (const char* u : users) {
            if (kind != "insecure" && u == std::string("pvt_corrupt")) continue;
            expect_denied_both(svc.c_str(), u, Source(), "config_error");
        }
        // explain identifies as the module does: config_error, not a refusal to run.
        auto ex = vendorctl_with(conf, {"explain", kExtUser2, "--from", kGoodIp});
        if (ex.status != 1 || !contains(ex.out, "deny: config_error"))
            fail_msg("explain with a %s configuration: %d %s %s", k, ex.status, ex.out.c_str(),
                     ex.err.c_str());
        ex = vendorctl_with(conf, {"explain", "nobody", "--from", kGoodIp});
        if (ex.status != 0 || !contains(ex.out, "not a vendor account"))
            fail_msg("explain nobody, %s configuration: %d %s", k, ex.status, ex.out.c_str());
        for (const char* u : {"root", "nobody"}) {
            std::size_t m = audit_mark();
            Pam p(svc.c_str(), u);
            assert_rc(p.auth(), kIgnored);
            assert_rc(p.acct(), kIgnored);
            expect_no_events(m);
        }
        if (kind == "dir") ::rmdir(conf.c_str());
        else ::unlink(conf.c_str());
    }
}

// The vendor group does not resolve (an NSS index gone missing): a user
// whose group is vendor_gid, or whose uid is in the vendor range, is still a
// vendor without an entry, never an ordinary user.
void test_vendor_group_unresolvable(void**) {
    if (!env().have_ext_users) {
        skip();
        return;
    }
    struct passwd* pw = getpwnam(kGidUser);
    assert_non_null(pw);
    std::string gid = std::to_string(pw->pw_gid);
    std::string conf = read_file(env().cfg);
    std::string key = std::string("vendor_group = ") + kVendorGroup;
    auto at = conf.find(key);
    assert_true(at != std::string::npos);
    conf.replace(at, key.size(), "vendor_group = pvt_nosuch_group");
    conf += "vendor_gid = " + gid + "\nuid_min = " + gid +
            "\nuid_max = " + std::to_string(pw->pw_gid + 1) + "\n";
    write_file(env().root + "/cfg_gid.conf", conf, 0644);
    expect_denied_both("pvt_cfg_gid", kGidUser, Source(), "no_entry");
    for (const char* u : {"root", "nobody"}) {
        Pam p("pvt_cfg_gid", u);
        assert_rc(p.acct(), kIgnored);
    }
}

// A group source that fails silently inside getgrouplist (glibc skips it
// and reports success): the vendor group's own member list still names the
// member, who stays a vendor without an entry.
void test_vendor_group_member_list(void**) {
    if (!env().have_fault || !env().have_member_user) {
        skip();
        return;
    }
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, kMemberUser);
        fault_arm("getgrouplist", 0, -1, EDOM);
        int rc = p.acct();
        long hits = fault_hits();
        fault_disarm();
        assert_true(hits > 0);
        assert_rc(rc, PAM_PERM_DENIED);
    }
    expect_events(m, kMemberUser, {{"account", "denied", "no_entry"}});
}

// A file the parser refuses names a privileged group as vendor_group: the
// salvage of that file must not deny the administrators (only registry
// entries make vendors from a salvaged file).
void test_salvage_never_denies_admins(void**) {
    if (!env().have_ext_users) {
        skip();
        return;
    }
    std::string conf = read_file(env().cfg);
    std::string key = std::string("vendor_group = ") + kVendorGroup;
    auto at = conf.find(key);
    assert_true(at != std::string::npos);
    conf.replace(at, key.size(), "vendor_group = " + env().priv_group);
    write_file(env().root + "/cfg_salvage.conf", conf + "frobnicate = 1\n", 0644);
    for (const char* u : {kPrivUser2, "root"}) {
        std::size_t m = audit_mark();
        Pam p("pvt_cfg_salvage", u);
        assert_rc(p.auth(), kIgnored);
        assert_rc(p.acct(), kIgnored);
        expect_no_events(m);
    }
}

// ---- the registry must not take over someone else's identity -----------------------

void test_reindex_refuses_collisions(void**) {
    if (!env().have_ext_users) {
        skip();
        return;
    }
    // A hand-restored entry serving a name /etc/passwd already has.
    struct passwd* pw = getpwnam(kExtUser2);
    assert_non_null(pw);
    write_file(entry_path(kExtUser2),
               std::string("{\"name\":\"") + kExtUser2 +
                   "\",\"vendor\":\"ACME\",\"from\":[\"192.0.2.0/24\"],\"uid\":2000300777,"
                   "\"home\":\"/nonexistent\",\"shell\":\"/bin/sh\"}\n",
               0600);
    auto r = vendorctl({"reindex"});
    assert_int_equal(r.status, 1);
    if (!contains(r.err, kExtUser2) || !contains(r.err, "another NSS source"))
        fail_msg("reindex: %s", r.err.c_str());
    // The module denies it: its uid is not the one that resolves.
    expect_denied_both(kSvc, kExtUser2, Source(), "uid_mismatch");
    ::unlink(entry_path(kExtUser2).c_str());
    assert_int_equal(vendorctl({"reindex"}).status, 0);
}

// ---- lookup errors are errors (tests/support/fault.c) -----------------------------

int teardown_fault(void**) {
    fault_disarm();
    ::unlink(entry_path(kPrivUser2).c_str());
    (void)vendorctl({"remove", "pvt_fault1"});
    return 0;
}

void test_lookup_faults_never_free_a_vendor(void**) {
    if (!env().have_fault || !env().have_ext_users || !env().have_member_user) {
        skip();
        return;
    }
    // A registry vendor whose account phase allows (nss account, active
    // grant); a privileged vendor with its gates open (hand-written entry);
    // a vendor-group member without an entry.
    add_active("pvt_fault1");
    struct passwd* pw = getpwnam(kPrivUser2);
    assert_non_null(pw);
    write_file(entry_path(kPrivUser2),
               std::string("{\"name\":\"") + kPrivUser2 +
                   "\",\"vendor\":\"ACME\",\"from\":[\"192.0.2.0/24\"],\"uid\":" +
                   std::to_string(pw->pw_uid) +
                   ",\"home\":\"/nonexistent\",\"shell\":\"/bin/sh\"}\n",
               0600);
    write_grant(kPrivUser2, now() - 60, now() + 3600);
    const char* users[] = {"pvt_fault1", kPrivUser2, kMemberUser};
    const char* fns[] = {"getpwnam_r",   "getpwuid_r", "getgrnam_r", "getgrgid_r",
                         "getgrouplist", "fstatat",    "openat"};
    enum Phase { auth, acct, open_s };
    long runs = 0, faulted = 0;
    for (const char* u : users) {
        for (const char* fn : fns) {
            // EIO for every call; ENOMEM too for the NSS lookups (a source
            // out of memory).
            std::vector<int> errs = {EIO};
            if (std::strncmp(fn, "get", 3) == 0) errs.push_back(ENOMEM);
            for (int err : errs) {
                for (long count : {1L, -1L}) {
                    for (int ph = auth; ph <= open_s; ++ph) {
                        for (long skip = 0; skip < 64; ++skip) {
                            int rc;
                            long hits;
                            {
                                Pam p(kSvc, u);
                                p.conv.answers = {"00000000"};
                                fault_arm(fn, skip, count, err);
                                rc = ph == auth ? p.auth() : ph == acct ? p.acct() : p.open();
                                hits = fault_hits();
                                fault_disarm();
                            }
                            ++runs;
                            if (hits == 0) break;  // past the last call of fn
                            ++faulted;
                            if (rc == PAM_SUCCESS || rc == kIgnored)
                                fail_msg("%s: %s %s fault (%s) at call %ld, phase %d: %s", u, fn,
                                         count == 1 ? "one-shot" : "sticky", std::strerror(err),
                                         skip + 1, ph, rc_name(rc));
                        }
                    }
                }
            }
        }
    }
    std::printf("# %ld transactions, %ld with a fault injected: 0 PAM_SUCCESS, 0 PAM_IGNORE\n",
                runs, faulted);
    assert_true(faulted > 50);
}

// ---- lockout, codes --------------------------------------------------------------------

void test_lockout(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("lock1", s);
    std::string code = issue_code("lock1");
    std::string bad = wrong_code(code);
    for (unsigned i = 1; i <= kLockoutThreshold; ++i) {
        std::size_t m = audit_mark();
        int prompts = 0;
        assert_rc(auth_with("lock1", bad, &prompts), PAM_AUTH_ERR);
        assert_int_equal(prompts, 1);
        if (i < kLockoutThreshold) {
            auto ev = expect_events(m, "lock1", {{"otp_failed", "denied", "otp_failed"}});
            expect_detail(ev[0], ("(" + std::to_string(i) + " consecutive)").c_str());
        } else {
            expect_events(
                m, "lock1",
                {{"otp_failed", "denied", "otp_failed"}, {"lockout", "denied", "locked_out"}});
        }
    }
    // Locked: the right code is not even asked for, in auth nor account.
    expect_denied_both(kSvc, "lock1", Source(), "locked_out");
    unlock("lock1");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "lock1");
        p.conv.answers = {code};
        assert_rc(p.auth(), PAM_SUCCESS);
        assert_rc(p.acct(), PAM_SUCCESS);
    }
    expect_events(m, "lock1", {{"otp_used", "ok", "ok"}, {"account", "ok", "ok"}});
}

void test_otp_required(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "grant+otp";
    add_active("otpreq", s);
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "otpreq");
        assert_rc(p.acct(), PAM_PERM_DENIED);  // publickey-only login: auth skipped
    }
    expect_events(m, "otpreq", {{"account", "denied", "otp_required"}});
    // A code accepted in another transaction does not count for this one.
    std::string code = issue_code("otpreq");
    assert_rc(auth_with("otpreq", code), PAM_SUCCESS);
    m = audit_mark();
    {
        Pam p(kSvc, "otpreq");
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_events(m, "otpreq", {{"account", "denied", "otp_required"}});
}

void test_no_auth_factor(void**) {
    NEED_ROOT();
    add_active("keyonly");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "keyonly");
        assert_rc(p.auth(), PAM_AUTH_ERR);
        assert_int_equal(p.conv.prompts, 0);
        assert_rc(p.acct(), PAM_SUCCESS);
    }
    expect_events(m, "keyonly", {{"auth", "denied", "no_auth_factor"}, {"account", "ok", "ok"}});
}

// ---- pinned keys (SSH_AUTH_INFO_0) ------------------------------------------------------

// "TYPE BASE64" of a public key file in tests/data/keys.
std::string key_of(const char* file) {
    std::string text = read_file(env().data + "/keys/" + file);
    auto sp = text.find(' ');
    auto sp2 = text.find_first_of(" \n", sp + 1);
    return text.substr(0, sp2);
}

Source with_key(const char* file, const std::string& extra = "") {
    Source s;
    s.auth_info = "publickey " + key_of(file) + "\n" + extra;
    return s;
}

void test_key_pinned(void**) {
    NEED_ROOT();
    Spec s;
    s.key_file = env().data + "/keys/ed25519.pub";
    add_active("key_ok", s);
    std::size_t m = audit_mark();
    expect_account_ok(kSvc, "key_ok", with_key("ed25519.pub"));
    Event e = only_event(m);
    assert_string_equal(e.s("methods").c_str(), "publickey");
    assert_string_equal(e.s("key").c_str(), "SHA256:n5RtbNP7n7vv07otVBbpTKAIDMHEk2tfwC1t9CUscDU");
    // Another key that sshd accepted (e.g. from an authorized_keys file) is
    // not the pinned one.
    expect_denied_both(kSvc, "key_ok", with_key("ecdsa256.pub"), "key_not_pinned");
    expect_denied_both(kSvc, "key_ok",
                       with_key("ed25519.pub", "publickey " + key_of("ecdsa256.pub")),
                       "key_not_pinned");
    // explain gives the module's verdict for the key sshd accepted.
    auto r = vendorctl(
        {"explain", "key_ok", "--from", kGoodIp, "--key", env().data + "/keys/ecdsa256.pub"});
    assert_int_equal(r.status, 1);
    if (!contains(r.out, "deny: key_not_pinned")) fail_msg("explain: %s", r.out.c_str());
    r = vendorctl({"explain", "key_ok", "--from", kGoodIp, "--phase", "account", "--key",
                   env().data + "/keys/ed25519.pub"});
    if (r.status != 0 || !contains(r.out, "account  allow ok"))
        fail_msg("explain: %d %s", r.status, r.out.c_str());
    // No code gate: PAM auth is refused (no_auth_factor), as the module does.
    r = vendorctl({"explain", "key_ok", "--from", kGoodIp, "--phase", "auth"});
    if (r.status != 1 || !contains(r.out, "no_auth_factor"))
        fail_msg("explain --phase auth: %d %s", r.status, r.out.c_str());
    // The key view hands the key out; the session ends with the grant.
    r = vendorctl({"explain", "key_ok", "--from", kGoodIp, "--json"});
    if (r.status != 0 || !contains(r.out, "\"phase\": \"keys\"") ||
        !contains(r.out, "\"runtime_max_s\": "))
        fail_msg("explain --json: %d %s", r.status, r.out.c_str());
}

void test_key_required(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "grant+otp";
    s.key_file = env().data + "/keys/ed25519.pub";
    add_active("key_req", s);
    std::string code = issue_code("key_req");
    // keyboard-interactive without the pinned key first: refused before the
    // prompt, and the account phase of that login too.
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "key_req");
        p.conv.answers = {code};
        assert_rc(p.auth(), PAM_AUTH_ERR);
        assert_int_equal(p.conv.prompts, 0);
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_events(m, "key_req",
                  {{"auth", "denied", "key_required"}, {"account", "denied", "key_required"}});
    // explain: the same login (no key, keyboard-interactive) is key_required.
    for (const char* phase : {"auth", "account"}) {
        auto r =
            vendorctl({"explain", "key_req", "--from", kGoodIp, "--key", "none", "--phase", phase});
        if (r.status != 1 || !contains(r.out, "key_required"))
            fail_msg("explain --phase %s: %d %s", phase, r.status, r.out.c_str());
    }
    {
        auto r = vendorctl({"explain", "key_req", "--from", kGoodIp});
        if (r.status != 1 || !contains(r.out, "deny: otp_required") ||
            !contains(r.out, "with a valid one-time code"))
            fail_msg("explain: %d %s", r.status, r.out.c_str());
        r = vendorctl({"explain", "key_req", "--from", kGoodIp, "--with-code"});
        if (r.status != 0) fail_msg("explain --with-code: %d %s", r.status, r.out.c_str());
    }
    // Key, then code: in.
    m = audit_mark();
    {
        Pam p(kSvc, "key_req", with_key("ed25519.pub"));
        p.conv.answers = {code};
        assert_rc(p.auth(), PAM_SUCCESS);
        assert_rc(p.acct(), PAM_SUCCESS);
    }
    expect_events(m, "key_req", {{"otp_used", "ok", "ok"}, {"account", "ok", "ok"}});
}

// A line of SSH_AUTH_INFO_0 the module cannot read is a denial, never skipped:
// skipping "publickey" lines would hide an unpinned key from the key gate.
void test_auth_info_invalid(void**) {
    NEED_ROOT();
    Spec s;
    s.key_file = env().data + "/keys/ed25519.pub";
    add_active("ainfo1", s);
    const std::string good = "publickey " + key_of("ed25519.pub") + "\n";
    for (const std::string& bad : std::vector<std::string>{
             std::string("publickey\n"), "publickey ssh-ed25519\n",
             "Publickey " + key_of("ecdsa256.pub"), "publickey ssh-ed25519 not*base64\n",
             good + "pub!ickey " + key_of("ecdsa256.pub"), good + "   \n",
             good + "\tpublickey " + key_of("ecdsa256.pub")}) {
        Source src;
        src.auth_info = bad;
        std::size_t m = audit_mark();
        expect_denied_both(kSvc, "ainfo1", src, "auth_info_invalid");
        auto ev = expect_events(
            m, "ainfo1",
            {{"auth", "denied", "auth_info_invalid"}, {"account", "denied", "auth_info_invalid"}});
        expect_detail(ev[1], "SSH_AUTH_INFO_0 line");
    }
    // What sshd writes is still read: key, then keyboard-interactive/pam.
    Source ok;
    ok.auth_info = good + "keyboard-interactive/pam\n";
    expect_account_ok(kSvc, "ainfo1", ok);
}

// ---- broken configuration, registry, state ---------------------------------------------

void test_config_error_unknown_key(void**) {
    NEED_ROOT();
    add_active("cfg_key");
    expect_denied_both(kSvcBadKey, "cfg_key", Source(), "config_error");
    std::size_t m = audit_mark();
    {
        Pam p(kSvcBadKey, "cfg_key");
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_detail(only_event(m), "frobnicate");
    // ... but root and unknown users are left alone, and nothing is logged.
    m = audit_mark();
    expect_ignored_all_phases(kSvcBadKey, "root");
    expect_ignored_all_phases(kSvcBadKey, "pvt_no_such_user");
    expect_no_events(m);
}

void test_config_error_unknown_argument(void**) {
    NEED_ROOT();
    add_active("cfg_arg");
    expect_denied_both(kSvcBadArg, "cfg_arg", Source(), "config_error");
    std::size_t m = audit_mark();
    {
        Pam p(kSvcBadArg, "cfg_arg");
        assert_rc(p.open(), PAM_SESSION_ERR);
    }
    auto ev = expect_events(m, "cfg_arg", {{"session_open", "denied", "config_error"}});
    expect_detail(ev[0], "unknown module argument 'debug'");
    m = audit_mark();
    expect_ignored_all_phases(kSvcBadArg, "root");
    expect_no_events(m);
}

// vendorctl add refuses to work over a broken registry (it allocates ids
// across all entries): the tests that break entries remove them afterwards,
// passed or failed.
int teardown_broken_entries(void**) {
    for (const char* n : {"reg_json", "reg_name", "reg_key", "reg_mode", "reg_link", "reg_owner",
                          "reg_json2", "reg_mode2"})
        ::unlink(entry_path(n).c_str());
    return 0;
}

void test_registry_error_corrupt_json(void**) {
    write_file(entry_path("reg_json"), "{\"name\":\"reg_json\",\"vendor\":", 0600);
    expect_denied_both(kSvc, "reg_json", Source(), "registry_error");
    // A well-formed file whose name disagrees with the file name.
    write_file(entry_path("reg_name"),
               "{\"name\":\"other\",\"vendor\":\"ACME\",\"from\":[\"192.0.2.0/24\"]}\n", 0600);
    expect_denied_both(kSvc, "reg_name", Source(), "registry_error");
    // An unknown key rejects the whole entry.
    write_file(entry_path("reg_key"),
               "{\"name\":\"reg_key\",\"vendor\":\"ACME\",\"from\":[\"192.0.2.0/"
               "24\"],\"allow_all\":true}\n",
               0600);
    expect_denied_both(kSvc, "reg_key", Source(), "registry_error");
}

void test_registry_error_insecure_mode(void**) {
    NEED_ROOT();
    add_active("reg_mode");
    assert_int_equal(::chmod(entry_path("reg_mode").c_str(), 0666), 0);
    expect_denied_both(kSvc, "reg_mode", Source(), "registry_error");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "reg_mode");
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_detail(only_event(m), "writable by group or others");
}

void test_registry_error_symlink(void**) {
    NEED_ROOT();
    add_active("reg_target");
    assert_int_equal(::symlink(entry_path("reg_target").c_str(), entry_path("reg_link").c_str()),
                     0);
    expect_denied_both(kSvc, "reg_link", Source(), "registry_error");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "reg_link");
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_detail(only_event(m), "symlink");
}

void test_registry_error_foreign_owner(void**) {
    if (!env().is_root) {
        skip();  // chown to another uid needs root
        return;
    }
    add_active("reg_owner");
    assert_int_equal(::chown(entry_path("reg_owner").c_str(), 65534, 65534), 0);
    expect_denied_both(kSvc, "reg_owner", Source(), "registry_error");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "reg_owner");
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_detail(only_event(m), "not owned by root");
}

void test_registry_dir_insecure(void**) {
    // registry_dir mode 0777 (service pvt_broken): its entries are not
    // trusted — the vendor is denied — and root is still ignored.
    expect_denied_both(kSvcBroken, "brk1", Source(), "registry_error");
    std::size_t m = audit_mark();
    expect_ignored_all_phases(kSvcBroken, "root");
    expect_ignored_all_phases(kSvcBroken, "pvt_no_such_user");
    expect_no_events(m);
}

void test_root_ignored_with_broken_registry(void**) {
    // A registry holding corrupt, insecure and symlinked entries of other
    // accounts must not change anything for root.
    write_file(entry_path("reg_json2"), "not json at all", 0600);
    write_file(entry_path("reg_mode2"), "{}", 0666);
    ::unlink(entry_path("reg_link").c_str());
    assert_int_equal(::symlink("/etc/passwd", entry_path("reg_link").c_str()), 0);
    std::size_t m = audit_mark();
    expect_ignored_all_phases(kSvc, "root");
    expect_ignored_all_phases(kSvc, "pvt_no_such_user");
    expect_no_events(m);
}

void test_no_entry(void**) {
    if (!env().have_member_user) {
        skip();  // needs root to create the vendor group and a member
        return;
    }
    expect_denied_both(kSvc, kMemberUser, Source(), "no_entry");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, kMemberUser);
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_detail(only_event(m), kVendorGroup);
}

void test_state_error(void**) {
    NEED_ROOT();
    add_account("state_bad");
    std::string dir = env().state + "/grants";
    ::mkdir(dir.c_str(), 0700);
    write_file(dir + "/state_bad.json", "{\"account\":\"state_bad\",\"not_before\":", 0600);
    expect_denied_both(kSvc, "state_bad", Source(), "state_error");
    // Insecure state file: not trusted either.
    write_grant("state_bad", now() - 60, now() + 3600);
    assert_int_equal(::chmod((dir + "/state_bad.json").c_str(), 0666), 0);
    expect_denied_both(kSvc, "state_bad", Source(), "state_error");
}

// state_backend = fleet is reserved: this build refuses it with a clear
// error and denies vendor accounts — it never falls back to local state
// (the account below has a valid local grant). Others: PAM_IGNORE.
void test_fleet_backend_refused(void**) {
    NEED_ROOT();
    add_active("fleet_v1");
    expect_account_ok(kSvc, "fleet_v1");  // locally fine
    std::size_t m = audit_mark();
    {
        Pam p(kSvcFleet, "fleet_v1");
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_detail(only_event(m), "state_backend = fleet is not available in this build");
    expect_denied_both(kSvcFleet, "fleet_v1", Source(), "state_error");
    expect_ignored_all_phases(kSvcFleet, "root");
}

void test_unwritable_audit_log_denies(void**) {
    NEED_ROOT();
    // Everything allows, but the audit log sits in a directory anyone may
    // write to: no unlogged access (R8), the module fails closed.
    add_active("noaudit");
    std::size_t m = audit_mark();
    {
        Pam p(kSvcNoAudit, "noaudit");
        assert_rc(p.acct(), PAM_PERM_DENIED);
        assert_rc(p.open(), PAM_SESSION_ERR);
    }
    expect_no_events(m);
    assert_int_equal(audit_lines(env().root + "/badlog/audit.jsonl").size(), 0);
    expect_account_ok(kSvc, "noaudit");  // the same account, logged normally: allowed
}

// ---- a whole login ---------------------------------------------------------------------

void test_full_login_grant_otp(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "grant+otp";
    add_active("full1", s);
    std::string code = issue_code("full1");
    std::size_t m = audit_mark();
    std::int64_t t0 = now();
    Pam p(kSvc, "full1", from_ssh("192.0.2.10 50022 10.0.0.1 22", std::string(kGoodIp)));
    p.conv.answers = {code};
    // sshd's order, in one handle (libpamtest on our own handle).
    struct pam_testcase tests[] = {
        pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
        pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
        pam_test(PAMTEST_SETCRED, PAM_SUCCESS),
        pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
        pam_test(PAMTEST_GETENVLIST, 0),
        pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
        pam_test(PAMTEST_KEEPHANDLE, 0),
    };
    enum pamtest_err perr = pamtest_conv(kSvc, "full1", pvt_conv, &p.conv, tests, p.handle());
    char** envlist = tests[4].case_out.envlist;
    std::string runtime, session_env;
    for (char** e = envlist; e && *e; ++e) {
        std::string v = *e;
        if (v.rfind("PVT_RUNTIME_MAX_SEC=", 0) == 0) runtime = v.substr(20);
        if (v.rfind("PAM_VENDOR_SESSION=", 0) == 0) session_env = v.substr(19);
    }
    pamtest_free_env(envlist);
    if (perr != PAMTEST_ERR_OK) {
        const struct pam_testcase* f = pamtest_failed_case(tests);
        fail_msg("login: %s; op %d returned %s (%d)%s", pamtest_strerror(perr),
                 f ? static_cast<int>(f->pam_operation) : -1, f ? rc_name(f->op_rv) : "-",
                 f ? f->op_rv : 0, "");
    }
    // One prompt, echo off.
    assert_int_equal(p.conv.prompts, 1);
    assert_int_equal(p.conv.echo_off, 1);
    assert_string_equal(p.conv.prompt_texts[0].c_str(), "One-time code: ");
    auto ev = expect_events(m, "full1",
                            {{"otp_used", "ok", "ok"},
                             {"account", "ok", "ok"},
                             {"session_open", "ok", nullptr},
                             {"session_close", "ok", nullptr}});
    for (const auto& e : ev) {
        assert_string_equal(e.s("rhost").c_str(), kGoodIp);
        assert_string_equal(e.s("vendor").c_str(), "ACME Medical");
        assert_string_equal(e.s("service").c_str(), kSvc);
        assert_string_equal(e.s("tty").c_str(), "ssh");
        if (contains(e.raw, code)) fail_msg("the code itself was logged: %s", e.raw.c_str());
    }
    expect_detail(ev[0], "issued code");
    // The session: one id on open and close, a duration on close.
    std::string sid = ev[2].s("session");
    if (!is_hex32(sid)) fail_msg("session id '%s' is not 32 hex digits", sid.c_str());
    assert_string_equal(ev[3].s("session").c_str(), sid.c_str());
    if (!ev[3].num.count("duration_s"))
        fail_msg("session_close has no duration_s: %s", ev[3].raw.c_str());
    std::int64_t dur = ev[3].num.at("duration_s");
    if (dur < 0 || dur > now() - t0 + 1) fail_msg("duration_s %lld", static_cast<long long>(dur));
    // pam_systemd's bound: the grant's remaining seconds (activated for 2h).
    std::int64_t secs = std::atoll(runtime.c_str());
    if (secs <= 7200 - 120 || secs > 7200)
        fail_msg("systemd.runtime_max_sec = '%s', want the grant's remaining ~7200 s",
                 runtime.c_str());
    expect_detail(ev[2], ("ends with the activation in " + runtime + "s").c_str());
    if (session_env != sid) fail_msg("PAM_VENDOR_SESSION='%s'", session_env.c_str());
}

void test_session_closed_elsewhere(void**) {
    NEED_ROOT();
    // An application may close the session in another PAM handle than the
    // one that opened it: the environment names the session, the root-only
    // record written at open gives its account and start.
    add_active("sess2");
    add_active("sess3");
    std::string env_value;
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "sess2");
        assert_rc(p.acct(), PAM_SUCCESS);
        assert_rc(p.open(), PAM_SUCCESS);
        env_value = p.getenv("PAM_VENDOR_SESSION");
    }
    if (!is_hex32(env_value)) fail_msg("PAM_VENDOR_SESSION='%s'", env_value.c_str());
    auto close_with = [](const char* user, const std::string& value) {
        Pam q(kSvc, user);
        assert_int_equal(pam_putenv(q.handle(), ("PAM_VENDOR_SESSION=" + value).c_str()),
                         PAM_SUCCESS);
        assert_rc(q.close(), PAM_SUCCESS);
    };
    auto ev = expect_events(m, "sess2", {{"account", "ok", "ok"}, {"session_open", "ok", nullptr}});
    // Another account naming that session gets nothing, and leaves it alone.
    m = audit_mark();
    close_with("sess3", env_value);
    ev = expect_events(m, "sess3", {{"session_close", "ok", nullptr}});
    assert_true(ev[0].s("session").empty());
    m = audit_mark();
    close_with("sess2", env_value);
    ev = expect_events(m, "sess2", {{"session_close", "ok", nullptr}});
    assert_true(ev[0].num.count("duration_s") == 1);
    std::string sid = ev[0].s("session");
    if (sid != env_value)
        fail_msg("session_close id '%s', want '%s'", sid.c_str(), env_value.c_str());
    // The record is used once: a second close (a replay) finds nothing.
    m = audit_mark();
    close_with("sess2", env_value);
    ev = expect_events(m, "sess2", {{"session_close", "ok", nullptr}});
    assert_true(ev[0].s("session").empty());
    assert_true(ev[0].num.count("duration_s") == 0);
    expect_detail(ev[0], "no session record");
    // Forged values: an id never opened, the old ID:START_MS form with a
    // start far in the past (a made-up duration), garbage.
    for (const std::string& forged :
         {std::string("0123456789abcdef0123456789abcdef"), env_value + ":0",
          std::string("../../../etc/passwd"), std::string("")}) {
        m = audit_mark();
        close_with("sess2", forged);
        ev = expect_events(m, "sess2", {{"session_close", "ok", nullptr}});
        if (!ev[0].s("session").empty() || ev[0].num.count("duration_s"))
            fail_msg("forged PAM_VENDOR_SESSION='%s' was trusted: %s", forged.c_str(),
                     ev[0].raw.c_str());
    }
    // A close with nothing to match is still logged, without inventing an id.
    m = audit_mark();
    {
        Pam q(kSvc, "sess2");
        assert_rc(q.close(), PAM_SUCCESS);
    }
    ev = expect_events(m, "sess2", {{"session_close", "ok", nullptr}});
    assert_true(ev[0].s("session").empty());
}

void test_vendor_setcred_and_chauthtok(void**) {
    NEED_ROOT();
    add_active("cred1");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "cred1");
        assert_rc(p.setcred(), PAM_SUCCESS);
    }
    expect_no_events(m);
    {
        Pam p(kSvc, "cred1");
        assert_rc(p.chauthtok(), PAM_PERM_DENIED);  // a vendor never sets a password
        assert_int_equal(p.conv.prompts, 0);
    }
}

void test_code_replay(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("replay1", s);
    std::string code = issue_code("replay1");
    std::size_t m = audit_mark();
    assert_rc(auth_with("replay1", code), PAM_SUCCESS);
    expect_events(m, "replay1", {{"otp_used", "ok", "ok"}});
    m = audit_mark();
    int prompts = 0;
    assert_rc(auth_with("replay1", code, &prompts), PAM_AUTH_ERR);
    assert_int_equal(prompts, 1);
    expect_events(m, "replay1", {{"otp_failed", "denied", "otp_failed"}});
}

void test_code_with_spaces_and_dashes(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("fmt1", s);
    std::string c1 = issue_code("fmt1");
    assert_rc(auth_with("fmt1", " " + c1.substr(0, 4) + " " + c1.substr(4) + " "), PAM_SUCCESS);
    std::string c2 = issue_code("fmt1");
    assert_rc(auth_with("fmt1", c2.substr(0, 2) + "-" + c2.substr(2, 3) + "-" + c2.substr(5)),
              PAM_SUCCESS);
    // ... but nothing else: a letter makes it wrong, and it is not consumed.
    std::string c3 = issue_code("fmt1");
    std::size_t m = audit_mark();
    assert_rc(auth_with("fmt1", c3 + "x"), PAM_AUTH_ERR);
    expect_events(m, "fmt1", {{"otp_failed", "denied", "otp_failed"}});
    assert_rc(auth_with("fmt1", c3), PAM_SUCCESS);
}

void test_new_code_replaces_old(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("repl1", s);
    std::string old_code = issue_code("repl1");
    std::string new_code = issue_code("repl1");
    if (old_code == new_code) return;  // 1e-8: nothing to tell apart
    assert_rc(auth_with("repl1", old_code), PAM_AUTH_ERR);
    assert_rc(auth_with("repl1", new_code), PAM_SUCCESS);
}

void test_code_expired(void**) {
    // A code issued 20 minutes ago (libfaketime on vendorctl) with a 10 min
    // TTL is refused.
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("expired1", s);
    const char* libs[] = {"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                          "/usr/lib/faketime/libfaketime.so.1"};
    std::string lib;
    for (const char* l : libs)
        if (::access(l, R_OK) == 0) lib = l;
    if (lib.empty()) {
        skip();  // libfaketime not installed
        return;
    }
    std::string asan = asan_runtime();
    auto r = run_cmd({env().vendorctl, "--config", env().cfg, "otp", "expired1", "--quiet"},
                     {"LD_PRELOAD=" + (asan.empty() ? "" : asan + " ") + lib, "FAKETIME=-20m",
                      "FAKETIME_DONT_FAKE_MONOTONIC=1"});
    if (r.status != 0) fail_msg("faketime vendorctl otp: exit %d: %s", r.status, r.err.c_str());
    std::string code = r.out.substr(0, r.out.find('\n'));
    std::size_t m = audit_mark();
    assert_rc(auth_with("expired1", code), PAM_AUTH_ERR);
    expect_events(m, "expired1", {{"otp_failed", "denied", "otp_failed"}});
}

void test_conversation_errors(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("conv1", s);
    std::string code = issue_code("conv1");
    for (ConvMode mode : {ConvMode::conv_error, ConvMode::null_resp, ConvMode::null_array}) {
        std::size_t m = audit_mark();
        {
            Pam p(kSvc, "conv1");
            p.conv.mode = mode;
            assert_rc(p.auth(), PAM_AUTH_ERR);
            assert_int_equal(p.conv.prompts, 1);
        }
        expect_events(m, "conv1", {{"auth", "denied", "conversation_error"}});
    }
    // The conversation failures neither used the code nor count as bad codes.
    std::size_t m = audit_mark();
    assert_rc(auth_with("conv1", code), PAM_SUCCESS);
    expect_events(m, "conv1", {{"otp_used", "ok", "ok"}});
}

void test_hostile_code_replies(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("conv2", s);
    std::string code = issue_code("conv2");
    const std::string replies[] = {
        std::string(1 << 20, '7'),                        // 1 MiB
        code + std::string(200, ' ') + "1",               // the code, then more past the cap
        code.substr(0, 4) + "\n" + code.substr(4),        // control character
        std::string("\xef\xbc\x91", 3) + code.substr(1),  // a full-width digit
        "",
    };
    for (const auto& reply : replies) {
        std::size_t m = audit_mark();
        assert_rc(auth_with("conv2", reply), PAM_AUTH_ERR);
        auto ev = expect_events(m, "conv2", {{"otp_failed", "denied", "otp_failed"}});
        expect_printable_ascii(ev[0]);
    }
    assert_rc(auth_with("conv2", code), PAM_SUCCESS);
}

// ---- hostile PAM items -----------------------------------------------------------------

void test_hostile_user_names(void**) {
    std::size_t m = audit_mark();
    const std::string names[] = {
        std::string(100000, 'a'),           "full1" + std::string(100000, 'x'),
        std::string("src_forms\n"),         std::string("root\x01"),
        std::string("\x1b[2J\x1b[31mroot"), std::string("../../etc/passwd"),
        std::string("src_forms/../root"),   std::string("Src_Forms"),
        std::string("src forms"),           std::string("\xff\xfe"),
    };
    for (const auto& n : names) expect_ignored_all_phases(kSvc, n);
    expect_no_events(m);
}

void test_hostile_rhost(void**) {
    NEED_ROOT();
    add_active("hostile1");
    const std::string rhosts[] = {
        std::string("192.0.2.10\n\x1b[31mevil"),
        std::string("192.0.2.10\"},{\"result\":\"ok\",\"x\":\""),
        std::string(100000, '9'),
        std::string("192.0.2.10\x7f"),
        std::string("\xc0\xaf\xff"),
    };
    for (const auto& rh : rhosts) {
        expect_denied_both(kSvc, "hostile1", from_rhost(rh.c_str()), "source_unknown");
        for (const auto& e : events_since(audit_mark() - 2)) {
            expect_printable_ascii(e);
            if (e.raw.size() > 4096)
                fail_msg("audit line of %zu bytes for a hostile rhost", e.raw.size());
        }
    }
    // SSH_CONNECTION is as hostile as PAM_RHOST.
    std::string sc = "192.0.2.10\x01\x02 " + std::string(100000, '1');
    expect_denied_both(kSvc, "hostile1", from_ssh(sc.c_str(), std::nullopt), "source_unknown");
}

// ---- concurrency ---------------------------------------------------------------------------

// `n` processes authenticate `user` through `svc` with `code` at the same
// moment (released together through a pipe); returns each one's outcome:
// 0 PAM_SUCCESS, 1 PAM_AUTH_ERR, 10 + rc otherwise. No CMocka in the
// children: plain libpam, the result in the exit code. `end` says whether a
// child calls pam_end (without it pam_wrapper's copy of the services stays).
std::vector<int> race_auth(const char* svc, const char* user, const std::string& code, int n,
                           bool end) {
    int barrier[2];
    assert_int_equal(pipe(barrier), 0);
    std::fflush(stdout);
    std::fflush(stderr);
    std::vector<pid_t> pids(static_cast<std::size_t>(n));
    for (auto& pid : pids) {
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            ::close(barrier[1]);
            ConvState cs;
            cs.answers = {code};
            struct pam_conv pc = {pvt_conv, &cs};
            pam_handle_t* h = nullptr;
            if (pam_start(svc, user, &pc, &h) != PAM_SUCCESS) _exit(90);
            pam_set_item(h, PAM_RHOST, kGoodIp);
            char c;
            while (::read(barrier[0], &c, 1) < 0 && errno == EINTR) {}
            int rc = pam_authenticate(h, 0);
            if (end) pam_end(h, rc);
            _exit(rc == PAM_SUCCESS ? 0 : rc == PAM_AUTH_ERR ? 1 : 10 + rc);
        }
    }
    ::close(barrier[0]);
    ::close(barrier[1]);  // all children start their auth now
    std::vector<int> out;
    for (pid_t pid : pids) {
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(st))
            fail_msg("an auth process died (signal %d)", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        out.push_back(WEXITSTATUS(st));
    }
    return out;
}

void test_concurrent_code_use(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("race1", s);
    std::string code = issue_code("race1");
    constexpr int kProcs = 8;
    std::size_t m = audit_mark();
    int ok = 0, refused = 0;
    for (int st : race_auth(kSvc, "race1", code, kProcs, true)) {
        if (st == 0) ++ok;
        else if (st == 1) ++refused;
        else fail_msg("an auth process exited %d", st);
    }
    assert_int_equal(ok, 1);
    assert_int_equal(refused, kProcs - 1);
    auto evs = events_since(m);
    int used = 0, failed = 0;
    for (const auto& e : evs) {
        if (e.s("account") != "race1") continue;
        if (e.s("event") == "otp_used" && e.s("result") == "ok") ++used;
        if (e.s("event") == "otp_failed" && e.s("reason") == "otp_failed") ++failed;
    }
    assert_int_equal(used, 1);
    assert_int_equal(failed, kProcs - 1);
    assert_int_equal(evs.size(), kProcs);
}

// The losers of a race with the one right code reach the lockout threshold
// while the winner's transaction is between auth and account (sshd runs the
// account phase after keyboard-interactive auth): the winner is not locked
// out, every later login is. The winner goes first so the interleaving is
// the same on every run; the losers race each other.
void test_race_losers_keep_winner(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("race2", s);
    std::string code = issue_code("race2");
    constexpr int kLosers = 7;
    static_assert(kLosers > static_cast<int>(kRaceLockoutThreshold));
    std::size_t m = audit_mark();
    Pam winner(kSvcRace, "race2");
    winner.conv.answers = {code};
    assert_rc(winner.auth(), PAM_SUCCESS);
    for (int st : race_auth(kSvcRace, "race2", code, kLosers, false))
        if (st != 1) fail_msg("a losing auth ended with status %d, want PAM_AUTH_ERR", st);
    assert_rc(winner.acct(), PAM_SUCCESS);
    {
        Pam later(kSvcRace, "race2");
        assert_rc(later.acct(), PAM_PERM_DENIED);
    }
    int used = 0, failed = 0, lockouts = 0, locked_auth = 0, acct_ok = 0, acct_locked = 0;
    for (const auto& e : events_since(m)) {
        if (e.s("account") != "race2") fail_msg("event of %s", e.s("account").c_str());
        std::string ev = e.s("event"), reason = e.s("reason");
        if (ev == "otp_used" && reason == "ok") ++used;
        else if (ev == "otp_failed" && reason == "otp_failed") ++failed;
        else if (ev == "lockout" && reason == "locked_out") ++lockouts;
        else if (ev == "auth" && reason == "locked_out") ++locked_auth;
        else if (ev == "account" && reason == "ok") ++acct_ok;
        else if (ev == "account" && reason == "locked_out") ++acct_locked;
        else fail_msg("unexpected event: %s", e.raw.c_str());
    }
    assert_int_equal(used, 1);
    assert_int_equal(failed, kRaceLockoutThreshold);
    assert_int_equal(lockouts, 1);
    assert_int_equal(locked_auth, kLosers - static_cast<int>(kRaceLockoutThreshold));
    assert_int_equal(acct_ok, 1);
    assert_int_equal(acct_locked, 1);
    unlock("race2");
}

// Section 4 of the core reshape: the key view (state_dir/authkeys/NAME.json)
// is rewritten under the registry lock by every command that changes what it
// shows. Without that, an activate that read the entry before a concurrent
// `key add` wrote it publishes the old keys last, and sshd never offers the
// new key; a deactivate racing an activate can leave a view that still opens
// after the grant is gone. Each round races key adds (each a different key)
// against activates and deactivates; at the end the view holds every pinned
// key and the grant the store holds.
std::string squeezed(const std::string& s);

void test_key_view_concurrent(void**) {
    NEED_ROOT();
    add_account("kvrace");
    const std::string bare = read_file(entry_path("kvrace"));
    const std::vector<const char*> keys = {"ed25519.pub",  "ecdsa256.pub", "ecdsa384.pub",
                                           "ecdsa521.pub", "rsa3072.pub",  "rsa4096.pub"};
    constexpr int kRounds = 4, kGrantProcs = 6;
    std::fflush(stdout);
    std::fflush(stderr);
    for (int round = 0; round < kRounds; ++round) {
        write_file(entry_path("kvrace"), bare, 0600);  // no key pinned
        int barrier[2];
        assert_int_equal(pipe(barrier), 0);
        std::vector<pid_t> pids;
        auto spawn = [&](std::vector<std::string> args) {
            pid_t pid = fork();
            assert_true(pid >= 0);
            if (pid == 0) {
                ::close(barrier[1]);
                char ch;
                while (::read(barrier[0], &ch, 1) < 0 && errno == EINTR) {}
                auto r = vendorctl(args);
                if (r.status != 0)
                    std::fprintf(stderr, "vendorctl %s: exit %d: %s\n", args[0].c_str(), r.status,
                                 r.err.c_str());
                _exit(r.status == 0 ? 0 : 1);
            }
            pids.push_back(pid);
        };
        for (std::size_t i = 0; i < keys.size(); ++i) {
            spawn({"key", "add", "kvrace", env().data + "/keys/" + keys[i]});
            if (static_cast<int>(i) < kGrantProcs)
                spawn(i % 2 == 0 ? std::vector<std::string>{"activate", "kvrace", "--for", "1h"}
                                 : std::vector<std::string>{"deactivate", "kvrace"});
        }
        ::close(barrier[0]);
        ::close(barrier[1]);  // all start now
        for (pid_t pid : pids) {
            int st = 0;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fail_msg("round %d: a vendorctl process failed (status %d)", round, st);
        }
        std::string view = read_file(env().state + "/authkeys/kvrace.json");
        for (const char* k : keys)
            if (!contains(view, key_of(k)))
                fail_msg("round %d: pinned key %s missing from the key view: %s", round, k,
                         view.c_str());
        // The grant the view shows is the one in the store (show reads it).
        auto sh = vendorctl({"--json", "show", "kvrace"});
        assert_int_equal(sh.status, 0);
        bool store_active = !contains(squeezed(sh.out), "\"active_until\":null");
        bool view_active = !contains(view, "\"grant_not_after\":0");
        if (store_active != view_active)
            fail_msg("round %d: the store says %s, the key view %s: %s", round,
                     store_active ? "active" : "inactive", view_active ? "active" : "inactive",
                     view.c_str());
    }
}

// The same race made certain: an activate held (tests/support/fault.c,
// PVT_SLOW_GETPWNAM) between reading the entry and writing the key view,
// while a `key add` runs to its end. The view must show the new key.
void test_key_view_activate_stalled(void**) {
    NEED_ROOT();
    // This process's preload list names the fault library; vendorctl gets
    // it (after the sanitizer runtime) only for the stalled command.
    std::string fault, tok;
    if (const char* pre = std::getenv("LD_PRELOAD"))
        for (const char* p = pre;; ++p) {
            if (*p == ' ' || *p == ':' || *p == '\0') {
                if (contains(tok, "pvt_fault")) fault = tok;
                tok.clear();
                if (*p == '\0') break;
            } else {
                tok += *p;
            }
        }
    if (fault.empty()) {
        skip();
        return;
    }
    add_account("kvstall");
    std::string marker = env().root + "/kvstall.marker";
    ::unlink(marker.c_str());
    std::string asan = asan_runtime();
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        auto r =
            run_cmd({env().vendorctl, "--config", env().cfg, "activate", "kvstall", "--for", "1h"},
                    {"LD_PRELOAD=" + (asan.empty() ? "" : asan + ":") + fault,
                     "PVT_SLOW_GETPWNAM=pam-vendor-keys:1000:" + marker});
        if (r.status != 0) std::fprintf(stderr, "activate: exit %d: %s\n", r.status, r.err.c_str());
        _exit(r.status == 0 ? 0 : 1);
    }
    // The activate is inside its publish once the marker is there.
    struct stat st {};
    for (int i = 0; i < 1000 && ::stat(marker.c_str(), &st) != 0; ++i) ::usleep(10000);
    bool stalled = ::stat(marker.c_str(), &st) == 0;
    auto k = vendorctl({"key", "add", "kvstall", env().data + "/keys/ed25519.pub"});
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!stalled) fail_msg("the activate never reached its key view");
    if (k.status != 0) fail_msg("key add: exit %d: %s", k.status, k.err.c_str());
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_msg("activate failed");
    std::string view = read_file(env().state + "/authkeys/kvstall.json");
    if (!contains(view, key_of("ed25519.pub")))
        fail_msg("the key added during the activate is missing from the key view: %s",
                 view.c_str());
    if (contains(view, "\"grant_not_after\":0"))
        fail_msg("the grant is missing from the key view: %s", view.c_str());
}

// ---- structure-held TOTP -------------------------------------------------------------------

void test_totp(void**) {
    NEED_ROOT();
    Spec s;
    s.access = "otp";
    add_account("totp1", s);
    totp_enroll("totp1");
    std::string code = totp_code("totp1");
    std::size_t m = audit_mark();
    assert_rc(auth_with("totp1", code), PAM_SUCCESS);
    auto ev = expect_events(m, "totp1", {{"otp_used", "ok", "ok"}});
    expect_detail(ev[0], "TOTP");
    // Each step at most once.
    m = audit_mark();
    assert_rc(auth_with("totp1", code), PAM_AUTH_ERR);
    expect_events(m, "totp1", {{"otp_failed", "denied", "otp_failed"}});
}

// ---- strict input (items 3, 11, 13, 14, 15, 16 of the hardening issue) --------------------

// Item 11: the guard names AD groups. pvt_privad's config lists
// privileged_groups = "domain admins" admins@corp.example ADM SUDO: the
// quoted name parses, and the case-insensitive match catches the member of
// adm/sudo.
void test_privileged_group_ad_names(void**) {
    if (!env().have_priv_user) {
        skip();
        return;
    }
    // vendorctl refuses to register an administrator: the entry is written
    // by hand, as the guard must catch whatever reaches the registry.
    write_existing_entry(kPrivUser, "grant+otp");
    activate(kPrivUser);
    (void)issue_code(kPrivUser);
    expect_denied_both(kSvcPrivAd, kPrivUser, Source(), "privileged_group");
    std::size_t m = audit_mark();
    {
        Pam p(kSvcPrivAd, kPrivUser);
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    // Matched by name through the configured spelling (ADM or SUDO), not by
    // the system-account rule that comes after the groups.
    expect_detail(only_event(m), "privileged group");
}

int teardown_strict_entries(void**) {
    for (const char* n : {"in_dup", "in_utf8", "in_access", "in_cli", "in_null"})
        ::unlink(entry_path(n).c_str());
    return 0;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    auto at = text.find(from);
    if (at == std::string::npos) fail_msg("'%s' not in the entry", from.c_str());
    return text.replace(at, from.size(), to);
}

// Items 13 and 14 on the module's side: an entry that names a field twice
// (json-c would keep the last), carries invalid UTF-8, or a sloppy gate set
// is a broken entry: denied with registry_error.
void test_registry_strict_entries(void**) {
    NEED_ROOT();
    std::size_t start = audit_lines().size();
    // vendorctl add refuses to work over a broken registry: add first, break after.
    for (const char* n : {"in_dup", "in_utf8", "in_access"}) add_active(n);
    std::string text = read_file(entry_path("in_dup"));
    text.insert(text.rfind('}'), ", \"from\": [\"0.0.0.0/0\"]");
    write_file(entry_path("in_dup"), text, 0600);
    expect_denied_both(kSvc, "in_dup", from_rhost("198.51.100.7"), "registry_error");
    std::size_t m = audit_mark();
    {
        Pam p(kSvc, "in_dup");
        assert_rc(p.acct(), PAM_PERM_DENIED);
    }
    expect_detail(only_event(m), "given twice");

    write_file(entry_path("in_utf8"),
               replaced(read_file(entry_path("in_utf8")), "ACME Medical", "ACME \xff Medical"),
               0600);
    expect_denied_both(kSvc, "in_utf8", Source(), "registry_error");

    write_file(entry_path("in_access"),
               replaced(read_file(entry_path("in_access")), "\"grant\"", "\"grant+\""), 0600);
    expect_denied_both(kSvc, "in_access", Source(), "registry_error");
    // Every line written meanwhile is valid UTF-8 (the escaped detail included).
    auto lines = audit_lines();
    for (std::size_t i = start; i < lines.size(); ++i)
        for (unsigned char c : lines[i])
            if (c >= 0x80) fail_msg("raw non-ASCII byte in an audit line: %s", lines[i].c_str());
}

// Items 13 and 14 on the helpdesk's side: refused at input, exit 1, nothing written.
void test_vendorctl_refuses_bad_input(void**) {
    NEED_ROOT();
    const std::vector<std::vector<std::string>> bad = {
        {"--vendor", "ACME \xff"},
        {"--vendor", "ACME \xc3\x28"},
        {"--comment", "over\xc0\xaflong"},
        {"--access", "grant+"},
        {"--access", "+grant"},
        {"--access", "grant++otp"},
        {"--access", "grant+ otp"},
    };
    for (const auto& extra : bad) {
        std::vector<std::string> a = {"add", "in_cli", "--from", "192.0.2.0/24"};
        if (extra[0] != "--vendor") a.insert(a.end(), {"--vendor", "ACME"});
        a.insert(a.end(), extra.begin(), extra.end());
        auto r = vendorctl(a);
        if (r.status != 1)
            fail_msg("add %s '%s': exit %d (%s)", extra[0].c_str(), extra[1].c_str(), r.status,
                     r.err.c_str());
        assert_int_equal(::access(entry_path("in_cli").c_str(), F_OK), -1);
    }
    add_account("in_cli");
    std::size_t m = audit_mark();
    for (const auto& extra : std::vector<std::vector<std::string>>{
             {"--ticket", "T-\xff"}, {"--reason", "fix \xe2\x82"}, {"--reason", "a\nb"}}) {
        std::vector<std::string> a = {"activate", "in_cli", "--for", "1h"};
        a.insert(a.end(), extra.begin(), extra.end());
        auto r = vendorctl(a);
        if (r.status != 1) fail_msg("activate %s: exit %d", extra[0].c_str(), r.status);
    }
    expect_no_events(m);
    expect_denied_both(kSvc, "in_cli", Source(), "not_activated");
}

std::string squeezed(const std::string& s) {
    std::string out;
    for (char c : s)
        if (c != ' ' && c != '\n') out += c;
    return out;
}

// The object of `name` in status --json's array.
std::string status_object(const std::string& json, const std::string& name) {
    auto at = json.find("\"name\":\"" + name + "\"");
    if (at == std::string::npos) fail_msg("%s not in status --json", name.c_str());
    auto open = json.rfind('{', at), close = json.find('}', at);
    return json.substr(open, close - open + 1);
}

// Item 15: the fields vendorctl(8) lists are in every object, null when empty.
void test_json_fields_null(void**) {
    NEED_ROOT();
    add_account("in_null");
    auto st = vendorctl({"--json", "status"});
    assert_int_equal(st.status, 0);
    auto obj = status_object(squeezed(st.out), "in_null");
    for (const char* f : {"\"until\":null", "\"last_login\":null", "\"last_rhost\":null"})
        if (!contains(obj, f)) fail_msg("status --json: no %s in %s", f, obj.c_str());
    auto sh = vendorctl({"--json", "show", "in_null"});
    assert_int_equal(sh.status, 0);
    auto show = squeezed(sh.out);
    for (const char* f : {"\"active_until\":null", "\"locked_until\":null", "\"operator\":null",
                          "\"ticket\":null", "\"totp_enrolled\":false"})
        if (!contains(show, f)) fail_msg("show --json: no %s in %s", f, show.c_str());
    // With a value, the value.
    activate("in_null");
    obj = status_object(squeezed(vendorctl({"--json", "status"}).out), "in_null");
    assert_true(contains(obj, "\"until\":\"20"));
    show = squeezed(vendorctl({"--json", "show", "in_null"}).out);
    assert_true(contains(show, "\"active_until\":\"20"));
    assert_true(contains(show, "\"ticket\":\"PVT-1\""));
}

// Issue 9, section 4: status derives its state from the decision, so for a
// login from the entry's sources it says what the module does.
void test_status_agrees_with_module(void**) {
    NEED_ROOT();
    add_account("st_none");
    add_active("st_active");
    Spec hours;
    hours.access = "hours";
    hours.hours = schedule_excluding_now();
    add_account("st_closed", hours);
    hours.hours = schedule_including_now();
    add_account("st_open", hours);
    Spec code;
    code.access = "grant+otp";
    add_active("st_code", code);
    add_account("st_ended");
    write_grant("st_ended", now() - 7200, now() - 3600);
    struct Want {
        const char* name;
        const char* verdict;
        const char* reason;  // status's and the module's account phase
        int rc;
    };
    const Want wants[] = {
        {"st_none", "deny", "not_activated", PAM_PERM_DENIED},
        {"st_active", "allow", "ok", PAM_SUCCESS},
        {"st_closed", "deny", "outside_hours", PAM_PERM_DENIED},
        {"st_open", "allow", "ok", PAM_SUCCESS},
        {"st_code", "code", "otp_required", PAM_PERM_DENIED},
        {"st_ended", "deny", "grant_expired", PAM_PERM_DENIED},
    };
    auto st = vendorctl({"--json", "status"});
    assert_int_equal(st.status, 0);
    auto text = vendorctl({"status"});
    assert_int_equal(text.status, 0);
    for (const auto& w : wants) {
        auto obj = status_object(squeezed(st.out), w.name);
        for (const std::string& f : {std::string("\"verdict\":\"") + w.verdict + "\"",
                                     std::string("\"reason\":\"") + w.reason + "\""})
            if (!contains(obj, f)) fail_msg("status --json: no %s in %s", f.c_str(), obj.c_str());
        std::size_t m = audit_mark();
        {
            Pam p(kSvc, w.name);
            assert_rc(p.acct(), w.rc);
        }
        expect_events(m, w.name, {{"account", w.rc == PAM_SUCCESS ? "ok" : "denied", w.reason}});
        // The table: "deny REASON", "allow until ...", "code until ...".
        std::string want_state = std::string(w.verdict) == "deny" ? std::string("deny ") + w.reason
                                                                  : std::string(w.verdict);
        bool found = false;
        std::size_t pos = 0;
        while (pos < text.out.size()) {
            auto nl = text.out.find('\n', pos);
            std::string line = text.out.substr(pos, nl - pos);
            pos = nl == std::string::npos ? text.out.size() : nl + 1;
            if (line.rfind(std::string(w.name) + " ", 0) == 0 && contains(line, want_state))
                found = true;
        }
        if (!found)
            fail_msg("status: no line for %s with '%s':\n%s", w.name, want_state.c_str(),
                     text.out.c_str());
    }
}

// Item 3: a vendor_group whose members are the administrators fails config --check.
void test_config_check_vendor_group(void**) {
    NEED_ROOT();
    std::string base = read_file(env().cfg);
    for (const char* g : {"root", "sudo", "Adm", "domain-admins"}) {
        std::string path = env().root + "/vg.conf";
        std::string text = replaced(base, std::string("vendor_group = ") + kVendorGroup,
                                    std::string("vendor_group = ") + g);
        if (std::string(g) == "domain-admins") text += "privileged_groups = root DOMAIN-ADMINS\n";
        write_file(path, text, 0644);
        auto r = run_cmd({env().vendorctl, "--config", path, "config", "--check"});
        if (r.status != 1 || !contains(r.err, "privileged"))
            fail_msg("vendor_group = %s: exit %d: %s", g, r.status, r.err.c_str());
    }
}

// ---- the log as a whole --------------------------------------------------------------------

// ---- a syslog daemon that never reads (issue 9, section 3) ---------------------------------
//
// "A wedged syslog daemon must not stall sshd." kSvcDeaf's syslog_socket is a
// datagram socket bound here and never read (its queue filled first), then
// one whose reader is stopped with SIGSTOP. Every transaction must complete;
// the chained log must have every line, intact; the twins are counted as
// dropped and the next line that reaches syslog carries the count.

struct DeafSocket {
    int fd = -1;
    std::string path;
    explicit DeafSocket(std::string p) : path(std::move(p)) {
        ::unlink(path.c_str());
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        assert_true(path.size() < sizeof sa.sun_path);
        std::memcpy(sa.sun_path, path.data(), path.size());
        assert_int_equal(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        int tiny = 1;  // the kernel's minimum: a few datagrams fill it
        assert_int_equal(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny), 0);
    }
    ~DeafSocket() {
        ::close(fd);
        ::unlink(path.c_str());
    }
    DeafSocket(const DeafSocket&) = delete;
    DeafSocket& operator=(const DeafSocket&) = delete;
    // Send from fresh non-blocking sockets until even a fresh one is refused
    // at once: the queue is full (not just one sender's buffer).
    void fill() const {
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, path.data(), path.size());
        for (int i = 0; i < 256; ++i) {
            int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            assert_true(s >= 0);
            assert_int_equal(::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
            int sent = 0;
            while (::send(s, "<86>filler", 10, MSG_DONTWAIT | MSG_NOSIGNAL) == 10) ++sent;
            int err = errno;
            ::close(s);
            if (err != EAGAIN && err != ENOBUFS) fail_msg("filler send: %s", std::strerror(err));
            if (sent == 0) return;
        }
        fail_msg("the queue of a socket that never reads did not fill");
    }
    std::vector<std::string> drain() const {
        std::vector<std::string> out;
        char buf[9000];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0) break;
            std::string d(buf, static_cast<std::size_t>(n));
            if (d != "<86>filler") out.push_back(std::move(d));
        }
        return out;
    }
};

// `procs` processes run `per` account transactions each through kSvcDeaf,
// alternating an active account (PAM_SUCCESS) and an inactive one
// (PAM_PERM_DENIED). A transaction that blocks is killed by its alarm: the
// bound is generous (a sanitizer build on a loaded machine), the point is
// that each one returns. Fails the test on any wrong code or blocked child.
void deaf_logins(int procs, int per) {
    std::fflush(stdout);
    std::fflush(stderr);
    std::vector<pid_t> pids;
    for (int i = 0; i < procs; ++i) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(static_cast<unsigned>(60 + 2 * per));
            for (int k = 0; k < per; ++k) {
                bool active = k % 2 == 0;
                ConvState cs;
                struct pam_conv pc = {pvt_conv, &cs};
                pam_handle_t* h = nullptr;
                if (pam_start(kSvcDeaf, active ? "deaf1" : "deaf2", &pc, &h) != PAM_SUCCESS)
                    _exit(90);
                pam_set_item(h, PAM_RHOST, kGoodIp);
                auto t0 = std::chrono::steady_clock::now();
                int rc = pam_acct_mgmt(h, 0);
                auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - t0)
                              .count();
                pam_end(h, rc);
                if (rc != (active ? PAM_SUCCESS : PAM_PERM_DENIED)) _exit(10 + k % 100);
                if (ms > 30000) _exit(2);
            }
            _exit(0);
        }
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        if (WIFSIGNALED(st))
            fail_msg("a login process was killed by signal %d (%s): it blocked on syslog",
                     WTERMSIG(st), WTERMSIG(st) == SIGALRM ? "its alarm" : "?");
        if (WEXITSTATUS(st) != 0)
            fail_msg("a login process exited %d (2: one transaction took over 30 s; 10+k: "
                     "transaction k had the wrong code)",
                     WEXITSTATUS(st));
    }
}

std::uint64_t twins_counter(const std::string& log) {
    std::string t = read_file(log + ".twins");
    auto at = t.find(" n=");
    if (t.rfind("pam_vendor-twins-dropped 1", 0) != 0 || at == std::string::npos)
        fail_msg("twins record: '%s'", t.c_str());
    return std::strtoull(t.c_str() + at + 3, nullptr, 10);
}

void test_deaf_syslog(void**) {
    NEED_ROOT();
    add_active("deaf1");
    add_account("deaf2");
    std::string dir = env().root + "/" + kDeafDir;
    std::string log = dir + "/audit.jsonl";
    std::string conf = env().root + "/deaf.conf";
    DeafSocket deaf(dir + "/log.sock");
    deaf.fill();
    std::size_t before = audit_lines(log).size();
    // 200 transactions: 4 processes at once, then one alone.
    deaf_logins(4, 40);
    deaf_logins(1, 40);
    assert_int_equal(audit_lines(log).size(), before + 200);
    assert_true(deaf.drain().empty());  // not one twin got in: the queue stayed full
    std::uint64_t dropped = twins_counter(log);
    if (dropped < 200)
        fail_msg("%llu twins counted as dropped, want >= 200",
                 static_cast<unsigned long long>(dropped));
    // The same with a reader that is there but stopped (SIGSTOP).
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t reader = fork();
    assert_true(reader >= 0);
    if (reader == 0) {
        char buf[9000];
        for (;;)
            if (::recv(deaf.fd, buf, sizeof buf, 0) < 0 && errno != EINTR) _exit(0);
    }
    assert_int_equal(kill(reader, SIGSTOP), 0);
    int st = 0;
    while (waitpid(reader, &st, WUNTRACED) < 0 && errno == EINTR) {}
    assert_true(WIFSTOPPED(st));
    deaf.fill();
    deaf_logins(4, 10);
    kill(reader, SIGKILL);
    kill(reader, SIGCONT);
    while (waitpid(reader, &st, 0) < 0 && errno == EINTR) {}
    auto lines = audit_lines(log);
    assert_int_equal(lines.size(), before + 240);
    std::uint64_t dropped2 = twins_counter(log);
    if (dropped2 != dropped + 40)
        fail_msg("twins dropped: %llu after the stopped reader, want %llu",
                 static_cast<unsigned long long>(dropped2),
                 static_cast<unsigned long long>(dropped + 40));
    // syslog reads again: the next line goes out with the count, and the
    // chained line says it too; the count restarts.
    (void)deaf.drain();
    {
        Pam p(kSvcDeaf, "deaf1");
        assert_rc(p.acct(), PAM_SUCCESS);
    }
    lines = audit_lines(log);
    assert_int_equal(lines.size(), before + 241);
    std::string want = "\"twins_dropped\":" + std::to_string(dropped2);
    if (!contains(lines.back(), want))
        fail_msg("the line after the drops lacks %s: %s", want.c_str(), lines.back().c_str());
    auto got = deaf.drain();
    assert_int_equal(got.size(), 1);
    if (!contains(got[0], " twins_dropped=" + std::to_string(dropped2) + " seq="))
        fail_msg("twin: %s", got[0].c_str());
    assert_int_equal(twins_counter(log), 0);
    // Every line is there and chained.
    auto r = vendorctl_with(conf, {"log", "--verify"});
    if (r.status != 0)
        fail_msg("vendorctl log --verify (deaf log): exit %d: %s%s", r.status, r.out.c_str(),
                 r.err.c_str());
}

void test_audit_chain_intact(void**) {
    NEED_ROOT();
    // Everything above (hostile items, concurrent writers) left a chain
    // `vendorctl log --verify` accepts.
    assert_true(audit_lines().size() > 50);
    auto r = vendorctl({"log", "--verify"});
    if (r.status != 0)
        fail_msg("vendorctl log --verify: exit %d: %s%s", r.status, r.out.c_str(), r.err.c_str());
}

// ---- audit log damage, through the real vendorctl (issue items 6, 7, 8) --------------------
//
// A second config that differs only in its audit log, so that the shared log
// of the other tests stays intact.

struct AuditSandbox {
    std::string dir, log, head, cfg;
    AuditSandbox(const char* name) {
        dir = env().root + "/" + name;
        log = dir + "/audit.jsonl";
        head = log + ".head";
        cfg = env().root + "/" + name + ".conf";
        sh("rm -rf '" + dir + "' && mkdir -m 0700 '" + dir +
           "' && sed 's|^audit_log = .*|audit_log = " + log + "|' '" + env().cfg + "' > '" + cfg +
           "' && chmod 0644 '" + cfg + "'");
    }
    static void sh(const std::string& cmd) {
        auto r = run_cmd({"sh", "-c", cmd});
        if (r.status != 0) fail_msg("sh -c %s: exit %d: %s", cmd.c_str(), r.status, r.err.c_str());
    }
    CmdResult ctl(const std::vector<std::string>& args,
                  const std::vector<std::string>& env_ = {}) const {
        std::vector<std::string> argv = {env().vendorctl, "--config", cfg};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_cmd(argv, env_);
    }
    void event(const std::string& account) const {
        auto r = ctl({"unlock", account});
        if (r.status != 0) fail_msg("vendorctl unlock: exit %d: %s", r.status, r.err.c_str());
    }
    CmdResult verify(bool json = false) const {
        return json ? ctl({"--json", "log", "--verify"}) : ctl({"log", "--verify"});
    }
};

#define assert_verify(sb, want_status, want_text)                                                  \
    do {                                                                                           \
        auto r_ = (sb).verify();                                                                   \
        if (r_.status != (want_status) || r_.out.find(want_text) == std::string::npos)             \
            fail_msg("log --verify: exit %d (want %d), no '%s' in: %s%s", r_.status, want_status,  \
                     want_text, r_.out.c_str(), r_.err.c_str());                                   \
    } while (0)

void test_audit_tail_loss_detected(void**) {
    // Item 7: before, each of these said "chain intact".
    NEED_ROOT();
    add_account("aud1");
    AuditSandbox sb("audit_tail");
    for (int i = 0; i < 4; ++i) sb.event("aud1");
    assert_verify(sb, 0, "4 lines, chain intact");
    auto lines = audit_lines(sb.log);
    assert_int_equal(lines.size(), 4);
    if (lines[3].find("\"seq\":4,") == std::string::npos)
        fail_msg("no seq 4: %s", lines[3].c_str());
    struct stat st {};
    assert_int_equal(::stat(sb.head.c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    // Last line deleted.
    AuditSandbox::sh("cp '" + sb.log + "' '" + sb.dir + "/saved' && sed -i '$d' '" + sb.log + "'");
    assert_verify(sb, 1, "line(s) were removed");
    // Last line edited.
    AuditSandbox::sh("cp '" + sb.dir + "/saved' '" + sb.log + "' && sed -i '$s/aud1/aud2/' '" +
                     sb.log + "'");
    assert_verify(sb, 1, "edited");
    // Truncated to 0, deleted, rotated by logrotate.
    AuditSandbox::sh(": > '" + sb.log + "'");
    assert_verify(sb, 1, "empty or missing");
    AuditSandbox::sh("rm '" + sb.log + "'");
    assert_verify(sb, 1, "empty or missing");
    AuditSandbox::sh("cp '" + sb.dir + "/saved' '" + sb.log + "' && mv '" + sb.log + "' '" +
                     sb.log + ".1'");
    sb.event("aud1");  // the next event after the rotation
    assert_verify(sb, 1, "continues an earlier log");
    // Every break listed in --json.
    auto r = sb.verify(true);
    assert_int_equal(r.status, 1);
    if (r.out.find("\"breaks\"") == std::string::npos ||
        r.out.find("\"intact\": false") == std::string::npos)
        fail_msg("log --verify --json: %s", r.out.c_str());
    // The upgrade case: a log without head record is a warning, then fine.
    AuditSandbox fresh("audit_upgrade");
    fresh.event("aud1");
    AuditSandbox::sh("rm '" + fresh.head + "'");
    assert_verify(fresh, 0, "warning: no head record");
    fresh.event("aud1");
    assert_verify(fresh, 0, "2 lines, chain intact");
}

void test_audit_torn_tail_repaired(void**) {
    // Item 6: a torn last line used to stop verify for ever and block prune.
    NEED_ROOT();
    add_account("aud2");
    AuditSandbox sb("audit_torn");
    for (int i = 0; i < 3; ++i) sb.event("aud2");
    AuditSandbox::sh("printf '%s' '{\"ts\":\"2026-11-28T07:39:07.000Z\",\"host\":\"x\",\"ev' >> '" +
                     sb.log + "'");
    assert_verify(sb, 1, "line 4: last line is not terminated");
    sb.event("aud2");
    assert_verify(sb, 0, "5 lines, chain intact");
    auto lines = audit_lines(sb.log);
    if (lines[3].find("\"event\":\"log_repaired\"") == std::string::npos ||
        lines[3].find("\"dropped_bytes\":47") == std::string::npos)
        fail_msg("no log_repaired line: %s", lines[3].c_str());
    auto r = sb.ctl({"prune", "--dry-run"});
    if (r.status != 0)
        fail_msg("prune --dry-run after a repair: exit %d: %s", r.status, r.err.c_str());
    // Two edits: both reported, verify carries on.
    AuditSandbox::sh("sed -i '2s/aud2/aud3/;4s/repaired/Repaired/' '" + sb.log + "'");
    r = sb.verify();
    if (r.status != 1 || r.out.find("line 3:") == std::string::npos ||
        r.out.find("line 5:") == std::string::npos || r.out.find("2 break(s)") == std::string::npos)
        fail_msg("log --verify: exit %d: %s", r.status, r.out.c_str());
}

void test_prune_wrong_clock_refused(void**) {
    // Item 8: with the clock a year ahead the daily timer emptied the log.
    NEED_ROOT();
    add_account("aud3");
    AuditSandbox sb("audit_prune");
    for (int i = 0; i < 3; ++i) sb.event("aud3");
    std::string lib;
    for (const char* l : {"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                          "/usr/lib/faketime/libfaketime.so.1"})
        if (::access(l, R_OK) == 0) lib = l;
    if (lib.empty()) {
        skip();  // libfaketime not installed
        return;
    }
    std::string asan = asan_runtime();
    auto at = [&](const char* offset) -> std::vector<std::string> {
        return {"LD_PRELOAD=" + (asan.empty() ? "" : asan + " ") + lib,
                std::string("FAKETIME=") + offset, "FAKETIME_DONT_FAKE_MONOTONIC=1"};
    };
    auto before = audit_lines(sb.log);
    auto r = sb.ctl({"prune"}, at("+365d"));
    if (r.status != 1 || r.err.find("every line") == std::string::npos)
        fail_msg("prune a year ahead: exit %d: %s%s", r.status, r.out.c_str(), r.err.c_str());
    r = sb.ctl({"prune"}, at("-1d"));
    if (r.status != 1 || r.err.find("before the newest line") == std::string::npos)
        fail_msg("prune a day behind: exit %d: %s%s", r.status, r.out.c_str(), r.err.c_str());
    assert_true(audit_lines(sb.log) == before);
    assert_verify(sb, 0, "3 lines, chain intact");
    // Today: nothing to drop, fine.
    r = sb.ctl({"prune"});
    if (r.status != 0) fail_msg("prune: exit %d: %s", r.status, r.err.c_str());
    // --force does drop everything, and the result verifies (a year later).
    r = sb.ctl({"prune", "--force"}, at("+365d"));
    if (r.status != 0) fail_msg("prune --force: exit %d: %s", r.status, r.err.c_str());
    auto after = audit_lines(sb.log);
    assert_int_equal(after.size(), 1);
    auto v = sb.ctl({"log", "--verify"}, at("+365d"));
    if (v.status != 0) fail_msg("verify after prune --force: exit %d: %s", v.status, v.out.c_str());
}

int run_all() {
    // PAM_TEST_FILTER=test_key_view_concurrent make pam: one test (or a glob).
    if (const char* f = std::getenv("PAM_TEST_FILTER")) cmocka_set_test_filter(f);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needed_libraries),
        cmocka_unit_test(test_exports_only_pam_sm),
        cmocka_unit_test(test_module_imports_no_curl_dlopen_abort),
        cmocka_unit_test(test_nonvendor_root_ignored),
        cmocka_unit_test(test_nonvendor_unknown_user_ignored),
        cmocka_unit_test(test_source_unknown_hostname_rhost),
        cmocka_unit_test(test_auth_info_invalid),
        cmocka_unit_test(test_source_unknown_empty_rhost),
        cmocka_unit_test(test_source_null_rhost),
        cmocka_unit_test(test_source_unknown_malformed_ssh_connection),
        cmocka_unit_test(test_source_unknown_ssh_connection_disagrees),
        cmocka_unit_test(test_source_ssh_connection_needs_rhost),
        cmocka_unit_test(test_source_not_allowed),
        cmocka_unit_test(test_source_allowed_forms),
        cmocka_unit_test_teardown(test_source_any_needs_flag, teardown_any_entry),
        cmocka_unit_test(test_key_file_refused),
        cmocka_unit_test(test_key_view_concurrent),
        cmocka_unit_test(test_key_view_activate_stalled),
        cmocka_unit_test(test_host_not_allowed),
        cmocka_unit_test(test_host_allowed_by_pattern),
        cmocka_unit_test(test_not_activated),
        cmocka_unit_test(test_grant_expired),
        cmocka_unit_test(test_grant_not_yet_valid),
        cmocka_unit_test(test_deactivate),
        cmocka_unit_test(test_entry_changed_between_phases),
        cmocka_unit_test(test_config_changed_between_phases),
        cmocka_unit_test(test_outside_hours),
        cmocka_unit_test(test_inside_hours),
        cmocka_unit_test_teardown(test_privileged_group, teardown_root_entry),
        cmocka_unit_test_teardown(test_privileged_uid0, teardown_root_entry),
        cmocka_unit_test_teardown(test_alias_of_existing_account, teardown_ext),
        cmocka_unit_test_teardown(test_broken_config_denies_vendors, teardown_ext),
        cmocka_unit_test_teardown(test_reindex_refuses_collisions, teardown_ext),
        cmocka_unit_test(test_vendor_group_unresolvable),
        cmocka_unit_test(test_vendor_group_member_list),
        cmocka_unit_test(test_salvage_never_denies_admins),
        cmocka_unit_test_teardown(test_lookup_faults_never_free_a_vendor, teardown_fault),
        cmocka_unit_test(test_lockout),
        cmocka_unit_test(test_otp_required),
        cmocka_unit_test(test_no_auth_factor),
        cmocka_unit_test(test_key_pinned),
        cmocka_unit_test(test_key_required),
        cmocka_unit_test(test_config_error_unknown_key),
        cmocka_unit_test(test_config_error_unknown_argument),
        cmocka_unit_test_teardown(test_registry_error_corrupt_json, teardown_broken_entries),
        cmocka_unit_test_teardown(test_registry_error_insecure_mode, teardown_broken_entries),
        cmocka_unit_test_teardown(test_registry_error_symlink, teardown_broken_entries),
        cmocka_unit_test_teardown(test_registry_error_foreign_owner, teardown_broken_entries),
        cmocka_unit_test(test_registry_dir_insecure),
        cmocka_unit_test_teardown(test_root_ignored_with_broken_registry, teardown_broken_entries),
        cmocka_unit_test(test_no_entry),
        cmocka_unit_test(test_state_error),
        cmocka_unit_test(test_fleet_backend_refused),
        cmocka_unit_test(test_unwritable_audit_log_denies),
        cmocka_unit_test(test_full_login_grant_otp),
        cmocka_unit_test(test_session_closed_elsewhere),
        cmocka_unit_test(test_vendor_setcred_and_chauthtok),
        cmocka_unit_test(test_code_replay),
        cmocka_unit_test(test_code_with_spaces_and_dashes),
        cmocka_unit_test(test_new_code_replaces_old),
        cmocka_unit_test(test_code_expired),
        cmocka_unit_test(test_conversation_errors),
        cmocka_unit_test(test_hostile_code_replies),
        cmocka_unit_test(test_hostile_user_names),
        cmocka_unit_test(test_hostile_rhost),
        cmocka_unit_test(test_concurrent_code_use),
        cmocka_unit_test(test_race_losers_keep_winner),
        cmocka_unit_test(test_totp),
        cmocka_unit_test_teardown(test_privileged_group_ad_names, teardown_root_entry),
        cmocka_unit_test_teardown(test_registry_strict_entries, teardown_strict_entries),
        cmocka_unit_test_teardown(test_vendorctl_refuses_bad_input, teardown_strict_entries),
        cmocka_unit_test_teardown(test_json_fields_null, teardown_strict_entries),
        cmocka_unit_test(test_status_agrees_with_module),
        cmocka_unit_test(test_config_check_vendor_group),
        cmocka_unit_test(test_deaf_syslog),
        cmocka_unit_test(test_audit_chain_intact),
        cmocka_unit_test(test_audit_tail_loss_detected),
        cmocka_unit_test(test_audit_torn_tail_repaired),
        cmocka_unit_test(test_prune_wrong_clock_refused),
    };
    return cmocka_run_group_tests_name("pam_stack", tests, nullptr, nullptr);
}

}  // namespace

int main(int argc, char** argv) { return main_with(argc, argv, run_all); }
