#include "nss_writer.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include "files.h"
#include "identity.h"
#include "nss_index.h"
#include "registry.h"
#include "registry_files.h"
#include "uid_index.h"
#include "util.h"

namespace vendor::core {

namespace {

bool field_ok(const std::string& s, std::size_t max) {
    if (s.size() > max) return false;
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f || c == ':') return false;
    return true;
}

// A name hash section (nss_index.h) as u32 words: HashHead, then the slots;
// record i is names[i]. Empty when no table up to 16 slots per name keeps
// every probe within kMaxProbe: the index then has no section and readers
// binary-search (exact, only slower). The View re-reading the output checks
// the section like any reader does.
std::vector<std::uint32_t> name_hash_section(const std::vector<std::string_view>& names) {
    using namespace vendor::nssidx;
    std::uint32_t slots = 4;
    while (slots < 2 * names.size()) slots *= 2;
    for (int grow = 0; grow < 4 && slots <= kMaxSlots; ++grow, slots *= 2) {
        std::vector<std::uint32_t> w(2 + 2 * static_cast<std::size_t>(slots), 0);
        for (std::uint32_t s = 0; s < slots; ++s) w[2 + 2 * s + 1] = kEmptySlot;
        std::uint32_t longest = 0;
        for (std::size_t i = 0; i < names.size() && longest <= kMaxProbe; ++i) {
            const std::string key(names[i]);
            const std::uint32_t hash = name_hash(key.c_str());
            std::uint32_t d = 0;
            while (w[2 + 2 * ((hash + d) & (slots - 1)) + 1] != kEmptySlot) ++d;
            const std::uint32_t s = (hash + d) & (slots - 1);
            w[2 + 2 * s] = hash;
            w[2 + 2 * s + 1] = static_cast<std::uint32_t>(i);
            longest = std::max(longest, d + 1);
        }
        if (longest > kMaxProbe) continue;
        w[0] = slots;
        w[1] = longest;
        return w;
    }
    return {};
}

}  // namespace

Result<std::string> build_nss_index(std::vector<NssUser> users, std::vector<NssGroup> groups,
                                    std::uint32_t id_min, std::uint32_t id_max) {
    using namespace vendor::nssidx;
    if (id_min < kIdFloor || id_max < id_min) return make_error(Code::invalid, "bad id range");
    std::sort(users.begin(), users.end(),
              [](const NssUser& a, const NssUser& b) { return a.uid < b.uid; });
    std::sort(groups.begin(), groups.end(),
              [](const NssGroup& a, const NssGroup& b) { return a.gid < b.gid; });
    std::map<std::string, int> names;
    for (std::size_t i = 0; i < users.size(); ++i) {
        const auto& u = users[i];
        if (u.uid < id_min || u.uid > id_max || u.gid < id_min || u.gid > id_max)
            return make_error(Code::invalid, "account " + u.name + ": id outside uid_min..uid_max");
        if (i && users[i - 1].uid == u.uid)
            return make_error(Code::invalid, "uid " + std::to_string(u.uid) + " used twice");
        if (!valid_account_name(u.name) || !field_ok(u.gecos, 1024) || !field_ok(u.dir, 1024) ||
            !field_ok(u.shell, 1024) || u.dir.empty() || u.dir[0] != '/' || u.shell.empty() ||
            u.shell[0] != '/')
            return make_error(Code::invalid, "account " + escape(u.name, 64) + ": bad field");
        if (u.sup.size() > 64)
            return make_error(Code::invalid, "account " + u.name + ": too many groups");
        if (names[u.name]++) return make_error(Code::invalid, "account " + u.name + " twice");
    }
    std::map<std::string, int> gnames;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto& g = groups[i];
        if (g.gid < id_min || g.gid > id_max)
            return make_error(Code::invalid, "group " + g.name + ": gid out of range");
        if (i && groups[i - 1].gid == g.gid) return make_error(Code::invalid, "gid used twice");
        if (g.name.empty() || g.name.size() > 32 || !field_ok(g.name, 32) || gnames[g.name]++)
            return make_error(Code::invalid, "bad or repeated group name");
        for (const auto& m : g.members)
            if (m.empty() || m.size() > 32 || !field_ok(m, 32))
                return make_error(Code::invalid, "bad member name");
    }
    // Strings, deduplicated (every account shares one shell).
    std::string strings(1, '\0');
    std::map<std::string, std::uint32_t> interned;
    auto intern = [&](const std::string& s) -> std::uint32_t {
        if (s.empty()) return 0;
        auto it = interned.find(s);
        if (it != interned.end()) return it->second;
        auto off = static_cast<std::uint32_t>(strings.size());
        strings += s;
        strings += '\0';
        interned.emplace(s, off);
        return off;
    };
    std::vector<UserRec> urec(users.size());
    std::vector<std::uint32_t> pool;
    for (std::size_t i = 0; i < users.size(); ++i) {
        const auto& u = users[i];
        urec[i] = UserRec{intern(u.name),
                          u.uid,
                          u.gid,
                          intern(u.gecos),
                          intern(u.dir),
                          intern(u.shell),
                          static_cast<std::uint32_t>(pool.size()),
                          static_cast<std::uint32_t>(u.sup.size())};
        for (auto g : u.sup) pool.push_back(g);
    }
    std::vector<GroupRec> grec(groups.size());
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto& g = groups[i];
        grec[i] = GroupRec{intern(g.name), g.gid, static_cast<std::uint32_t>(pool.size()),
                           static_cast<std::uint32_t>(g.members.size())};
        for (const auto& m : g.members) pool.push_back(intern(m));
    }
    std::vector<std::uint32_t> ubyname(users.size()), gbyname(groups.size());
    for (std::uint32_t i = 0; i < ubyname.size(); ++i) ubyname[i] = i;
    for (std::uint32_t i = 0; i < gbyname.size(); ++i) gbyname[i] = i;
    std::sort(ubyname.begin(), ubyname.end(), [&](std::uint32_t a, std::uint32_t b) {
        return std::strcmp(users[a].name.c_str(), users[b].name.c_str()) < 0;
    });
    std::sort(gbyname.begin(), gbyname.end(), [&](std::uint32_t a, std::uint32_t b) {
        return std::strcmp(groups[a].name.c_str(), groups[b].name.c_str()) < 0;
    });

    Header h{};
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.version = kVersion;
    h.header_size = sizeof(Header);
    h.id_min = id_min;
    h.id_max = id_max;
    h.n_users = static_cast<std::uint32_t>(users.size());
    h.n_groups = static_cast<std::uint32_t>(groups.size());
    std::string out(sizeof(Header), '\0');
    auto append = [&](const void* p, std::size_t n) -> std::uint32_t {
        while (out.size() % 4) out += '\0';
        auto off = static_cast<std::uint32_t>(out.size());
        out.append(static_cast<const char*>(p), n);
        return off;
    };
    h.users_off = append(urec.data(), urec.size() * sizeof(UserRec));
    h.users_by_name_off = append(ubyname.data(), ubyname.size() * 4);
    h.groups_off = append(grec.data(), grec.size() * sizeof(GroupRec));
    h.groups_by_name_off = append(gbyname.data(), gbyname.size() * 4);
    std::vector<std::string_view> unames(users.size()), gnames_v(groups.size());
    for (std::size_t i = 0; i < users.size(); ++i) unames[i] = users[i].name;
    for (std::size_t i = 0; i < groups.size(); ++i) gnames_v[i] = groups[i].name;
    auto uhash = name_hash_section(unames);
    auto ghash = name_hash_section(gnames_v);
    if (!uhash.empty()) h.users_hash_off = append(uhash.data(), uhash.size() * 4);
    if (!ghash.empty()) h.groups_hash_off = append(ghash.data(), ghash.size() * 4);
    h.pool_off = append(pool.data(), pool.size() * 4);
    h.pool_count = static_cast<std::uint32_t>(pool.size());
    h.strings_off = append(strings.data(), strings.size());
    h.strings_size = static_cast<std::uint32_t>(strings.size());
    if (out.size() > kMaxFile)
        return make_error(Code::too_large, "NSS index would exceed its size cap");
    h.file_size = out.size();
    h.checksum = fnv1a(reinterpret_cast<const unsigned char*>(out.data()) + sizeof(Header),
                       out.size() - sizeof(Header));
    std::memcpy(out.data(), &h, sizeof h);
    // Self-check with the reader the module uses.
    View v;
    if (const char* why = v.open(out.data(), out.size()))
        return make_error(Code::internal, std::string("index self-check: ") + why);
    return out;
}

Status install_nss_index(std::string_view path, std::string_view bytes, mode_t mode) {
    const std::uint32_t mark = 1;
    return atomic_write_superseding(
        path, bytes, mode, nssidx::kSupersededOffset,
        std::string_view(reinterpret_cast<const char*>(&mark), sizeof mark));
}

namespace {

// Lines of a files database (/etc/passwd, /etc/group) naming `name` or `id`
// in their first and third fields: a restored backup served by "files".
bool files_db_has(const char* path, const std::string& name, std::uint32_t id) {
    auto text = read_input_file(path, std::size_t{64} << 20);
    if (!text) return false;
    for (const auto& line : split(*text, '\n')) {
        auto f = split(line, ':');
        if (f.size() < 3) continue;
        if (f[0] == name || f[2] == std::to_string(id)) return true;
    }
    return false;
}

}  // namespace

std::string identity_problem(const Config& c, const Entry& e) {
    if (e.name == "root") return "root can never be a vendor account";
    // nss_vendor itself answers "unavailable" (ENOENT) until its first index
    // exists: that is not another source serving the name.
    auto pw = lookup_user(e.name, !e.existing);
    if (!pw) return "cannot resolve " + e.name + ": " + pw.error().detail;
    if (!e.existing) {
        if (*pw && (*pw)->uid != e.uid)
            return "name " + e.name + " is already served by another NSS source (uid " +
                   std::to_string((*pw)->uid) + ")";
        auto byid = lookup_uid(e.uid, true);
        if (!byid)
            return "cannot resolve uid " + std::to_string(e.uid) + ": " + byid.error().detail;
        if (*byid && e.name != (*byid)->name)
            return "uid " + std::to_string(e.uid) + " is already account '" +
                   escape((*byid)->name, 64) + "' of another NSS source";
        if (files_db_has("/etc/passwd", e.name, e.uid))
            return "/etc/passwd also has name " + e.name + " or uid " + std::to_string(e.uid);
        return "";
    }
    if (!*pw) return "existing account " + e.name + " does not resolve on this system";
    if ((*pw)->name != e.name)
        return e.name + " resolves as '" + escape((*pw)->name, 64) + "' (a case variant or alias)";
    if ((*pw)->uid < 1000)
        return e.name + " is a system account (uid " + std::to_string((*pw)->uid) + ")";
    if (e.uid_recorded && (*pw)->uid != e.uid)
        return e.name + " was registered with uid " + std::to_string(e.uid) + ", resolves to " +
               std::to_string((*pw)->uid);
    auto priv = privileged_group_of(c, e.name);
    if (!priv) return "cannot check the groups of " + e.name + ": " + priv.error().detail;
    if (!priv->empty()) return e.name + " is in privileged group " + *priv;
    return "";
}

Result<std::size_t> compile_nss_index(const Config& c, std::vector<std::string>* problems) {
    std::vector<NssUser> users;
    std::vector<std::pair<std::uint32_t, std::string>> uids;
    // An entry that cannot be read stops the NSS index (never a partial
    // registry served) but not the uid index: the module must still know
    // every readable entry's uid.
    std::optional<Error> first_error;
    auto files = registry_names(c.registry_dir);
    if (!files) return std::move(files).error();
    std::map<std::string, std::uint32_t> gid_cache;
    if (files) {
        for (const auto& name : *files) {
            auto text = safe_read(entry_path(c.registry_dir, name));
            if (!text) {
                if (!first_error) first_error = std::move(text).error();
                continue;
            }
            auto e = parse_entry(*text, name);
            if (!e) {
                if (!first_error) first_error = std::move(e).error();
                continue;
            }
            if (e->uid_recorded) uids.emplace_back(e->uid, e->name);
            if (problems) {
                if (auto p = identity_problem(c, *e); !p.empty()) {
                    problems->push_back(e->name + ": " + p);
                    if (!e->existing) continue;  // never served over someone else
                }
            }
            if (e->existing) continue;
            NssUser u;
            u.name = e->name;
            u.uid = e->uid;
            u.gid = c.vendor_gid;
            u.gecos = e->vendor + (e->comment.empty() ? "" : ", " + e->comment);
            for (auto& ch : u.gecos)
                if (static_cast<unsigned char>(ch) < 0x20 || ch == ':' || ch == 0x7f) ch = ' ';
            if (u.gecos.size() > 1024) u.gecos.resize(1024);
            u.dir = e->home;
            u.shell = e->shell;
            for (const auto& g : e->groups) {
                // Re-check at every compile: a group that became privileged or
                // left the allow-list is dropped from the account, not served.
                bool allowed = std::find(c.allowed_groups.begin(), c.allowed_groups.end(), g) !=
                               c.allowed_groups.end();
                bool priv =
                    std::any_of(c.privileged_groups.begin(), c.privileged_groups.end(),
                                [&](const std::string& p) { return group_name_matches(p, g); });
                if (!allowed || priv) continue;
                auto it = gid_cache.find(g);
                if (it == gid_cache.end()) {
                    // A group that no longer exists is dropped; one that
                    // cannot be looked up (a failing source, a member list
                    // too long for a fixed buffer) stops the compile: the
                    // old index stays, no account silently loses a group.
                    auto gid = lookup_group(g, true);
                    if (!gid)
                        return make_error(gid.error().code, e->name + ": group " + escape(g, 64) +
                                                                ": " + gid.error().detail);
                    if (!*gid) continue;
                    it = gid_cache.emplace(g, **gid).first;
                }
                u.sup.push_back(it->second);
            }
            users.push_back(std::move(u));
        }
    }
    if (first_error) {
        std::sort(uids.begin(), uids.end());
        (void)atomic_write(c.registry_dir + "/.uids", uid_index_text(uids), 0600);
        return std::move(*first_error);
    }
    std::vector<NssGroup> groups;
    groups.push_back(NssGroup{c.vendor_group, c.vendor_gid, {}});
    // Supplementary gids are files groups outside our range; the range check
    // covers what the module serves as passwd/group entries.
    auto bytes = build_nss_index(users, groups, c.uid_min, c.uid_max);
    if (!bytes) return std::move(bytes).error();
    // The state dir must be traversable for the NSS module in every process;
    // its secret subdirectories stay 0700.
    if (auto st = ensure_dir(c.state_dir, 0711); !st) return st.error();
    if (auto st = ensure_dir(c.nss_dir, 0755); !st) return st.error();
    for (auto [path, mode] : {std::pair{&c.state_dir, 0711}, std::pair{&c.nss_dir, 0755}}) {
        // Through the checked handle: a symlink swapped in is not followed.
        auto d = Dir::open(*path);
        if (!d) return std::move(d).error();
        (void)d->chmod("", static_cast<mode_t>(mode));  // best effort, as before
    }
    if (auto st = install_nss_index(c.nss_dir + "/" + nssidx::kFileName, *bytes); !st)
        return st.error();
    std::sort(uids.begin(), uids.end());
    if (auto st = atomic_write(c.registry_dir + "/.uids", uid_index_text(uids), 0600);
        !st && st.error().code != Code::not_found)  // no registry directory: no index
        return st.error();
    return users.size();
}

std::string retired_uids_path(const Config& c) { return c.registry_dir + "/.retired-uids"; }

Result<std::vector<std::uint32_t>> parse_retired_uids(std::string_view text) {
    std::vector<std::uint32_t> out;
    int lineno = 0;
    while (!text.empty()) {
        ++lineno;
        auto nl = text.find('\n');
        auto line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.empty() || line[0] == '#') continue;
        std::uint64_t uid;
        if (!parse_uint(line.substr(0, line.find(' ')), 2147483646, uid))
            return make_error(Code::invalid, ".retired-uids:" + std::to_string(lineno) +
                                                 ": expected 'UID NAME DATE'");
        out.push_back(static_cast<std::uint32_t>(uid));
    }
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::vector<std::uint32_t>> load_retired_uids(const Config& c) {
    bool found = false;
    auto text = safe_read_optional(retired_uids_path(c), found);
    if (!text) return std::move(text).error();
    if (!found) return std::vector<std::uint32_t>();
    return parse_retired_uids(*text);
}

Status retire_uid(const Config& c, std::uint32_t uid, std::string_view name, std::int64_t when) {
    bool found = false;
    auto text = safe_read_optional(retired_uids_path(c), found);
    if (!text) return std::move(text).error();
    std::string out = found ? *text : "# uids of removed vendor accounts: never reused\n";
    if (found) {
        if (auto ok = parse_retired_uids(out); !ok) return std::move(ok).error();
        if (!out.empty() && out.back() != '\n') out += '\n';
    }
    out += std::to_string(uid) + " " + std::string(name) + " " + format_rfc3339(when) + "\n";
    return atomic_write(retired_uids_path(c), out, 0600);
}

}  // namespace vendor::core
