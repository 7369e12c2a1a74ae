// policy.h: the one decision used by auth, account, session, the key view
// and `vendorctl explain`. Gate order (policy.cc): source, host scope, pinned
// keys, grant, hours, privileged group, code-factor lockout, code (auth: then
// no_auth_factor); session: grant; keys: pinned key, source block, grant, hours.
#include "policy.h"

#include <cstdint>

#include "util.h"

#include "../../pam_vendor/pam_codes.h"

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
    expect(e, f, Reason::config_error, "no zone: a configuration error, not outside hours");
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

void expect_phase(Phase p, const Entry& e, const Facts& f, Reason want, Next next,
                  const char* what) {
    auto v = decide(p, e, f);
    if (v.reason != want || v.allow != (want == Reason::ok) || next_step(p, v) != next)
        fail_msg("%s (%s): got %s (allow=%d, %s)", what, phase_name(p), reason_name(v.reason),
                 v.allow, v.detail.c_str());
}

void auth_phase(void**) {
    auto e = base_entry();
    auto f = base_facts();
    f.via_pam_auth = true;
    // Every gate open and no code gate: PAM auth is no way in.
    expect_phase(Phase::auth, e, f, Reason::no_auth_factor, Next::deny, "grant-only");
    expect_phase(Phase::account, e, f, Reason::ok, Next::allow, "grant-only account");
    e.access = kAccessGrant | kAccessOtp;
    expect_phase(Phase::auth, e, f, Reason::otp_required, Next::ask_code, "code missing");
    expect_phase(Phase::account, e, f, Reason::otp_required, Next::deny, "account, no code");
    auto v = decide_after_code(e, f);
    assert_true(v.allow);
    // The accepted code reset the failure count that had locked the factor.
    f.failures.locked_until = f.now + 600;
    expect_phase(Phase::auth, e, f, Reason::locked_out, Next::deny, "locked before the prompt");
    assert_true(decide_after_code(e, f).allow);
    f.failures.locked_until = 0;
    // A gate before the code gate is final: no prompt.
    f.source = remote("198.51.100.1");
    expect_phase(Phase::auth, e, f, Reason::source_not_allowed, Next::deny, "source");
    f = base_facts();
    // An account with pinned keys: auth without a key first is key_required
    // (auth is keyboard-interactive by definition).
    e.keys = {std::string(trim(slurp(data_path("keys/ed25519.pub"))))};
    expect_phase(Phase::auth, e, f, Reason::key_required, Next::deny, "no key");
    f.publickeys = {type_and_blob(e.keys[0])};
    expect_phase(Phase::auth, e, f, Reason::otp_required, Next::ask_code, "key, then code");
    f.publickeys = {type_and_blob(std::string(trim(slurp(data_path("keys/ecdsa256.pub")))))};
    expect_phase(Phase::auth, e, f, Reason::key_not_pinned, Next::deny, "other key");
}

void session_phase(void**) {
    auto e = base_entry();
    auto f = base_facts();
    auto v = decide(Phase::session, e, f);
    assert_true(v.allow);
    // The session ends with the activation: its runtime limit is an output.
    assert_int_equal(v.runtime_max_s, 3600);
    assert_true(contains(v.detail, "3600s"));
    f.grant->not_after = f.now;
    expect_phase(Phase::session, e, f, Reason::grant_expired, Next::deny, "grant ended");
    f.grant.reset();
    expect_phase(Phase::session, e, f, Reason::not_activated, Next::deny, "no grant");
    f = base_facts();
    f.grant->not_before = f.now + 10;
    expect_phase(Phase::session, e, f, Reason::not_activated, Next::deny, "grant not begun");
    // No grant gate: no bound. The other gates were auth's and account's.
    e.access = kAccessOtp;
    f = base_facts();
    f.source = Source{};
    v = decide(Phase::session, e, f);
    assert_true(v.allow);
    assert_int_equal(v.runtime_max_s, 0);
}

void keys_phase(void**) {
    auto tz = paris();
    auto e = base_entry();
    auto f = base_facts();
    f.source = Source{};  // sshd gives the key command no address
    f.host = "elsewhere";
    f.privileged = true;  // PAM's guard, after the key
    expect_phase(Phase::keys, e, f, Reason::no_pinned_key, Next::deny, "no key");
    e.keys = {std::string(trim(slurp(data_path("keys/ed25519.pub"))))};
    expect_phase(Phase::keys, e, f, Reason::ok, Next::allow, "key, grant");
    e.from.clear();
    expect_phase(Phase::keys, e, f, Reason::source_not_allowed, Next::deny, "no source block");
    e = base_entry();
    e.keys = {std::string(trim(slurp(data_path("keys/ed25519.pub"))))};
    f.grant.reset();
    expect_phase(Phase::keys, e, f, Reason::not_activated, Next::deny, "no grant");
    f = base_facts();
    f.grant->not_after = f.now;
    expect_phase(Phase::keys, e, f, Reason::grant_expired, Next::deny, "grant ended");
    f = base_facts();
    e.access = kAccessGrant | kAccessHours;
    e.hours = *parse_schedule("Sat 08:00-09:00");
    f.tz = &tz;
    expect_phase(Phase::keys, e, f, Reason::outside_hours, Next::deny, "closed");
    f.tz = nullptr;
    expect_phase(Phase::keys, e, f, Reason::config_error, Next::deny, "no zone");
    e.access = kAccessOtp;  // the code is PAM's
    expect_phase(Phase::keys, e, f, Reason::ok, Next::allow, "code account");
}

void phase_names_and_codes(void**) {
    using vendor::pam::pam_code;
    assert_str_eq(phase_name(Phase::auth), "auth");
    assert_str_eq(phase_name(Phase::account), "account");
    assert_str_eq(phase_name(Phase::session), "session");
    assert_str_eq(phase_name(Phase::keys), "keys");
    for (Phase p : {Phase::auth, Phase::account, Phase::session, Phase::keys})
        assert_int_equal(pam_code(p, Next::allow), PAM_SUCCESS);
    assert_int_equal(pam_code(Phase::auth, Next::deny), PAM_AUTH_ERR);
    assert_int_equal(pam_code(Phase::auth, Next::ask_code), PAM_AUTH_ERR);
    assert_int_equal(pam_code(Phase::account, Next::deny), PAM_PERM_DENIED);
    assert_int_equal(pam_code(Phase::session, Next::deny), PAM_SESSION_ERR);
    // Only auth asks for a code; elsewhere otp_required is final.
    Verdict v{false, Reason::otp_required, "", 0};
    assert_int_equal(next_step(Phase::auth, v), Next::ask_code);
    assert_int_equal(next_step(Phase::account, v), Next::deny);
    assert_int_equal(next_step(Phase::session, v), Next::deny);
}

// Property: over generated entries and facts, the PAM code and reason the
// glue's sequence of calls gives (do_auth, do_account, do_open_session) are
// the ones `vendorctl explain` prints from pam_login().
struct Rng {
    std::uint64_t s;
    unsigned next(unsigned n) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<unsigned>((s >> 33) % n);
    }
};

struct GlueOutcome {
    int rc;
    Reason reason;
};

void glue_vs_explain(void**) {
    using vendor::pam::pam_code;
    auto tz = paris();
    auto ed = std::string(trim(slurp(data_path("keys/ed25519.pub"))));
    auto ec = std::string(trim(slurp(data_path("keys/ecdsa256.pub"))));
    const unsigned accesses[] = {kAccessGrant,
                                 kAccessOtp,
                                 kAccessGrant | kAccessOtp,
                                 kAccessHours,
                                 kAccessHours | kAccessOtp,
                                 kAccessGrant | kAccessHours | kAccessOtp};
    Rng r{42};
    int compared = 0;
    for (int i = 0; i < 4000; ++i) {
        Entry e = base_entry();
        e.access = accesses[r.next(6)];
        if (e.access & kAccessHours)
            e.hours = *parse_schedule(r.next(2) ? "Mon-Fri 08:00-18:00" : "Sat 08:00-09:00");
        if (r.next(2)) e.keys = {ed};
        if (r.next(4) == 0) e.hosts = {"db-*"};
        e.allow_local = r.next(2);
        Facts f = base_facts();
        f.tz = r.next(8) ? &tz : nullptr;
        f.now += static_cast<std::int64_t>(r.next(4)) * 3600 - 7200;
        switch (r.next(4)) {
        case 0: f.grant.reset(); break;
        case 1: f.grant->not_after = f.now - 1; break;
        default: break;
        }
        switch (r.next(5)) {
        case 0: f.source = remote("198.51.100.7"); break;
        case 1: f.source = Source{}; break;
        case 2:
            f.source = Source{};
            f.source.kind = Source::local;
            break;
        default: break;
        }
        f.privileged = r.next(6) == 0;
        if (r.next(4) == 0) f.failures.locked_until = f.now + 300;
        switch (r.next(3)) {
        case 0: f.publickeys = {type_and_blob(ed)}; break;
        case 1: f.publickeys = {type_and_blob(ec)}; break;
        default: break;
        }
        bool pam_auth = r.next(3) != 0;
        bool with_code = r.next(2);
        // The glue: auth (prompt when asked; a code typed or the
        // conversation failing), account with the handle's mark, session on
        // the grant and the clock alone.
        std::vector<GlueOutcome> glue;
        bool mark = false;
        if (pam_auth) {
            Facts fa = f;
            fa.via_pam_auth = true;
            Verdict v = decide(Phase::auth, e, fa);
            Next n = next_step(Phase::auth, v);
            if (n == Next::ask_code && with_code) {
                v = decide_after_code(e, fa);
                n = next_step(Phase::auth, v);
                mark = n == Next::allow;
            }
            glue.push_back({pam_code(Phase::auth, n), v.reason});
        }
        Facts fc = f;
        fc.via_pam_auth = pam_auth;
        fc.otp_done = mark;
        Verdict va = decide(Phase::account, e, fc);
        glue.push_back({pam_code(Phase::account, next_step(Phase::account, va)), va.reason});
        Facts fs;
        fs.now = f.now;
        fs.grant = f.grant;
        Verdict vs = decide(Phase::session, e, fs);
        glue.push_back({pam_code(Phase::session, next_step(Phase::session, vs)), vs.reason});
        auto steps = pam_login(e, f, pam_auth, with_code);
        assert_int_equal(steps.size(), glue.size());
        for (std::size_t k = 0; k < steps.size(); ++k) {
            int rc = pam_code(steps[k].phase, steps[k].next);
            if (rc != glue[k].rc || steps[k].verdict.reason != glue[k].reason)
                fail_msg("case %d, %s: explain %s/%d, glue %s/%d", i, phase_name(steps[k].phase),
                         reason_name(steps[k].verdict.reason), rc, reason_name(glue[k].reason),
                         glue[k].rc);
            ++compared;
        }
        if (steps.back().verdict.runtime_max_s != vs.runtime_max_s) fail_msg("case %d: bound", i);
    }
    assert_true(compared > 8000);
}

// vendorctl status: the account phase judged from the entry's own sources.
void account_states(void**) {
    auto tz = paris();
    auto ed = std::string(trim(slurp(data_path("keys/ed25519.pub"))));
    auto expect_state = [](const AccountState& st, Next next, bool code, Reason r,
                           std::int64_t until, const char* what) {
        if (st.next != next || st.code != code || st.verdict.reason != r || st.until != until)
            fail_msg("%s: got next=%d code=%d %s until=%lld (%s)", what, static_cast<int>(st.next),
                     st.code, reason_name(st.verdict.reason), static_cast<long long>(st.until),
                     st.verdict.detail.c_str());
    };
    Entry e = base_entry();
    Facts f = base_facts();
    f.source = remote("198.51.100.7");  // ignored: status judges the entry's sources
    auto st = account_state(e, f);
    expect_state(st, Next::allow, false, Reason::ok, f.grant->not_after, "active grant");
    assert_string_equal(st.source.c_str(), "192.0.2.0");
    f.grant.reset();
    expect_state(account_state(e, f), Next::deny, false, Reason::not_activated, 0, "no grant");
    f = base_facts();
    f.grant->not_after = f.now - 60;
    expect_state(account_state(e, f), Next::deny, false, Reason::grant_expired, 0, "ended");
    f = base_facts();
    f.grant->not_before = f.now + 60;
    expect_state(account_state(e, f), Next::deny, false, Reason::not_activated, 0, "not begun");
    f = base_facts();
    f.host = "db-01";
    e.hosts = {"web-*"};
    expect_state(account_state(e, f), Next::deny, false, Reason::host_not_allowed, 0, "host");
    e = base_entry();
    f.host = "web-01";
    f.privileged = true;
    f.privileged_group = "sudo";
    expect_state(account_state(e, f), Next::deny, false, Reason::privileged_group, 0, "sudo");
    // Code accounts: the code is all that is missing, unless locked.
    f = base_facts();
    e.access = kAccessGrant | kAccessOtp;
    expect_state(account_state(e, f), Next::deny, true, Reason::otp_required, f.grant->not_after,
                 "grant + code");
    e.access = kAccessOtp;
    expect_state(account_state(e, f), Next::deny, true, Reason::otp_required, 0, "code only");
    f.failures.locked_until = f.now + 300;
    expect_state(account_state(e, f), Next::deny, false, Reason::locked_out, f.now + 300, "locked");
    // Hours, in the zone; no zone is a configuration error, never "outside".
    e = base_entry();
    e.access = kAccessHours;
    e.hours = *parse_schedule("Mon-Fri 08:00-18:00");
    f = base_facts();
    f.tz = &tz;
    expect_state(account_state(e, f), Next::allow, false, Reason::ok, 0, "in hours");
    e.hours = *parse_schedule("Sat 08:00-09:00");
    expect_state(account_state(e, f), Next::deny, false, Reason::outside_hours, 0, "closed");
    f.tz = nullptr;
    expect_state(account_state(e, f), Next::deny, false, Reason::config_error, 0, "no zone");
    // Sources: local only; none at all.
    e = base_entry();
    f = base_facts();
    e.from.clear();
    e.allow_local = true;
    st = account_state(e, f);
    expect_state(st, Next::allow, false, Reason::ok, f.grant->not_after, "local");
    assert_string_equal(st.source.c_str(), "local");
    e.allow_local = false;
    st = account_state(e, f);
    expect_state(st, Next::deny, false, Reason::source_not_allowed, 0, "no source");
    assert_string_equal(st.source.c_str(), "");
    // A pinned key: the usual login presents it; a key-only account passes.
    e = base_entry();
    e.keys = {ed};
    expect_state(account_state(e, f), Next::allow, false, Reason::ok, f.grant->not_after, "key");
}

// Property: over generated entries, grants, failures and clock, status's
// state is explain --phase account's verdict for a source in the entry's
// first block (and with --with-code when status says "code").
void status_vs_explain(void**) {
    auto tz = paris();
    auto ed = std::string(trim(slurp(data_path("keys/ed25519.pub"))));
    const unsigned accesses[] = {kAccessGrant,
                                 kAccessOtp,
                                 kAccessGrant | kAccessOtp,
                                 kAccessHours,
                                 kAccessHours | kAccessOtp,
                                 kAccessGrant | kAccessHours | kAccessOtp};
    Rng r{7};
    int compared = 0;
    for (int i = 0; i < 4000; ++i) {
        Entry e = base_entry();
        e.access = accesses[r.next(6)];
        if (e.access & kAccessHours)
            e.hours = *parse_schedule(r.next(2) ? "Mon-Fri 08:00-18:00" : "Sat 08:00-09:00");
        if (r.next(2)) e.keys = {ed};
        if (r.next(4) == 0) e.hosts = {"db-*"};
        e.allow_local = r.next(2);
        if (r.next(4) == 0) e.from.clear();
        Facts f = base_facts();
        f.tz = r.next(8) ? &tz : nullptr;
        f.now += static_cast<std::int64_t>(r.next(48)) * 1800 - 7200;
        switch (r.next(4)) {
        case 0: f.grant.reset(); break;
        case 1: f.grant->not_after = f.now - 1; break;
        case 2: f.grant->not_before = f.now + 1; break;
        default: break;
        }
        f.privileged = r.next(6) == 0;
        if (r.next(4) == 0) f.failures.locked_until = f.now + 300;
        AccountState st = account_state(e, f);
        // explain NAME --from <first block's address, or local> --phase account
        Facts fx = f;
        if (!e.from.empty()) fx.source = remote(e.from.front().base.str().c_str());
        else if (e.allow_local) {
            fx.source = Source{};
            fx.source.kind = Source::local;
        } else {
            fx.source = remote("198.51.100.7");  // any address: none is in 'from'
        }
        if (!e.keys.empty()) fx.publickeys = {type_and_blob(ed)};
        bool pam_auth = (e.access & kAccessOtp) || e.keys.empty();
        auto account_of = [&](bool with_code) {
            for (const auto& s : pam_login(e, fx, pam_auth, with_code))
                if (s.phase == Phase::account) return s;
            fail_msg("case %d: no account step", i);
            return Step{};
        };
        Step plain = account_of(false), coded = account_of(true);
        if (st.next != plain.next || st.verdict.reason != plain.verdict.reason)
            fail_msg("case %d: status %s, explain %s", i, reason_name(st.verdict.reason),
                     reason_name(plain.verdict.reason));
        if (st.code != (plain.next != Next::allow && coded.next == Next::allow))
            fail_msg("case %d: status code=%d, explain --with-code %s", i, st.code,
                     reason_name(coded.verdict.reason));
        ++compared;
    }
    assert_int_equal(compared, 4000);
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
        cmocka_unit_test(allowed_baseline),
        cmocka_unit_test(source_gate),
        cmocka_unit_test(host_gate),
        cmocka_unit_test(key_gate),
        cmocka_unit_test(grant_gate),
        cmocka_unit_test(hours_gate),
        cmocka_unit_test(privilege_gate),
        cmocka_unit_test(code_gates),
        cmocka_unit_test(gate_order),
        cmocka_unit_test(detail_escaped),
        cmocka_unit_test(source_resolution),
        cmocka_unit_test(auth_info),
        cmocka_unit_test(reason_names),
        cmocka_unit_test(auth_phase),
        cmocka_unit_test(session_phase),
        cmocka_unit_test(keys_phase),
        cmocka_unit_test(phase_names_and_codes),
        cmocka_unit_test(glue_vs_explain),
        cmocka_unit_test(account_states),
        cmocka_unit_test(status_vs_explain),
    };
    return RUN_GROUP("policy", tests);
}
