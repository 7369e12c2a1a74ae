#include "accounts.h"

#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "audit.h"
#include "authkeys.h"
#include "facts.h"
#include "files.h"
#include "home.h"
#include "nss_writer.h"
#include "policy.h"
#include "registry_files.h"
#include "util.h"

extern "C" char** environ;

namespace vendor::core {

namespace {

// Through every NSS source, ours included: a name or id that already means
// someone must never be given to a vendor. A lookup that cannot be answered
// is an error, never "free" (nss_vendor's own "unavailable" before its first
// index is ENOENT, read as absent).
Result<bool> user_resolves(const std::string& name) {
    auto pw = lookup_user(name, true);
    if (!pw) return std::move(pw).error();
    return pw->has_value();
}

Result<bool> uid_resolves(uid_t uid) {
    auto pw = lookup_uid(uid, true);
    if (!pw) return std::move(pw).error();
    return pw->has_value();
}

void run_quietly(const char* path, const char* arg1, const char* arg2) {
    if (access(path, X_OK) != 0) return;
    char* argv[] = {const_cast<char*>(path), const_cast<char*>(arg1), const_cast<char*>(arg2),
                    nullptr};
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid, path, &fa, nullptr, argv, environ) == 0) {
        int status;
        waitpid(pid, &status, 0);
    }
    posix_spawn_file_actions_destroy(&fa);
}

// A running nscd would keep serving the old answers for its TTL.
void tell_nscd() {
    run_quietly("/usr/sbin/nscd", "-i", "passwd");
    run_quietly("/usr/sbin/nscd", "-i", "group");
}

Result<FileLock> registry_lock(const Config& c) {
    return FileLock::acquire(c.registry_dir + "/.lock");
}

}  // namespace

Result<std::vector<std::string>> Accounts::names() const { return registry_names(c_.registry_dir); }

Result<Entry> Accounts::load(const std::string& name) const {
    auto text = safe_read(entry_path(c_.registry_dir, name));
    if (!text) {
        if (text.error().code == Code::not_found)
            return make_error(Code::not_found, "no vendor account '" + name + "'");
        return std::move(text).error();
    }
    return parse_entry(*text, name);
}

Status Accounts::write(const Entry& e) const {
    // The serialized form must read back: the module uses the same parser.
    std::string text = serialize_entry(e);
    if (auto back = parse_entry(text, e.name); !back) return back.error();
    return atomic_write(entry_path(c_.registry_dir, e.name), text, 0600);
}

void Accounts::refresh_nss(ViewReport& r) const {
    auto n = compile_nss_index(c_, &r.nss_problems);
    if (!n) {
        r.nss_error = n.error();
        return;
    }
    r.nss_served = *n;
    tell_nscd();
}

void Accounts::publish(const std::string& name, ViewReport& r) const {
    auto e = load(name);
    Status st;
    if (!e) {
        if (e.error().code != Code::not_found) {
            r.key_view_errors.emplace_back(name, e.error());
            return;
        }
        st = publish_authkeys(c_, name, nullptr, std::nullopt);  // gone: no view
    } else {
        auto store = open_store(c_);
        auto g = store->grant(name);
        if (!g) {
            r.key_view_errors.emplace_back(name, g.error());
            return;
        }
        st = publish_authkeys(c_, name, &*e, *g);
    }
    if (!st) r.key_view_errors.emplace_back(name, st.error());
}

Result<AddOutcome> Accounts::add(Entry e) {
    const std::string name = e.name;
    if (e.existing) {
        auto pw = lookup_user(name);
        if (!pw) return std::move(pw).error();
        if (!*pw)
            return make_error(Code::not_found,
                              "--existing: no account '" + name + "' resolves on this system");
        // Never root, a system account or an administrator: that would lock
        // them out of su, the console and sshd (pam_vendor(8)).
        e.uid = (*pw)->uid;
        e.uid_recorded = true;
        if (auto p = identity_problem(c_, e); !p.empty())
            return make_error(Code::invalid, "--existing: " + p);
    } else {
        auto taken = user_resolves(name);
        if (!taken) return std::move(taken).error();
        if (*taken)
            return make_error(Code::invalid, "'" + name +
                                                 "' already resolves through another NSS source; "
                                                 "use --existing to register a policy for it");
        e.uid = c_.uid_min;  // placeholder until allocated under the lock
        e.uid_recorded = true;
    }
    if (auto back = parse_entry(serialize_entry(e), name); !back) return std::move(back).error();
    if (auto st = ensure_dir(c_.registry_dir, 0700); !st) return st.error();
    auto lock = registry_lock(c_);
    if (!lock) return std::move(lock).error();
    bool found = false;
    auto existing = safe_read_optional(entry_path(c_.registry_dir, name), found);
    if (found || (!existing && existing.error().code != Code::not_found))
        return make_error(Code::invalid, "vendor account '" + name +
                                             "' already exists (vendorctl show " + name + ")");
    if (e.existing) {
        // Under the lock: two adds of the same uid cannot both pass.
        auto uids = registered_uids(c_);
        if (!uids) return std::move(uids).error();
        for (const auto& [uid, owner] : *uids)
            if (uid == e.uid)
                return make_error(Code::invalid, "--existing: uid " + std::to_string(uid) +
                                                     " is already registered as vendor account '" +
                                                     owner + "'");
    } else {
        // Lowest id of the range used by no entry and resolving to nobody.
        std::vector<std::uint32_t> used;
        auto all = names();
        if (!all) return std::move(all).error();
        for (const auto& n : *all) {
            auto other = load(n);
            if (!other)
                return make_error(other.error().code, n + ": " + other.error().detail +
                                                          " (fix the registry before adding)");
            if (!other->existing) used.push_back(other->uid);
        }
        // Ids of removed accounts stay reserved: their files may outlive them.
        auto retired = load_retired_uids(c_);
        if (!retired) return std::move(retired).error();
        used.insert(used.end(), retired->begin(), retired->end());
        std::sort(used.begin(), used.end());
        std::uint32_t uid = 0;
        for (std::uint64_t cand = c_.uid_min; cand <= c_.uid_max; ++cand) {
            auto u = static_cast<std::uint32_t>(cand);
            if (u == c_.vendor_gid || std::binary_search(used.begin(), used.end(), u)) continue;
            auto busy = uid_resolves(u);
            if (!busy) return std::move(busy).error();
            if (*busy) continue;
            uid = u;
            break;
        }
        if (!uid) return make_error(Code::invalid, "no free id left in uid_min..uid_max");
        e.uid = uid;
        if (auto back = parse_entry(serialize_entry(e), name); !back)
            return std::move(back).error();
        if (auto st = create_home(c_.home_base, name, uid, c_.vendor_gid); !st) return st.error();
    }
    if (auto st = write(e); !st) return st.error();
    AddOutcome out{std::move(e), {}};
    refresh_nss(out.views);  // also the registry's uid index
    publish(name, out.views);
    return out;
}

Result<RemoveOutcome> Accounts::remove(const std::string& name, const std::string& home_mode,
                                       bool keep_state) {
    auto lock = registry_lock(c_);
    if (!lock) return std::move(lock).error();
    RemoveOutcome out;
    auto e = load(name);
    if (!e && e.error().code == Code::not_found) return std::move(e).error();
    // An entry that does not parse is still removed (vendorctl(8)).
    if (e) out.entry = *e;
    // Reserved before the entry goes, so that no crash in between frees it.
    if (e && !e->existing)
        if (auto st = retire_uid(c_, e->uid, name, now_s()); !st) return st.error();
    if (auto st = remove_file(entry_path(c_.registry_dir, name)); !st) return st.error();
    refresh_nss(out.views);  // the account stops resolving first
    if (out.views.nss_error) return out;
    if (e && !e->existing)
        if (auto st = retire_home(c_.home_base, name, home_mode, out.home_note); !st)
            return st.error();
    publish(name, out.views);  // the entry is gone: removes the public view
    if (!keep_state) {
        auto store = open_store(c_);
        if (auto st = store->forget(name); !st) return st.error();
    }
    return out;
}

Result<KeysOutcome> Accounts::add_keys(const std::string& name,
                                       const std::vector<PublicKey>& keys) {
    auto lock = registry_lock(c_);
    if (!lock) return std::move(lock).error();
    auto e = load(name);
    if (!e) return std::move(e).error();
    KeysOutcome out{std::move(*e), {}, 0, {}};
    for (const auto& pk : keys) {
        bool already = key_pinned(out.entry, pk.type + " " + pk.blob_b64);
        if (!already) {
            if (out.entry.keys.size() >= kMaxKeys)
                return make_error(Code::invalid, "at most 64 keys per account");
            out.entry.keys.push_back(pk.type + " " + pk.blob_b64 +
                                     (pk.comment.empty() ? "" : " " + pk.comment));
            ++out.added;
        }
        out.changes.push_back({pk, already});
    }
    if (out.added == 0) return out;
    if (auto st = write(out.entry); !st) return st.error();
    publish(name, out.views);
    return out;
}

Result<KeysOutcome> Accounts::remove_key(const std::string& name, const std::string& fingerprint) {
    auto lock = registry_lock(c_);
    if (!lock) return std::move(lock).error();
    auto e = load(name);
    if (!e) return std::move(e).error();
    KeysOutcome out{std::move(*e), {}, 0, {}};
    std::vector<std::string> kept;
    for (const auto& k : out.entry.keys) {
        auto pk = parse_public_key(k);
        if (pk && pk->fingerprint == fingerprint) {
            out.changes.push_back({*pk, false});
            continue;
        }
        kept.push_back(k);
    }
    if (kept.size() == out.entry.keys.size())
        return make_error(Code::not_found,
                          "no pinned key " + escape(fingerprint, 80) + " on " + name);
    out.entry.keys = std::move(kept);
    if (auto st = write(out.entry); !st) return st.error();
    publish(name, out.views);
    return out;
}

Result<ViewReport> Accounts::grant(const Grant& g) {
    auto lock = registry_lock(c_);
    if (!lock) return std::move(lock).error();
    auto store = open_store(c_);
    if (auto st = store->put_grant(g); !st) return st.error();
    ViewReport r;
    publish(g.account, r);
    return r;
}

Result<ViewReport> Accounts::end_grant(const std::string& name, bool* existed) {
    auto lock = registry_lock(c_);
    if (!lock) return std::move(lock).error();
    auto store = open_store(c_);
    if (auto st = store->end_grant(name, existed); !st) return st.error();
    ViewReport r;
    publish(name, r);
    return r;
}

Result<ReindexOutcome> Accounts::reindex() {
    auto all = names();
    if (!all) return std::move(all).error();
    auto lock = registry_lock(c_);
    if (!lock) return std::move(lock).error();
    ReindexOutcome out;
    // Entries of existing accounts written before the uid was recorded get
    // it now, so that login can tell an alias of the uid.
    for (const auto& name : *all) {
        auto e = load(name);
        if (!e || !e->existing || e->uid_recorded) continue;
        auto pw = lookup_user(name);
        if (!pw || !*pw || (*pw)->name != name) continue;  // identity_problem reports it
        e->uid = (*pw)->uid;
        e->uid_recorded = true;
        if (auto st = write(*e); !st) return st.error();
        out.uids_recorded.emplace_back(name, e->uid);
    }
    refresh_nss(out.views);
    if (out.views.nss_error) return out;
    for (const auto& name : *all) publish(name, out.views);
    return out;
}

Result<std::map<std::string, LastLogin>>
Accounts::last_logins(const std::vector<std::string>& names, std::size_t cap) const {
    struct Sink : LineSink {
        std::map<std::string, LastLogin> found;
        std::set<std::string> wanted;
        bool line(std::string_view l) override {
            if (l.find("\"session_open\"") == std::string_view::npos) return true;
            auto r = parse_audit_line(l);
            // Read backwards: the first one seen of an account is its last.
            if (r && r->event == "session_open" && r->result == "ok" &&
                wanted.erase(r->account) > 0)
                found[r->account] = {r->ts_ms / 1000, r->rhost};
            return !wanted.empty();
        }
    } sink;
    sink.wanted.insert(names.begin(), names.end());
    if (sink.wanted.empty()) return sink.found;
    SafeOpts o;
    o.max_size = SIZE_MAX;  // the walk is bounded by cap, not by the file
    bool present = false;
    if (auto st = safe_read_lines_backwards(c_.audit_log, o, cap, sink, present); !st)
        return st.error();
    return sink.found;
}

}  // namespace vendor::core
