// The accounts service: every change to the registry (add with its uid,
// remove, pinned keys, grants) and the views derived from it (the NSS index,
// sshd's key view state_dir/authkeys/NAME.json).
//
// The contract: a derived view is only ever rewritten while holding the
// registry lock (registry_dir/.lock), after the change it reflects, from what
// is on disk then. Two commands that each publish what they read before the
// other's change (an activate racing a `key add`) would otherwise leave sshd
// a view without the new key, or one that still opens after a deactivate.
//
// Library code: nothing here prints or logs; vendorctl renders the outcomes
// and writes the audit events.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "registry.h"
#include "result.h"
#include "store.h"

namespace vendor::core {

// What refreshing the derived views found. An account left out of the NSS
// index (its name or uid served by another source) is a problem, not an
// error: the others are still served.
struct ViewReport {
    std::vector<std::string> nss_problems;
    std::optional<Error> nss_error;  // the NSS index was not rebuilt
    std::size_t nss_served = 0;
    std::vector<std::pair<std::string, Error>> key_view_errors;  // account, why
    bool ok() const { return !nss_error && key_view_errors.empty(); }
};

struct AddOutcome {
    Entry entry;  // as written, uid allocated
    ViewReport views;
};

struct RemoveOutcome {
    std::optional<Entry> entry;  // absent when the entry did not parse
    std::string home_note;       // what retire_home did ("archived to ...")
    ViewReport views;
};

struct KeyChange {
    PublicKey key;
    bool already_pinned = false;
};

struct KeysOutcome {
    Entry entry;
    std::vector<KeyChange> changes;
    std::size_t added = 0;
    ViewReport views;
};

struct LastLogin {
    std::int64_t at = 0;  // seconds
    std::string rhost;
};

struct ReindexOutcome {
    std::vector<std::pair<std::string, std::uint32_t>> uids_recorded;
    ViewReport views;
};

class Accounts {
  public:
    explicit Accounts(const Config& c) : c_(c) {}

    // The registry, listed one way: NAME.json files with a valid name, sorted.
    // No registry directory: no account.
    Result<std::vector<std::string>> names() const;
    // not_found says "no vendor account 'NAME'".
    Result<Entry> load(const std::string& name) const;

    // A validated new entry (vendorctl checked options and identity); an
    // nss_vendor account gets the lowest free uid of uid_min..uid_max (used
    // by no entry, no retired id, resolving to nobody) and its home.
    Result<AddOutcome> add(Entry e);
    // home_mode: keep, delete or archive (retire_home). The uid is retired
    // before the entry goes.
    Result<RemoveOutcome> remove(const std::string& name, const std::string& home_mode,
                                 bool keep_state);
    Result<KeysOutcome> add_keys(const std::string& name, const std::vector<PublicKey>& keys);
    Result<KeysOutcome> remove_key(const std::string& name, const std::string& fingerprint);
    // The grant stored and the key view rewritten under the registry lock.
    Result<ViewReport> grant(const Grant& g);
    Result<ViewReport> end_grant(const std::string& name, bool* existed);
    // Entries of existing accounts without a recorded uid get it, then every
    // view is rebuilt.
    Result<ReindexOutcome> reindex();

    static constexpr std::size_t kMaxKeys = 64;

    // The last successful session_open of each of `names`, from the audit
    // log read backwards until every one is found or `cap` bytes are read:
    // status costs the tail it needs, not the whole log. Absent: none.
    static constexpr std::size_t kLastLoginScan = std::size_t{64} << 20;
    Result<std::map<std::string, LastLogin>> last_logins(const std::vector<std::string>& names,
                                                         std::size_t cap = kLastLoginScan) const;

  private:
    // Both need the registry lock held by the caller.
    void refresh_nss(ViewReport& r) const;
    void publish(const std::string& name, ViewReport& r) const;
    Status write(const Entry& e) const;

    const Config& c_;
};

}  // namespace vendor::core
