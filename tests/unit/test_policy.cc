// policy.h: the one decision used by auth, account and `vendorctl explain`.
// Gate order (policy.cc): source, host scope, pinned keys, grant, hours,
// privileged group, code-factor lockout, code.
#include "policy.h"

#include "util.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

constexpr std::int64_t kMon0900Z = 1767571200 + 9 * 3600;  // 2026-01-05, a Monday; 10:00 in Paris

TimeZone paris() { return *TimeZone::from_posix("CET-1CEST,M3.5.0,M10.5.0/3", "Europe/Paris"); }

Entry base_entry() {
    Entry e;
    e.name = "acme";
    e.vendor = "ACME";
    e.from = {*parse_cidr("192.0.2.0/24"), *parse_cidr("2001:db8::/32")};
    e.access = kAccessGrant;
    e.uid = 2000300001;
    return e;
}

Source remote(const char* ip) {
    Source s;
    s.kind = Source::remote;
    s.addr = parse_ip(ip);
    if (!s.addr) fail_msg("bad test address %s", ip);
    s.text = s.addr->str();
    return s;
}

Facts base_facts() {
    Facts f;
    f.source = remote("192.0.2.10");
    f.host = "web-01";
    f.now = kMon0900Z;
    Grant g;
    g.account = "acme";
    g.not_before = kMon0900Z - 3600;
    g.not_after = kMon0900Z + 3600;
    f.grant = g;
    return f;
}

void expect(const Entry& e, const Facts& f, Reason want, const char* what) {
    auto v = decide(e, f);
    if (v.reason != want || v.allow != (want == Reason::ok))
        fail_msg("%s: got %s (allow=%d, %s), expected %s", what, reason_name(v.reason), v.allow,
                 v.detail.c_str(), reason_name(want));
}

void allowed_baseline(void**) {
    auto v = decide(base_entry(), base_facts());
    assert_true(v.allow);
    assert_int_equal(v.reason, Reason::ok);
    assert_str_eq(reason_name(v.reason), "ok");
}

void source_gate(void**) {
    auto e = base_entry();
    auto f = base_facts();
    f.source = Source{};  // unknown
    f.source.text = "pacs.example.org";
    expect(e, f, Reason::source_unknown, "hostname source");
    f.source = Source{};
    f.source.kind = Source::local;
    f.source.text = "local";
    expect(e, f, Reason::source_unknown, "local login, not allowed");
    e.allow_local = true;
    expect(e, f, Reason::ok, "local login, allowed");
    e.allow_local = false;
    f.source = remote("198.51.100.1");
    expect(e, f, Reason::source_not_allowed, "address outside 'from'");
    f.source = remote("192.0.3.1");
    expect(e, f, Reason::source_not_allowed, "next /24");
    f.source = remote("2001:db8:1::7");
    expect(e, f, Reason::ok, "IPv6 inside");
    f.source = remote("2001:db9::7");
    expect(e, f, Reason::source_not_allowed, "IPv6 outside");
    f.source = remote("::ffff:192.0.2.200");
    expect(e, f, Reason::ok, "IPv4-mapped inside");
    f.source.kind = Source::remote;
    f.source.addr.reset();  // remote without an address: never trusted
    expect(e, f, Reason::source_not_allowed, "remote without address");
    // A local-only entry (no 'from') refuses every remote source.
    e.from.clear();
    e.allow_local = true;
    f.source = remote("192.0.2.10");
    expect(e, f, Reason::source_not_allowed, "local-only entry, remote login");
}

void host_gate(void**) {
    auto e = base_entry();
    auto f = base_facts();
    e.hosts = {"db-*", "pacs"};
    expect(e, f, Reason::host_not_allowed, "host outside scope");
    f.host = "DB-02";
    expect(e, f, Reason::ok, "host glob, case-insensitive");
    f.host = "pacs";
    expect(e, f, Reason::ok, "host exact");
    f.host = "";
    expect(e, f, Reason::host_not_allowed, "empty host name");
    e.hosts = {"*"};
    expect(e, f, Reason::ok, "any host");
}

std::string type_and_blob(const std::string& line) {
    auto sp = line.find(' ');
    return line.substr(0, line.find(' ', sp + 1));
}

void key_gate(void**) {
    auto ed = std::string(trim(slurp(data_path("keys/ed25519.pub"))));
    auto ec = std::string(trim(slurp(data_path("keys/ecdsa256.pub"))));
    auto e = base_entry();
    e.keys = {ed};
    auto f = base_facts();
    f.publickeys = {type_and_blob(ed)};
    expect(e, f, Reason::ok, "pinned key");
    assert_true(key_pinned(e, type_and_blob(ed)));
    assert_false(key_pinned(e, type_and_blob(ec)));
    assert_false(key_pinned(e, type_and_blob(ed).substr(0, 40)));
    f.publickeys = {type_and_blob(ec)};
    expect(e, f, Reason::key_not_pinned, "other key");
    f.publickeys = {type_and_blob(ed), type_and_blob(ec)};
    expect(e, f, Reason::key_not_pinned, "one of two keys not pinned");
    f.publickeys.clear();
    f.via_pam_auth = true;
    expect(e, f, Reason::key_required, "keyboard-interactive alone, account has keys");
    f.via_pam_auth = false;
    expect(e, f, Reason::ok, "account phase without auth info");
    e.keys.clear();
    f.via_pam_auth = true;
    expect(e, f, Reason::ok, "no pinned keys: PAM auth is enough");
    f.publickeys = {type_and_blob(ec)};
    expect(e, f, Reason::key_not_pinned, "key used but none pinned");
}

void grant_gate(void**) {
    auto e = base_entry();
    auto f = base_facts();
    f.grant.reset();
    expect(e, f, Reason::not_activated, "no grant");
    f = base_facts();
    f.grant->not_before = f.now + 60;
    expect(e, f, Reason::not_activated, "grant starts in the future");
    f.grant->not_before = f.now;
    expect(e, f, Reason::ok, "grant starts now");
    f.grant->not_after = f.now;
    expect(e, f, Reason::grant_expired, "grant ends now");
    f.grant->not_before = f.now - 7200;
    f.grant->not_after = f.now - 3600;
    auto v = decide(e, f);
    assert_int_equal(v.reason, Reason::grant_expired);
    assert_true(contains(v.detail, "1h"));
    f.grant->not_after = f.now + 1;
    expect(e, f, Reason::ok, "last second of the grant");
    // Without the grant gate, no grant is needed.
    e.access = kAccessOtp;
    f.grant.reset();
    f.otp_done = true;
    expect(e, f, Reason::ok, "otp-only account");
}

void hours_gate(void**) {
    auto tz = paris();
    auto e = base_entry();
    e.access = kAccessGrant | kAccessHours;
    e.hours = *parse_schedule("Mon-Fri 08:00-18:00");
    auto f = base_facts();
    f.tz = &tz;
    expect(e, f, Reason::ok, "Monday 10:00 Paris");
    f.now = kMon0900Z - 90 * 60;  // 07:30Z = 08:30 in Paris, 07:30 in UTC
    f.grant->not_before = f.now - 60;
    expect(e, f, Reason::ok, "08:30 Paris");
    auto utc = TimeZone::utc();
    f.tz = &utc;
    expect(e, f, Reason::outside_hours, "07:30 UTC");
    f.tz = &tz;
    f.now = kMon0900Z + 8 * 3600 + 1800;  // 17:30Z = 18:30 Paris
    f.grant->not_after = f.now + 60;
    expect(e, f, Reason::outside_hours, "18:30 Paris");
    f.now = kMon0900Z + 8 * 3600 - 60;  // 16:59Z = 17:59 Paris
    expect(e, f, Reason::ok, "17:59 Paris");
    f.tz = nullptr;
    expect(e, f, Reason::outside_hours, "no zone");
    f.tz = &tz;
    e.hours.reset();
    expect(e, f, Reason::outside_hours, "hours gate without schedule");
    // A schedule without the hours gate is not enforced.
    e.access = kAccessGrant;
    e.hours = *parse_schedule("Sat 08:00-09:00");
    expect(e, f, Reason::ok, "schedule shown but not a gate");
}

void privilege_gate(void**) {
    auto e = base_entry();
    auto f = base_facts();
    f.privileged = true;
    f.privileged_group = "sudo";
    auto v = decide(e, f);
    assert_false(v.allow);
    assert_int_equal(v.reason, Reason::privileged_group);
    assert_true(contains(v.detail, "sudo"));
    e.access = kAccessOtp;  // every gate passed, still refused
    f.otp_done = true;
    expect(e, f, Reason::privileged_group, "privileged with otp done");
}

void code_gates(void**) {
    auto e = base_entry();
    e.access = kAccessGrant | kAccessOtp;
    auto f = base_facts();
    expect(e, f, Reason::otp_required, "no code yet");
    f.otp_done = true;
    expect(e, f, Reason::ok, "code accepted");
    f.failures.locked_until = f.now + 600;
    f.failures.count = 0;
    // Locked after this handle's code was accepted (the losers of a race
    // with it): the winner is not locked out.
    expect(e, f, Reason::ok, "code accepted, then locked by others");
    f.otp_done = false;
    auto v = decide(e, f);
    assert_int_equal(v.reason, Reason::locked_out);
    assert_true(contains(v.detail, "10m"));
    expect(e, f, Reason::locked_out, "locked, no code");
    f.failures.locked_until = f.now;
    expect(e, f, Reason::otp_required, "lock just ended");
    f.failures.count = 4;  // failures below the threshold do not deny
    f.otp_done = true;
    expect(e, f, Reason::ok, "failures, not locked");
    // The lockout is the code factor's: a grant-only account is not locked out.
    e.access = kAccessGrant;
    f.failures.locked_until = f.now + 600;
    f.otp_done = false;
    expect(e, f, Reason::ok, "grant-only account, code factor locked");
}

void gate_order(void**) {
    auto tz = paris();
    auto e = base_entry();
    e.access = kAccessGrant | kAccessOtp | kAccessHours;
    e.hours = *parse_schedule("Sat 08:00-09:00");  // closed on Monday
    e.hosts = {"db-*"};
    e.keys = {std::string(trim(slurp(data_path("keys/ed25519.pub"))))};
    Facts f = base_facts();
    f.tz = &tz;
    f.source = Source{};
    f.grant.reset();
    f.privileged = true;
    f.failures.locked_until = f.now + 60;
    f.publickeys = {type_and_blob(std::string(trim(slurp(data_path("keys/ecdsa256.pub")))))};
    // Everything is wrong: each fix reveals the next gate.
    expect(e, f, Reason::source_unknown, "order 1");
    f.source = remote("198.51.100.1");
    expect(e, f, Reason::source_not_allowed, "order 2");
    f.source = remote("192.0.2.10");
    expect(e, f, Reason::host_not_allowed, "order 3");
    e.hosts = {"*"};
    expect(e, f, Reason::key_not_pinned, "order 4");
    f.publickeys = {type_and_blob(e.keys[0])};
    expect(e, f, Reason::not_activated, "order 5");
    f.grant = Grant{"acme", f.now - 7200, f.now - 3600, "", "", ""};
    expect(e, f, Reason::grant_expired, "order 6");
    f.grant->not_after = f.now + 3600;
    expect(e, f, Reason::outside_hours, "order 7");
    e.hours = *parse_schedule("* 00:00-24:00");
    expect(e, f, Reason::privileged_group, "order 8");
    f.privileged = false;
    expect(e, f, Reason::locked_out, "order 9");
    f.failures.locked_until = 0;
    expect(e, f, Reason::otp_required, "order 10");
    f.otp_done = true;
    expect(e, f, Reason::ok, "order 11");
}

void detail_escaped(void**) {
    auto f = base_facts();
    f.source = Source{};
    f.source.text = "evil\nhost \"x\"\x1b[2J";
    auto v = decide(base_entry(), f);
    assert_int_equal(v.reason, Reason::source_unknown);
    for (char c : v.detail)
        if (static_cast<unsigned char>(c) < 0x20 || c == '"')
            fail_msg("raw character in detail: %s", v.detail.c_str());
    f = base_facts();
    f.host = std::string(10000, 'h') + "\n";
    auto e = base_entry();
    e.hosts = {"db"};
    v = decide(e, f);
    assert_int_equal(v.reason, Reason::host_not_allowed);
    assert_true(v.detail.size() < 300);
    assert_false(contains(v.detail, "\n"));
}

void source_resolution(void**) {
    // SSH_CONNECTION without PAM_RHOST (su with an imported environment):
    // not a remote source, and not a local login either.
    auto s = resolve_source("192.0.2.10 52000 192.0.2.1 22", nullptr);
    assert_int_equal(s.kind, Source::unknown);
    assert_false(s.addr.has_value());
    assert_str_eq(s.text, "192.0.2.10 (no rhost)");
    s = resolve_source("192.0.2.10 52000 192.0.2.1 22", "");
    assert_int_equal(s.kind, Source::unknown);
    // SSH_CONNECTION and rhost agreeing (same address, other spelling).
    s = resolve_source("192.0.2.10 52000 192.0.2.1 22", "192.0.2.10");
    assert_int_equal(s.kind, Source::remote);
    assert_str_eq(s.addr->str(), "192.0.2.10");
    assert_str_eq(s.text, "192.0.2.10");
    s = resolve_source("::ffff:192.0.2.10 52000 ::ffff:192.0.2.1 22", "192.0.2.10");
    assert_int_equal(s.kind, Source::remote);
    assert_str_eq(s.text, "192.0.2.10");
    s = resolve_source("2001:db8::5 52000 2001:db8::1 22", "2001:DB8:0::5");
    assert_int_equal(s.kind, Source::remote);
    assert_str_eq(s.text, "2001:db8::5");
    // Under UseDNS yes rhost is a name: SSH_CONNECTION alone is not trusted.
    s = resolve_source("192.0.2.10 52000 192.0.2.1 22", "pacs.example.org");
    assert_int_equal(s.kind, Source::unknown);
    assert_false(s.addr.has_value());
    assert_str_eq(s.text, "192.0.2.10 (rhost pacs.example.org)");
    // A literal rhost that disagrees: someone other than sshd set one of them.
    s = resolve_source("192.0.2.10 52000 192.0.2.1 22", "192.0.2.11");
    assert_int_equal(s.kind, Source::unknown);
    assert_false(s.addr.has_value());
    s = resolve_source("2001:db8::5 1 2001:db8::1 22", "2001:db8::6");
    assert_int_equal(s.kind, Source::unknown);
    // Malformed SSH_CONNECTION: unknown, even with a good rhost.
    for (const char* sc : {"garbage 1 2 3", " 192.0.2.10 1 2 3", "192.0.2.010 1 2 3",
                           "fe80::1%eth0 1 2 3", "[2001:db8::5]:52000", "192.0.2.10\t52000"})
        if (resolve_source(sc, "192.0.2.10").kind != Source::unknown)
            fail_msg("'%s' should be unknown", sc);
    // Without SSH_CONNECTION: a literal rhost, else unknown; nothing at all is local.
    s = resolve_source(nullptr, "192.0.2.10");
    assert_int_equal(s.kind, Source::remote);
    assert_str_eq(s.addr->str(), "192.0.2.10");
    s = resolve_source(nullptr, "2001:db8::5");
    assert_int_equal(s.kind, Source::remote);
    s = resolve_source("", "192.0.2.10");
    assert_int_equal(s.kind, Source::remote);
    s = resolve_source(nullptr, "pacs.example.org");
    assert_int_equal(s.kind, Source::unknown);
    assert_str_eq(s.text, "pacs.example.org");
    for (const char* rh :
         {"192.0.2.10 ", "192.0.2.10:22", "[::1]", "fe80::1%eth0", "localhost", "-"})
        if (resolve_source(nullptr, rh).kind != Source::unknown)
            fail_msg("rhost '%s' should be unknown", rh);
    assert_int_equal(resolve_source(nullptr, nullptr).kind, Source::local);
    assert_int_equal(resolve_source(nullptr, "").kind, Source::local);
    assert_int_equal(resolve_source("", nullptr).kind, Source::local);
    assert_int_equal(resolve_source("", "").kind, Source::local);
    assert_str_eq(resolve_source(nullptr, nullptr).text, "local");
    // Oversize values are cut, not trusted.
    std::string longv = "192.0.2.10" + std::string(5000, '0');
    assert_int_equal(resolve_source(longv.c_str(), nullptr).kind, Source::unknown);
    assert_int_equal(resolve_source(nullptr, longv.c_str()).kind, Source::unknown);
}

void auth_info(void**) {
    auto ed = std::string(trim(slurp(data_path("keys/ed25519.pub"))));
    auto tb = type_and_blob(ed);
    auto a = parse_auth_info(("publickey " + tb + "\nkeyboard-interactive/pam\n").c_str());
    assert_true(a.ok());
    assert_str_eq(a->methods, "publickey,keyboard-interactive");
    assert_int_equal(a->publickeys.size(), 1);
    assert_str_eq(a->publickeys[0], tb);
    a = parse_auth_info(("publickey " + ed + "\npublickey " + tb + "\n").c_str());
    assert_true(a.ok());
    assert_str_eq(a->methods, "publickey");
    assert_int_equal(a->publickeys.size(), 2);
    assert_str_eq(a->publickeys[0], tb);  // the comment is not part of the key
    for (const char* none : {static_cast<const char*>(nullptr), "", "\n"}) {
        a = parse_auth_info(none);
        assert_true(a.ok());
        assert_str_eq(a->methods, "");
        assert_int_equal(a->publickeys.size(), 0);
    }
    // Certificates: TYPE BASE64 then more fields; other methods may carry info.
    a = parse_auth_info("publickey ssh-ed25519-cert-v01@openssh.com AAAA ID x (serial 1) CA k\n"
                        "hostbased ssh-ed25519 AAAA host.example\n");
    assert_true(a.ok());
    assert_str_eq(a->methods, "publickey,hostbased");
    assert_str_eq(a->publickeys[0], "ssh-ed25519-cert-v01@openssh.com AAAA");
    // Any line of another shape is an error, not skipped: a skipped
    // "publickey" line would hide its key from the pinned-key gate.
    const std::string good = "publickey " + tb + "\n";
    for (const std::string& bad :
         {std::string("Bad!Method x\n"), good + "\n   \npassword\n", std::string("publickey\n"),
          std::string("publickey "), "publickey " + tb.substr(0, tb.find(' ')),
          std::string("publickey ssh-ed25519 AAAA*\n"), good + "keyboard-interactive/\n",
          good + "keyboard-interactive/p!m", good + "Publickey " + tb, good + "\tpassword",
          good + "password\r\n", good + "password \x01", good + "pass\xc3\xa9word",
          std::string(40, 'a') + "\n", good + "/pam\n"}) {
        a = parse_auth_info(bad.c_str());
        if (a.ok()) fail_msg("'%s' was accepted", bad.c_str());
        assert_int_equal(a.error().code, Code::invalid);
    }
    std::string huge;
    while (huge.size() <= 65536) huge += good;
    a = parse_auth_info(huge.c_str());
    assert_false(a.ok());
}

void reason_names(void**) {
    std::set<std::string> seen;
    int last = static_cast<int>(Reason::internal_error);
    for (int i = 0; i <= last; ++i) {
        auto r = static_cast<Reason>(i);
        std::string n = reason_name(r);
        if (n.empty()) fail_msg("reason %d has no name", i);
        if (!seen.insert(n).second) fail_msg("reason %d: name '%s' used twice", i, n.c_str());
        for (char c : n)
            if (!((c >= 'a' && c <= 'z') || c == '_'))
                fail_msg("reason name '%s' is not a log token", n.c_str());
    }
    assert_int_equal(seen.size(), static_cast<std::size_t>(last + 1));
    assert_str_eq(reason_name(Reason::source_not_allowed), "source_not_allowed");
    assert_str_eq(reason_name(Reason::not_activated), "not_activated");
    assert_str_eq(reason_name(Reason::internal_error), "internal_error");
    // The table behind reason_name() and `vendorctl reasons`: one row per
    // reason, in enum order, each with a meaning.
    auto table = reasons();
    assert_int_equal(table.size(), static_cast<std::size_t>(last + 1));
    for (std::size_t i = 0; i < table.size(); ++i) {
        assert_int_equal(static_cast<int>(table[i].reason), static_cast<int>(i));
        assert_str_eq(table[i].name, reason_name(table[i].reason));
        assert_true(table[i].meaning && *table[i].meaning);
    }
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(allowed_baseline),  cmocka_unit_test(source_gate),
        cmocka_unit_test(host_gate),         cmocka_unit_test(key_gate),
        cmocka_unit_test(grant_gate),        cmocka_unit_test(hours_gate),
        cmocka_unit_test(privilege_gate),    cmocka_unit_test(code_gates),
        cmocka_unit_test(gate_order),        cmocka_unit_test(detail_escaped),
        cmocka_unit_test(source_resolution), cmocka_unit_test(auth_info),
        cmocka_unit_test(reason_names),
    };
    return RUN_GROUP("policy", tests);
}
