#include "engine.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "files.h"
#include "util.h"

namespace vendor::core {

namespace {

// getpwnam_r with a growing buffer; false when absent or on error.
bool lookup_user(std::string_view user, uid_t& uid, gid_t& gid) {
    std::string name(user);
    std::vector<char> buf(1024);
    for (int i = 0; i < 8; ++i) {
        passwd pw{};
        passwd* res = nullptr;
        int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &res);
        if (rc == ERANGE) {
            buf.resize(buf.size() * 4);
            continue;
        }
        if (rc != 0 || !res) return false;
        uid = pw.pw_uid;
        gid = pw.pw_gid;
        return true;
    }
    return false;
}

bool lookup_group(std::string_view group, gid_t& gid) {
    std::string name(group);
    std::vector<char> buf(1024);
    for (int i = 0; i < 10; ++i) {
        struct group gr {};
        struct group* res = nullptr;
        int rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &res);
        if (rc == ERANGE) {
            buf.resize(buf.size() * 4);
            continue;
        }
        if (rc != 0 || !res) return false;
        gid = gr.gr_gid;
        return true;
    }
    return false;
}

std::vector<gid_t> groups_of(std::string_view user, gid_t primary) {
    std::string name(user);
    int n = 32;
    std::vector<gid_t> g(static_cast<std::size_t>(n));
    for (int i = 0; i < 6; ++i) {
        int cnt = n;
        if (getgrouplist(name.c_str(), primary, g.data(), &cnt) >= 0) {
            g.resize(static_cast<std::size_t>(cnt));
            return g;
        }
        n = cnt > n ? cnt : n * 4;
        g.resize(static_cast<std::size_t>(n));
    }
    return {primary};
}

bool sane_user_name(std::string_view user) {
    if (user.empty() || user.size() > 256) return false;
    for (unsigned char c : user)
        if (c < 0x21 || c == 0x7f || c == '/' || c == ':') return false;
    return true;
}

}  // namespace

bool user_in_group(std::string_view user, std::string_view group) {
    if (!sane_user_name(user)) return false;
    gid_t target;
    if (!lookup_group(group, target)) return false;
    uid_t uid;
    gid_t primary;
    if (!lookup_user(user, uid, primary)) return false;
    for (gid_t g : groups_of(user, primary))
        if (g == target) return true;
    return false;
}

Result<std::string> privileged_group_of(const Config& c, std::string_view user) {
    uid_t uid;
    gid_t primary;
    if (!lookup_user(user, uid, primary)) return std::string();  // not a system user at all
    if (uid == 0) return std::string("uid 0");
    // By the user's own few gids (one NSS lookup each), not by the ten
    // configured names: most of those do not exist on a given system, and
    // every miss walks every NSS source (files, systemd userdb, sssd...).
    for (gid_t g : groups_of(user, primary)) {
        std::vector<char> buf(4096);
        for (int i = 0; i < 8; ++i) {
            struct group gr {};
            struct group* res = nullptr;
            int rc = getgrgid_r(g, &gr, buf.data(), buf.size(), &res);
            if (rc == ERANGE) {
                buf.resize(buf.size() * 4);
                continue;
            }
            if (rc == 0 && res) {
                for (const auto& name : c.privileged_groups)
                    if (group_name_matches(name, res->gr_name)) return name;
            }
            break;
        }
    }
    return std::string();
}

Identity identify(const Config& c, std::string_view user) {
    Identity id;
    if (valid_account_name(user)) {
        auto path = entry_path(c.registry_dir, user);
        struct stat st {};
        if (fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            id.kind = Identity::vendor_error;
            auto text = safe_read(path);
            if (!text) {
                id.error_reason = Reason::registry_error;
                id.detail = text.error().detail;
                return id;
            }
            auto e = parse_entry(*text, user);
            if (!e) {
                id.error_reason = Reason::registry_error;
                id.detail = e.error().detail;
                return id;
            }
            id.kind = Identity::vendor;
            id.entry = std::move(*e);
            return id;
        }
    }
    if (user_in_group(user, c.vendor_group)) {
        id.kind = Identity::vendor_error;
        id.error_reason = Reason::no_entry;
        id.detail = "member of group " + escape(c.vendor_group, 64) + " without a registry entry";
    }
    return id;
}

std::string this_host(const Config& c) {
    if (!c.host_name.empty()) return c.host_name;
    char buf[HOST_NAME_MAX + 1] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

Result<TimeZone> load_zone(const Config& c) {
    std::string name = c.timezone;
    std::string path;
    if (name.empty()) {
        // /etc/localtime is a root-owned symlink into zoneinfo on Debian;
        // follow it by name, then read the target with the usual checks.
        char target[PATH_MAX] = {};
        ssize_t n = readlink("/etc/localtime", target, sizeof target - 1);
        if (n > 0) {
            std::string t(target, static_cast<std::size_t>(n));
            auto pos = t.find("zoneinfo/");
            if (pos == std::string::npos)
                return make_error(Code::invalid, "/etc/localtime points outside zoneinfo");
            name = t.substr(pos + 9);
            if (name.find("..") != std::string::npos)
                return make_error(Code::invalid, "bad /etc/localtime");
        } else if (errno == EINVAL) {
            path = "/etc/localtime";
            name = "localtime";
        } else {
            return TimeZone::utc();
        }
    }
    if (path.empty()) path = "/usr/share/zoneinfo/" + name;
    if (name == "UTC" || name == "Etc/UTC") return TimeZone::utc();
    auto bytes = safe_read(path, SafeOpts{1 << 18, true});
    if (!bytes) return std::move(bytes).error();
    return TimeZone::from_tzif(*bytes, name);
}

Gathered gather(const Config& c, Store& store, const Entry& e, std::string_view user,
                std::int64_t now) {
    Gathered g;
    g.facts.now = now;
    g.facts.host = this_host(c);
    if (e.access & kAccessGrant) {
        auto gr = store.grant(user);
        if (!gr) {
            g.error = Reason::state_error;
            g.detail = gr.error().detail;
            return g;
        }
        g.facts.grant = std::move(*gr);
    }
    if (e.access & kAccessOtp) {
        auto f = store.failures(user);
        if (!f) {
            g.error = Reason::state_error;
            g.detail = f.error().detail;
            return g;
        }
        g.facts.failures = *f;
    }
    if (e.access & kAccessHours) {
        auto z = load_zone(c);
        if (!z) {
            g.error = Reason::config_error;
            g.detail = z.error().detail;
            return g;
        }
        g.zone = std::make_shared<TimeZone>(std::move(*z));
        g.facts.tz = g.zone.get();
    }
    auto priv = privileged_group_of(c, user);
    if (!priv) {
        g.error = Reason::internal_error;
        g.detail = priv.error().detail;
        return g;
    }
    g.facts.privileged = !priv->empty();
    g.facts.privileged_group = *priv;
    return g;
}

std::string operator_name() {
    if (getuid() == 0) {
        // SUDO_USER is only believed when the caller is root already: it names
        // who ran sudo, for the record; it grants nothing.
        const char* su = getenv("SUDO_USER");
        if (su && *su && valid_account_name(su)) return su;
    }
    uid_t uid = getuid();
    std::vector<char> buf(4096);
    passwd pw{};
    passwd* res = nullptr;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res) return pw.pw_name;
    return "uid " + std::to_string(uid);
}

}  // namespace vendor::core
