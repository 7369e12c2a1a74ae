#include "facts.h"

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
                std::int64_t now, UserCache* cache) {
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
    auto priv = privileged_group_of(c, user, cache);
    if (!priv) {
        g.error = Reason::state_error;
        g.detail = priv.error().detail;
        return g;
    }
    g.facts.privileged = !priv->empty();
    g.facts.privileged_group = *priv;
    return g;
}

AccountState account_state(const Config& c, const Entry& e, Store& store, std::string_view user,
                           std::int64_t now, UserCache* cache) {
    auto g = gather(c, store, e, user, now, cache);
    if (g.error) {
        AccountState st;
        st.verdict = Verdict{false, *g.error, g.detail, 0};
        return st;
    }
    return account_state(e, g.facts);
}

std::string operator_name() {
    if (getuid() == 0) {
        // SUDO_USER is only believed when the caller is root already: it names
        // who ran sudo, for the record; it grants nothing.
        const char* su = getenv("SUDO_USER");
        if (su && *su && valid_account_name(su)) return su;
    }
    uid_t uid = getuid();
    // For the record only: an unanswered lookup records the uid.
    if (auto pw = lookup_uid(uid); pw && *pw) return (*pw)->name;
    return "uid " + std::to_string(uid);
}

}  // namespace vendor::core
