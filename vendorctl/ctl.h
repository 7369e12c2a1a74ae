// vendorctl: shared pieces of the command implementations.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "accounts.h"
#include "audit.h"
#include "config.h"
#include "registry.h"
#include "result.h"
#include "schedule.h"
#include "store.h"

namespace vendor::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;

// Parsed command line: positional words and --options (with or without value).
struct Args {
    std::vector<std::string> pos;
    std::multimap<std::string, std::string> opt;  // "--for" -> "2h"; flags map to ""
    bool has(const std::string& k) const { return opt.count(k) > 0; }
    std::string get(const std::string& k, const std::string& def = "") const {
        auto it = opt.find(k);
        return it == opt.end() ? def : it->second;
    }
    std::vector<std::string> all(const std::string& k) const;
};

struct Ctl {
    core::Config cfg;
    bool json = false;
    Args args;
    std::string host;
    // The configuration file as given, and why it cannot be used ("" when it
    // can): only explain runs with an unusable one, as the module does.
    std::string config_path;
    bool explicit_config = false;
    std::string config_problem;
};

// Usage error: message on stderr, exit 2.
struct UsageError {
    std::string msg;
};

int fail(const std::string& msg);  // "vendorctl: msg" on stderr, returns 1
int fail(const core::Error& e);
void audit(Ctl& c, core::Event e);     // admin event: audit log + syslog; warns on failure
bool audit_ok(Ctl& c, core::Event e);  // same, returns false on failure
std::string local_time(const Ctl& c, std::int64_t t, bool with_date);
core::Result<core::Entry> load_entry(const Ctl& c, const std::string& name);
void require_name(const std::string& name);  // throws UsageError
// The prologue of every command on one account: the account NAME at
// position i, checked (a usage error otherwise).
std::string account_arg(const Ctl& c, std::size_t i = 0);
std::string need_pos(const Ctl& c, std::size_t i, const char* what);
// A free-text option (--vendor, --comment, --ticket, --reason): at most
// max_len bytes, UTF-8, no control character, since it ends up in JSON
// (registry, grants, audit log) and on the helpdesk's terminal. "" if fine,
// else why not.
std::string check_free_text(const char* option, std::string_view v, std::size_t max_len);

int cmd_add(Ctl& c);
int cmd_remove(Ctl& c);
int cmd_list(Ctl& c);
int cmd_show(Ctl& c);
int cmd_activate(Ctl& c);
int cmd_deactivate(Ctl& c);
int cmd_otp(Ctl& c);
int cmd_totp(Ctl& c);
int cmd_unlock(Ctl& c);
int cmd_status(Ctl& c);
int cmd_explain(Ctl& c);
int cmd_reasons(Ctl& c);
int cmd_log(Ctl& c);
int cmd_prune(Ctl& c);
int cmd_config(Ctl& c);
int cmd_reindex(Ctl& c);
int cmd_key(Ctl& c);
int cmd_authorized_keys(Ctl& c);
int cmd_check_sshd(Ctl& c);
// What the accounts service says about the derived views, on stderr:
// accounts left out of the NSS index as warnings, an index or key view not
// rewritten as errors. False when a view was not rewritten.
bool report_views(const core::ViewReport& r);

}  // namespace vendor::cli
