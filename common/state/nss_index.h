// The NSS index: a read-only, position-independent file that vendorctl
// compiles from the registry and libnss_vendor.so.2 maps. World-readable, no
// secrets. This header is shared by the writer (libvendorcore) and the reader
// (the NSS module), and uses nothing but <cstdint>/<cstring>: the NSS module
// is loaded into every process on the system and links no C++ runtime.
//
// Layout (native endianness; the file never leaves the machine that wrote it):
//   Header | UserRec[n_users] by uid | u32 user index by name |
//   GroupRec[n_groups] by gid | u32 group index by name |
//   user name hash | group name hash | u32 pool | strings
// Every offset is from the start of the file; every string is NUL-terminated
// inside the strings block. The reader validates all of it once per mapping.
//
// Name hash sections (nss_vendor(8), "Index format"). getpwnam/getgrnam are
// O(1) expected: a binary search over 100,000 names was 17 steps, ~3 cache
// misses each (0.7-1.4 us a hit). A section is
//   HashHead {slots, max_probe} | Slot {tag, index}[slots]
// open addressing with linear probing: a name's home slot is
// name_hash(name) & (slots - 1), name_hash being FNV-1a 32 over the name's
// bytes (fixed: writer and reader must agree, and it is documented, so it
// can never be seeded); tag is that full hash, index the record's position
// (UserRec or GroupRec), kEmptySlot for a free slot. slots is a power of two
// >= the record count. A lookup walks at most max_probe slots (<= kMaxProbe,
// whatever the header says) from home and stops at an empty slot, a tag and
// name match, or the bound: a damaged or hostile section cannot loop, and
// every index is checked < count before any record is read. The reader
// accepts a section only when every record's own name leads back to that
// record within max_probe (so a slot pointing to a different name, a probe
// bound too small, a missing or duplicated name all refuse the index: EIO,
// UNAVAIL); a lookup then compares the name itself, so a name not in the
// index is NOTFOUND however the slots look. The writer sizes the table at
// >= 2 slots per record and doubles it (up to 16 per record) until the
// longest probe fits kMaxProbe; a name set that still does not fit gets no
// section (binary search, still exact).
// Versioning: the sections are an additive extension of version 1, named by
// header words that were reserved and zero (users_hash_off, groups_hash_off;
// 0 = no section). So the version stays 1 and every mix works: an older
// reader ignores the sections and binary-searches the by-name index (which
// the writer still writes), a reader given an older file (no sections) does
// the same, and no package upgrade has a moment where a loaded module
// refuses the index it finds (a version 2 would make every process still
// running an old module answer UNAVAIL for vendor accounts until restart, and
// libnss-vendor and vendorctl are separate packages, upgraded in any order).
// vendorctl's postinst runs `vendorctl reindex`: an upgraded system gets its
// sections there.
//
// Noticing a new index (nss_vendor(8), "How changes are seen"). A lookup
// must see a replacement made by vendorctl from the very next call after the
// writer returns, without a path walk per call (an lstat() was ~0.95 us of a
// 1.3-1.7 us hit at 100,000 accounts). The writer (atomic_write_superseding,
// under a flock of the directory) sets `superseded` in the file now at the
// path BEFORE it renames the new file over it; the module maps the index
// MAP_SHARED and reads that word (acquire) on every call, after one fstat()
// of the mapped file through the descriptor it keeps (a file truncated or
// rewritten in place must never be read through the mapping: a page cut
// from under it is a SIGBUS in the caller):
//   0        the mapping is the current index (but see the periodic check
//            below)
//   nonzero  being or already replaced: lstat() the path on every call, as
//            the module always did, and map whatever is there now.
// Marking before the rename, not after, is what makes a crash harmless: a
// writer killed between mark and rename leaves the old index in place with
// its mark, so readers do the old per-call lstat() (exact, just slower) until
// the next vendorctl run replaces it; no moment exists where the new file is
// at the path while a reader's mapping still reads 0. The mark is monotonic
// (never cleared), outside the checksum, and a file whose mark is set when
// it is mapped (a restored hard link) is served with the per-call lstat().
// Concurrent writers are serialized by the directory flock, so none can
// rename over a file another writer has just installed unmarked.
// Anything else (cp, mv or rm of the index by hand, chmod/chown of the mapped
// file) sets no mark: the module also re-checks the path with lstat() at most
// kRecheckMs after its last check (CLOCK_MONOTONIC_COARSE, read through the
// vDSO, no system call), so such a change is seen within kRecheckMs plus
// one tick of that clock. The supported way to change the index is
// `vendorctl reindex`.
// The mark is written in place with pwrite(); the writer never truncates a
// file readers map (a page cut from under a mapping is a SIGBUS in the
// reader's process — the same reason the index is only ever replaced by
// rename). Format: version 1 files written before the mark existed have 0
// there (the field was reserved and zero), so old and new readers and
// writers mix: an old writer just leaves it to the periodic check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vendor::nssidx {

inline constexpr char kMagic[8] = {'P', 'V', 'N', 'S', 'S', 'v', '1', '\n'};
inline constexpr std::uint32_t kVersion = 1;
// Hard floor whatever the header says: the index can never shadow root,
// system accounts or the first regular users.
inline constexpr std::uint32_t kIdFloor = 1000;
inline constexpr std::uint64_t kMaxFile = 256u << 20;
inline constexpr const char* kFileName = "index";
// The module's periodic re-check of the path (see above).
inline constexpr long kRecheckMs = 10;

struct Header {
    char magic[8];
    std::uint32_t version;
    std::uint32_t header_size;
    std::uint64_t file_size;
    std::uint64_t checksum;  // FNV-1a 64 of bytes [header_size, file_size)
    std::uint32_t id_min, id_max;
    std::uint32_t n_users, n_groups;
    std::uint32_t users_off, users_by_name_off;
    std::uint32_t groups_off, groups_by_name_off;
    std::uint32_t pool_off, pool_count;
    std::uint32_t strings_off, strings_size;
    std::uint32_t superseded;  // 0 when written; set in place before a replacement (above)
    std::uint32_t users_hash_off, groups_hash_off;  // 0: no section (name hash, above)
    std::uint32_t reserved;
};
static_assert(sizeof(Header) == 96, "stable header size");
inline constexpr std::size_t kSupersededOffset = offsetof(Header, superseded);
static_assert(kSupersededOffset % 4 == 0, "the mark is read as one aligned word");

// Name hash sections (above).
inline constexpr std::uint32_t kEmptySlot = 0xFFFFFFFFu;
inline constexpr std::uint32_t kMaxProbe = 64;
// 2^25 slots of 8 bytes: already past kMaxFile, so any larger count is damage.
inline constexpr std::uint32_t kMaxSlots = 1u << 25;
struct HashHead {
    std::uint32_t slots, max_probe;
};
struct Slot {
    std::uint32_t tag, index;
};

// FNV-1a 32 over the name's bytes: the index's name hash, fixed by the format.
inline std::uint32_t name_hash(const char* name) noexcept {
    std::uint32_t h = 2166136261u;
    for (const unsigned char* p = reinterpret_cast<const unsigned char*>(name); *p; ++p) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

struct UserRec {
    std::uint32_t name, uid, gid, gecos, dir, shell;  // strings are offsets into the strings block
    std::uint32_t sup_off, sup_count;                 // supplementary gids: pool[sup_off..+count)
};
struct GroupRec {
    std::uint32_t name, gid;
    std::uint32_t mem_off, mem_count;  // member names: pool entries are string offsets
};

inline std::uint64_t fnv1a(const unsigned char* p, std::size_t n) noexcept {
    std::uint64_t h = 1469598103934665603ULL;
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

// A validated view over a mapped index.
class View {
  public:
    // Returns nullptr when the bytes are a valid index, else the reason.
    const char* open(const void* base, std::size_t len) noexcept {
        b_ = static_cast<const unsigned char*>(base);
        len_ = len;
        uh_ = gh_ = Hash{};
        if (len < sizeof(Header)) return "too short";
        std::memcpy(&h_, b_, sizeof h_);
        if (std::memcmp(h_.magic, kMagic, sizeof kMagic) != 0) return "bad magic";
        if (h_.version != kVersion || h_.header_size != sizeof(Header))
            return "unsupported version";
        if (h_.file_size != len || len > kMaxFile) return "size mismatch";
        if (h_.id_min < kIdFloor || h_.id_max < h_.id_min) return "bad id range";
        if (!range(h_.users_off, h_.n_users, sizeof(UserRec)) ||
            !range(h_.users_by_name_off, h_.n_users, 4) ||
            !range(h_.groups_off, h_.n_groups, sizeof(GroupRec)) ||
            !range(h_.groups_by_name_off, h_.n_groups, 4) ||
            !range(h_.pool_off, h_.pool_count, 4) || !range(h_.strings_off, h_.strings_size, 1))
            return "section out of bounds";
        if (h_.strings_size == 0 || b_[h_.strings_off + h_.strings_size - 1] != '\0')
            return "strings not terminated";
        if (fnv1a(b_ + sizeof(Header), len - sizeof(Header)) != h_.checksum)
            return "checksum mismatch";
        for (std::uint32_t i = 0; i < h_.n_users; ++i) {
            UserRec u = user(i);
            if (u.uid < h_.id_min || u.uid > h_.id_max || u.gid < h_.id_min || u.gid > h_.id_max)
                return "id out of range";
            if (i > 0 && user(i - 1).uid >= u.uid) return "users not sorted by uid";
            if (!name_ok(u.name) || !field_ok(u.gecos) || !path_ok(u.dir) || !path_ok(u.shell))
                return "bad user string";
            if (static_cast<std::uint64_t>(u.sup_off) + u.sup_count > h_.pool_count)
                return "bad gid list";
            if (u.sup_count > 64) return "too many groups";
        }
        // Only now that every record's strings are checked: the name index
        // may point at any record, and strcmp must never see an unchecked
        // offset.
        for (std::uint32_t i = 0; i < h_.n_users; ++i) {
            std::uint32_t byname = u32(h_.users_by_name_off, i);
            if (byname >= h_.n_users) return "bad name index";
            if (i > 0 && std::strcmp(str(user(u32(h_.users_by_name_off, i - 1)).name),
                                     str(user(byname).name)) >= 0)
                return "names not sorted";
        }
        for (std::uint32_t i = 0; i < h_.n_groups; ++i) {
            GroupRec g = group(i);
            if (g.gid < h_.id_min || g.gid > h_.id_max) return "group id out of range";
            if (i > 0 && group(i - 1).gid >= g.gid) return "groups not sorted by gid";
            if (!name_ok(g.name)) return "bad group name";
            if (static_cast<std::uint64_t>(g.mem_off) + g.mem_count > h_.pool_count)
                return "bad member list";
            for (std::uint32_t k = 0; k < g.mem_count; ++k)
                if (!name_ok(u32(h_.pool_off, g.mem_off + k))) return "bad member name";
        }
        for (std::uint32_t i = 0; i < h_.n_groups; ++i) {
            std::uint32_t byname = u32(h_.groups_by_name_off, i);
            if (byname >= h_.n_groups) return "bad group name index";
            if (i > 0 && std::strcmp(str(group(u32(h_.groups_by_name_off, i - 1)).name),
                                     str(group(byname).name)) >= 0)
                return "group names not sorted";
        }
        // Last: the hash sections may name any record, whose strings are now checked.
        if (const char* why = open_hash(h_.users_hash_off, h_.n_users, true, uh_)) return why;
        if (const char* why = open_hash(h_.groups_hash_off, h_.n_groups, false, gh_)) return why;
        return nullptr;
    }

    const Header& header() const noexcept { return h_; }
    std::uint32_t n_users() const noexcept { return h_.n_users; }
    std::uint32_t n_groups() const noexcept { return h_.n_groups; }
    UserRec user(std::uint32_t i) const noexcept {
        UserRec u;
        std::memcpy(&u, b_ + h_.users_off + static_cast<std::size_t>(i) * sizeof(UserRec),
                    sizeof u);
        return u;
    }
    GroupRec group(std::uint32_t i) const noexcept {
        GroupRec g;
        std::memcpy(&g, b_ + h_.groups_off + static_cast<std::size_t>(i) * sizeof(GroupRec),
                    sizeof g);
        return g;
    }
    const char* str(std::uint32_t off) const noexcept {
        return reinterpret_cast<const char*>(b_ + h_.strings_off + off);
    }
    std::uint32_t pool(std::uint32_t i) const noexcept { return u32(h_.pool_off, i); }

    // By name: O(1) expected through the hash section, O(log n) without one;
    // by id: O(log n). -1 when absent.
    long find_user_by_name(const char* name) const noexcept {
        if (uh_.present) return hash_find(uh_, name, true);
        return by_name_search(name);
    }
    long find_group_by_name(const char* name) const noexcept {
        if (gh_.present) return hash_find(gh_, name, false);
        return by_group_name_search(name);
    }
    // The binary searches over the by-name indexes, with or without a hash
    // section (tests compare the two).
    long by_name_search(const char* name) const noexcept {
        return search(h_.n_users, [&](std::uint32_t mid, std::uint32_t& idx) {
            idx = u32(h_.users_by_name_off, mid);
            return std::strcmp(str(user(idx).name), name);
        });
    }
    long find_user_by_uid(std::uint32_t uid) const noexcept {
        return search(h_.n_users, [&](std::uint32_t mid, std::uint32_t& idx) {
            idx = mid;
            return cmp_id(user(mid).uid, uid);
        });
    }
    long by_group_name_search(const char* name) const noexcept {
        return search(h_.n_groups, [&](std::uint32_t mid, std::uint32_t& idx) {
            idx = u32(h_.groups_by_name_off, mid);
            return std::strcmp(str(group(idx).name), name);
        });
    }
    long find_group_by_gid(std::uint32_t gid) const noexcept {
        return search(h_.n_groups, [&](std::uint32_t mid, std::uint32_t& idx) {
            idx = mid;
            return cmp_id(group(mid).gid, gid);
        });
    }

    bool has_user_hash() const noexcept { return uh_.present; }
    bool has_group_hash() const noexcept { return gh_.present; }

  private:
    struct Hash {
        bool present = false;
        std::uint32_t slots_off = 0, mask = 0, max_probe = 0;
    };
    std::uint32_t name_of(bool users, std::uint32_t idx) const noexcept {
        // Only the name word of the record: one load, not the whole record.
        return users ? u32(h_.users_off, idx * static_cast<std::uint32_t>(sizeof(UserRec) / 4))
                     : u32(h_.groups_off, idx * static_cast<std::uint32_t>(sizeof(GroupRec) / 4));
    }
    // Every probe is bounded by max_probe (<= kMaxProbe, checked by
    // open_hash) and every index checked against the record count before
    // its record is read, also while open_hash is still judging the section.
    long hash_find(const Hash& t, const char* name, bool users) const noexcept {
        // No name in the index is longer than 32 bytes (name_ok): a longer
        // key is absent without hashing all of it.
        if (::strnlen(name, 33) > 32) return -1;
        const std::uint32_t n = users ? h_.n_users : h_.n_groups;
        const std::uint32_t hash = name_hash(name);
        for (std::uint32_t d = 0; d < t.max_probe; ++d) {
            const std::uint32_t s = (hash + d) & t.mask;
            Slot sl;
            std::memcpy(&sl, b_ + t.slots_off + static_cast<std::size_t>(s) * sizeof(Slot),
                        sizeof sl);
            if (sl.index == kEmptySlot) return -1;
            if (sl.index >= n) return -1;
            if (sl.tag == hash && std::strcmp(str(name_of(users, sl.index)), name) == 0)
                return sl.index;
        }
        return -1;
    }
    const char* open_hash(std::uint32_t off, std::uint32_t n, bool users, Hash& t) noexcept {
        t = Hash{};
        if (off == 0) return nullptr;  // an index without a section: binary search
        if (!range(off, 1, sizeof(HashHead))) return "hash section out of bounds";
        HashHead hh;
        std::memcpy(&hh, b_ + off, sizeof hh);
        if (hh.slots == 0 || hh.slots > kMaxSlots || (hh.slots & (hh.slots - 1)) != 0 ||
            hh.slots < n)
            return "bad hash slot count";
        if (hh.max_probe > kMaxProbe || hh.max_probe > hh.slots || (n > 0 && hh.max_probe == 0))
            return "bad hash probe bound";
        const std::uint32_t slots_off = off + static_cast<std::uint32_t>(sizeof(HashHead));
        if (!range(slots_off, hh.slots, sizeof(Slot))) return "hash section out of bounds";
        t.slots_off = slots_off;
        t.mask = hh.slots - 1;
        t.max_probe = hh.max_probe;
        for (std::uint32_t s = 0; s < hh.slots; ++s) {
            std::uint32_t idx = u32(slots_off, 2 * s + 1);
            if (idx != kEmptySlot && idx >= n) return "hash slot out of range";
        }
        for (std::uint32_t i = 0; i < n; ++i)
            if (hash_find(t, str(name_of(users, i)), users) != static_cast<long>(i))
                return "hash section does not find a name";
        t.present = true;
        return nullptr;
    }
    static int cmp_id(std::uint32_t a, std::uint32_t b) noexcept {
        return a < b ? -1 : a > b ? 1 : 0;
    }
    // Binary search over n sorted positions; probe(mid, idx) compares the
    // record at position mid with the key (<0, 0, >0) and names the record
    // index to return when it matches. -1 when absent.
    template <typename Probe>
    static long search(std::uint32_t n, Probe probe) noexcept {
        std::uint32_t lo = 0, hi = n;
        while (lo < hi) {
            std::uint32_t mid = lo + (hi - lo) / 2;
            std::uint32_t idx = 0;
            int c = probe(mid, idx);
            if (c == 0) return idx;
            if (c < 0) lo = mid + 1;
            else hi = mid;
        }
        return -1;
    }
    bool range(std::uint32_t off, std::uint32_t count, std::size_t size) const noexcept {
        if (off % 4 != 0 && size != 1) return false;
        std::uint64_t end =
            static_cast<std::uint64_t>(off) + static_cast<std::uint64_t>(count) * size;
        return off >= sizeof(Header) && end <= len_;
    }
    std::uint32_t u32(std::uint32_t off, std::uint32_t i) const noexcept {
        std::uint32_t v;
        std::memcpy(&v, b_ + off + static_cast<std::size_t>(i) * 4, 4);
        return v;
    }
    bool str_ok(std::uint32_t off, std::size_t max) const noexcept {
        if (off >= h_.strings_size) return false;
        const void* nul = std::memchr(str(off), '\0', h_.strings_size - off);
        if (!nul) return false;
        std::size_t n = static_cast<std::size_t>(static_cast<const char*>(nul) - str(off));
        if (n > max) return false;
        for (std::size_t i = 0; i < n; ++i) {
            unsigned char c = static_cast<unsigned char>(str(off)[i]);
            if (c < 0x20 || c == 0x7f || c == ':') return false;
        }
        return true;
    }
    bool name_ok(std::uint32_t off) const noexcept {
        return str_ok(off, 32) && str(off)[0] != '\0';
    }
    bool field_ok(std::uint32_t off) const noexcept { return str_ok(off, 1024); }
    bool path_ok(std::uint32_t off) const noexcept {
        return str_ok(off, 1024) && str(off)[0] == '/';
    }

    const unsigned char* b_ = nullptr;
    std::size_t len_ = 0;
    Header h_{};
    Hash uh_{}, gh_{};
};

}  // namespace vendor::nssidx
