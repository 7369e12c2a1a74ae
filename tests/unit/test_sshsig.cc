// sshsig.h, allowed_signers.h, signed_record.h (issue 10 foundation): real
// signatures made at test time by `ssh-keygen -Y sign`, checked here and by
// `ssh-keygen -Y verify`; hostile blobs; the allowed_signers subset; the
// envelope's refusals.
#include "allowed_signers.h"
#include "allowed_signers_file.h"
#include "json.h"
#include "signed_record.h"
#include "sshsig.h"
#include "util.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

TmpDir* g_dir = nullptr;  // keys made once for the whole group
constexpr const char* kFleet = "chu-nord";
constexpr std::int64_t kNow = 1796147000;  // 2026-12-01

int sh(const std::string& cmd, const std::string& out = "/dev/null") {
    int rc = std::system((cmd + " >" + out + " 2>/dev/null").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string path(const std::string& rel) { return *g_dir / rel; }

// "TYPE BASE64" of NAME.pub.
std::string pub(const std::string& name) {
    auto f = split(slurp(path(name + ".pub")), ' ');
    return f.at(0) + " " + f.at(1);
}

std::string pub_blob(const std::string& name) {
    std::string b;
    if (!base64_decode(split(pub(name), ' ').at(1), b, 4096))
        fail_msg("bad pub of %s", name.c_str());
    return b;
}

// The armored signature ssh-keygen makes over `msg` (extra: more options).
std::string sign(const std::string& key, const std::string& ns, const std::string& msg,
                 const std::string& extra = "") {
    static int n = 0;
    std::string m = path("msg" + std::to_string(++n));
    write_file(m, msg);
    if (sh("ssh-keygen -q -Y sign -n " + ns + " " + extra + " -f " + path(key) + " " + m) != 0)
        fail_msg("ssh-keygen -Y sign failed for %s", key.c_str());
    return slurp(m + ".sig");
}

// ssh-keygen -Y verify's verdict on (msg, sig) against an allowed_signers text.
int ssh_verify(const std::string& allowed, const std::string& principal, const std::string& ns,
               const std::string& msg, const std::string& sig) {
    write_file(path("v.allowed"), allowed, 0644);
    write_file(path("v.msg"), msg);
    write_file(path("v.sig"), sig);
    return sh("ssh-keygen -Y verify -f " + path("v.allowed") + " -I " + principal + " -n " + ns +
              " -s " + path("v.sig") + " < " + path("v.msg"));
}

std::string
allowed_line(const std::string& principal, const std::string& key,
             const std::string& opts = "namespaces=\"grant@pam-vendor,code@pam-vendor\"") {
    return principal + " " + opts + " " + pub(key) + "\n";
}

SshSig parse_ok(std::string_view text) {
    auto s = parse_sshsig(text);
    if (!s) fail_msg("parse_sshsig: %s", s.error().detail.c_str());
    return *s;
}

void sign_and_verify(void**) {
    std::string msg = "{\"v\":1}\n";
    auto sig = sign("alice", "grant@pam-vendor", msg);
    auto s = parse_ok(sig);
    assert_str_eq(s.key_type, "ssh-ed25519");
    assert_str_eq(s.ns, "grant@pam-vendor");
    assert_str_eq(s.hash_alg, "sha512");
    assert_ok(verify_sshsig(s, msg, {"grant@pam-vendor"}));
    // The raw blob parses to the same thing.
    assert_ok(verify_sshsig(parse_ok(s.blob), msg, {"grant@pam-vendor"}));
    // Same fingerprint as ssh-keygen -l.
    assert_int_equal(sh("ssh-keygen -lf " + path("alice.pub"), path("fp")), 0);
    assert_str_eq(split(slurp(path("fp")), ' ').at(1), s.fingerprint);
    // ssh-keygen agrees.
    assert_int_equal(
        ssh_verify(allowed_line("alice", "alice"), "alice", "grant@pam-vendor", msg, sig), 0);
}

void tampered_message_and_signature(void**) {
    std::string msg = "grant acme\n";
    auto sig = sign("alice", "grant@pam-vendor", msg);
    auto s = parse_ok(sig);
    assert_err(verify_sshsig(s, "grant acmf\n", {"grant@pam-vendor"}), Code::refused);
    assert_err(verify_sshsig(s, "", {"grant@pam-vendor"}), Code::refused);
    assert_true(ssh_verify(allowed_line("alice", "alice"), "alice", "grant@pam-vendor",
                           "grant acmf\n", sig) != 0);
    // Every bit of the 64 signature bytes (the blob's last 64) matters.
    for (std::size_t i = 0; i < 64; ++i) {
        std::string blob = s.blob;
        blob[blob.size() - 1 - i] = static_cast<char>(blob[blob.size() - 1 - i] ^ 0x01);
        auto t = parse_sshsig(blob);
        assert_ok(t);
        assert_err(verify_sshsig(*t, msg, {"grant@pam-vendor"}), Code::refused);
    }
    // Another key in place of the signer's.
    auto bob = parse_ok(sign("bob", "grant@pam-vendor", msg));
    SshSig swapped = s;
    swapped.ed25519_pk = bob.ed25519_pk;
    assert_err(verify_sshsig(swapped, msg, {"grant@pam-vendor"}), Code::refused);
    assert_true(ssh_verify(allowed_line("bob", "bob"), "bob", "grant@pam-vendor", msg, sig) != 0);
}

void wrong_namespace(void**) {
    std::string msg = "x";
    auto s = parse_ok(sign("alice", "code@pam-vendor", msg));
    auto st = verify_sshsig(s, msg, {"grant@pam-vendor"});
    assert_err(st, Code::refused);
    assert_true(contains(st.error().detail, "namespace 'code@pam-vendor'"));
    assert_ok(verify_sshsig(s, msg, {"code@pam-vendor"}));
    // ssh-keygen agrees: a code signature is not a grant signature.
    auto sig = sign("alice", "code@pam-vendor", msg);
    assert_true(ssh_verify(allowed_line("alice", "alice"), "alice", "grant@pam-vendor", msg, sig) !=
                0);
    assert_int_equal(
        ssh_verify(allowed_line("alice", "alice"), "alice", "code@pam-vendor", msg, sig), 0);
    // And on a key whose namespaces= leaves the namespace out.
    assert_true(ssh_verify(allowed_line("alice", "alice", "namespaces=\"grant@pam-vendor\""),
                           "alice", "code@pam-vendor", msg, sig) != 0);
}

void sha256_rsa_ecdsa_refused(void**) {
    auto s = parse_ok(sign("alice", "grant@pam-vendor", "x", "-O hashalg=sha256"));
    auto st = verify_sshsig(s, "x", {"grant@pam-vendor"});
    assert_err(st, Code::refused);
    assert_true(contains(st.error().detail, "sha256"));
    for (const char* k : {"rsa", "ecdsa"}) {
        auto r = parse_sshsig(sign(k, "grant@pam-vendor", "x"));
        assert_err(r, Code::refused);
        assert_true(contains(r.error().detail, "is not accepted"));
    }
}

// The top-level fields of a blob, for lying about their lengths.
std::vector<std::size_t> length_offsets(const std::string& blob) {
    std::vector<std::size_t> out;
    std::size_t at = 10;  // "SSHSIG" + version
    while (at + 4 <= blob.size()) {
        out.push_back(at);
        auto u = [&](std::size_t i) {
            return static_cast<std::uint32_t>(static_cast<unsigned char>(blob[i]));
        };
        std::uint32_t n = u(at) << 24 | u(at + 1) << 16 | u(at + 2) << 8 | u(at + 3);
        at += 4 + n;
    }
    return out;
}

void put_u32(std::string& b, std::size_t at, std::uint32_t v) {
    b[at] = static_cast<char>(v >> 24);
    b[at + 1] = static_cast<char>(v >> 16 & 0xff);
    b[at + 2] = static_cast<char>(v >> 8 & 0xff);
    b[at + 3] = static_cast<char>(v & 0xff);
}

void hostile_blobs(void**) {
    std::string msg = "m";
    auto s = parse_ok(sign("alice", "grant@pam-vendor", msg));
    // Every truncation fails.
    for (std::size_t n = 0; n < s.blob.size(); ++n)
        assert_false(parse_sshsig(s.blob.substr(0, n)).ok());
    // Trailing bytes.
    assert_err(parse_sshsig(s.blob + "x"), Code::invalid);
    // Every top-level length lied about: too long, one short, huge.
    auto offs = length_offsets(s.blob);
    assert_int_equal(offs.size(), 5);
    for (std::size_t at : offs) {
        auto u = [&](std::size_t i) {
            return static_cast<std::uint32_t>(static_cast<unsigned char>(s.blob[i]));
        };
        std::uint32_t n = u(at) << 24 | u(at + 1) << 16 | u(at + 2) << 8 | u(at + 3);
        for (std::uint32_t lie : {n + 1, n - 1, 0xffffffffu, 0x7fffffffu, 0u}) {
            if (lie == n) continue;
            std::string b = s.blob;
            put_u32(b, at, lie);
            auto r = parse_sshsig(b);
            if (r.ok()) assert_false(verify_sshsig(*r, msg, {"grant@pam-vendor"}).ok());
        }
    }
    // The inner lengths (key type, key, signature type, signature) too.
    for (std::size_t at = 10; at + 4 <= s.blob.size(); ++at) {
        std::string b = s.blob;
        put_u32(b, at, 0xfffffff0u);
        auto r = parse_sshsig(b);
        if (r.ok()) assert_false(verify_sshsig(*r, msg, {"grant@pam-vendor"}).ok());
    }
    // Version 2.
    std::string v2 = s.blob;
    v2[9] = 2;
    assert_err(parse_sshsig(v2), Code::invalid);
    // Oversized and garbage.
    assert_err(parse_sshsig("SSHSIG" + std::string(5000, 'A')), Code::too_large);
    std::string armored = "-----BEGIN SSH SIGNATURE-----\n" + std::string(9000, 'A') +
                          "\n-----END SSH SIGNATURE-----\n";
    assert_err(parse_sshsig(armored), Code::too_large);
    assert_err(parse_sshsig(""), Code::invalid);
    assert_err(parse_sshsig("hello"), Code::invalid);
    assert_err(parse_sshsig("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n"), Code::invalid);
    assert_err(parse_sshsig("-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----\n"),
               Code::invalid);
    auto sig = sign("alice", "grant@pam-vendor", msg);
    assert_err(parse_sshsig(sig + "more\n"), Code::invalid);
    assert_err(parse_sshsig("-----BEGIN SSH SIGNATURE-----U1NI" + sig.substr(30)), Code::invalid);
    std::string crlf;
    for (char c : sig) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    assert_ok(parse_sshsig(crlf));
    randombytes_stir();
    for (int i = 0; i < 2000; ++i) {
        std::string b = "SSHSIG";
        b.resize(6 + randombytes_uniform(400));
        randombytes_buf(b.data() + 6, b.size() - 6);
        auto r = parse_sshsig(b);
        if (r.ok()) assert_false(verify_sshsig(*r, msg, {"grant@pam-vendor"}).ok());
    }
}

// A FIDO (sk-ssh-ed25519) signature built here as an authenticator would
// (no token on the test machine); ssh-keygen -Y verify is the referee.
struct SkSig {
    std::string armored;
    std::string key_line;
};

void wire_str(std::string& out, std::string_view s) {
    std::string n(4, '\0');
    put_u32(n, 0, static_cast<std::uint32_t>(s.size()));
    out += n;
    out.append(s);
}

SkSig make_sk_sig(const std::string& msg, const std::string& ns, std::uint8_t flags) {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    std::string key;
    wire_str(key, "sk-ssh-ed25519@openssh.com");
    wire_str(key, std::string_view(reinterpret_cast<char*>(pk), sizeof pk));
    wire_str(key, "ssh:");
    unsigned char h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(h, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    std::string data = "SSHSIG";
    wire_str(data, ns);
    wire_str(data, "");
    wire_str(data, "sha512");
    wire_str(data, std::string_view(reinterpret_cast<char*>(h), sizeof h));
    unsigned char a[32], d[32];
    crypto_hash_sha256(a, reinterpret_cast<const unsigned char*>("ssh:"), 4);
    crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    std::string tbs(reinterpret_cast<char*>(a), 32);
    tbs.push_back(static_cast<char>(flags));
    tbs += std::string("\0\0\0\x07", 4);
    tbs.append(reinterpret_cast<char*>(d), 32);
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(tbs.data()),
                         tbs.size(), sk);
    std::string sigblob;
    wire_str(sigblob, "sk-ssh-ed25519@openssh.com");
    wire_str(sigblob, std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
    sigblob.push_back(static_cast<char>(flags));
    sigblob += std::string("\0\0\0\x07", 4);
    std::string blob = "SSHSIG";
    blob += std::string("\0\0\0\x01", 4);
    wire_str(blob, key);
    wire_str(blob, ns);
    wire_str(blob, "");
    wire_str(blob, "sha512");
    wire_str(blob, sigblob);
    std::string b64 = base64_encode(blob), arm = "-----BEGIN SSH SIGNATURE-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 70) arm += b64.substr(i, 70) + "\n";
    arm += "-----END SSH SIGNATURE-----\n";
    return {arm, "sk-ssh-ed25519@openssh.com " + base64_encode(key)};
}

void fido_sk_ed25519(void**) {
    std::string msg = "fido\n";
    auto up = make_sk_sig(msg, "grant@pam-vendor", 0x01);
    auto s = parse_ok(up.armored);
    assert_str_eq(s.key_type, "sk-ssh-ed25519@openssh.com");
    assert_ok(verify_sshsig(s, msg, {"grant@pam-vendor"}));
    assert_err(verify_sshsig(s, "fidO\n", {"grant@pam-vendor"}), Code::refused);
    std::string allowed = "alice namespaces=\"grant@pam-vendor\" " + up.key_line + "\n";
    assert_int_equal(ssh_verify(allowed, "alice", "grant@pam-vendor", msg, up.armored), 0);
    // Verify-required: the UV flag.
    auto st = verify_sshsig(s, msg, {"grant@pam-vendor", true});
    assert_err(st, Code::refused);
    assert_true(contains(st.error().detail, "user verification"));
    assert_ok(verify_sshsig(parse_ok(make_sk_sig(msg, "grant@pam-vendor", 0x05).armored), msg,
                            {"grant@pam-vendor", true}));
    // No user presence: refused.
    auto nup = make_sk_sig(msg, "grant@pam-vendor", 0x00);
    st = verify_sshsig(parse_ok(nup.armored), msg, {"grant@pam-vendor"});
    assert_err(st, Code::refused);
    assert_true(contains(st.error().detail, "user presence"));
    // Flags are signed: flipping them breaks the signature.
    auto t = parse_ok(up.armored);
    t.sk_flags = 0x05;
    assert_err(verify_sshsig(t, msg, {"grant@pam-vendor", true}), Code::refused);
}

// --- allowed_signers ---

AllowedSigners parse_signers(const std::string& text) {
    auto a = parse_allowed_signers(text);
    assert_ok(a);
    return *a;
}

void allowed_signers_namespaces_and_times(void**) {
    std::string text = "# operators\n\n" +
                       allowed_line("alice", "alice", "namespaces=\"grant@pam-vendor\"") +
                       allowed_line("\"root-admin\"", "bob", "namespaces=\"account@pam-vendor\"");
    auto a = parse_signers(text);
    assert_int_equal(a.problems.size(), 0);
    assert_int_equal(a.signers.size(), 2);
    auto who = who_signed(a, pub_blob("alice"), "grant@pam-vendor", kNow);
    assert_ok(who);
    assert_str_eq(*who, "alice");
    auto r = who_signed(a, pub_blob("alice"), "account@pam-vendor", kNow);
    assert_err(r, Code::refused);
    assert_true(contains(r.error().detail, "not allowed to sign account@pam-vendor"));
    assert_str_eq(*who_signed(a, pub_blob("bob"), "account@pam-vendor", kNow), "root-admin");
    assert_err(who_signed(a, pub_blob("bob"), "grant@pam-vendor", kNow), Code::refused);
    r = who_signed(a, pub_blob("carol"), "grant@pam-vendor", kNow);
    assert_err(r, Code::refused);
    assert_true(contains(r.error().detail, "not in allowed_signers"));

    // valid-before in the past, valid-after in the future.
    a = parse_signers(allowed_line("alice", "alice",
                                   "namespaces=\"grant@pam-vendor\",valid-before=\"20200101\""));
    r = who_signed(a, pub_blob("alice"), "grant@pam-vendor", kNow);
    assert_err(r, Code::refused);
    assert_true(contains(r.error().detail, "expired"));
    a = parse_signers(allowed_line("alice", "alice",
                                   "valid-after=\"20300101Z\",namespaces=\"grant@pam-vendor\""));
    r = who_signed(a, pub_blob("alice"), "grant@pam-vendor", kNow);
    assert_true(contains(r.error().detail, "not yet valid"));
    // ssh-keygen agrees on the expired key.
    std::string msg = "x";
    auto sig = sign("alice", "grant@pam-vendor", msg);
    assert_true(
        ssh_verify(allowed_line("alice", "alice",
                                "namespaces=\"grant@pam-vendor\",valid-before=\"20200101\""),
                   "alice", "grant@pam-vendor", msg, sig) != 0);

    // Times: with Z exact; without Z the most restrictive zone.
    assert_int_equal(*parse_signer_time("20270101Z", 0), 1798761600);
    assert_int_equal(*parse_signer_time("202701011230Z", 0), 1798761600 + 45000);
    assert_int_equal(*parse_signer_time("20270101123059Z", 0), 1798761600 + 45059);
    assert_int_equal(*parse_signer_time("20270101", -14 * 3600), 1798761600 - 14 * 3600);
    for (const char* t : {"2027010", "202701011", "20271301", "20270230", "20250229",
                          "20270101246000", "2027-01-01", "19691231Z", "", "Z", "20270101ZZ"})
        assert_err(parse_signer_time(t, 0), Code::invalid);
    assert_ok(parse_signer_time("20280229", 0));
}

void allowed_signers_refused_lines(void**) {
    struct Case {
        std::string line;
        const char* why;
    } cases[] = {
        {"alice cert-authority,namespaces=\"grant@pam-vendor\" " + pub("alice"), "cert-authority"},
        {"alice " + pub("alice"), "no namespaces"},
        {"*  namespaces=\"grant@pam-vendor\" " + pub("alice"), "patterns"},
        {"al?ce namespaces=\"grant@pam-vendor\" " + pub("alice"), "patterns"},
        {"alice namespaces=\"grant@*\" " + pub("alice"), "namespace patterns"},
        {"alice namespaces=grant@pam-vendor " + pub("alice"), "double-quoted"},
        {"alice namespaces=\"grant@pam-vendor\",namespaces=\"account@pam-vendor\" " + pub("alice"),
         "twice"},
        {"alice no-touch-required,namespaces=\"grant@pam-vendor\" " + pub("alice"),
         "unknown option"},
        {"alice namespaces=\"grant@pam-vendor\",valid-before=\"2027\" " + pub("alice"),
         "valid-before"},
        {"alice namespaces=\"grant@pam-vendor\" " + pub("rsa"), "cannot sign records"},
        {"alice namespaces=\"grant@pam-vendor\" " + pub("ecdsa"), "cannot sign records"},
        {"alice namespaces=\"grant@pam-vendor\" ssh-ed25519 !!notbase64", "not base64"},
        {"alice namespaces=\"grant@pam-vendor\" ssh-ed25519 " + split(pub("rsa"), ' ').at(1),
         "does not match"},
        {"alice namespaces=\"grant@pam-vendor", "quote"},
        {"alice namespaces=\"grant@pam-vendor\"", "no key"},
        {"\"alice namespaces=\"grant@pam-vendor\" " + pub("alice"), "quote"},
    };
    for (const auto& c : cases) {
        auto a = parse_signers(c.line + "\n");
        if (!a.signers.empty()) fail_msg("line trusted: %s", c.line.c_str());
        assert_int_equal(a.problems.size(), 1);
        if (!contains(a.problems[0], c.why) || !contains(a.problems[0], "line 1:"))
            fail_msg("problem '%s' does not say '%s'", a.problems[0].c_str(), c.why);
        assert_err(who_signed(a, pub_blob("alice"), "grant@pam-vendor", kNow), Code::refused);
    }
    // A damaged line never widens trust: no prefix of a restricted line is
    // trusted without its restriction.
    std::string good = allowed_line("alice", "alice",
                                    "namespaces=\"grant@pam-vendor\",valid-before=\"20270101Z\"");
    for (std::size_t n = 0; n < good.size(); ++n) {
        auto a = parse_signers(good.substr(0, n));
        for (const auto& s : a.signers) {
            assert_true(s.valid_before.has_value());
            assert_int_equal(s.namespaces.size(), 1);
            assert_str_eq(s.namespaces[0], "grant@pam-vendor");
        }
    }
    // One key listed for two principals: ambiguous, refused.
    auto a = parse_signers(allowed_line("alice,alice2", "alice"));
    auto r = who_signed(a, pub_blob("alice"), "grant@pam-vendor", kNow);
    assert_err(r, Code::refused);
    assert_true(contains(r.error().detail, "several principals"));
    // Bad lines around a good one: the good one stays, each bad one reported.
    a = parse_signers("garbage\n" + allowed_line("alice", "alice") + "x y z\r\n");
    assert_int_equal(a.signers.size(), 1);
    assert_int_equal(a.problems.size(), 2);
    assert_true(contains(a.problems[1], "line 3:"));
    assert_err(parse_allowed_signers(std::string(kMaxFileSize + 1, '#')), Code::too_large);
}

void allowed_signers_file_checks(void**) {
    std::string f = path("operators.allowed");
    write_file(f, allowed_line("alice", "alice"), 0644);
    auto a = load_allowed_signers(f);
    assert_ok(a);
    assert_int_equal(a->signers.size(), 1);
    ::chmod(f.c_str(), 0666);
    assert_err(load_allowed_signers(f), Code::insecure);
    ::chmod(f.c_str(), 0644);
    std::string l = path("link.allowed");
    ::unlink(l.c_str());
    assert_int_equal(::symlink(f.c_str(), l.c_str()), 0);
    assert_false(load_allowed_signers(l).ok());
    assert_err(load_allowed_signers(path("absent")), Code::not_found);
}

// --- the envelope ---

std::string payload(const std::map<std::string, std::string>& over = {}) {
    std::map<std::string, std::string> f = {{"v", "1"},
                                            {"type", "\"grant\""},
                                            {"fleet", "\"chu-nord\""},
                                            {"account", "\"acme\""},
                                            {"seq", "1796147000123"},
                                            {"issued_at", "1796147000"},
                                            {"not_before", "1796147000"},
                                            {"not_after", "1796154200"},
                                            {"hosts", "[\"db-*\"]"},
                                            {"operator", "\"alice\""},
                                            {"ticket", "\"INC42\""},
                                            {"reason", "\"PACS upgrade\""}};
    for (const auto& [k, v] : over) {
        if (v.empty()) f.erase(k);
        else f[k] = v;
    }
    std::string out = "{";
    for (const auto& [k, v] : f) out += (out.size() > 1 ? ",\"" : "\"") + k + "\":" + v;
    return out + "}\n";
}

std::string envelope(const std::string& p, const std::string& key = "alice",
                     const std::string& ns = "grant@pam-vendor") {
    auto e = make_envelope(p, sign(key, ns, p));
    assert_ok(e);
    return *e;
}

const AllowedSigners& signers() {
    static AllowedSigners a =
        parse_signers(allowed_line("alice", "alice") + allowed_line("bob", "bob"));
    return a;
}

Result<SignedGrant> open(const std::string& env, std::string_view account = "acme") {
    return open_grant_record(env, {&signers(), kFleet, account, kNow});
}

void expect_refused(const std::string& env, const char* why, Code code = Code::refused) {
    auto g = open(env);
    if (g.ok()) fail_msg("record accepted: %s", env.c_str());
    if (g.error().code != code || !contains(g.error().detail, why))
        fail_msg("got %s '%s', expected %s '%s'", code_name(g.error().code),
                 g.error().detail.c_str(), code_name(code), why);
}

void envelope_ok(void**) {
    std::string p = payload();
    std::string env = envelope(p);
    auto g = open(env);
    assert_ok(g);
    assert_str_eq(g->type, "grant");
    assert_str_eq(g->fleet, "chu-nord");
    assert_str_eq(g->grant.account, "acme");
    assert_int_equal(g->grant.seq, 1796147000123);
    assert_int_equal(g->grant.not_before, 1796147000);
    assert_int_equal(g->grant.not_after, 1796154200);
    assert_str_eq(g->grant.operator_name, "alice");
    assert_str_eq(g->grant.ticket, "INC42");
    assert_str_eq(g->grant.reason, "PACS upgrade");
    assert_int_equal(g->hosts.size(), 1);
    assert_str_eq(g->hosts[0], "db-*");
    assert_str_eq(g->payload, p);
    assert_true(g->grant.signer.rfind("SHA256:", 0) == 0);
    // The envelope's signature is what ssh-keygen checks (an auditor's view).
    std::string blob;
    assert_true(base64_decode(g->grant.signature, blob, 4096));
    std::string b64 = base64_encode(blob), arm = "-----BEGIN SSH SIGNATURE-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 70) arm += b64.substr(i, 70) + "\n";
    arm += "-----END SSH SIGNATURE-----\n";
    assert_int_equal(
        ssh_verify(allowed_line("alice", "alice"), "alice", "grant@pam-vendor", p, arm), 0);
    // A revocation.
    auto rv = open(envelope(
        payload({{"type", "\"revoke\""}, {"seq", "1796147000124"}, {"revoked_at", "1796148000"}})));
    assert_ok(rv);
    assert_str_eq(rv->type, "revoke");
    assert_int_equal(rv->revoked_at, 1796148000);
}

void envelope_refusals(void**) {
    // The operator is not the principal of the key that signed.
    expect_refused(envelope(payload({{"operator", "\"bob\""}})), "key belongs to 'alice'");
    // Another fleet.
    expect_refused(envelope(payload({{"fleet", "\"chu-sud\""}})), "fleet 'chu-sud'");
    // Type mismatch: a code record under the grant namespace; a grant signed
    // in the code namespace.
    expect_refused(envelope(payload({{"type", "\"code\""}})), "type 'code'");
    expect_refused(envelope(payload(), "alice", "code@pam-vendor"), "namespace 'code@pam-vendor'");
    // Filed under another account.
    expect_refused(envelope(payload({{"account", "\"other\""}})), "filed under 'acme'");
    // A key not trusted at all (carol), or only for other namespaces.
    expect_refused(envelope(payload({{"operator", "\"carol\""}}), "carol"),
                   "not in allowed_signers");
    // Tampered payload: widened hosts under the original signature.
    std::string p = payload();
    auto sig = sign("alice", "grant@pam-vendor", p);
    std::string widened = payload({{"hosts", "[\"*\"]"}});
    auto env = make_envelope(widened, sig);
    assert_ok(env);
    expect_refused(*env, "does not verify");
    // Verify before parse: a signed non-JSON payload is only parsed (and
    // refused as invalid) after its signature held; the same bytes with a
    // bad signature are refused for the signature.
    auto nonjson = make_envelope("not json", sign("alice", "grant@pam-vendor", "not json"));
    assert_ok(nonjson);
    expect_refused(*nonjson, "", Code::invalid);
    auto nonjson_bad = make_envelope("not json", sign("alice", "grant@pam-vendor", "not jsoN"));
    assert_ok(nonjson_bad);
    expect_refused(*nonjson_bad, "does not verify");
    // Strict envelope and payload.
    std::string p64 = base64_encode(p), s64 = base64_encode(parse_ok(sig).blob);
    expect_refused("{\"v\":2,\"payload\":\"" + p64 + "\",\"sshsig\":\"" + s64 + "\"}", "version 2",
                   Code::invalid);
    expect_refused("{\"v\":1,\"payload\":\"" + p64 + "\",\"sshsig\":\"" + s64 + "\",\"x\":1}", "",
                   Code::invalid);
    expect_refused("{\"v\":1,\"payload\":\"" + p64 + "\",\"payload\":\"" + p64 +
                       "\",\"sshsig\":\"" + s64 + "\"}",
                   "", Code::invalid);
    expect_refused("{\"v\":1,\"payload\":\"%%%\",\"sshsig\":\"" + s64 + "\"}", "not base64",
                   Code::invalid);
    expect_refused("{\"v\":1,\"payload\":\"" + p64 + "\",\"sshsig\":\"AAAA\"}", "", Code::invalid);
    expect_refused("[]", "", Code::invalid);
    expect_refused(std::string(kMaxEnvelope + 1, ' '), "", Code::too_large);
    expect_refused(envelope(payload({{"extra", "1"}})), "", Code::invalid);
    expect_refused(envelope(payload({{"seq", ""}})), "", Code::invalid);
    expect_refused(envelope(payload({{"not_after", "1796147000"}})), "not_after", Code::invalid);
    expect_refused(envelope(payload({{"hosts", "[\"db/../x\"]"}})), "host pattern", Code::invalid);
    expect_refused(envelope(payload({{"type", "\"revoke\""}})), "revoked_at", Code::invalid);
    expect_refused(envelope(payload({{"hosts", "[]"}})), "'hosts' is empty", Code::invalid);
    auto no_fleet = open_grant_record(envelope(payload()), {&signers(), "", "acme", kNow});
    assert_err(no_fleet, Code::internal);
    // A key removed from allowed_signers: the same record is refused at once.
    AllowedSigners only_bob = parse_signers(allowed_line("bob", "bob"));
    auto g = open_grant_record(envelope(payload()), {&only_bob, kFleet, "acme", kNow});
    assert_err(g, Code::refused);
    // A key past valid-before.
    AllowedSigners expired = parse_signers(allowed_line(
        "alice", "alice", "namespaces=\"grant@pam-vendor\",valid-before=\"20261130Z\""));
    g = open_grant_record(envelope(payload()), {&expired, kFleet, "acme", kNow});
    assert_err(g, Code::refused);
    assert_true(contains(g.error().detail, "expired"));
}

}  // namespace

int main() {
    TmpDir dir;
    g_dir = &dir;
    for (const char* k : {"alice", "bob", "carol"})
        if (sh(std::string("ssh-keygen -q -t ed25519 -N '' -C ") + k + " -f " + dir / k) != 0) {
            std::fprintf(stderr, "ssh-keygen not usable\n");
            return 1;
        }
    if (sh("ssh-keygen -q -t rsa -b 2048 -N '' -f " + dir / "rsa") != 0 ||
        sh("ssh-keygen -q -t ecdsa -N '' -f " + dir / "ecdsa") != 0)
        return 1;
    const CMUnitTest tests[] = {
        cmocka_unit_test(sign_and_verify),
        cmocka_unit_test(tampered_message_and_signature),
        cmocka_unit_test(wrong_namespace),
        cmocka_unit_test(sha256_rsa_ecdsa_refused),
        cmocka_unit_test(hostile_blobs),
        cmocka_unit_test(fido_sk_ed25519),
        cmocka_unit_test(allowed_signers_namespaces_and_times),
        cmocka_unit_test(allowed_signers_refused_lines),
        cmocka_unit_test(allowed_signers_file_checks),
        cmocka_unit_test(envelope_ok),
        cmocka_unit_test(envelope_refusals),
    };
    return RUN_GROUP("sshsig", tests);
}
