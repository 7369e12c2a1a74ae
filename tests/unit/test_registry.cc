// registry.h: entries (pam_vendor-registry(5)), access sets, host scope,
// pinned public keys and their algorithm policy.
#include "registry.h"

#include "json.h"
#include "util.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

// The smallest entry nss_vendor can serve.
const char* kMinimal = R"({"name": "acme", "vendor": "ACME Medical", "from": ["192.0.2.10"],
  "uid": 2000300001, "home": "/home/vendors/acme", "shell": "/bin/bash"})";

std::string key_line(const char* file) {
    auto s = slurp(data_path(std::string("keys/") + file));
    return std::string(trim(s));
}

std::string full_entry() {
    return std::string(R"({
  "name": "acme-maint",
  "vendor": "ACME \"Medical\" S.A.",
  "from": ["192.0.2.0/24", "2001:db8:10::/48", "198.51.100.7"],
  "local": true,
  "access": "grant+otp+hours",
  "hours": "Mon-Fri 08:00-18:00, Sat 09:00-12:00",
  "keys": [")") +
           key_line("ed25519.pub") + R"(", ")" + key_line("ecdsa384.pub") + R"("],
  "hosts": ["web-*", "db-0?.example.org"],
  "comment": "PACS maintenance, contract 2026-114",
  "uid": 2000300002,
  "home": "/home/vendors/acme-maint",
  "shell": "/bin/sh",
  "groups": ["pacs"],
  "created": "2026-11-28T07:39:07Z",
  "created_by": "alice"
})";
}

Entry parse_ok(const std::string& text, const char* name) {
    auto e = parse_entry(text, name);
    if (!e.ok()) fail_msg("entry refused: %s", e.error().detail.c_str());
    return *e;
}

void expect_refused(const std::string& text, const char* name, const char* why = nullptr) {
    auto e = parse_entry(text, name);
    if (e.ok()) fail_msg("entry accepted:\n%s", text.c_str());
    if (e.error().code != Code::invalid && e.error().code != Code::too_large)
        fail_msg("unexpected error code %s", code_name(e.error().code));
    if (why && !contains(e.error().detail, why))
        fail_msg("error '%s' does not mention '%s'", e.error().detail.c_str(), why);
}

// kMinimal with one field replaced or added (raw JSON value text).
std::string minimal_with(const std::string& field, const std::string& value) {
    std::map<std::string, std::string> f = {
        {"name", "\"acme\""},  {"vendor", "\"ACME Medical\""},     {"from", "[\"192.0.2.10\"]"},
        {"uid", "2000300001"}, {"home", "\"/home/vendors/acme\""}, {"shell", "\"/bin/bash\""}};
    if (value.empty()) f.erase(field);
    else f[field] = value;
    std::string out = "{";
    for (const auto& [k, v] : f) out += (out.size() > 1 ? ", \"" : "\"") + k + "\": " + v;
    return out + "}";
}

void minimal_entry(void**) {
    auto e = parse_ok(kMinimal, "acme");
    assert_str_eq(e.name, "acme");
    assert_str_eq(e.vendor, "ACME Medical");
    assert_int_equal(e.from.size(), 1);
    assert_str_eq(e.from[0].str(), "192.0.2.10/32");
    assert_false(e.allow_local);
    assert_int_equal(e.access, kAccessGrant);  // disabled until activated (R5)
    assert_false(e.hours.has_value());
    assert_int_equal(e.keys.size(), 0);
    assert_int_equal(e.hosts.size(), 1);
    assert_str_eq(e.hosts[0], "*");
    assert_int_equal(e.uid, 2000300001);
    assert_false(e.existing);
    assert_str_eq(entry_path("/etc/pam_vendor/accounts.d", "acme"),
                  "/etc/pam_vendor/accounts.d/acme.json");
}

void full_entry_fields(void**) {
    auto e = parse_ok(full_entry(), "acme-maint");
    assert_str_eq(e.vendor, "ACME \"Medical\" S.A.");
    assert_int_equal(e.from.size(), 3);
    assert_str_eq(e.from[1].str(), "2001:db8:10::/48");
    assert_true(e.allow_local);
    assert_int_equal(e.access, kAccessGrant | kAccessOtp | kAccessHours);
    assert_true(e.hours.has_value());
    assert_true(e.hours->contains(5, 10 * 60));
    assert_int_equal(e.keys.size(), 2);
    assert_int_equal(e.hosts.size(), 2);
    assert_str_eq(e.comment, "PACS maintenance, contract 2026-114");
    assert_str_eq(e.home, "/home/vendors/acme-maint");
    assert_str_eq(e.shell, "/bin/sh");
    assert_int_equal(e.groups.size(), 1);
    assert_str_eq(e.created, "2026-11-28T07:39:07Z");
    assert_str_eq(e.created_by, "alice");
    // An existing (AD) account: no uid/home/shell, and otp is required (R3).
    auto ad =
        parse_ok(R"({"name": "jdoe", "vendor": "ACME", "from": ["192.0.2.10"], "existing": true,
                           "access": "grant+otp"})",
                 "jdoe");
    assert_true(ad.existing);
    expect_refused(
        R"({"name": "jdoe", "vendor": "ACME", "from": ["192.0.2.10"], "existing": true})", "jdoe",
        "otp");
    // An existing account carries the uid it resolved to when registered
    // (the module checks it at login), but no home, shell or groups.
    auto ex =
        parse_ok(R"({"name": "jdoe", "vendor": "ACME", "from": ["192.0.2.10"], "existing": true,
                       "access": "otp", "uid": 2000300001})",
                 "jdoe");
    assert_true(ex.uid_recorded);
    assert_int_equal(ex.uid, 2000300001);
    expect_refused(R"({"name": "jdoe", "vendor": "ACME", "from": ["192.0.2.10"], "existing": true,
                       "access": "otp", "home": "/home/jdoe"})",
                   "jdoe");
    // Local-only account: empty 'from' is fine when local logins are allowed.
    auto local = parse_ok(minimal_with("from", "[]").insert(1, "\"local\": true, "), "acme");
    assert_true(local.allow_local);
    assert_int_equal(local.from.size(), 0);
}

void unknown_and_types(void**) {
    expect_refused(minimal_with("colour", "\"blue\""), "acme", "unknown field");
    expect_refused(minimal_with("Name", "\"acme\""), "acme", "unknown field");
    expect_refused(minimal_with("from", "\"192.0.2.10\""), "acme", "list");
    expect_refused(minimal_with("from", "[1]"), "acme", "list");
    expect_refused(minimal_with("from", "[[\"192.0.2.10\"]]"), "acme");
    expect_refused(minimal_with("name", "5"), "acme", "string");
    expect_refused(minimal_with("name", "null"), "acme");
    expect_refused(minimal_with("vendor", "[\"ACME\"]"), "acme");
    expect_refused(minimal_with("local", "\"yes\""), "acme", "true or false");
    expect_refused(minimal_with("local", "1"), "acme");
    expect_refused(minimal_with("keys", "[1]"), "acme");
    expect_refused(minimal_with("keys", "\"ssh-ed25519 AAAA\""), "acme");
    expect_refused(minimal_with("hosts", "{}"), "acme");
    expect_refused(minimal_with("access", "[\"grant\"]"), "acme");
    expect_refused(minimal_with("uid", "\"2000300001\""), "acme", "integer");
    expect_refused(minimal_with("uid", "2000300001.5"), "acme");
    expect_refused(minimal_with("uid", "99999999999999999999999"), "acme");
    expect_refused(minimal_with("uid", "0"), "acme");
    expect_refused(minimal_with("uid", "999"), "acme");
    expect_refused(minimal_with("uid", "2147483647"), "acme");
    expect_refused(minimal_with("uid", ""), "acme", "uid");  // missing
    expect_refused(minimal_with("vendor", ""), "acme", "vendor");
    expect_refused(minimal_with("vendor", "\"\""), "acme", "vendor");
    expect_refused(minimal_with("from", ""), "acme", "from");
    expect_refused(minimal_with("from", "[]"), "acme", "from");
    expect_refused(minimal_with("home", "\"home/acme\""), "acme", "absolute");
    expect_refused(minimal_with("shell", "\"/bin/../bin/sh\""), "acme", "absolute");
    expect_refused(minimal_with("home", "\"/home/a:b\""), "acme", "absolute");
    expect_refused(minimal_with("comment", "\"" + std::string(1100, 'c') + "\""), "acme",
                   "too long");
    expect_refused(minimal_with("vendor", "\"A\\u0000B\""), "acme", "NUL");
    expect_refused("[]", "acme", "object");
    expect_refused("\"acme\"", "acme");
    expect_refused("null", "acme");
}

void name_checks(void**) {
    expect_refused(kMinimal, "other", "file name");
    expect_refused(kMinimal, "acm", "file name");
    expect_refused(kMinimal, "", "file name");
    expect_refused(minimal_with("name", "\"Acme\""), "Acme", "account name");
    expect_refused(minimal_with("name", "\"../acme\""), "../acme");
    expect_refused(minimal_with("name", "\"" + std::string(33, 'a') + "\""),
                   std::string(33, 'a').c_str());
}

void bad_values(void**) {
    expect_refused(minimal_with("from", "[\"192.0.2.0/33\"]"), "acme", "address block");
    expect_refused(minimal_with("from", "[\"192.0.2.1/24\"]"), "acme", "host bits");
    expect_refused(minimal_with("from", "[\"acme.example.org\"]"), "acme");
    expect_refused(minimal_with("from", "[\"192.0.2.10\", \"010.0.0.0/8\"]"), "acme");
    expect_refused(minimal_with("access", "\"hours\""), "acme", "schedule");
    expect_refused(minimal_with("access", "\"grant+hours\""), "acme", "schedule");
    expect_refused(minimal_with("access", "\"root\""), "acme", "access");
    expect_refused(minimal_with("access", "\"\""), "acme");
    expect_refused(minimal_with("access", "\"grant+grant\""), "acme");
    expect_refused(minimal_with("hours", "\"Mon 8:00-9:00\""), "acme", "schedule");
    expect_refused(minimal_with("hosts", "[\"web/01\"]"), "acme", "host pattern");
    expect_refused(minimal_with("hosts", "[\"web 01\"]"), "acme", "host pattern");
    expect_refused(minimal_with("hosts", "[\"\"]"), "acme", "host pattern");
    expect_refused(minimal_with("hosts", "[]"), "acme", "hosts");
    expect_refused(minimal_with("hosts", "[\"[a-z]*\"]"), "acme", "host pattern");
    expect_refused(minimal_with("keys", "[\"ssh-dss AAAAB3NzaC1kc3MAAACBAP\"]"), "acme",
                   "public key");
    expect_refused(minimal_with("keys", "[\"" + key_line("rsa2048.pub") + "\"]"), "acme", "3072");
    // Hours without the hours gate is kept (shown) but not required.
    auto e = parse_ok(minimal_with("hours", "\"Mon-Fri 08:00-18:00\""), "acme");
    assert_true(e.hours.has_value());
    assert_int_equal(e.access, kAccessGrant);
}

void garbage_and_huge(void**) {
    expect_refused(std::string(kMinimal) + " x", "acme");
    expect_refused(std::string(kMinimal) + "{}", "acme");
    expect_refused(std::string(kMinimal).substr(0, 40), "acme");
    expect_refused("", "acme");
    expect_refused("   ", "acme");
    expect_refused(std::string(kMinimal).insert(10, std::string("\0", 1)), "acme", "NUL");
    expect_refused("{\"name\": \"acme\",}", "acme");  // strict JSON: no trailing comma
    expect_refused("{'name': 'acme'}", "acme");
    // Deep nesting and oversize documents.
    expect_refused(minimal_with("comment", std::string(5000, '[') + std::string(5000, ']')),
                   "acme");
    std::string huge = minimal_with("comment", "\"" + std::string(2 << 20, 'x') + "\"");
    auto r = parse_entry(huge, "acme");
    assert_false(r.ok());
    assert_int_equal(r.error().code, Code::too_large);
    std::string many = "[";
    for (int i = 0; i < 300; ++i)
        many += std::string(i ? "," : "") + "\"10.0." + std::to_string(i % 256) + ".0/24\"";
    expect_refused(minimal_with("from", many + "]"), "acme", "too many");
    // Trailing whitespace is fine.
    parse_ok(std::string(kMinimal) + "\n\n  \t", "acme");
}

void serialize_round_trip(void**) {
    for (const std::string& text : {std::string(kMinimal), full_entry()}) {
        auto name = text == kMinimal ? "acme" : "acme-maint";
        auto e = parse_ok(text, name);
        auto out = serialize_entry(e);
        auto back = parse_ok(out, name);
        assert_str_eq(serialize_entry(back), out);
        assert_str_eq(back.vendor, e.vendor);
        assert_int_equal(back.from.size(), e.from.size());
        for (std::size_t i = 0; i < e.from.size(); ++i) assert_true(back.from[i] == e.from[i]);
        assert_int_equal(back.allow_local, e.allow_local);
        assert_int_equal(back.access, e.access);
        assert_int_equal(back.hours.has_value(), e.hours.has_value());
        if (e.hours) assert_true(back.hours->open == e.hours->open);
        assert_true(back.keys == e.keys);
        assert_true(back.hosts == e.hosts);
        assert_str_eq(back.comment, e.comment);
        assert_int_equal(back.uid, e.uid);
        assert_str_eq(back.home, e.home);
        assert_str_eq(back.shell, e.shell);
        assert_true(back.groups == e.groups);
        assert_str_eq(back.created, e.created);
        assert_str_eq(back.created_by, e.created_by);
    }
    // A built entry with awkward strings survives too.
    Entry e;
    e.name = "x_1";
    e.vendor = "Ven\"dor\\ \n\t\x01 \xc3\xa9";
    e.from = {*parse_cidr("::ffff:10.0.0.0/104"), *parse_cidr("::/0")};
    e.any_source = true;  // ::/0 needs it
    e.access = kAccessOtp;
    e.uid = 1000;
    e.home = "/h";
    e.shell = "/s";
    e.comment = "</script> / \\u0000";
    auto back = parse_ok(serialize_entry(e), "x_1");
    assert_str_eq(back.vendor, e.vendor);
    assert_str_eq(back.comment, e.comment);
    assert_str_eq(back.from[0].str(), "10.0.0.0/8");
    assert_true(back.any_source);
    assert_int_equal(back.access, kAccessOtp);
    // Without the flag the same entry is invalid, and the error says why.
    e.any_source = false;
    auto refused = parse_entry(serialize_entry(e), "x_1");
    assert_false(refused.ok());
    if (refused.error().detail.find("any_source") == std::string::npos)
        fail_msg("error does not name any_source: %s", refused.error().detail.c_str());
}

void access_sets(void**) {
    struct {
        const char* text;
        unsigned want;
    } ok[] = {{"grant", kAccessGrant},
              {"otp", kAccessOtp},
              {"hours", kAccessHours},
              {"grant+otp", kAccessGrant | kAccessOtp},
              {"otp+grant", kAccessGrant | kAccessOtp},
              {"hours+grant+otp", kAccessGrant | kAccessOtp | kAccessHours}};
    for (const auto& c : ok) {
        auto a = parse_access(c.text);
        if (!a.ok() || *a != c.want) fail_msg("parse_access('%s') wrong", c.text);
    }
    for (const char* s : {"", "+", "++", "root", "Grant", "grant+grant", "grant,otp", "grant otp",
                          "otp+totp", "all"})
        if (parse_access(s).ok()) fail_msg("parse_access('%s') should be refused", s);
    // Each gate once, joined with '+', read strictly (pam_vendor-registry(5)):
    // an empty part or a space is a typo, never silently dropped.
    for (const char* s : {"grant+", "+grant", "grant++otp", "grant+ otp", "grant +otp", " grant",
                          "grant ", " grant + otp ", "grant+otp+", "grant\t+otp", "otp+\n"})
        if (parse_access(s).ok()) fail_msg("parse_access('%s') should be refused", s);
    // The same strictness in a registry entry.
    expect_refused(minimal_with("access", "\"grant+\""), "acme", "'+'");
    expect_refused(minimal_with("access", "\"grant++otp\""), "acme", "empty gate");
    expect_refused(minimal_with("access", "\"grant+ otp\""), "acme", "unknown access gate");
    assert_str_eq(format_access(kAccessGrant), "grant");
    assert_str_eq(format_access(kAccessOtp | kAccessGrant), "grant+otp");
    assert_str_eq(format_access(kAccessGrant | kAccessOtp | kAccessHours), "grant+otp+hours");
    assert_str_eq(format_access(kAccessHours), "hours");
    for (unsigned a = 1; a < 8; ++a) {
        auto back = parse_access(format_access(a));
        assert_true(back.ok() && *back == a);
    }
}

void host_globs(void**) {
    assert_true(host_glob_match("web-*", "web-01"));
    assert_true(host_glob_match("web-*", "web-"));
    assert_false(host_glob_match("web-*", "db-01"));
    assert_false(host_glob_match("web-*", "xweb-01"));
    assert_true(host_glob_match("*", "anything.example.org"));
    assert_true(host_glob_match("*", ""));
    assert_true(host_glob_match("web-??", "web-01"));
    assert_false(host_glob_match("web-??", "web-1"));
    assert_false(host_glob_match("web-??", "web-001"));
    assert_true(host_glob_match("?", "a"));
    assert_false(host_glob_match("?", ""));
    assert_true(host_glob_match("WEB-*", "web-01"));
    assert_true(host_glob_match("web-*", "WEB-01.EXAMPLE.ORG"));
    assert_true(host_glob_match("*.example.org", "pacs.example.org"));
    assert_false(host_glob_match("*.example.org", "example.org"));
    assert_false(host_glob_match("*.example.org", "pacs.example.org.evil"));
    assert_true(host_glob_match("a*b*c", "aXXbYYc"));
    assert_true(host_glob_match("a*b*c", "abc"));
    assert_false(host_glob_match("a*b*c", "aXXbYY"));
    assert_true(host_glob_match("**", "x"));
    assert_true(host_glob_match("", ""));
    assert_false(host_glob_match("", "x"));
    assert_false(host_glob_match("web", "web-01"));
    assert_false(host_glob_match("web-01", "web"));
    // Pathological patterns stay fast (no exponential backtracking).
    std::string host(5000, 'a');
    assert_false(host_glob_match("*a*a*a*a*a*a*a*a*b", host));
    assert_true(valid_host_pattern("web-*.example.org"));
    assert_true(valid_host_pattern("db_0?"));
    for (const char* p : {"", "web/1", "web 1", "web[1]", "web\n", "a:b", "a,b"})
        assert_false(valid_host_pattern(p));
    assert_false(valid_host_pattern(std::string(254, 'a')));
}

struct KeyCase {
    const char* file;
    const char* type;
    unsigned bits;
    const char* fingerprint;  // what `ssh-keygen -lf` printed for the file
};
// tests/data/keys/fingerprints.txt holds the ssh-keygen output.
const KeyCase kAccepted[] = {
    {"ed25519.pub", "ssh-ed25519", 256, "SHA256:n5RtbNP7n7vv07otVBbpTKAIDMHEk2tfwC1t9CUscDU"},
    {"ecdsa256.pub", "ecdsa-sha2-nistp256", 256,
     "SHA256:n0GsfRyY3wfUNrQu89ZoCS13xGzTN1tvxSdw3kokRIw"},
    {"ecdsa384.pub", "ecdsa-sha2-nistp384", 384,
     "SHA256:JN4Wbb0l0zbAH1j2uLOKRi3aaq4vtfS+5uqaTfjvVL8"},
    {"ecdsa521.pub", "ecdsa-sha2-nistp521", 521,
     "SHA256:WQQ8lMOdaMQ0DRSQS5CKx1lvYu5YAXvDASk8+I5/5wE"},
    {"rsa3072.pub", "ssh-rsa", 3072, "SHA256:YxTlJ+aXfWeGsX9yKbZDweX6NTkVRyepTmoJ7g3shOE"},
    {"rsa4096.pub", "ssh-rsa", 4096, "SHA256:xKGfqISjLK7vF7Baqn0dmAkoDMOubFtZRGd1hdZaG28"},
};

void public_keys_accepted(void**) {
    for (const auto& c : kAccepted) {
        auto line = key_line(c.file);
        auto k = parse_public_key(line);
        if (!k.ok()) fail_msg("%s refused: %s", c.file, k.error().detail.c_str());
        assert_str_eq(k->type, c.type);
        assert_int_equal(k->bits, c.bits);
        assert_str_eq(k->fingerprint, c.fingerprint);
        assert_true(contains(k->comment, "@pam-vendor"));
        // Without a comment, with extra blanks: same key.
        auto sp = line.find(' ');
        auto bare = line.substr(0, line.find(' ', sp + 1));
        auto k2 =
            parse_public_key("  " + line.substr(0, sp) + "   " + bare.substr(sp + 1) + "  \n");
        assert_ok(k2);
        assert_str_eq(k2->fingerprint, c.fingerprint);
        assert_str_eq(k2->comment, "");
    }
}

void public_keys_refused(void**) {
    // Weak or banned algorithms (the guideline: RSA >= 3072, no DSA).
    auto rsa = parse_public_key(key_line("rsa2048.pub"));
    assert_false(rsa.ok());
    assert_true(contains(rsa.error().detail, "2048"));
    auto dsa = parse_public_key(key_line("dsa.pub"));
    assert_false(dsa.ok());
    assert_true(contains(dsa.error().detail, "not allowed"));
    assert_true(contains(dsa.error().detail, "ssh-dss"));  // OpenSSH's own names are named
    // Anything else is a file's content (--key /etc/shadow): never echoed.
    for (const char* secret : {"root:$6$saltsalt$hashhash:19000:0:99999:7::: x", "hunter2 c2VjcmV0",
                               "-----BEGIN OPENSSH PRIVATE KEY-----"}) {
        auto k = parse_public_key(secret);
        assert_false(k.ok());
        std::string first = std::string(secret).substr(0, std::string(secret).find(' '));
        if (contains(k.error().detail, first))
            fail_msg("error echoes the input: %s", k.error().detail.c_str());
    }
    auto ed = key_line("ed25519.pub");
    auto sp = ed.find(' ');
    auto blob = ed.substr(sp + 1, ed.find(' ', sp + 1) - sp - 1);
    for (const std::string& bad :
         {std::string(""), std::string("ssh-ed25519"),
          "ssh-ed25519 " + blob.substr(0, blob.size() - 4), "ssh-ed25519 !!" + blob,
          "ssh-ed25519 " + blob + "\x01 comment", "ssh-ed25519 " + blob + " bad\x7f",
          "ecdsa-sha2-nistp256 " + blob,  // type and blob disagree
          "ssh-ed25519\t" + blob, "SSH-ED25519 " + blob, "ssh-ed448 " + blob,
          "ssh-rsa-cert-v01@openssh.com " + blob,
          "ssh-ed25519 " + blob.substr(0, 20) + "=" + blob.substr(20)})
        if (parse_public_key(bad).ok())
            fail_msg("key '%s' should be refused", escape(bad, 120).c_str());
    assert_err(parse_public_key(std::string(20000, 'A')), Code::invalid);
}

// SSH wire encoding helpers, to build malformed blobs.
std::string ssh_string(std::string_view s) {
    std::string out(4, '\0');
    auto n = static_cast<std::uint32_t>(s.size());
    for (int i = 0; i < 4; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
    return out + std::string(s);
}
std::string b64(const std::string& bin) {
    std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                      bin.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

void public_keys_malformed_blobs(void**) {
    std::string pk(32, '\x42');
    auto good = "ssh-ed25519 " + b64(ssh_string("ssh-ed25519") + ssh_string(pk));
    assert_ok(parse_public_key(good));
    for (const std::string& blob :
         {ssh_string("ssh-ed25519") + ssh_string(pk) + "x",          // trailing bytes
          ssh_string("ssh-ed25519") + ssh_string(pk.substr(0, 31)),  // short key
          ssh_string("ssh-ed25519") + ssh_string(pk + "x"),          // long key
          ssh_string("ssh-ed25519"),                                 // no key
          ssh_string("ssh-ed25519") + std::string("\xff\xff\xff\xff", 4) +
              pk,                    // length past the end
          std::string("\0\0\0", 3),  // truncated length
          std::string()})
        if (parse_public_key("ssh-ed25519 " + b64(blob)).ok())
            fail_msg("malformed ed25519 blob accepted");
    // ECDSA: curve name must match the type.
    auto q = std::string(1, '\x04') + std::string(64, '\x11');
    assert_ok(
        parse_public_key("ecdsa-sha2-nistp256 " + b64(ssh_string("ecdsa-sha2-nistp256") +
                                                      ssh_string("nistp256") + ssh_string(q))));
    assert_false(
        parse_public_key("ecdsa-sha2-nistp256 " + b64(ssh_string("ecdsa-sha2-nistp256") +
                                                      ssh_string("nistp384") + ssh_string(q)))
            .ok());
    assert_false(parse_public_key("ecdsa-sha2-nistp256 " +
                                  b64(ssh_string("ecdsa-sha2-nistp256") + ssh_string("nistp256")))
                     .ok());
    // RSA: the size is the modulus' bit length, leading zero bytes aside.
    auto rsa = [&](std::size_t bytes, unsigned char top) {
        std::string n(1, '\0');
        n += static_cast<char>(top);
        n += std::string(bytes - 1, '\x55');
        return parse_public_key("ssh-rsa " + b64(ssh_string("ssh-rsa") +
                                                 ssh_string(std::string_view("\x01\x00\x01", 3)) +
                                                 ssh_string(n)));
    };
    auto r3072 = rsa(384, 0x80);
    assert_ok(r3072);
    assert_int_equal(r3072->bits, 3072);
    assert_false(rsa(384, 0x40).ok());  // 3071 bits
    assert_false(rsa(256, 0xff).ok());  // 2048 bits
    assert_false(parse_public_key("ssh-rsa " + b64(ssh_string("ssh-rsa") +
                                                   ssh_string(std::string_view("\x01\x00\x01", 3)) +
                                                   ssh_string(std::string(400, '\0'))))
                     .ok());
}

// RFC 8259: JSON text is UTF-8. An entry whose free text is not would put
// invalid JSON into every audit line that carries it.
void invalid_utf8_refused(void**) {
    expect_refused(minimal_with("vendor", "\"ACME \xff Medical\""), "acme", "UTF-8");
    expect_refused(minimal_with("vendor", "\"\xc3\x28\""), "acme", "UTF-8");
    expect_refused(minimal_with("comment", "\"overlong \xc0\xaf\""), "acme", "UTF-8");
    expect_refused(minimal_with("comment", "\"truncated \xe2\x82\""), "acme", "UTF-8");
    // An escape that decodes to no UTF-8 (a lone surrogate) is refused too.
    expect_refused(minimal_with("comment", "\"lone \\ud800 surrogate\""), "acme", "UTF-8");
    expect_refused(minimal_with("hosts", "[\"web\xff\"]"), "acme", "UTF-8");
    // Well-formed UTF-8, raw or escaped, is kept as it is.
    auto e = parse_ok(minimal_with("vendor", "\"Soci\xc3\xa9t\xc3\xa9 \\u00e9 \xf0\x9f\x8f\xa5\""),
                      "acme");
    assert_str_eq(e.vendor, "Soci\xc3\xa9t\xc3\xa9 \xc3\xa9 \xf0\x9f\x8f\xa5");
    // A key comment that is not UTF-8.
    auto k = key_line("ed25519.pub");
    auto sp = k.find(' ', k.find(' ') + 1);
    std::string base = k.substr(0, sp);
    assert_ok(parse_public_key(base + " op\xc3\xa9rateur@h\xc3\xb4pital"));
    assert_false(parse_public_key(base + " op\xe9rateur").ok());
}

// Tools disagree on which of two equal keys counts (json-c keeps the last,
// others the first): an entry that names a field twice is refused.
void duplicate_keys_refused(void**) {
    std::string twice = std::string(kMinimal);
    twice.insert(twice.rfind('}'), R"(, "from": ["0.0.0.0/0"])");
    expect_refused(twice, "acme", "'from' given twice");
    // Escaped spellings of the same key are the same key.
    twice = std::string(kMinimal);
    twice.insert(twice.rfind('}'), R"(, "\u0066rom": ["0.0.0.0/0"])");
    expect_refused(twice, "acme", "given twice");
    twice = std::string(kMinimal);
    twice.insert(twice.rfind('}'), R"(, "access": "otp", "access": "grant")");
    expect_refused(twice, "acme", "'access' given twice");
    // The same key in two different objects, or a key's text as a value, is fine.
    auto doc = Json::parse(R"({"a": {"x": 1}, "b": {"x": "a"}, "c": ["a", "a"]})", "doc");
    assert_ok(doc);
    assert_err(Json::parse(R"({"a": {"x": 1, "y": [{"x": 2, "x": 3}]}})", "doc"), Code::invalid);
    assert_err(Json::parse(R"({"k\"q": 1, "k\u0022q": 2})", "doc"), Code::invalid);
    assert_ok(Json::parse(R"({"k\"q": 1, "kq": 2, "\ud83d\ude00": 3})", "doc"));
    assert_err(Json::parse(R"({"k": "\ud83d"})", "doc"), Code::invalid);
    assert_err(Json::parse(R"({"k": "\ude00\ud83d"})", "doc"), Code::invalid);
    assert_err(Json::parse("{\"\xf0\x9f\x98\x80\": 1, \"\\ud83d\\ude00\": 2}", "doc"),
               Code::invalid);
}

// Numbers with a fraction or an exponent: parsed in the "C" locale whatever
// the application's LC_NUMERIC, the value kept; out of range (overflow, or
// underflow to zero) refuses the document, a subnormal does not.
void json_numbers(void**) {
    auto half = Json::parse(R"({"a": 1.5, "b": -2.5e-1})", "doc");
    assert_ok(half);
    assert_string_equal(half->dump().c_str(), R"({"a":1.5,"b":-0.25})");
    for (const char* ok : {"-0.0", "1e308", "1.7976931348623157e308", "4.9e-324", "1E5", "0e999999",
                           "123456789012345678901234567890e-10"})
        assert_ok(Json::parse(std::string(R"({"a": )") + ok + "}", "doc"));
    for (const char* bad :
         {"1e400", "-1e400", "1e-400", "1.7976931348623159e308", "1.", ".5", "1e", "01.5", "1.5.3"})
        assert_err(Json::parse(std::string(R"({"a": )") + bad + "}", "doc"), Code::invalid);
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(json_numbers),
        cmocka_unit_test(minimal_entry),
        cmocka_unit_test(full_entry_fields),
        cmocka_unit_test(unknown_and_types),
        cmocka_unit_test(name_checks),
        cmocka_unit_test(bad_values),
        cmocka_unit_test(garbage_and_huge),
        cmocka_unit_test(serialize_round_trip),
        cmocka_unit_test(access_sets),
        cmocka_unit_test(host_globs),
        cmocka_unit_test(public_keys_accepted),
        cmocka_unit_test(public_keys_refused),
        cmocka_unit_test(public_keys_malformed_blobs),
        cmocka_unit_test(invalid_utf8_refused),
        cmocka_unit_test(duplicate_keys_refused),
    };
    return RUN_GROUP("registry", tests);
}
