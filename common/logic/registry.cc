#include "registry.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "json.h"
#include "util.h"

namespace vendor::core {

Result<unsigned> parse_access(std::string_view s) {
    // pam_vendor-registry(5): each gate once, joined with '+', read strictly.
    // "grant+" or "grant+ otp" is a typo; what the typist meant is not ours to guess.
    if (s.empty()) return make_error(Code::invalid, "empty access set");
    const auto whole = s;
    unsigned a = 0;
    while (true) {
        auto pos = s.find('+');
        auto p = s.substr(0, pos);
        unsigned bit = p == "grant"   ? kAccessGrant
                       : p == "otp"   ? kAccessOtp
                       : p == "hours" ? kAccessHours
                                      : 0u;
        if (p.empty())
            return make_error(Code::invalid, "empty gate in access set '" + escape(whole, 32) +
                                                 "' (gates joined with '+', e.g. grant+otp)");
        if (!bit)
            return make_error(Code::invalid,
                              "unknown access gate '" + escape(p, 32) + "' (grant, otp, hours)");
        if (a & bit)
            return make_error(Code::invalid, "access gate '" + std::string(p) + "' given twice");
        a |= bit;
        if (pos == std::string_view::npos) break;
        s.remove_prefix(pos + 1);
        if (s.empty())
            return make_error(Code::invalid,
                              "access set ends with '+' (gates joined with '+', e.g. grant+otp)");
    }
    return a;
}

std::string format_access(unsigned a) {
    std::string out;
    if (a & kAccessGrant) out += "grant";
    if (a & kAccessOtp) out += std::string(out.empty() ? "" : "+") + "otp";
    if (a & kAccessHours) out += std::string(out.empty() ? "" : "+") + "hours";
    return out;
}

bool valid_host_pattern(std::string_view p) noexcept {
    if (p.empty() || p.size() > 253) return false;
    for (unsigned char c : p)
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == '*' || c == '?')) return false;
    return true;
}

bool host_glob_match(std::string_view pat, std::string_view host) noexcept {
    // Iterative '*' matcher with one backtrack point: linear-ish, no recursion.
    std::size_t p = 0, h = 0, star = std::string_view::npos, mark = 0;
    auto lower = [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    while (h < host.size()) {
        if (p < pat.size() && (pat[p] == '?' || lower(pat[p]) == lower(host[h]))) {
            ++p;
            ++h;
        } else if (p < pat.size() && pat[p] == '*') {
            star = p++;
            mark = h;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            h = ++mark;
        } else {
            return false;
        }
    }
    while (p < pat.size() && pat[p] == '*') ++p;
    return p == pat.size();
}

Status check_wide(const Cidr& c, bool any_source) {
    if (!c.is_wide() || any_source) return {};
    return make_error(Code::invalid,
                      "block " + c.str() +
                          " spans (nearly) every address (IPv4 shorter than /8, IPv6 shorter "
                          "than /16); it needs an explicit any_source (vendorctl add "
                          "--allow-any-source)");
}

std::string entry_path(const std::string& registry_dir, std::string_view name) {
    return registry_dir + "/" + std::string(name) + ".json";
}

namespace {

bool read_u32(const unsigned char*& p, const unsigned char* end, std::uint32_t& v) {
    if (end - p < 4) return false;
    v = static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
        static_cast<std::uint32_t>(p[2]) << 8 | p[3];
    p += 4;
    return true;
}

bool read_string(const unsigned char*& p, const unsigned char* end, std::string_view& out) {
    std::uint32_t n;
    if (!read_u32(p, end, n) || static_cast<std::size_t>(end - p) < n) return false;
    out = std::string_view(reinterpret_cast<const char*>(p), n);
    p += n;
    return true;
}

}  // namespace

Result<PublicKey> parse_public_key(std::string_view line) {
    auto bad = [&](const std::string& why) {
        return make_error(Code::invalid, "public key refused: " + why);
    };
    line = trim(line);
    if (line.size() > 16384) return bad("too long");
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return bad("expected 'TYPE BASE64 [COMMENT]'");
    PublicKey k;
    k.type = std::string(line.substr(0, sp));
    auto rest = trim(line.substr(sp + 1));
    auto sp2 = rest.find(' ');
    k.blob_b64 = std::string(rest.substr(0, sp2));
    if (sp2 != std::string_view::npos) k.comment = std::string(trim(rest.substr(sp2 + 1)));
    for (unsigned char c : k.comment)
        if (c < 0x20 || c == 0x7f) return bad("control character in comment");
    if (!valid_utf8(k.comment)) return bad("comment is not valid UTF-8");
    static const char* allowed[] = {"ssh-ed25519",
                                    "ecdsa-sha2-nistp256",
                                    "ecdsa-sha2-nistp384",
                                    "ecdsa-sha2-nistp521",
                                    "sk-ssh-ed25519@openssh.com",
                                    "sk-ecdsa-sha2-nistp256@openssh.com",
                                    "ssh-rsa"};
    bool known = false;
    for (const char* a : allowed)
        if (k.type == a) known = true;
    if (!known) {
        // The first word of whatever file was given (--key /etc/shadow):
        // named only when it is one of OpenSSH's own key type names.
        static const char* refused[] = {"ssh-dss",
                                        "ssh-ed448",
                                        "ssh-xmss@openssh.com",
                                        "ssh-rsa-cert-v01@openssh.com",
                                        "ssh-dss-cert-v01@openssh.com",
                                        "ssh-ed25519-cert-v01@openssh.com",
                                        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
                                        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
                                        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
                                        "sk-ssh-ed25519-cert-v01@openssh.com",
                                        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
                                        "rsa-sha2-256",
                                        "rsa-sha2-512"};
        std::string name = "an unknown key type";
        for (const char* r : refused)
            if (k.type == r) name = "algorithm '" + k.type + "'";
        return bad(name +
                   " is not allowed (ed25519, ecdsa-sha2-nistp256/384/521, sk-* or RSA >= 3072 "
                   "bits)");
    }
    std::string blob(k.blob_b64.size(), '\0');
    std::size_t blob_len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(blob.data()), blob.size(),
                          k.blob_b64.data(), k.blob_b64.size(), nullptr, &blob_len, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return bad("key data is not base64");
    blob.resize(blob_len);
    auto p = reinterpret_cast<const unsigned char*>(blob.data());
    auto end = p + blob.size();
    std::string_view inner_type;
    if (!read_string(p, end, inner_type) || inner_type != k.type)
        return bad("key data does not match its type");
    if (k.type == "ssh-rsa") {
        std::string_view e, n;
        if (!read_string(p, end, e) || !read_string(p, end, n) || p != end)
            return bad("malformed RSA key");
        std::size_t i = 0;
        while (i < n.size() && n[i] == '\0') ++i;
        if (i == n.size()) return bad("malformed RSA key");
        unsigned top = static_cast<unsigned char>(n[i]);
        unsigned topbits = 0;
        while (top) {
            ++topbits;
            top >>= 1;
        }
        k.bits = static_cast<unsigned>((n.size() - i - 1) * 8 + topbits);
        if (k.bits < 3072)
            return bad("RSA key of " + std::to_string(k.bits) +
                       " bits; at least 3072 are required");
    } else if (k.type == "ssh-ed25519") {
        std::string_view pk;
        if (!read_string(p, end, pk) || pk.size() != 32 || p != end)
            return bad("malformed ed25519 key");
        k.bits = 256;
    } else if (k.type.rfind("ecdsa-", 0) == 0) {
        std::string_view curve, q;
        if (!read_string(p, end, curve) || !read_string(p, end, q) || p != end)
            return bad("malformed ECDSA key");
        if (k.type.substr(k.type.size() - 8) != curve)
            return bad("ECDSA curve does not match its type");
        k.bits = curve == "nistp256" ? 256 : curve == "nistp384" ? 384 : 521;
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(blob.data()), blob.size());
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, digest, sizeof digest,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    k.fingerprint = std::string("SHA256:") + b64;
    return k;
}

Result<Entry> parse_entry(std::string_view text, std::string_view expected_name) {
    std::string what = "registry entry " + escape(expected_name, 64);
    auto doc = Json::parse(text, what);
    if (!doc) return std::move(doc).error();
    JsonReader r(doc->get(), what);
    if (auto st = r.check_keys({"name", "vendor", "from", "local", "any_source", "access", "hours",
                                "keys", "hosts", "comment", "created", "created_by", "existing",
                                "uid", "home", "shell", "groups"});
        !st)
        return st.error();
    Entry e;
    std::vector<std::string> from;
    std::string access = "grant", hours;
    Status st;
    if (!(st = r.str("name", e.name, true, 32)) || !(st = r.str("vendor", e.vendor, true, 256)) ||
        !(st = r.str_list("from", from, true, 256, 64)) ||
        !(st = r.boolean("local", e.allow_local, false)) ||
        !(st = r.boolean("any_source", e.any_source, false)) ||
        !(st = r.str("access", access, false, 32)) || !(st = r.str("hours", hours, false, 512)) ||
        !(st = r.str_list("keys", e.keys, false, 64)) ||
        !(st = r.str_list("hosts", e.hosts, false, 256, 253)) ||
        !(st = r.str("comment", e.comment, false, 1024)) ||
        !(st = r.str("created", e.created, false, 64)) ||
        !(st = r.str("created_by", e.created_by, false, 64)) ||
        !(st = r.boolean("existing", e.existing, false)) ||
        !(st = r.str("home", e.home, false, 1024)) ||
        !(st = r.str("shell", e.shell, false, 1024)) ||
        !(st = r.str_list("groups", e.groups, false, 64, 64)))
        return st.error();
    std::int64_t uid = -1;
    if (!(st = r.int64("uid", uid, !e.existing))) return st.error();
    if (e.existing) {
        if (!e.home.empty() || !e.shell.empty() || !e.groups.empty())
            return make_error(Code::invalid,
                              what + ": an existing account has no home, shell or groups here");
        // The uid it resolved to when registered (absent in entries written
        // before pam_vendor recorded it; vendorctl reindex adds it).
        if (uid != -1) {
            if (uid < 0 || uid > 4294967294LL)
                return make_error(Code::invalid, what + ": uid out of range");
            e.uid = static_cast<std::uint32_t>(uid);
            e.uid_recorded = true;
        }
    } else {
        e.uid_recorded = true;
        if (uid < 1000 || uid > 2147483646)
            return make_error(Code::invalid, what + ": uid out of range");
        e.uid = static_cast<std::uint32_t>(uid);
        auto abs_ok = [](const std::string& p) {
            if (p.empty() || p[0] != '/' || p.find("/../") != std::string::npos ||
                p.find("/./") != std::string::npos || p.find(':') != std::string::npos ||
                p.size() > 1024)
                return false;
            if (p.size() >= 2 && p.compare(p.size() - 2, 2, "/.") == 0) return false;
            if (p.size() >= 3 && p.compare(p.size() - 3, 3, "/..") == 0) return false;
            for (unsigned char ch : p)
                if (ch < 0x20 || ch == 0x7f) return false;
            return true;
        };
        if (!abs_ok(e.home) || !abs_ok(e.shell))
            return make_error(Code::invalid, what + ": 'home' and 'shell' must be absolute paths");
        for (const auto& g : e.groups)
            if (g.empty() || g.size() > 32 || g.find(':') != std::string::npos ||
                g.find(' ') != std::string::npos)
                return make_error(Code::invalid, what + ": bad group name");
    }
    if (e.name != expected_name)
        return make_error(Code::invalid, what + ": 'name' does not match the file name");
    if (!valid_account_name(e.name))
        return make_error(Code::invalid, what + ": invalid account name");
    if (e.vendor.empty()) return make_error(Code::invalid, what + ": empty 'vendor'");
    if (from.empty() && !e.allow_local)
        return make_error(Code::invalid, what + ": 'from' is empty");
    for (const auto& f : from) {
        auto c = parse_cidr(f);
        if (!c) return make_error(Code::invalid, what + ": " + c.error().detail);
        if (auto st2 = check_wide(*c, e.any_source); !st2)
            return make_error(Code::invalid, what + ": " + st2.error().detail);
        e.from.push_back(*c);
    }
    auto a = parse_access(access);
    if (!a) return make_error(Code::invalid, what + ": " + a.error().detail);
    e.access = *a;
    if (!hours.empty()) {
        auto s = parse_schedule(hours);
        if (!s) return make_error(Code::invalid, what + ": " + s.error().detail);
        e.hours = std::move(*s);
    }
    if ((e.access & kAccessHours) && !e.hours)
        return make_error(Code::invalid,
                          what + ": access includes 'hours' but no 'hours' schedule is set");
    // R3: an account that lives elsewhere (AD) needs a second factor whose
    // secret is not in AD: the structure-held code.
    if (e.existing && !(e.access & kAccessOtp))
        return make_error(Code::invalid,
                          what + ": an existing (e.g. AD) account must have 'otp' in its access");
    for (const auto& k : e.keys) {
        auto pk = parse_public_key(k);
        if (!pk) return make_error(Code::invalid, what + ": " + pk.error().detail);
    }
    if (e.hosts.empty()) return make_error(Code::invalid, what + ": 'hosts' is empty");
    for (const auto& h : e.hosts)
        if (!valid_host_pattern(h))
            return make_error(Code::invalid, what + ": bad host pattern '" + escape(h, 64) + "'");
    return e;
}

std::string serialize_entry(const Entry& e) {
    Json j = Json::object();
    j.set("name", e.name).set("vendor", e.vendor);
    Json from = Json::array();
    for (const auto& c : e.from) from.push(c.str());
    j.set("from", std::move(from));
    if (e.allow_local) j.set("local", true);
    if (e.any_source) j.set("any_source", true);
    j.set("access", format_access(e.access));
    if (e.hours) j.set("hours", e.hours->text);
    Json keys = Json::array();
    for (const auto& k : e.keys) keys.push(k);
    j.set("keys", std::move(keys));
    Json hosts = Json::array();
    for (const auto& h : e.hosts) hosts.push(h);
    j.set("hosts", std::move(hosts));
    if (!e.comment.empty()) j.set("comment", e.comment);
    if (e.existing) {
        j.set("existing", true);
        if (e.uid_recorded) j.set("uid", static_cast<std::int64_t>(e.uid));
    } else {
        j.set("uid", static_cast<std::int64_t>(e.uid)).set("home", e.home).set("shell", e.shell);
        Json groups = Json::array();
        for (const auto& g : e.groups) groups.push(g);
        j.set("groups", std::move(groups));
    }
    if (!e.created.empty()) j.set("created", e.created);
    if (!e.created_by.empty()) j.set("created_by", e.created_by);
    return j.dump_pretty() + "\n";
}

}  // namespace vendor::core
