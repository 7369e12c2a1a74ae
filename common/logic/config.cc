#include "config.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "duration.h"
#include "util.h"

namespace vendor::core {

namespace {

using K = KeyKind;
constexpr std::int64_t kNone = 0;
constexpr Salvage kNo = Salvage::no;

// The keyword table, in documentation order (pam_vendor.conf(5)). Ranges are
// the man page's promises; ids: 1000 is the hard floor of the NSS module,
// 2^31-2 the top of the range every tool treats as an ordinary id.
constexpr ConfigKey kKeys[] = {
    {"registry_dir", K::path, &Config::registry_dir, kNone, kNone, nullptr, nullptr,
     Salvage::identifies_vendors, "directory of account entries NAME.json"},
    {"state_dir", K::path, &Config::state_dir, kNone, kNone, nullptr, nullptr, kNo,
     "grants, codes, TOTP secrets, failure counters"},
    {"state_backend", K::choice, &Config::state_backend, kNone, kNone, "local fleet", nullptr, kNo,
     "where grants, codes and counters live (fleet: reserved, refused by this build)"},
    {"nss_dir", K::path, &Config::nss_dir, kNone, kNone, nullptr, nullptr, kNo,
     "compiled NSS index"},
    {"audit_log", K::path, &Config::audit_log, kNone, kNone, nullptr, nullptr, Salvage::logs_denial,
     "hash-chained JSON-lines audit log"},
    {"syslog_socket", K::path, &Config::syslog_socket, kNone, kNone, nullptr, nullptr, kNo,
     "datagram socket of the local syslog daemon for the audit twins (never waited for)"},
    {"host_name", K::host, &Config::host_name, kNone, kNone, nullptr, "(gethostname)",
     Salvage::logs_denial, "name matched against an entry's hosts"},
    {"timezone", K::zone, &Config::timezone, kNone, kNone, nullptr, "(/etc/localtime)", kNo,
     "zone for hours schedules, e.g. Europe/Paris"},
    {"vendor_group", K::group, &Config::vendor_group, kNone, kNone, nullptr, nullptr,
     Salvage::identifies_vendors, "members are vendor accounts; never a privileged group"},
    {"privileged_groups", K::names, &Config::privileged_groups, kNone, kNone, nullptr, nullptr, kNo,
     "space-separated groups a vendor may never be in (\"quote\" names with spaces)"},
    {"otp_digits", K::count, &Config::otp_digits, 8, 12, nullptr, nullptr, kNo,
     "digits of an issued code"},
    {"otp_ttl", K::duration, &Config::otp_ttl, 30, 3600, nullptr, nullptr, kNo,
     "lifetime of an issued code"},
    {"totp_window", K::count, &Config::totp_window, 0, 3, nullptr, nullptr, kNo,
     "TOTP steps accepted either side of now"},
    {"max_grant", K::duration, &Config::max_grant, 60, 7 * 86400, nullptr, nullptr, kNo,
     "longest activation"},
    {"lockout_threshold", K::count, &Config::lockout_threshold, 1, 100, nullptr, nullptr, kNo,
     "consecutive bad codes that lock the code factor"},
    {"lockout_time", K::duration, &Config::lockout_time, 10, 86400, nullptr, nullptr, kNo,
     "how long the lock lasts"},
    {"log_retention_days", K::count, &Config::log_retention_days, 1, 36500, nullptr, nullptr, kNo,
     "days of audit log vendorctl prune keeps (prune refuses below 183 without --force)"},
    {"uid_min", K::id, &Config::uid_min, 1000, 2147483646, nullptr, nullptr,
     Salvage::identifies_vendors, "first id of vendor accounts served by nss_vendor"},
    {"uid_max", K::id, &Config::uid_max, 1000, 2147483646, nullptr, nullptr,
     Salvage::identifies_vendors, "last id of vendor accounts"},
    {"vendor_gid", K::id, &Config::vendor_gid, 1000, 2147483646, nullptr, nullptr,
     Salvage::identifies_vendors, "gid of the vendor group served by nss_vendor"},
    {"home_base", K::path, &Config::home_base, kNone, kNone, nullptr, nullptr, kNo,
     "parent of vendor home directories"},
    {"shell", K::path, &Config::shell, kNone, kNone, nullptr, nullptr, kNo,
     "login shell of new vendor accounts"},
    {"allowed_groups", K::group_list, &Config::allowed_groups, kNone, kNone, nullptr, nullptr, kNo,
     "space-separated supplementary groups vendorctl add --groups may give"},
    {"remove_home", K::choice, &Config::remove_home, kNone, kNone, "archive delete keep", nullptr,
     kNo, "what vendorctl remove does with the home"},
    {"keys_user", K::user, &Config::keys_user, kNone, kNone, nullptr, nullptr, kNo,
     "sshd AuthorizedKeysCommandUser that may read published keys"},
    {"authorized_keys_options", K::ssh_options, &Config::authorized_keys_options, kNone, kNone,
     nullptr, nullptr, kNo, "options put before every key vendorctl authorized-keys prints"},
};

// Each kind's value lives in a member of the matching type: checked at
// compile time, so the parser and the dump never meet a mismatched row.
constexpr bool table_fits() {
    for (const auto& k : kKeys) {
        std::size_t want = 0;
        switch (k.kind) {
        case KeyKind::group_list:
        case KeyKind::names: want = 1; break;
        case KeyKind::count:
        case KeyKind::id: want = 2; break;
        case KeyKind::duration: want = 3; break;
        default: want = 0; break;
        }
        if (k.field.index() != want) return false;
        if ((k.kind == KeyKind::choice) != (k.choices != nullptr)) return false;
    }
    return true;
}
static_assert(table_fits());

}  // namespace

std::span<const ConfigKey> config_keys() { return kKeys; }

const ConfigKey* find_config_key(std::string_view name) {
    for (const auto& k : kKeys)
        if (name == k.name) return &k;
    return nullptr;
}

const char* key_kind_name(KeyKind k) noexcept {
    switch (k) {
    case KeyKind::path: return "path";
    case KeyKind::duration: return "duration";
    case KeyKind::count: return "number";
    case KeyKind::id: return "id";
    case KeyKind::host: return "host";
    case KeyKind::zone: return "zone";
    case KeyKind::group: return "group";
    case KeyKind::user: return "user";
    case KeyKind::group_list: return "groups";
    case KeyKind::names: return "names";
    case KeyKind::choice: return "choice";
    case KeyKind::ssh_options: return "ssh-options";
    }
    return "?";
}

namespace {

bool is_abs_path(std::string_view v) {
    if (v.empty() || v[0] != '/' || v.size() > 1024) return false;
    for (unsigned char c : v)
        if (c < 0x21 || c == 0x7f) return false;
    // A final "/." or "/.." is as much a dot component as an inner one.
    return v.find("/../") == std::string_view::npos && v.find("/./") == std::string_view::npos &&
           !v.ends_with("/..") && !v.ends_with("/.");
}

bool valid_group_name(std::string_view v) {
    if (v.empty() || v.size() > 64) return false;
    for (unsigned char c : v)
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.' || c == '$')) return false;
    return true;
}

// privileged_groups names what other NSS sources (AD through sssd or
// winbind) call their groups: "domain admins", "admins@corp.example",
// "CORP\admins", localised names. Printable, UTF-8, no quote and no ':'
// (the group(5) separator); spaces only inside a quoted name.
bool valid_privileged_name(std::string_view v) {
    if (v.empty() || v.size() > 256 || !valid_utf8(v) || v.front() == ' ' || v.back() == ' ')
        return false;
    for (unsigned char c : v)
        if (c < 0x20 || c == 0x7f || c == '"' || c == ':' || c == ',') return false;
    return true;
}

// privileged_groups = root sudo "domain admins" admins@corp.example
Status parse_group_words(std::string_view v, std::vector<std::string>& out) {
    out.clear();
    std::size_t i = 0;
    while (i < v.size()) {
        if (v[i] == ' ' || v[i] == '\t') {
            ++i;
            continue;
        }
        std::string word;
        if (v[i] == '"') {
            auto end = v.find('"', i + 1);
            if (end == std::string_view::npos)
                return make_error(Code::invalid, "unbalanced double quote");
            word = std::string(v.substr(i + 1, end - i - 1));
            i = end + 1;
            if (i < v.size() && v[i] != ' ' && v[i] != '\t')
                return make_error(Code::invalid, "a quoted name must be followed by a space");
        } else {
            auto end = v.find_first_of(" \t", i);
            word = std::string(v.substr(i, end == std::string_view::npos ? end : end - i));
            i = end == std::string_view::npos ? v.size() : end;
            if (word.find('"') != std::string::npos)
                return make_error(Code::invalid, "quote inside a name: quote the whole name");
        }
        if (!valid_privileged_name(word))
            return make_error(Code::invalid, "not a group name: \"" + escape(word, 64) + "\"");
        out.push_back(std::move(word));
    }
    return {};
}

// vendor_group makes its members vendor accounts, denied unless registered:
// naming root, sudo or any privileged group there locks the administrators
// out. The built-in privileged list counts even when privileged_groups
// replaces it.
std::string privileged_vendor_group(const Config& c) {
    static const char* builtin[] = {"root",   "sudo", "wheel",   "adm",  "admin",
                                    "docker", "lxd",  "libvirt", "disk", "shadow"};
    for (const char* b : builtin)
        if (group_name_matches(b, c.vendor_group)) return b;
    for (const auto& p : c.privileged_groups)
        if (group_name_matches(p, c.vendor_group)) return p;
    return "";
}

bool valid_host_name(std::string_view v) {
    if (v.empty() || v.size() > 253) return false;
    for (unsigned char c : v)
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_')) return false;
    return true;
}

bool valid_tz_name(std::string_view v) {
    if (v.empty() || v.size() > 128 || v[0] == '/' || v.find("..") != std::string_view::npos)
        return false;
    for (unsigned char c : v)
        if (!(isalnum(c) || c == '_' || c == '-' || c == '/' || c == '+')) return false;
    return true;
}

// Parse one value of key `k` into `c`. Every kind says what was wrong, the
// caller adds "key: " and the value.
Status set_value(const ConfigKey& k, Config& c, std::string_view v) {
    auto bad = [&](const std::string& why) {
        return make_error(Code::invalid,
                          std::string(k.name) + ": " + why + " ('" + escape(v, 80) + "')");
    };
    // Every string kind has a string field (table_fits() proves it).
    auto* sp = std::get_if<std::string Config::*>(&k.field);
    std::string none;
    std::string& str = sp ? c.**sp : none;
    switch (k.kind) {
    case KeyKind::path:
        if (!is_abs_path(v)) return bad("must be an absolute path without spaces, . or ..");
        str = std::string(v);
        while (str.size() > 1 && str.back() == '/') str.pop_back();
        return {};
    case KeyKind::duration: {
        auto d = parse_duration(v);
        if (!d) return bad(d.error().detail);
        if (*d < k.min || *d > k.max)
            return bad("must be between " + format_duration(k.min) + " and " +
                       format_duration(k.max));
        c.*std::get<std::int64_t Config::*>(k.field) = *d;
        return {};
    }
    case KeyKind::count:
    case KeyKind::id: {
        std::uint64_t n;
        auto max = static_cast<std::uint64_t>(k.max);
        if (!parse_uint(v, max, n) || n < static_cast<std::uint64_t>(k.min))
            return bad(std::string(k.kind == KeyKind::id ? "must be an id from "
                                                         : "must be a number from ") +
                       std::to_string(k.min) + " to " + std::to_string(k.max));
        c.*std::get<unsigned Config::*>(k.field) = static_cast<unsigned>(n);
        return {};
    }
    case KeyKind::host:
        if (!valid_host_name(v)) return bad("not a host name");
        str = std::string(v);
        return {};
    case KeyKind::zone:
        if (!valid_tz_name(v)) return bad("not a zoneinfo name such as Europe/Paris");
        str = std::string(v);
        return {};
    case KeyKind::group:
    case KeyKind::user:
        if (!valid_group_name(v))
            return bad(k.kind == KeyKind::user ? "not a user name" : "not a group name");
        str = std::string(v);
        return {};
    case KeyKind::group_list: {
        auto& out = c.*std::get<std::vector<std::string> Config::*>(k.field);
        out.clear();
        for (auto& g : split(v, ' ')) {
            if (!valid_group_name(g)) return bad("not a group name: " + escape(g, 64));
            out.push_back(g);
        }
        return {};
    }
    case KeyKind::names:
        if (auto st =
                parse_group_words(v, c.*std::get<std::vector<std::string> Config::*>(k.field));
            !st)
            return bad(st.error().detail);
        return {};
    case KeyKind::choice: {
        auto words = split(k.choices, ' ');
        if (std::find(words.begin(), words.end(), v) == words.end()) {
            std::string list;
            for (std::size_t i = 0; i < words.size(); ++i)
                list += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
            return bad("must be " + list);
        }
        str = std::string(v);
        return {};
    }
    case KeyKind::ssh_options: {
        // authorized_keys(5) option list: words, '=' and quoted values; no
        // spaces outside quotes, no control characters.
        bool in_quote = false;
        for (unsigned char ch : v) {
            if (ch < 0x20 || ch == 0x7f) return bad("control character");
            if (ch == '"') in_quote = !in_quote;
            else if (ch == ' ' && !in_quote) return bad("spaces only inside quotes");
        }
        if (in_quote) return bad("unbalanced quote");
        str = std::string(v);
        return {};
    }
    }
    return make_error(Code::internal, std::string(k.name) + ": no parser for its kind");
}

Status set_key(Config& c, const std::string& key, std::string_view v) {
    const ConfigKey* k = find_config_key(key);
    if (!k) return make_error(Code::invalid, "unknown key '" + escape(key, 64) + "'");
    return set_value(*k, c, v);
}

struct Line {
    std::string key;
    std::string_view value;
    bool ok;
};

Line split_line(std::string_view line) {
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return {"", {}, false};
    return {std::string(trim(line.substr(0, eq))), trim(line.substr(eq + 1)), true};
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string path) {
    Config c;
    c.path = std::move(path);
    std::map<std::string, int> seen;
    int lineno = 0;
    if (text.size() > kMaxFileSize) return make_error(Code::too_large, "config too large");
    while (!text.empty()) {
        ++lineno;
        auto nl = text.find('\n');
        auto raw = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        auto line = trim(raw);
        if (line.empty() || line[0] == '#') continue;
        auto where = c.path + ":" + std::to_string(lineno) + ": ";
        auto kv = split_line(line);
        if (!kv.ok || kv.key.empty())
            return make_error(Code::invalid, where + "expected 'key = value'");
        if (seen.count(kv.key))
            return make_error(Code::invalid, where + "'" + escape(kv.key, 64) + "' given twice");
        seen[kv.key] = lineno;
        if (kv.value.empty())
            return make_error(Code::invalid, where + "'" + escape(kv.key, 64) + "' has no value");
        if (auto st = set_key(c, kv.key, kv.value); !st)
            return make_error(Code::invalid, where + st.error().detail);
    }
    if (c.uid_max <= c.uid_min)
        return make_error(Code::invalid, c.path + ": uid_max must be above uid_min");
    if (c.vendor_gid < c.uid_min || c.vendor_gid > c.uid_max)
        return make_error(Code::invalid, c.path + ": vendor_gid must lie in uid_min..uid_max");
    for (const auto& g : c.allowed_groups)
        for (const auto& p : c.privileged_groups)
            if (group_name_matches(p, g))
                return make_error(Code::invalid,
                                  c.path + ": allowed_groups names privileged group '" + g + "'");
    if (auto p = privileged_vendor_group(c); !p.empty())
        return make_error(Code::invalid, c.path + ": vendor_group '" + c.vendor_group +
                                             "' is the privileged group '" + escape(p, 64) +
                                             "': its members (the administrators) would all be "
                                             "denied as vendors");
    return c;
}

Config salvage_identity(std::string_view text) {
    Config c;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.empty() || line[0] == '#') continue;
        auto kv = split_line(line);
        if (!kv.ok) continue;
        const ConfigKey* k = find_config_key(kv.key);
        if (!k || k->salvage == Salvage::no) continue;
        Config probe;
        if (!set_value(*k, probe, kv.value)) continue;
        // Never a privileged group, even from a broken file: that would
        // deny the administrators who have to repair it.
        if (!privileged_vendor_group(probe).empty()) continue;
        std::visit([&](auto field) { c.*field = probe.*field; }, k->field);
    }
    return c;
}

bool group_name_matches(std::string_view configured, std::string_view actual) noexcept {
    auto ieq = [](std::string_view a, std::string_view b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
            if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x - 'A' + 'a');
            if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y - 'A' + 'a');
            if (x != y) return false;
        }
        return true;
    };
    if (configured.empty()) return false;
    if (ieq(configured, actual)) return true;
    if (configured.find_first_of("@\\") != std::string_view::npos) return false;
    // name@domain (sssd full names), DOMAIN\name (winbind)
    auto at = actual.rfind('@');
    if (at != std::string_view::npos && at > 0 && ieq(configured, actual.substr(0, at)))
        return true;
    auto bs = actual.find('\\');
    return bs != std::string_view::npos && ieq(configured, actual.substr(bs + 1));
}

std::string format_config_value(const ConfigKey& k, const Config& c) {
    std::string out;
    switch (k.kind) {
    case KeyKind::duration: return format_duration(c.*std::get<std::int64_t Config::*>(k.field));
    case KeyKind::count:
    case KeyKind::id: return std::to_string(c.*std::get<unsigned Config::*>(k.field));
    case KeyKind::names:
        // Quoted where a name has a space: the dump reads back to the same list.
        for (const auto& g : c.*std::get<std::vector<std::string> Config::*>(k.field)) {
            bool quote = g.find(' ') != std::string::npos;
            out += (out.empty() ? "" : " ") + (quote ? "\"" + g + "\"" : g);
        }
        return out;
    case KeyKind::group_list:
        for (const auto& g : c.*std::get<std::vector<std::string> Config::*>(k.field))
            out += (out.empty() ? "" : " ") + g;
        return out;
    case KeyKind::path:
    case KeyKind::host:
    case KeyKind::zone:
    case KeyKind::group:
    case KeyKind::user:
    case KeyKind::choice:
    case KeyKind::ssh_options:
        out = c.*std::get<std::string Config::*>(k.field);
        return out.empty() && k.unset ? k.unset : out;
    }
    return out;
}

std::string dump_config(const Config& c) {
    std::string out;
    for (const auto& k : kKeys)
        out += std::string(k.name) + " = " + format_config_value(k, c) + "\n";
    return out;
}

std::string list_config_keys() {
    const Config defaults;
    std::string out;
    for (const auto& k : kKeys) {
        std::string kind = key_kind_name(k.kind);
        if (k.kind == KeyKind::count || k.kind == KeyKind::id)
            kind += "(" + std::to_string(k.min) + ".." + std::to_string(k.max) + ")";
        else if (k.kind == KeyKind::duration)
            kind += "(" + format_duration(k.min) + ".." + format_duration(k.max) + ")";
        else if (k.kind == KeyKind::choice) {
            std::string ch = k.choices;
            std::replace(ch.begin(), ch.end(), ' ', '|');
            kind += "(" + ch + ")";
        }
        auto def = format_config_value(k, defaults);
        out += std::string(k.name) + "\t" + kind + "\t" + (def.empty() ? "(none)" : def) + "\t" +
               k.help + "\n";
    }
    return out;
}

}  // namespace vendor::core
