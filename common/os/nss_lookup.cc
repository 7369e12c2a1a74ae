#include "nss_lookup.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util.h"

namespace vendor::core {

namespace {

Error lookup_error(const char* fn, std::string_view what, int rc) {
    return make_error(Code::io,
                      std::string(fn) + "(" + escape(what, 64) + ") failed: " + std::strerror(rc));
}

// Grow the buffer on ERANGE, up to 4 MiB (an AD group can be large).
template <typename Fn>
int with_buffer(std::vector<char>& buf, Fn fn) {
    int rc = ERANGE;
    while (true) {
        rc = fn(buf.data(), buf.size());
        if (rc != ERANGE || buf.size() >= (std::size_t{4} << 20)) return rc;
        buf.resize(buf.size() * 4);
    }
}

}  // namespace

Result<std::optional<PwInfo>> lookup_user(std::string_view name, bool enoent_is_absent) {
    std::string n(name);
    std::vector<char> buf(4096);
    passwd pw{};
    passwd* res = nullptr;
    int rc = with_buffer(
        buf, [&](char* b, std::size_t len) { return getpwnam_r(n.c_str(), &pw, b, len, &res); });
    // POSIX: 0 with no result is "no such user"; anything else is an error.
    if (rc == ENOENT && enoent_is_absent) return std::optional<PwInfo>();
    if (rc != 0) return lookup_error("getpwnam_r", name, rc);
    if (!res) return std::optional<PwInfo>();
    if (!res->pw_name) return make_error(Code::invalid, "getpwnam_r: entry without a name");
    return std::optional<PwInfo>(PwInfo{res->pw_name, res->pw_uid, res->pw_gid});
}

Result<std::optional<PwInfo>> lookup_uid(uid_t uid, bool enoent_is_absent) {
    std::vector<char> buf(4096);
    passwd pw{};
    passwd* res = nullptr;
    int rc = with_buffer(
        buf, [&](char* b, std::size_t len) { return getpwuid_r(uid, &pw, b, len, &res); });
    if (rc == ENOENT && enoent_is_absent) return std::optional<PwInfo>();
    if (rc != 0) return lookup_error("getpwuid_r", std::to_string(uid), rc);
    if (!res) return std::optional<PwInfo>();
    if (!res->pw_name) return make_error(Code::invalid, "getpwuid_r: entry without a name");
    return std::optional<PwInfo>(PwInfo{res->pw_name, res->pw_uid, res->pw_gid});
}

Result<std::optional<std::pair<gid_t, std::vector<std::string>>>>
lookup_group_members(std::string_view group, bool enoent_is_absent) {
    using Out = std::optional<std::pair<gid_t, std::vector<std::string>>>;
    std::string n(group);
    std::vector<char> buf(4096);
    struct group gr {};
    struct group* res = nullptr;
    int rc = with_buffer(
        buf, [&](char* b, std::size_t len) { return getgrnam_r(n.c_str(), &gr, b, len, &res); });
    if (rc == ENOENT && enoent_is_absent) return Out();
    if (rc != 0) return lookup_error("getgrnam_r", group, rc);
    if (!res) return Out();
    std::vector<std::string> members;
    for (char** m = res->gr_mem; m && *m; ++m) members.emplace_back(*m);
    return Out(std::make_pair(res->gr_gid, std::move(members)));
}

Result<std::optional<gid_t>> lookup_group(std::string_view group, bool enoent_is_absent) {
    auto g = lookup_group_members(group, enoent_is_absent);
    if (!g) return std::move(g).error();
    if (!*g) return std::optional<gid_t>();
    return std::optional<gid_t>((*g)->first);
}

Result<std::optional<std::string>> group_name_of(gid_t gid) {
    std::vector<char> buf(4096);
    struct group gr {};
    struct group* res = nullptr;
    int rc = with_buffer(
        buf, [&](char* b, std::size_t len) { return getgrgid_r(gid, &gr, b, len, &res); });
    if (rc != 0) return lookup_error("getgrgid_r", std::to_string(gid), rc);
    if (!res || !res->gr_name) return std::optional<std::string>();
    return std::optional<std::string>(res->gr_name);
}

Result<std::vector<gid_t>> groups_of(const std::string& user, gid_t primary) {
    int n = 64;
    std::vector<gid_t> g(static_cast<std::size_t>(n));
    for (int i = 0; i < 8; ++i) {
        int cnt = n;
        if (getgrouplist(user.c_str(), primary, g.data(), &cnt) >= 0) {
            if (cnt < 0 || cnt > n) return lookup_error("getgrouplist", user, EINVAL);
            g.resize(static_cast<std::size_t>(cnt));
            return g;
        }
        // -1 is "buffer too small" only when the count asks for more; a
        // count that does not is a lookup that failed inside.
        if (cnt <= n) return lookup_error("getgrouplist", user, errno ? errno : EIO);
        n = cnt;
        g.resize(static_cast<std::size_t>(n));
    }
    return lookup_error("getgrouplist", user, ERANGE);
}

}  // namespace vendor::core
