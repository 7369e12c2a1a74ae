// Who is a vendor: the most attacked line of the module. pam_vendor(8),
// WHO IS A VENDOR, is the contract; the rules below are its implementation.
//
// - The decision is made on the canonical identity: the typed name is
//   resolved through NSS and the account's own name (pw_name) and uid are
//   what count. sshd hands PAM the name as the client typed it, and a
//   case-insensitive or alias-serving source (sssd's AD provider,
//   name@domain, DOMAIN\name, a second passwd line for one uid) resolves
//   "ACME" to the account registered as "acme". A vendor account logs in
//   only under its registered name; an alias is denied.
// - Every lookup error is an error. "Could not be answered" is never read
//   as "absent": a failing NSS source or file system denies (state_error),
//   it does not make a vendor an ordinary user.
// - Root (uid 0) is a vendor only through an explicit registry entry: no
//   group, id range or broken file can turn it into a denied "vendor".
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "config_file.h"
#include "files.h"
#include "identity.h"
#include "json.h"
#include "registry_files.h"
#include "util.h"

namespace vendor::core {

namespace {

// Is there a registry entry file for `name`? Absent is false; any other
// failure than "no such file" (a component that is not a directory means
// the same) is an error.
Result<bool> registry_has(const Config& c, std::string_view name) {
    if (!valid_account_name(name)) return false;
    auto path = entry_path(c.registry_dir, name);
    struct stat st {};
    // Through the registry's checked handle (walked once per phase). Only a
    // registry that fails the checks is looked up by path: an entry there
    // still makes a vendor (denied, registry_error), none leaves the user be.
    auto dir = Dir::open(c.registry_dir);
    if (!dir && dir.error().code == Code::not_found) return false;
    if (!dir && dir.error().code != Code::insecure)
        return make_error(Code::io, "cannot look up registry entry " + escape(path, 200) + ": " +
                                        dir.error().detail);
    int rc = dir ? fstatat(dir->fd(), basename_of(path).c_str(), &st, AT_SYMLINK_NOFOLLOW)
                 : fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW);
    if (rc == 0) return true;
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) return false;
    return make_error(Code::io, "cannot look up registry entry " + escape(path, 200) + ": " +
                                    std::strerror(e));
}

// With a cache, an entry parsed earlier in this PAM handle is reused while
// its file is unchanged (UserCache::entries).
Result<Entry> load_registered(const Config& c, std::string_view name, UserCache* cache = nullptr) {
    auto path = entry_path(c.registry_dir, name);
    std::optional<FileId> before;
    if (cache) {
        // Every check of safe_read, and its errors: a failed stat is never
        // passed over to a read that might then succeed.
        auto id = safe_stat(path);
        if (!id) return std::move(id).error();
        for (const auto& m : cache->entries)
            if (m.path == path && m.id == *id) return m.entry;
        before = *id;
    }
    auto text = safe_read(path);
    if (!text) return std::move(text).error();
    auto e = parse_entry(*text, name);
    if (e && before) {
        std::erase_if(cache->entries, [&](const auto& m) { return m.path == path; });
        cache->entries.push_back({path, *before, *e});
    }
    return e;
}

// load_config, reusing the configuration parsed earlier in this handle
// while its file is unchanged (UserCache::config).
Result<Config> load_config_cached(const std::string& path, bool explicit_path, UserCache* cache) {
    std::optional<FileId> before;
    if (cache) {
        // Absent: load_config decides (built-in defaults or an error). Any
        // other failure is the configuration's error, as a read would be.
        auto id = safe_stat(path);
        if (!id && id.error().code != Code::not_found) return std::move(id).error();
        if (id) {
            if (cache->config && cache->config->path == path && cache->config->id == *id)
                return cache->config->cfg;
            before = *id;
        }
    }
    auto loaded = load_config(path, explicit_path);
    if (loaded && before && !loaded->path.empty())
        cache->config = UserCache::ConfigMemo{path, *before, *loaded};
    return loaded;
}

}  // namespace

namespace {

Result<std::optional<PwInfo>> lookup_cached(std::string_view name, UserCache* cache) {
    if (cache && cache->have_user && cache->typed == name) return cache->pw;
    auto pw = lookup_user(name);
    if (pw && cache) {
        cache->have_user = true;
        cache->typed = std::string(name);
        cache->pw = *pw;
        cache->have_groups = false;
    }
    return pw;
}

}  // namespace

Result<std::vector<std::pair<std::uint32_t, std::string>>> registered_uids(const Config& c) {
    bool found = false;
    auto text = safe_read_optional(c.registry_dir + "/.uids", found);
    if (!text) {
        // No registry directory at all: nobody is registered. An insecure
        // directory holds no trusted index (nor entries: they are denied by
        // name). An insecure index in a sound directory is rebuilt below.
        if (text.error().code == Code::not_found)
            return std::vector<std::pair<std::uint32_t, std::string>>();
        if (text.error().code != Code::insecure) return std::move(text).error();
        auto dir = open_dir_checked(c.registry_dir);
        if (!dir) {
            if (dir.error().code == Code::insecure || dir.error().code == Code::not_found)
                return std::vector<std::pair<std::uint32_t, std::string>>();
            return std::move(dir).error();
        }
        found = false;
    }
    if (found) {
        if (auto idx = parse_uid_index(*text)) return std::move(*idx);
    }
    // No usable index (never written, or damaged): the entries themselves
    // say it. An entry that cannot be read names no uid here; it is still
    // a vendor by its name.
    std::vector<std::pair<std::uint32_t, std::string>> out;
    auto names = registry_names(c.registry_dir);
    if (!names) return std::move(names).error();
    for (const auto& n : *names) {
        auto e = load_registered(c, n);
        if (e && e->uid_recorded) out.emplace_back(e->uid, n);
    }
    return out;
}

Identity identify(const Config& c, std::string_view user, UserCache* cache) {
    Identity id;
    auto deny = [&](Reason r, std::string detail) {
        id.kind = Identity::vendor_error;
        id.error_reason = r;
        id.detail = std::move(detail);
        id.entry.reset();
        return id;
    };
    auto typed_reg = registry_has(c, user);
    if (!typed_reg) return deny(Reason::state_error, typed_reg.error().detail);
    auto pw = lookup_cached(user, cache);
    if (!pw) return deny(Reason::state_error, "cannot resolve the user: " + pw.error().detail);
    if (!*pw) {
        // Resolves nowhere (sshd refuses such a login by itself): a vendor
        // only when registered under exactly this name.
        if (!*typed_reg) return id;
        auto e = load_registered(c, user, cache);
        if (!e) return deny(Reason::registry_error, e.error().detail);
        id.kind = Identity::vendor;
        id.entry = std::move(*e);
        return id;
    }
    const PwInfo& p = **pw;
    bool same = p.name == user;
    bool canon_reg = *typed_reg;
    if (!same) {
        auto r = registry_has(c, p.name);
        if (!r) return deny(Reason::state_error, r.error().detail);
        canon_reg = *r;
    }
    if (p.uid == 0 && !canon_reg) {
        // Root is a vendor only by an explicit entry; a registered name that
        // resolves to root under another spelling is still an alias.
        if (!same && *typed_reg)
            return deny(Reason::name_not_canonical, "'" + escape(user, 64) +
                                                        "' is registered but resolves to '" +
                                                        escape(p.name, 64) + "' (uid 0)");
        return id;
    }
    auto uids = registered_uids(c);
    if (!uids)
        return deny(Reason::state_error, "cannot read the uid index: " + uids.error().detail);
    std::string owner;  // registered account that owns this uid
    for (const auto& [uid, name] : *uids)
        if (uid == p.uid && uid != 0) owner = name;
    auto alias = [&](const std::string& of) {
        return deny(Reason::name_not_canonical,
                    "'" + escape(user, 64) + "' resolves to account '" + escape(p.name, 64) +
                        "' (uid " + std::to_string(p.uid) + "), " + of +
                        "; a vendor account logs in only under its registered name");
    };
    if (!same && (*typed_reg || canon_reg || !owner.empty()))
        return alias(owner.empty() ? std::string("a vendor account")
                                   : "the uid of vendor account '" + owner + "'");
    if (canon_reg) {
        auto e = load_registered(c, p.name, cache);
        if (!e) return deny(Reason::registry_error, e.error().detail);
        if (e->uid_recorded && e->uid != p.uid)
            return deny(Reason::uid_mismatch, "registered with uid " + std::to_string(e->uid) +
                                                  ", resolves to uid " + std::to_string(p.uid));
        if (!owner.empty() && owner != p.name)
            return deny(Reason::uid_mismatch, "uid " + std::to_string(p.uid) +
                                                  " is registered to vendor account '" + owner +
                                                  "'");
        id.kind = Identity::vendor;
        id.entry = std::move(*e);
        return id;
    }
    if (!owner.empty())
        return deny(Reason::uid_mismatch, "uid " + std::to_string(p.uid) +
                                              " belongs to vendor account '" + owner +
                                              "' but resolves as '" + escape(p.name, 64) + "'");
    if (p.uid == 0) return id;  // root: a vendor only by an explicit entry
    bool in_range = p.uid >= c.uid_min && p.uid <= c.uid_max;
    bool member = p.gid == c.vendor_gid;
    if (!in_range && !member) {
        auto vg = lookup_group_members(c.vendor_group);
        if (!vg)
            return deny(Reason::state_error,
                        "cannot resolve the vendor group: " + vg.error().detail);
        // The group's own member list as well as the user's group list:
        // glibc's getgrouplist skips a source whose initgroups fails and
        // still reports success, so a membership served by that source
        // would be lost from the list alone.
        if (*vg)
            for (const auto& m : (*vg)->second)
                if (m == p.name) member = true;
        auto gids = groups_of(p.name, p.gid);
        if (!gids) return deny(Reason::state_error, "cannot list groups: " + gids.error().detail);
        for (gid_t g : *gids)
            if (g == c.vendor_gid || (*vg && g == (*vg)->first)) member = true;
    }
    if (!in_range && !member) return id;
    if (!same) return alias("a vendor account without a registry entry");
    return deny(Reason::no_entry, in_range
                                      ? "uid " + std::to_string(p.uid) +
                                            " is in the vendor id range but has no registry entry"
                                      : "member of group " + escape(c.vendor_group, 64) +
                                            " without a registry entry");
}

Result<std::string> privileged_group_of(const Config& c, std::string_view user, UserCache* cache) {
    auto pw = lookup_cached(user, cache);
    if (!pw) return std::move(pw).error();
    if (!*pw) return std::string();  // resolves nowhere: sshd refuses it by itself
    if ((*pw)->uid == 0) return std::string("uid 0");
    bool cached = cache && cache->have_user && cache->typed == user;
    std::vector<std::string> names;
    if (cached && cache->have_groups) {
        names = cache->group_names;
    } else {
        // By the user's own few gids (one NSS lookup each), not by the ten
        // configured names: most of those do not exist on a given system,
        // and every miss walks every NSS source (files, systemd userdb,
        // sssd...).
        auto gids = groups_of((*pw)->name, (*pw)->gid);
        if (!gids) return std::move(gids).error();
        for (gid_t g : *gids) {
            auto name = group_name_of(g);
            if (!name) return std::move(name).error();
            if (!*name) continue;  // a gid without a name is in no list
            names.push_back(std::move(**name));
        }
        if (cached) {
            cache->group_names = names;
            cache->have_groups = true;
        }
    }
    for (const auto& g : names)
        for (const auto& name : c.privileged_groups)
            if (group_name_matches(name, g)) return name;
    if ((*pw)->uid < 1000) return "system account (uid " + std::to_string((*pw)->uid) + ")";
    return std::string();
}

// ---- a configuration that cannot be used ----------------------------------

std::string known_path(const std::string& conf_path) { return conf_path + ".known"; }

namespace {

constexpr std::size_t kMaxKnown = 32;

// What identifies vendors, as one line of CONF.known.
Json known_json(const Config& c) {
    Json j = Json::object();
    j.set("registry_dir", c.registry_dir).set("vendor_group", c.vendor_group);
    j.set("vendor_gid", static_cast<std::int64_t>(c.vendor_gid))
        .set("uid_min", static_cast<std::int64_t>(c.uid_min))
        .set("uid_max", static_cast<std::int64_t>(c.uid_max));
    j.set("audit_log", c.audit_log).set("host_name", c.host_name);
    return j;
}

bool same_identity(const Config& a, const Config& b) {
    return a.registry_dir == b.registry_dir && a.vendor_group == b.vendor_group &&
           a.vendor_gid == b.vendor_gid && a.uid_min == b.uid_min && a.uid_max == b.uid_max &&
           a.audit_log == b.audit_log && a.host_name == b.host_name;
}

Result<Config> parse_known_line(std::string_view line) {
    auto doc = Json::parse(line, "known configuration");
    if (!doc) return std::move(doc).error();
    JsonReader r(doc->get(), "known configuration");
    Config c;
    std::string reg, group, log, host;
    std::int64_t gid = 0, lo = 0, hi = 0;
    Status st;
    if (!(st = r.check_keys({"registry_dir", "vendor_group", "vendor_gid", "uid_min", "uid_max",
                             "audit_log", "host_name"})) ||
        !(st = r.str("registry_dir", reg, true)) || !(st = r.str("vendor_group", group, true)) ||
        !(st = r.int64("vendor_gid", gid, true)) || !(st = r.int64("uid_min", lo, true)) ||
        !(st = r.int64("uid_max", hi, true)) || !(st = r.str("audit_log", log, true)) ||
        !(st = r.str("host_name", host, true)))
        return st.error();
    // Each value goes through the configuration's own parser.
    std::string text = "registry_dir = " + reg + "\nvendor_group = " + group +
                       "\nvendor_gid = " + std::to_string(gid) +
                       "\nuid_min = " + std::to_string(lo) + "\nuid_max = " + std::to_string(hi) +
                       "\naudit_log = " + log + "\n" +
                       (host.empty() ? std::string() : "host_name = " + host + "\n");
    return parse_config(text, "known configuration");
}

// A lenient read for salvage: follows a symlink, accepts what safe_read
// refuses for its owner or size, never blocks (FIFO) and never reads a
// directory or device. `trusted` says whether the content may be believed
// (the file and the directories up to it root-owned, not writable by
// group or others).
std::optional<std::string> salvage_read(const std::string& path, bool& trusted) {
    trusted = false;
    char real[PATH_MAX];
    if (!realpath(path.c_str(), real)) return std::nullopt;
    SafeOpts big;
    big.max_size = std::size_t{16} << 20;
    auto text = safe_read(real, big);
    if (text) {
        // A symlink itself must be root's too: whoever may replace it
        // chooses the target.
        struct stat lst {};
        if (lstat(path.c_str(), &lst) == 0 &&
            (!S_ISLNK(lst.st_mode) || lst.st_uid == 0 || lst.st_uid == geteuid()))
            trusted = true;
        return std::move(*text);
    }
    if (text.error().code != Code::insecure) return std::nullopt;
    auto any = read_input_file(real, big.max_size);
    if (!any) return std::nullopt;
    return std::move(*any);
}

std::string strip_bom(std::string s) {
    if (s.size() >= 3 && s.compare(0, 3, "\xEF\xBB\xBF") == 0) s.erase(0, 3);
    return s;
}

}  // namespace

Result<std::vector<Config>> read_known(const std::string& conf_path) {
    bool found = false;
    SafeOpts o;
    o.max_size = 64 * 1024;
    auto text = safe_read_optional(known_path(conf_path), found, o);
    if (!text) return std::move(text).error();
    std::vector<Config> out;
    std::string_view rest = *text;
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        if (trim(line).empty()) continue;
        auto c = parse_known_line(line);
        if (!c) return std::move(c).error();
        out.push_back(std::move(*c));
        if (out.size() > kMaxKnown) return make_error(Code::too_large, "too many known entries");
    }
    return out;
}

Status remember_config(const std::string& conf_path, const Config& c) {
    auto known = read_known(conf_path);
    // A damaged list is replaced: losing it only narrows a fallback.
    std::vector<Config> list = known ? std::move(*known) : std::vector<Config>();
    for (const auto& k : list)
        if (same_identity(k, c)) return {};
    if (same_identity(Config{}, c) && list.empty()) return {};  // defaults are always asked
    list.push_back(c);
    if (list.size() > kMaxKnown) list.erase(list.begin());
    std::string out;
    for (const auto& k : list) out += known_json(k).dump() + "\n";
    return atomic_write(known_path(conf_path), out, 0600);
}

Identification identify_user(const std::string& conf_path, bool explicit_conf,
                             std::string_view user, UserCache* cache) {
    Identification r;
    auto loaded = load_config_cached(conf_path, explicit_conf, cache);
    if (loaded && loaded->path.empty()) {
        // The default file is absent: the built-in defaults apply, unless
        // vendorctl has seen a configuration there (CONF.known): then the
        // file went missing and its vendors must not go free.
        auto known = read_known(conf_path);
        if (!known || !known->empty())
            loaded = make_error(Code::not_found, "configuration " + escape(conf_path, 200) +
                                                     " is missing but " + known_path(conf_path) +
                                                     " says it existed");
    }
    if (loaded) {
        r.cfg = std::move(*loaded);
        r.id = identify(r.cfg, user, cache);
        return r;
    }
    r.config_problem = loaded.error().detail;
    // Every source that may name vendors; the first trusted one also says
    // where the denial is logged. Root and everyone else that none of them
    // names stays PAM_IGNORE.
    struct Candidate {
        Config cfg;
        bool trusted;
    };
    std::vector<Candidate> sources;
    bool trusted = false;
    if (auto raw = salvage_read(conf_path, trusted)) {
        Config s = salvage_identity(strip_bom(std::move(*raw)));
        if (trusted) {
            // Only registry entries make vendors from a salvaged file: a
            // group or id range read from a file the parser refused (a
            // privileged vendor_group, say) could deny the administrators.
            // Groups and ranges come from CONF.known (valid configurations)
            // and the defaults.
            Config d;
            d.registry_dir = s.registry_dir;
            d.audit_log = s.audit_log;
            d.host_name = s.host_name;
            sources.push_back({d, true});
        } else {
            // Written by someone other than root: only where the registry is,
            // and only fully valid root-owned entries there count.
            Config d;
            d.registry_dir = s.registry_dir;
            sources.push_back({d, false});
        }
    }
    // A file that could not be read at all (EIO, EMFILE, ENOMEM) says
    // nothing either way: then nobody but root can be told apart from a
    // vendor, and everybody else is denied.
    auto transient = [](Code code) {
        return code == Code::io || code == Code::busy || code == Code::no_memory ||
               code == Code::internal;
    };
    std::string unreadable;
    if (transient(loaded.error().code)) unreadable = loaded.error().detail;
    if (auto known = read_known(conf_path)) {
        for (auto& k : *known) sources.push_back({std::move(k), true});
    } else if (transient(known.error().code) && unreadable.empty()) {
        unreadable = known.error().detail;
    }
    sources.push_back({Config{}, true});
    r.cfg = Config{};
    for (const auto& s : sources) {
        if (!s.trusted) continue;
        r.cfg.audit_log = s.cfg.audit_log;
        r.cfg.host_name = s.cfg.host_name;
        break;
    }
    for (const auto& s : sources) {
        Identity id = identify(s.cfg, user, cache);
        if (id.kind == Identity::not_vendor) continue;
        if (!s.trusted && id.kind != Identity::vendor) continue;
        r.id = std::move(id);
        return r;
    }
    if (!unreadable.empty()) {
        auto pw = lookup_user(user);
        if (pw && *pw && (*pw)->uid == 0) return r;
        r.id.kind = Identity::vendor_error;
        r.id.error_reason = Reason::config_error;
        r.id.detail = "cannot tell whether this user is a vendor: " + unreadable;
    }
    return r;
}

}  // namespace vendor::core
