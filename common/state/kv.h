// The state layer's floor: a small versioned key-value store. The domain
// (store.h: grants, codes, failures, TOTP, approvals) is written once over
// this interface and does every read-modify-write as get + txn with revision
// compares, so a fleet backend (etcd behind pam_vendor-fleetd, FLEET.md) can
// slot in underneath without a second copy of the rules.
//
// Contract (every backend):
//   - A key is "SPACE/NAME": SPACE lower-case letters, NAME 1..128 of
//     [A-Za-z0-9._-], not starting with '.'. Anything else is Code::invalid.
//   - get() returns the value and its revision; revision 0 means absent.
//     A revision changes on every write of the key and never repeats for it,
//     not even after a delete and a re-create (so a compare cannot be fooled
//     by an ABA: a code consumed and a new one issued under the same key).
//   - A present but unreadable, corrupt or insecure value is an error, never
//     "absent": callers fail closed.
//   - txn(compares, ops): all compares hold (revision equality; 0 = must be
//     absent) and then every op is applied, in order, or nothing is done and
//     `succeeded` is false (a conflict, not an error: the caller re-reads and
//     retries, bounded). An op on a key may be superseded by a later op on
//     the same key; a backend whose txn is one atomic step may drop the
//     superseded op (etcd refuses duplicate keys in a txn). The local backend
//     performs both: the domain relies on that to write the failure counter
//     before anything else, so a file system that takes deletes but refuses
//     writes refuses the whole attempt (store.cc, consume()).
//   - Errors (I/O, lock wait exceeded, backend unavailable) are errors.
//
// Local backend (make_local_kv), on disk under state_dir:
//   SPACE/NAME.json   the value, mode 0600, written with atomic_write (temp,
//                     fsync, rename, fsync dir) and read with safe_read's
//                     checks (owner, mode, no symlink; codes/ and totp/ must
//                     give group and others no access at all).
//                     Values are JSON objects; the revision is spliced in as
//                     the object's first member, so every file stays plain
//                     JSON for an operator: {"rev":R,<the value's members>}
//                     followed by "\n". R is 1..2^53-1, the larger of the
//                     previous revision + 1 and the current time in
//                     microseconds (monotonic for a key across deletes as
//                     long as the clock does not go back). A file without a
//                     leading "rev" member (written before this layer, or by
//                     hand) has revision 1: an upgrade keeps every grant,
//                     code, counter and secret.
//   locks/NAME.lock   flock taken (bounded wait) for every write of any key
//                     named NAME, and for every txn over the names it touches
//                     (in sorted order: no deadlock); never unlinked, since
//                     a holder's lock would then no longer exclude anyone.
//                     Readers take no lock:
//                     each file is replaced by rename, so a reader sees the
//                     old or the new value, never a torn one.
//   codes/.used.NAME.HEX16  a deleted code, renamed aside rather than
//                     unlinked (freeing the blocks of a synced file costs a
//                     millisecond on a discard-mounted disk, in the login
//                     path); compact("codes/NAME") removes them.
//   Each space's directory is walked (open_dir_checked) once per backend
//   object and read relative to its descriptor afterwards (re-checked with
//   one fstat per use): a backend object is meant for one PAM call or one
//   command, not to live for days.
//   A crash between two ops of one local txn can leave the earlier ones
//   done; the domain orders its ops so that such a half leaves the safe side
//   (one failure too many, never a code usable twice).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "result.h"

namespace vendor::core {

// A value as read: wiped on destruction (TOTP secrets and code hashes pass
// through here).
struct KvEntry {
    std::string value;
    std::uint64_t revision = 0;  // 0: absent
    KvEntry() = default;
    KvEntry(KvEntry&& o) noexcept;
    KvEntry& operator=(KvEntry&& o) noexcept;
    KvEntry(const KvEntry&) = delete;
    KvEntry& operator=(const KvEntry&) = delete;
    ~KvEntry();
};

struct KvCompare {
    std::string key;
    std::uint64_t revision = 0;  // must equal; 0 = the key must be absent
};

struct KvOp {
    enum class Kind { put, del };
    Kind kind = Kind::put;
    std::string key;
    std::string value;  // put only; wiped on destruction (a TOTP secret passes here)
    KvOp(Kind k, std::string ky, std::string v)
        : kind(k), key(std::move(ky)), value(std::move(v)) {}
    KvOp(const KvOp&) = default;
    KvOp& operator=(const KvOp&) = default;
    ~KvOp();
    static KvOp put(std::string k, std::string v) {
        return KvOp(Kind::put, std::move(k), std::move(v));
    }
    static KvOp del(std::string k) { return KvOp(Kind::del, std::move(k), {}); }
};

struct KvTxnResult {
    bool succeeded = false;  // false: a compare failed, nothing was done
};

// Unconditional put/del: pass kAnyRevision as if_revision.
inline constexpr std::uint64_t kAnyRevision = ~std::uint64_t{0};

class Kv {
  public:
    virtual ~Kv() = default;
    virtual Result<KvEntry> get(std::string_view key) = 0;
    // Names (not keys) present in SPACE, sorted.
    virtual Result<std::vector<std::string>> list(std::string_view space) = 0;
    virtual Result<KvTxnResult> txn(const std::vector<KvCompare>& compares,
                                    const std::vector<KvOp>& ops) = 0;
    // Release what the backend keeps for deleted versions of key (local: the
    // retired code files; the name's lock file stays). Not in the login path.
    virtual Status compact(std::string_view key) = 0;

    // Conveniences over txn. A failed compare is Code::exists ("changed
    // under us"), distinct from any I/O error.
    Status put(std::string_view key, std::string value, std::uint64_t if_revision = kAnyRevision);
    Status del(std::string_view key, std::uint64_t if_revision = kAnyRevision,
               bool* existed = nullptr);
};

// Zero a string's whole buffer (capacity, not size: the in-object buffer of a
// short string keeps its bytes after a move), then empty it.
void wipe_string(std::string& s) noexcept;

// Key syntax of the contract above.
bool kv_key_valid(std::string_view key);
std::string_view kv_space_of(std::string_view key);
std::string_view kv_name_of(std::string_view key);

std::unique_ptr<Kv> make_local_kv(const Config& c);
// Every operation fails with Code::refused and `why` (a backend that is
// configured but not available in this build: fail closed, never local).
std::unique_ptr<Kv> make_unavailable_kv(std::string why);

}  // namespace vendor::core
