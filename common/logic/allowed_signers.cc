// allowed_signers parser and lookup; the accepted subset and why it is
// stricter than OpenSSH are in allowed_signers.h.
#include "allowed_signers.h"

#include <set>

#include "sshsig.h"
#include "util.h"

namespace vendor::core {

namespace {

constexpr std::int64_t kHour = 3600;

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '@' || c == '-';
}

bool plain_name(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    for (char c : s)
        if (!name_char(c)) return false;
    return true;
}

// The next whitespace-separated field; double quotes group (no escapes, as
// in OpenSSH's allowed_signers). False on an unterminated quote.
bool next_field(std::string_view& rest, std::string_view& out) {
    std::size_t i = 0;
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
    std::size_t start = i;
    bool quoted = false;
    for (; i < rest.size(); ++i) {
        char c = rest[i];
        if (c == '"') quoted = !quoted;
        else if (!quoted && (c == ' ' || c == '\t')) break;
    }
    if (quoted) return false;
    out = rest.substr(start, i - start);
    rest = rest.substr(i);
    return true;
}

// Split on commas outside double quotes.
std::vector<std::string_view> split_options(std::string_view s) {
    std::vector<std::string_view> out;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i < s.size() && s[i] == '"') quoted = !quoted;
        if (i == s.size() || (s[i] == ',' && !quoted)) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}

bool unquote(std::string_view v, std::string_view& out) {
    if (v.size() < 2 || v.front() != '"' || v.back() != '"') return false;
    out = v.substr(1, v.size() - 2);
    return out.find('"') == std::string_view::npos;
}

bool is_key_type(std::string_view t) {
    return t == kKeyEd25519 || t == kKeySkEd25519 || t == "ssh-rsa" || t == "ssh-dss" ||
           t.rfind("ecdsa-sha2-", 0) == 0 || t.rfind("sk-ecdsa-sha2-", 0) == 0 ||
           t.find("-cert-v01@openssh.com") != std::string_view::npos;
}

// One line to a signer, or the reason it is skipped.
Result<AllowedSigner> parse_line(std::string_view line, std::size_t n) {
    auto bad = [](const std::string& why) { return make_error(Code::invalid, why); };
    AllowedSigner s;
    s.line = n;
    std::string_view rest = line, principals, field;
    if (!next_field(rest, principals)) return bad("unterminated quote");
    std::string_view pl = principals;
    if (!pl.empty() && pl.front() == '"' && !unquote(pl, pl))
        return bad("malformed quoted principals");
    if (pl.find('"') != std::string_view::npos) return bad("malformed quoted principals");
    for (std::string_view p : split_options(pl)) {
        if (p.find_first_of("*?!") != std::string_view::npos)
            return bad("principal patterns (* ? !) are not supported: one key names one operator");
        if (!plain_name(p)) return bad("principal '" + escape(p, 64) + "' is not a plain name");
        s.principals.emplace_back(p);
    }
    if (!next_field(rest, field)) return bad("unterminated quote in the options");
    if (field.empty()) return bad("no key");
    if (!is_key_type(field)) {
        std::set<std::string> seen;
        for (std::string_view opt : split_options(field)) {
            auto eq = opt.find('=');
            std::string name(opt.substr(0, eq));
            if (!seen.insert(name).second) return bad("option '" + escape(name, 32) + "' twice");
            if (name == "cert-authority")
                return bad("cert-authority is not supported (plain operator keys only)");
            if (name != "namespaces" && name != "valid-after" && name != "valid-before")
                return bad("unknown option '" + escape(name, 32) + "'");
            std::string_view value;
            if (eq == std::string_view::npos || !unquote(opt.substr(eq + 1), value))
                return bad("option '" + escape(name, 32) + "' needs a double-quoted value");
            if (name == "namespaces") {
                for (std::string_view ns : split_options(value)) {
                    if (ns.find_first_of("*?!") != std::string_view::npos)
                        return bad("namespace patterns (* ? !) are not supported");
                    if (!plain_name(ns))
                        return bad("namespace '" + escape(ns, 64) + "' is not a plain name");
                    s.namespaces.emplace_back(ns);
                }
            } else if (name == "valid-after" || name == "valid-before") {
                bool after = name == "valid-after";
                auto t = parse_signer_time(value, after ? 12 * kHour : -14 * kHour);
                if (!t) return bad(name + ": " + t.error().detail);
                (after ? s.valid_after : s.valid_before) = *t;
            } else {
                return bad("unknown option '" + escape(name, 32) + "'");
            }
        }
        if (!next_field(rest, field)) return bad("unterminated quote after the options");
        if (field.empty()) return bad("no key after the options");
    }
    if (s.namespaces.empty())
        return bad("no namespaces= option (required: it says which records the key may sign)");
    if (field != kKeyEd25519 && field != kKeySkEd25519)
        return bad("key type '" + escape(field, 64) +
                   "' cannot sign records (ssh-ed25519 or sk-ssh-ed25519@openssh.com only)");
    s.key_type = field;
    std::string_view b64;
    if (!next_field(rest, b64) || b64.empty()) return bad("no key data");
    if (!base64_decode(b64, s.key_blob, 1024) || s.key_blob.size() < 4 + s.key_type.size())
        return bad("key data is not base64");
    std::string prefix(4, '\0');
    prefix[3] = static_cast<char>(s.key_type.size());
    if (s.key_blob.compare(0, 4 + s.key_type.size(), prefix + s.key_type) != 0)
        return bad("key data does not match its type");
    s.fingerprint = ssh_fingerprint(s.key_blob);
    return s;
}

}  // namespace

Result<std::int64_t> parse_signer_time(std::string_view s, std::int64_t zone_shift_s) {
    auto bad = [](const char* why) { return make_error(Code::invalid, why); };
    bool utc = !s.empty() && (s.back() == 'Z' || s.back() == 'z');
    if (utc) s.remove_suffix(1);
    if (s.size() != 8 && s.size() != 12 && s.size() != 14)
        return bad("time is not YYYYMMDD[HHMM[SS]][Z]");
    for (char c : s)
        if (c < '0' || c > '9') return bad("time is not YYYYMMDD[HHMM[SS]][Z]");
    auto num = [&](std::size_t at, std::size_t len) {
        std::uint64_t v = 0;
        parse_uint(s.substr(at, len), 99999, v);
        return static_cast<unsigned>(v);
    };
    unsigned y = num(0, 4), mo = num(4, 2), d = num(6, 2);
    unsigned h = s.size() >= 12 ? num(8, 2) : 0, mi = s.size() >= 12 ? num(10, 2) : 0;
    unsigned sec = s.size() == 14 ? num(12, 2) : 0;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59)
        return bad("time out of range");
    std::int64_t t =
        days_from_civil(y, mo, d) * 86400 + std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + sec;
    return utc ? t : t + zone_shift_s;
}

Result<AllowedSigners> parse_allowed_signers(std::string_view text) {
    if (text.size() > kMaxFileSize) return make_error(Code::too_large, "allowed_signers too large");
    AllowedSigners out;
    std::size_t at = 0, n = 0;
    while (at < text.size()) {
        auto nl = text.find('\n', at);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(at, nl - at);
        at = nl + 1;
        ++n;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        auto skip = [&](const std::string& why) {
            out.problems.push_back("line " + std::to_string(n) + ": " + why + " (line ignored)");
        };
        if (line.size() > kMaxAllowedSignersLine) {
            skip("too long");
            continue;
        }
        auto s = parse_line(line, n);
        if (!s) skip(s.error().detail);
        else out.signers.push_back(std::move(*s));
    }
    return out;
}

Result<std::string> who_signed(const AllowedSigners& allowed, std::string_view key_blob,
                               std::string_view ns, std::int64_t at) {
    std::string fp = ssh_fingerprint(key_blob);
    std::string why;
    std::set<std::string> principals;
    for (const auto& s : allowed.signers) {
        if (s.key_blob != key_blob) continue;
        std::string who = "key " + fp + " of " + s.principals.front() + " (allowed_signers line " +
                          std::to_string(s.line) + ")";
        bool ns_ok = false;
        for (const auto& n : s.namespaces) ns_ok = ns_ok || n == ns;
        if (!ns_ok) {
            if (why.empty()) why = who + " is not allowed to sign " + escape(ns, 128);
            continue;
        }
        if (s.valid_before && at > *s.valid_before) {
            if (why.empty())
                why = who + " expired (valid-before " + format_rfc3339(*s.valid_before) + ")";
            continue;
        }
        if (s.valid_after && at < *s.valid_after) {
            if (why.empty())
                why =
                    who + " is not yet valid (valid-after " + format_rfc3339(*s.valid_after) + ")";
            continue;
        }
        principals.insert(s.principals.begin(), s.principals.end());
    }
    if (principals.size() == 1) return *principals.begin();
    if (principals.size() > 1)
        return make_error(Code::refused, "key " + fp +
                                             " is listed for several principals in allowed_signers "
                                             "(one key, one operator)");
    if (why.empty()) why = "key " + fp + " is not in allowed_signers";
    return make_error(Code::refused, why);
}

}  // namespace vendor::core
