// kv.h's local backend: the state directory's files and locks. The on-disk
// format is documented in kv.h.
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <map>

#include "files.h"
#include "kv.h"
#include "util.h"

namespace vendor::core {

// The whole buffer, not only size(): a short string lives in the object's
// own buffer, and a move leaves those bytes behind in the moved-from string.
void wipe_string(std::string& s) noexcept {
    sodium_memzero(s.data(), s.capacity());
    s.clear();
}

KvEntry::KvEntry(KvEntry&& o) noexcept : value(std::move(o.value)), revision(o.revision) {
    wipe_string(o.value);
}
KvEntry& KvEntry::operator=(KvEntry&& o) noexcept {
    if (this != &o) {
        wipe_string(value);
        value = std::move(o.value);
        revision = o.revision;
        wipe_string(o.value);
    }
    return *this;
}
KvEntry::~KvEntry() { wipe_string(value); }

KvOp::~KvOp() { wipe_string(value); }

bool kv_key_valid(std::string_view key) {
    auto slash = key.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash > 32) return false;
    for (char c : key.substr(0, slash))
        if (c < 'a' || c > 'z') return false;
    auto name = key.substr(slash + 1);
    if (name.empty() || name.size() > 128 || name[0] == '.') return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::string_view kv_space_of(std::string_view key) { return key.substr(0, key.find('/')); }
std::string_view kv_name_of(std::string_view key) { return key.substr(key.find('/') + 1); }

Status Kv::put(std::string_view key, std::string value, std::uint64_t if_revision) {
    // Unconditional: the local backend serialises writers of a name under its
    // lock, so the empty compare list is enough.
    std::vector<KvCompare> cmp;
    if (if_revision != kAnyRevision) cmp.push_back(KvCompare{std::string(key), if_revision});
    auto r = txn(cmp, {KvOp::put(std::string(key), std::move(value))});
    if (!r) return std::move(r).error();
    if (!r->succeeded) return make_error(Code::exists, escape(key, 200) + " changed meanwhile");
    return {};
}

Status Kv::del(std::string_view key, std::uint64_t if_revision, bool* existed) {
    if (existed) *existed = false;
    auto cur = get(key);
    if (!cur) return std::move(cur).error();
    if (if_revision != kAnyRevision && cur->revision != if_revision)
        return make_error(Code::exists, escape(key, 200) + " changed meanwhile");
    if (cur->revision == 0) return {};
    // A delete of a key that is there: compare with what was read, so
    // `existed` is true exactly when this call removed it.
    for (int attempt = 0; attempt < 8; ++attempt) {
        auto r = txn({KvCompare{std::string(key), cur->revision}}, {KvOp::del(std::string(key))});
        if (!r) return std::move(r).error();
        if (r->succeeded) {
            if (existed) *existed = true;
            return {};
        }
        if (if_revision != kAnyRevision)
            return make_error(Code::exists, escape(key, 200) + " changed meanwhile");
        cur = get(key);
        if (!cur) return std::move(cur).error();
        if (cur->revision == 0) return {};
    }
    return make_error(Code::busy, escape(key, 200) + " keeps changing");
}

namespace {

constexpr std::uint64_t kMaxRevision = (std::uint64_t{1} << 53) - 1;
constexpr std::string_view kRevPrefix = "{\"rev\":";
// The spaces of a state directory made by earlier versions, in the order
// they are created ("locks" last: its presence proves the others).
constexpr const char* kBaseSpaces[] = {"grants", "codes", "failures", "totp", "locks"};

struct Wiped {
    std::string s;
    Wiped() = default;
    explicit Wiped(std::string v) : s(std::move(v)) {}
    Wiped(const Wiped&) = delete;
    Wiped& operator=(const Wiped&) = delete;
    ~Wiped() { wipe_string(s); }
};

std::uint64_t now_us() {
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec < 0) return 0;
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
           static_cast<std::uint64_t>(ts.tv_nsec / 1000);
}

// File text -> value and revision (kv.h: the spliced "rev" member).
Status decode(std::string_view text, std::string_view key, KvEntry& out) {
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (text.substr(0, kRevPrefix.size()) != kRevPrefix) {
        out.value.assign(text);
        out.revision = 1;
        return {};
    }
    std::size_t i = kRevPrefix.size();
    std::uint64_t rev = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 17) {
        rev = rev * 10 + static_cast<std::uint64_t>(text[i] - '0');
        ++i;
        ++digits;
    }
    bool leading_zero = digits > 1 && text[kRevPrefix.size()] == '0';
    if (digits == 0 || leading_zero || rev == 0 || rev > kMaxRevision || i >= text.size() ||
        (text[i] != ',' && text[i] != '}'))
        return make_error(Code::invalid, escape(key, 200) + ": corrupt revision");
    if (text[i] == ',') ++i;
    out.value.reserve(text.size() - i + 1);
    out.value.assign("{");
    out.value.append(text.substr(i));
    out.revision = rev;
    return {};
}

Result<std::string> encode(std::string_view value, std::uint64_t rev, std::string_view key) {
    if (value.size() < 2 || value.front() != '{' || value.back() != '}' ||
        value.substr(0, kRevPrefix.size()) == kRevPrefix)
        return make_error(Code::invalid, escape(key, 200) + ": not a JSON object value");
    std::string out;
    out.reserve(value.size() + 32);
    out.append(kRevPrefix);
    out.append(std::to_string(rev));
    if (value.size() > 2) out.push_back(',');
    out.append(value.substr(1));
    out.push_back('\n');
    return out;
}

class LocalKv final : public Kv {
  public:
    explicit LocalKv(const Config& c) : dir_(c.state_dir) {}

    Result<KvEntry> get(std::string_view key) override {
        if (!kv_key_valid(key))
            return make_error(Code::invalid, "bad state key " + escape(key, 200));
        KvEntry e;
        auto dir = space_fd(kv_space_of(key));
        if (!dir) {
            if (dir.error().code == Code::not_found) return e;  // no state yet
            return std::move(dir).error();
        }
        bool found = false;
        std::string name = std::string(kv_name_of(key)) + ".json";
        auto text = safe_read_at(*dir, name, path_of(key), found, opts_for(kv_space_of(key)));
        if (!text) return std::move(text).error();
        Wiped guard(std::move(*text));
        if (!found) return e;
        if (auto st = decode(guard.s, key, e); !st) return st.error();
        return e;
    }

    Result<std::vector<std::string>> list(std::string_view space) override {
        std::string probe = std::string(space) + "/x";
        if (!kv_key_valid(probe))
            return make_error(Code::invalid, "bad state space " + escape(space, 64));
        auto names = list_dir(dir_ + "/" + std::string(space));
        if (!names) {
            if (names.error().code == Code::not_found) return std::vector<std::string>();
            return std::move(names).error();
        }
        std::vector<std::string> out;
        for (auto& n : *names) {
            if (n.size() <= 5 || n.compare(n.size() - 5, 5, ".json") != 0) continue;
            std::string name = n.substr(0, n.size() - 5);
            if (kv_key_valid(std::string(space) + "/" + name)) out.push_back(std::move(name));
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    Result<KvTxnResult> txn(const std::vector<KvCompare>& compares,
                            const std::vector<KvOp>& ops) override {
        std::vector<std::string_view> names;
        for (const auto& c : compares) {
            if (!kv_key_valid(c.key))
                return make_error(Code::invalid, "bad state key " + escape(c.key, 200));
            names.push_back(kv_name_of(c.key));
        }
        for (const auto& o : ops) {
            if (!kv_key_valid(o.key))
                return make_error(Code::invalid, "bad state key " + escape(o.key, 200));
            names.push_back(kv_name_of(o.key));
        }
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        if (!ops.empty()) {
            if (auto st = dirs(); !st) return st.error();
            for (const auto& o : ops)
                if (auto st = space_dir(kv_space_of(o.key)); !st) return st.error();
        }
        // Sorted: two txns over the same names never wait on each other in
        // opposite orders.
        std::vector<FileLock> locks;
        locks.reserve(names.size());
        for (auto n : names) {
            auto l = FileLock::acquire(dir_ + "/locks/" + std::string(n) + ".lock");
            if (!l) {
                // No state directory yet: nothing to compare against but absence.
                if (l.error().code == Code::not_found && ops.empty()) break;
                return std::move(l).error();
            }
            locks.push_back(std::move(*l));
        }
        std::map<std::string, std::uint64_t, std::less<>> revs;
        auto rev_of = [&](const std::string& key) -> Result<std::uint64_t> {
            if (auto it = revs.find(key); it != revs.end()) return it->second;
            auto e = get(key);
            if (!e) return std::move(e).error();
            revs[key] = e->revision;
            return e->revision;
        };
        for (const auto& c : compares) {
            auto r = rev_of(c.key);
            if (!r) return std::move(r).error();
            if (*r != c.revision) return KvTxnResult{false};
        }
        for (const auto& o : ops) {
            auto r = rev_of(o.key);
            if (!r) return std::move(r).error();
            if (o.kind == KvOp::Kind::put) {
                std::uint64_t rev = std::max(*r + 1, now_us());
                if (rev > kMaxRevision)
                    return make_error(Code::internal, escape(o.key, 200) + ": revision overflow");
                auto text = encode(o.value, rev, o.key);
                if (!text) return std::move(text).error();
                Wiped guard(std::move(*text));
                if (auto st = atomic_write(path_of(o.key), guard.s, 0600); !st) return st.error();
                revs[o.key] = rev;
            } else {
                if (*r == 0) continue;
                if (auto st = remove_key(o.key); !st) return st.error();
                revs[o.key] = 0;
            }
        }
        return KvTxnResult{true};
    }

    Status compact(std::string_view key) override {
        if (!kv_key_valid(key))
            return make_error(Code::invalid, "bad state key " + escape(key, 200));
        std::string name(kv_name_of(key));
        if (kv_space_of(key) == "codes") {
            auto names = list_dir(dir_ + "/codes", true);
            if (!names) {
                if (names.error().code != Code::not_found) return names.error();
            } else {
                std::string prefix = ".used." + name + ".";
                for (const auto& n : *names) {
                    if (n.rfind(prefix, 0) != 0 || n.size() != prefix.size() + 16) continue;
                    if (auto st = remove_file(dir_ + "/codes/" + n); !st) return st;
                }
            }
        }
        // The name's lock file stays, even after its last key: another
        // process may be waiting on it or hold it right now, and a lock
        // file unlinked under a holder lets the next writer lock a new
        // inode and run beside it (two consumes of one code). An empty
        // file per account ever used is the price.
        return {};
    }

  private:
    // Each space's directory is walked and checked once per backend object
    // (one PAM call, one vendorctl command) and then read relative to its
    // descriptor: a login's reads and a txn's re-reads under the lock cost
    // an openat each, not a path walk each. Writes still go through
    // atomic_write's own walk.
    Result<int> space_fd(std::string_view space) {
        for (auto it = dir_fds_.begin(); it != dir_fds_.end(); ++it) {
            if (it->first != space) continue;
            // Still what open_dir_checked accepted (one fstat, no walk): a
            // directory made writable for others meanwhile is walked again,
            // and refused there.
            struct stat st {};
            if (::fstat(it->second.get(), &st) == 0 && S_ISDIR(st.st_mode) &&
                (st.st_uid == 0 || st.st_uid == ::geteuid()) && !(st.st_mode & (S_IWGRP | S_IWOTH)))
                return it->second.get();
            dir_fds_.erase(it);
            break;
        }
        auto fd = open_dir_checked(dir_ + "/" + std::string(space));
        if (!fd) return std::move(fd).error();
        int raw = fd->get();
        dir_fds_.emplace_back(std::string(space), std::move(*fd));
        return raw;
    }

    std::string path_of(std::string_view key) const {
        std::string p = dir_;
        p += '/';
        p += kv_space_of(key);
        p += '/';
        p += kv_name_of(key);
        p += ".json";
        return p;
    }

    static SafeOpts opts_for(std::string_view space) {
        SafeOpts o;
        // A code hash or a TOTP secret readable by a group is refused.
        if (space == "codes" || space == "totp") o.allow_group_read = false;
        return o;
    }

    // Caller holds the name's lock.
    Status remove_key(std::string_view key) {
        if (kv_space_of(key) != "codes") return remove_file(path_of(key));
        auto dir = open_dir_checked(dir_ + "/codes");
        if (!dir) return std::move(dir).error();
        unsigned char r[8];
        randombytes_buf(r, sizeof r);
        std::string from = std::string(kv_name_of(key)) + ".json";
        std::string to = ".used." + std::string(kv_name_of(key)) + "." + to_hex(r, sizeof r);
        if (::renameat(dir->get(), from.c_str(), dir->get(), to.c_str()) != 0) {
            if (errno == ENOENT) return {};
            return make_error(Code::io, "cannot retire " + escape(key, 200));
        }
        return {};
    }

    Status dirs() {
        if (dirs_ok_) return {};
        // The directories are made together; when the last one is there (and
        // passes the ownership checks) the others are too. The login path
        // then costs one checked open instead of five mkdir walks.
        if (open_dir_checked(dir_ + "/locks")) {
            dirs_ok_ = true;
            return {};
        }
        for (const char* space : kBaseSpaces) {
            if (auto st = ensure_dir(dir_ + "/" + space, 0700); !st) return st;
        }
        dirs_ok_ = true;
        return {};
    }

    // A space added after the base ones (approvals/) is made on its first write.
    Status space_dir(std::string_view space) {
        for (const char* b : kBaseSpaces)
            if (space == b) return {};
        for (const auto& s : extra_ok_)
            if (s == space) return {};
        if (auto st = ensure_dir(dir_ + "/" + std::string(space), 0700); !st) return st;
        extra_ok_.emplace_back(space);
        return {};
    }

    std::string dir_;
    bool dirs_ok_ = false;
    std::vector<std::string> extra_ok_;
    std::vector<std::pair<std::string, Fd>> dir_fds_;
};

class UnavailableKv final : public Kv {
  public:
    explicit UnavailableKv(std::string why) : why_(std::move(why)) {}
    Result<KvEntry> get(std::string_view) override { return err(); }
    Result<std::vector<std::string>> list(std::string_view) override { return err(); }
    Result<KvTxnResult> txn(const std::vector<KvCompare>&, const std::vector<KvOp>&) override {
        return err();
    }
    Status compact(std::string_view) override { return err(); }

  private:
    Error err() const { return make_error(Code::refused, why_); }
    std::string why_;
};

}  // namespace

std::unique_ptr<Kv> make_local_kv(const Config& c) { return std::make_unique<LocalKv>(c); }

std::unique_ptr<Kv> make_unavailable_kv(std::string why) {
    return std::make_unique<UnavailableKv>(std::move(why));
}

}  // namespace vendor::core
