// The PAM-stack test harness (tests/pam): a private directory with the
// module's config, registry, state and audit log; private PAM service files
// read through pam_wrapper; the helpdesk side driven through the real
// vendorctl; PAM transactions with a scripted conversation; the audit log read
// back line by line.
//
// How the program runs (see supervise() in harness.cc): started by
// `make pam` without any wrapper, it prepares the private directory and the
// throwaway system users, then re-executes itself under pam_wrapper
// (LD_PRELOAD, PAM_WRAPPER=1, PAM_WRAPPER_SERVICE_DIR=<private dir>) and
// waits for that child, so that users and files are removed even when the
// child dies of a sanitizer report. Nothing under /etc/pam.d or
// /etc/nsswitch.conf is read or written.
#pragma once

// Every C++ header before <cmocka.h>: it defines fail(), skip() ... as macros.
#include <security/pam_appl.h>
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <libpamtest.h>
}

namespace pvt {

// What the stack returns when pam_vendor said PAM_IGNORE: the probe module
// stacked after it (tests/pam/probe_module.cc, rc=ignored) answers this code,
// which pam_vendor itself never returns.
inline constexpr int kIgnored = PAM_NO_MODULE_DATA;

// The test config (main service "pvt").
inline constexpr const char* kHostName = "pvt-host.example.org";
// Above the 7 losers of test_concurrent_code_use (which checks that exactly
// one of 8 racing logins wins); test_race_losers_keep_winner uses kSvcRace,
// whose threshold the losers reach.
inline constexpr unsigned kLockoutThreshold = 10;
inline constexpr unsigned kRaceLockoutThreshold = 3;
inline constexpr const char* kVendorGroup = "pvt_vendors";
inline constexpr const char* kGoodIp = "192.0.2.10";  // inside the default 'from' of add_account

// Service names (one file each in the private service directory).
inline constexpr const char* kSvc = "pvt";                 // the normal config
inline constexpr const char* kSvcBadKey = "pvt_badkey";    // config with an unknown key
inline constexpr const char* kSvcBadArg = "pvt_badarg";    // unknown module argument
inline constexpr const char* kSvcBroken = "pvt_broken";    // registry_dir mode 0777
inline constexpr const char* kSvcNoAudit = "pvt_noaudit";  // audit log in a 0777 directory
// privileged_groups = "domain admins" admins@corp.example ADM SUDO
inline constexpr const char* kSvcPrivAd = "pvt_privad";
inline constexpr const char* kSvcRace = "pvt_race";    // lockout_threshold kRaceLockoutThreshold
inline constexpr const char* kSvcFleet = "pvt_fleet";  // state_backend = fleet (not in this build)
// Its own audit log and syslog_socket (kDeafDir): a syslog daemon that never
// reads (test_deaf_syslog).
inline constexpr const char* kSvcDeaf = "pvt_deaf";
inline constexpr const char* kDeafDir = "deaflog";  // under Env::root

// Throwaway system users made by the supervisor when it runs as root.
inline constexpr const char* kPrivUser = "pvt_priv1";       // member of a privileged group
inline constexpr const char* kMemberUser = "pvt_vmember1";  // member of kVendorGroup, no entry
// Ordinary accounts (uid >= 1000) that --existing may register, as an AD
// account would be: kExtAlias is a second passwd name for kExtUser's uid;
// kPrivUser2 is an ordinary account in a privileged group.
inline constexpr const char* kExtUser = "pvt_ext1";
inline constexpr const char* kExtAlias = "pvt_ext1b";
inline constexpr const char* kExtUser2 = "pvt_ext2";
inline constexpr const char* kPrivUser2 = "pvt_priv2";
// An ordinary account with its own group, whose gid a test config names as
// vendor_gid while vendor_group names a group that does not resolve (what a
// missing NSS index does to the vendor group).
inline constexpr const char* kGidUser = "pvt_gid1";

struct Env {
    std::string root;  // private directory, mode 0700
    std::string registry, registry_broken, state, audit_log, cfg;
    std::string module, vendorctl, map;
    std::string data;  // tests/data, absolute
    bool is_root = false;
    bool have_priv_user = false, have_member_user = false;
    std::string priv_group;  // the privileged group kPrivUser is in
    // kExtUser, kExtAlias, kExtUser2, kPrivUser2 exist, and the test runs in a
    // private mount namespace whose nsswitch.conf adds the case-insensitive
    // test source (tests/pam/nss_pvtci.c) after "files" for passwd.
    bool have_ext_users = false;
    bool have_fault = false;  // tests/support/fault.c is preloaded
};
const Env& env();

// Entry point: stage 1 (supervisor) or stage 2 (CMocka group, under pam_wrapper).
// Returns the exit status of the program; run_all is called in stage 2.
int main_with(int argc, char** argv, int (*run_all)());

// ---- helpdesk side -------------------------------------------------------

struct Spec {
    std::string vendor = "ACME Medical";
    std::string from = "192.0.2.0/24,2001:db8::/32";
    std::string access;  // "" = default (grant)
    std::string hours;
    std::string hosts;
    std::string key_file;  // --key FILE
    bool local = false;
    bool any_source = false;  // --allow-any-source
    bool existing = false;    // --existing: a system account (needs otp in access)
};

struct CmdResult {
    int status = -1;  // exit status, or 128+signal
    std::string out, err;
};
// vendorctl --config <test config> ARGS..., with the pam_wrapper variables
// removed from its environment. Requires root (vendorctl refuses otherwise).
CmdResult vendorctl(const std::vector<std::string>& args);
// Any program, same clean environment; argv[0] searched in PATH.
CmdResult run_cmd(const std::vector<std::string>& argv,
                  const std::vector<std::string>& extra_env = {});
// The libasan this test binary runs with ("" without ASan).
std::string asan_runtime();

// Each of these runs vendorctl (which needs root: tests that use them start
// with NEED_ROOT()); a failure fails the current test.
void add_account(const std::string& name, const Spec& s = Spec());
void activate(const std::string& name, const std::string& duration = "2h");
void deactivate(const std::string& name);
std::string issue_code(const std::string& name);  // bare digits
void totp_enroll(const std::string& name);
std::string totp_code(const std::string& name);
void unlock(const std::string& name);
// A grant written directly as vendorctl would store it (any times).
void write_grant(const std::string& name, std::int64_t not_before, std::int64_t not_after);
std::string entry_path(const std::string& name);

// ---- PAM side ------------------------------------------------------------

enum class ConvMode {
    answer,      // answer prompts from the list; fail with PAM_CONV_ERR when it runs out
    conv_error,  // the conversation function fails (PAM_CONV_ERR)
    null_resp,   // PAM_SUCCESS, response array with a NULL string
    null_array,  // PAM_SUCCESS, no response array at all
};

struct ConvState {
    ConvMode mode = ConvMode::answer;
    std::vector<std::string> answers;
    std::size_t next = 0;
    int prompts = 0;   // PAM_PROMPT_ECHO_OFF + PAM_PROMPT_ECHO_ON messages
    int echo_off = 0;  // of which PAM_PROMPT_ECHO_OFF
    std::vector<std::string> prompt_texts;
    std::vector<std::string> messages;  // PAM_ERROR_MSG / PAM_TEXT_INFO
};
extern "C" int pvt_conv(int n, const struct pam_message** msg, struct pam_response** resp,
                        void* data);

struct Source {
    // PAM_RHOST: nullopt leaves it unset; "" sets an empty string.
    std::optional<std::string> rhost = std::string(kGoodIp);
    // SSH_CONNECTION in the PAM environment, as sshd sets it; nullopt = unset.
    std::optional<std::string> ssh_connection;
    // SSH_AUTH_INFO_0 (sshd's ExposeAuthInfo): "publickey TYPE BASE64" lines.
    std::optional<std::string> auth_info;
};

// One PAM transaction (pam_start .. pam_end), as sshd drives it.
class Pam {
  public:
    Pam(const char* service, const std::string& user, const Source& src = Source());
    ~Pam();
    Pam(const Pam&) = delete;
    Pam& operator=(const Pam&) = delete;
    int auth(int flags = 0);
    int acct(int flags = 0);
    int setcred(int flags = PAM_ESTABLISH_CRED);
    int open(int flags = 0);
    int close(int flags = 0);
    int chauthtok(int flags = 0);
    std::string getenv(const char* name) const;  // "" when unset
    pam_handle_t* handle() const { return h_; }
    ConvState conv;

  private:
    pam_handle_t* h_ = nullptr;
    struct pam_conv pc_;
    int last_ = PAM_SUCCESS;
};

// libpamtest 1.1.4's run_pamtest_conv() macro has a misplaced parenthesis;
// this is what it means to say.
#define pamtest_conv(service, user, fn, data, tests, handle)                                       \
    _pamtest_conv(service, user, fn, data, tests, sizeof(tests) / sizeof((tests)[0]), handle)

const char* rc_name(int rc);
#define assert_rc(got, want)                                                                       \
    do {                                                                                           \
        int g_ = (got), w_ = (want);                                                               \
        if (g_ != w_)                                                                              \
            fail_msg("%s: got %s (%d), want %s (%d)", #got, pvt::rc_name(g_), g_,                  \
                     pvt::rc_name(w_), w_);                                                        \
    } while (0)

// ---- audit log -----------------------------------------------------------

struct Event {
    std::string raw;
    std::map<std::string, std::string> str;
    std::map<std::string, std::int64_t> num;
    std::string s(const char* k) const;
    bool has(const char* k) const { return str.count(k) || num.count(k); }
};
std::vector<std::string> audit_lines(const std::string& path = "");
// Number of lines now: pass it to events_since() after the PAM call.
std::size_t audit_mark();
std::vector<Event> events_since(std::size_t mark);

struct Want {
    const char* event;
    const char* result;  // "ok" / "denied"
    const char* reason;  // nullptr: not checked
};
// Exactly these events (in order), all for `account`, since `mark`.
std::vector<Event> expect_events(std::size_t mark, const std::string& account,
                                 std::vector<Want> want);
void expect_no_events(std::size_t mark);

// Runs auth in one transaction and account in another from `src` and checks
// that both deny with `reason`: PAM_AUTH_ERR + one `auth` event (no prompt),
// PAM_PERM_DENIED + one `account` event.
void expect_denied_both(const char* service, const std::string& user, const Source& src,
                        const char* reason);
// Account phase allowed: PAM_SUCCESS + one `account ok` event.
void expect_account_ok(const char* service, const std::string& user, const Source& src = Source());

// ---- misc ----------------------------------------------------------------

// vendorctl refuses non-root callers; without root the test is reported as
// skipped (tests/support/run_tap.sh records CMocka's "not ok N # SKIP").
#define NEED_ROOT()                                                                                \
    do {                                                                                           \
        if (!pvt::env().is_root) {                                                                 \
            skip();                                                                                \
            return;                                                                                \
        }                                                                                          \
    } while (0)

void write_file(const std::string& path, std::string_view data, mode_t mode);
// A registry entry written by hand, as an operator editing the file would:
// an existing account with the given access (no uid recorded unless > 0).
void write_existing_entry(const std::string& name, const std::string& access, long uid = -1);
// vendorctl --config CONF ARGS (another configuration than the test's).
CmdResult vendorctl_with(const std::string& conf, const std::vector<std::string>& args);

// The fault library (tests/support/fault.c): fail `fn` after `skip` calls,
// `count` times (-1: sticky) with `err`. No-ops when it is not preloaded.
void fault_arm(const char* fn, long skip, long count, int err);
void fault_disarm();
long fault_hits();
std::string read_file(const std::string& path);
bool contains(std::string_view hay, std::string_view needle);
std::int64_t now();
// Today-independent schedules in the test zone (UTC).
std::string schedule_excluding_now();
std::string schedule_including_now();

}  // namespace pvt
