#include "config.h"

#include <cctype>
#include <map>

#include "duration.h"
#include "files.h"
#include "util.h"

namespace vendor::core {

const std::vector<ConfigKey>& config_keys() {
    static const std::vector<ConfigKey>* keys = new std::vector<ConfigKey>{
        {"registry_dir", "directory of account entries NAME.json"},
        {"state_dir", "grants, codes, TOTP secrets, failure counters"},
        {"nss_dir", "compiled NSS index"},
        {"audit_log", "hash-chained JSON-lines audit log"},
        {"host_name", "name matched against an entry's hosts (default: gethostname)"},
        {"timezone", "zone for hours schedules, e.g. Europe/Paris (default: /etc/localtime)"},
        {"vendor_group", "members are vendor accounts (default vendors)"},
        {"privileged_groups", "space-separated groups a vendor may never be in"},
        {"otp_digits", "digits of an issued code, 8 to 12 (default 8)"},
        {"otp_ttl", "lifetime of an issued code, at most 1h (default 10m)"},
        {"totp_window", "TOTP steps accepted either side of now, 0 to 3 (default 1)"},
        {"max_grant", "longest activation (default 12h)"},
        {"lockout_threshold",
         "consecutive bad codes that lock the code factor, 1 to 100 (default 5)"},
        {"lockout_time", "how long the lock lasts (default 15m)"},
        {"log_retention_days", "days of audit log vendorctl prune keeps (default 190; prune "
                               "refuses below 183 without --force)"},
        {"uid_min", "first id of vendor accounts served by nss_vendor (default 2000300000)"},
        {"uid_max", "last id of vendor accounts (default 2000499999)"},
        {"vendor_gid", "gid of the vendor group served by nss_vendor (default 2000300000)"},
        {"home_base", "parent of vendor home directories (default /home/vendors)"},
        {"shell", "login shell of new vendor accounts (default /bin/bash)"},
        {"allowed_groups", "space-separated supplementary groups vendorctl add --groups may give"},
        {"remove_home",
         "what vendorctl remove does with the home: archive, delete or keep (default archive)"},
        {"keys_user",
         "sshd AuthorizedKeysCommandUser that may read published keys (default pam-vendor-keys)"},
        {"authorized_keys_options",
         "options put before every key vendorctl authorized-keys prints"},
    };
    return *keys;
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

Status set_key(Config& c, const std::string& key, std::string_view v) {
    auto bad = [&](const std::string& why) {
        return make_error(Code::invalid, key + ": " + why + " ('" + escape(v, 80) + "')");
    };
    auto dur = [&](std::int64_t& out, std::int64_t min, std::int64_t max) -> Status {
        auto d = parse_duration(v);
        if (!d) return bad(d.error().detail);
        if (*d < min || *d > max)
            return bad("must be between " + format_duration(min) + " and " + format_duration(max));
        out = *d;
        return {};
    };
    auto num = [&](unsigned& out, unsigned min, unsigned max) -> Status {
        std::uint64_t n;
        if (!parse_uint(v, max, n) || n < min)
            return bad("must be a number from " + std::to_string(min) + " to " +
                       std::to_string(max));
        out = static_cast<unsigned>(n);
        return {};
    };
    auto path = [&](std::string& out) -> Status {
        if (!is_abs_path(v)) return bad("must be an absolute path without spaces, . or ..");
        out = std::string(v);
        while (out.size() > 1 && out.back() == '/') out.pop_back();
        return {};
    };
    if (key == "registry_dir") return path(c.registry_dir);
    if (key == "state_dir") return path(c.state_dir);
    if (key == "nss_dir") return path(c.nss_dir);
    if (key == "audit_log") return path(c.audit_log);
    if (key == "host_name") {
        if (!valid_host_name(v)) return bad("not a host name");
        c.host_name = std::string(v);
        return {};
    }
    if (key == "timezone") {
        if (!valid_tz_name(v)) return bad("not a zoneinfo name such as Europe/Paris");
        c.timezone = std::string(v);
        return {};
    }
    if (key == "vendor_group") {
        if (!valid_group_name(v)) return bad("not a group name");
        c.vendor_group = std::string(v);
        return {};
    }
    if (key == "privileged_groups") {
        if (auto st = parse_group_words(v, c.privileged_groups); !st) return bad(st.error().detail);
        return {};
    }
    if (key == "otp_digits") return num(c.otp_digits, 8, 12);
    if (key == "otp_ttl") return dur(c.otp_ttl, 30, 3600);
    if (key == "totp_window") return num(c.totp_window, 0, 3);
    if (key == "max_grant") return dur(c.max_grant, 60, 7 * 86400);
    if (key == "lockout_threshold") return num(c.lockout_threshold, 1, 100);
    if (key == "lockout_time") return dur(c.lockout_time, 10, 86400);
    if (key == "log_retention_days") return num(c.log_retention_days, 1, 36500);
    auto id = [&](std::uint32_t& out) -> Status {
        std::uint64_t n;
        // 1000 is the hard floor of the NSS module; 2^31-2 the top of the
        // range that every tool treats as an ordinary id.
        if (!parse_uint(v, 2147483646, n) || n < 1000)
            return bad("must be an id from 1000 to 2147483646");
        out = static_cast<std::uint32_t>(n);
        return {};
    };
    if (key == "uid_min") return id(c.uid_min);
    if (key == "uid_max") return id(c.uid_max);
    if (key == "vendor_gid") return id(c.vendor_gid);
    if (key == "home_base") return path(c.home_base);
    if (key == "shell") return path(c.shell);
    if (key == "allowed_groups") {
        c.allowed_groups.clear();
        for (auto& g : split(v, ' ')) {
            if (!valid_group_name(g)) return bad("not a group name: " + escape(g, 64));
            c.allowed_groups.push_back(g);
        }
        return {};
    }
    if (key == "keys_user") {
        if (!valid_group_name(v)) return bad("not a user name");
        c.keys_user = std::string(v);
        return {};
    }
    if (key == "authorized_keys_options") {
        // authorized_keys(5) option list: words, '=' and quoted values; no
        // spaces outside quotes, no control characters.
        bool in_quote = false;
        for (unsigned char ch : v) {
            if (ch < 0x20 || ch == 0x7f) return bad("control character");
            if (ch == '"') in_quote = !in_quote;
            else if (ch == ' ' && !in_quote) return bad("spaces only inside quotes");
        }
        if (in_quote) return bad("unbalanced quote");
        c.authorized_keys_options = std::string(v);
        return {};
    }
    if (key == "remove_home") {
        if (v != "archive" && v != "delete" && v != "keep")
            return bad("must be archive, delete or keep");
        c.remove_home = std::string(v);
        return {};
    }
    return make_error(Code::invalid, "unknown key '" + escape(key, 64) + "'");
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

Result<Config> load_config(const std::string& path, bool explicit_path) {
    auto text = safe_read(path);
    if (!text) {
        if (text.error().code == Code::not_found && !explicit_path) {
            Config c;
            return c;
        }
        return std::move(text).error();
    }
    return parse_config(*text, path);
}

Config salvage_identity(std::string_view text) {
    Config c;
    Config probe;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.empty() || line[0] == '#') continue;
        auto kv = split_line(line);
        if (!kv.ok) continue;
        if (kv.key == "registry_dir" && set_key(probe, kv.key, kv.value))
            c.registry_dir = probe.registry_dir;
        // Never a privileged group, even from a broken file: that would
        // deny the administrators who have to repair it.
        if (kv.key == "vendor_group" && set_key(probe, kv.key, kv.value) &&
            privileged_vendor_group(probe).empty())
            c.vendor_group = probe.vendor_group;
        if (kv.key == "vendor_gid" && set_key(probe, kv.key, kv.value))
            c.vendor_gid = probe.vendor_gid;
        if (kv.key == "uid_min" && set_key(probe, kv.key, kv.value)) c.uid_min = probe.uid_min;
        if (kv.key == "uid_max" && set_key(probe, kv.key, kv.value)) c.uid_max = probe.uid_max;
        // Where the denial is logged, and as which host: the administrator's
        // audit log, not the default path.
        if (kv.key == "audit_log" && set_key(probe, kv.key, kv.value))
            c.audit_log = probe.audit_log;
        if (kv.key == "host_name" && set_key(probe, kv.key, kv.value))
            c.host_name = probe.host_name;
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

std::string dump_config(const Config& c) {
    std::string groups;
    for (const auto& g : c.privileged_groups) {
        bool quote = g.find(' ') != std::string::npos;
        groups += (groups.empty() ? "" : " ") + (quote ? "\"" + g + "\"" : g);
    }
    std::string out;
    auto put = [&](const char* k, const std::string& v) {
        out += std::string(k) + " = " + v + "\n";
    };
    put("registry_dir", c.registry_dir);
    put("state_dir", c.state_dir);
    put("nss_dir", c.nss_dir);
    put("audit_log", c.audit_log);
    put("host_name", c.host_name.empty() ? "(gethostname)" : c.host_name);
    put("timezone", c.timezone.empty() ? "(/etc/localtime)" : c.timezone);
    put("vendor_group", c.vendor_group);
    put("privileged_groups", groups);
    put("otp_digits", std::to_string(c.otp_digits));
    put("otp_ttl", format_duration(c.otp_ttl));
    put("totp_window", std::to_string(c.totp_window));
    put("max_grant", format_duration(c.max_grant));
    put("lockout_threshold", std::to_string(c.lockout_threshold));
    put("lockout_time", format_duration(c.lockout_time));
    put("log_retention_days", std::to_string(c.log_retention_days));
    put("uid_min", std::to_string(c.uid_min));
    put("uid_max", std::to_string(c.uid_max));
    put("vendor_gid", std::to_string(c.vendor_gid));
    put("home_base", c.home_base);
    put("shell", c.shell);
    std::string allowed;
    for (const auto& g : c.allowed_groups) allowed += (allowed.empty() ? "" : " ") + g;
    put("allowed_groups", allowed);
    put("remove_home", c.remove_home);
    put("keys_user", c.keys_user);
    put("authorized_keys_options", c.authorized_keys_options);
    return out;
}

}  // namespace vendor::core
