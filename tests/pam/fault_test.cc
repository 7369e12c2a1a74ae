// Out of memory over a login (the hardening issue, item 10): the real
// pam_vendor.so in a real libpam stack (pam_wrapper, harness.h), with the
// N-th allocation after pam_start failing, for N = 1 .. the number of
// allocations a fault-free auth + account makes. Every run must end in a PAM
// return code: no signal, no abort, no hang; never PAM_SUCCESS where the
// fault-free run denies, never PAM_IGNORE for a vendor, and no account
// success after a failed auth (the code gate).
//
// Built with plain flags (tests/pam/pam.mk): ASan interposes malloc itself,
// so the fault shim (tests/support/malloc_fault.c, LD_PRELOAD after
// libpam_wrapper.so) needs a module and a driver without it.
#include <dlfcn.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "config.h"
#include "config_file.h"
#include "store.h"

#include "harness.h"  // last: <cmocka.h> defines macros

using namespace pvt;

namespace {

using ArmFn = void (*)(long);
using DisarmFn = long (*)();

struct Shim {
    ArmFn arm = nullptr;
    DisarmFn disarm = nullptr;
};

Shim shim() {
    Shim s;
    s.arm = reinterpret_cast<ArmFn>(dlsym(RTLD_DEFAULT, "pvt_fault_arm"));
    s.disarm = reinterpret_cast<DisarmFn>(dlsym(RTLD_DEFAULT, "pvt_fault_disarm"));
    return s;
}

// The application's conversation: answers one code, never throws, and
// reports its own allocation failures as PAM_BUF_ERR.
struct Answer {
    const char* code;
};
extern "C" int fault_conv(int n, const struct pam_message** msg, struct pam_response** resp,
                          void* data) {
    auto* a = static_cast<Answer*>(data);
    if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
    auto* r = static_cast<pam_response*>(std::calloc(static_cast<size_t>(n), sizeof(pam_response)));
    if (!r) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i) {
        int style = msg[i]->msg_style;
        if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON) continue;
        r[i].resp = strdup(a->code);
        if (!r[i].resp) {
            for (int j = 0; j < i; ++j) std::free(r[j].resp);
            std::free(r);
            return PAM_BUF_ERR;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

struct Outcome {
    int auth = -1, acct = -1;
    long allocs = 0;
    int signal = 0;  // the run died of it
    bool exited = false;
};

// One login in a child process: pam_start, then with the nth allocation
// failing (0: none) pam_authenticate and pam_acct_mgmt.
Outcome login(const Shim& s, const char* user, const std::string& code, long nth) {
    int p[2];
    if (pipe(p) != 0) fail_msg("pipe");
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) fail_msg("fork");
    if (pid == 0) {
        // CMocka catches these to report a test; here they must end the run.
        for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGALRM})
            std::signal(sig, SIG_DFL);
        ::close(p[0]);
        alarm(20);  // a hang is a failure too (SIGALRM)
        Answer a{code.c_str()};
        struct pam_conv pc = {fault_conv, &a};
        pam_handle_t* h = nullptr;
        if (pam_start(kSvc, user, &pc, &h) != PAM_SUCCESS) _exit(90);
        if (pam_set_item(h, PAM_RHOST, kGoodIp) != PAM_SUCCESS) _exit(91);
        if (pam_set_item(h, PAM_TTY, "ssh") != PAM_SUCCESS) _exit(91);
        s.arm(nth);
        int r[3];
        r[0] = pam_authenticate(h, 0);
        r[1] = pam_acct_mgmt(h, 0);
        r[2] = static_cast<int>(s.disarm());
        if (::write(p[1], r, sizeof r) != static_cast<ssize_t>(sizeof r)) _exit(92);
        _exit(0);  // no pam_end, no exit(): pam_wrapper's copy belongs to the parent
    }
    ::close(p[1]);
    int r[3] = {-1, -1, 0};
    ssize_t got = 0;
    while (got < static_cast<ssize_t>(sizeof r)) {
        ssize_t k =
            ::read(p[0], reinterpret_cast<char*>(r) + got, sizeof r - static_cast<size_t>(got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += k;
    }
    ::close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    Outcome o;
    if (WIFSIGNALED(st)) o.signal = WTERMSIG(st);
    o.exited = WIFEXITED(st) && WEXITSTATUS(st) == 0 && got == static_cast<ssize_t>(sizeof r);
    o.auth = r[0];
    o.acct = r[1];
    o.allocs = r[2];
    return o;
}

// A fresh code and no failure count before each run: a fault after the
// pessimistic failure write, or in the middle of the consume, must not lock
// the next run out.
struct Helpdesk {
    vendor::core::Config cfg;
    std::unique_ptr<vendor::core::Store> store;
    Helpdesk() {
        auto c = vendor::core::load_config(env().cfg, true);
        if (!c) fail_msg("load_config: %s", c.error().detail.c_str());
        cfg = std::move(*c);
        store = vendor::core::open_store(cfg);
    }
    std::string fresh(const char* user) {
        if (auto st = store->unlock(user); !st) fail_msg("unlock: %s", st.error().detail.c_str());
        auto c = store->issue_code(user, 8, 600, now());
        if (!c) fail_msg("issue_code: %s", c.error().detail.c_str());
        return c->code;
    }
};

bool is_ignore(int rc) { return rc == PAM_IGNORE || rc == kIgnored; }

// Sweeps every allocation of one login. `grants`: the fault-free run
// succeeds (auth and account); else it denies both.
void sweep(const char* user, bool grants) {
    Shim s = shim();
    if (!s.arm || !s.disarm) fail_msg("malloc_fault.so is not preloaded");
    Helpdesk hd;
    // Warm up as sshd has before PAM runs: glibc's NSS initialised (under a
    // failing malloc glibc 2.36 itself crashes or asserts there), and the
    // module loaded with its dynamic TLS block allocated (glibc allocates it
    // lazily and aborts the process when that allocation fails; no module
    // code can catch it). The handle stays open so every child shares both.
    (void)getpwnam("root");
    (void)getgrnam("root");
    Pam warm(kSvc, user);
    warm.conv.answers = {hd.fresh(user)};
    (void)warm.auth();
    (void)warm.acct();
    Outcome clean = login(s, user, hd.fresh(user), 0);
    if (!clean.exited) fail_msg("fault-free run died (signal %d)", clean.signal);
    if (grants) {
        assert_rc(clean.auth, PAM_SUCCESS);
        assert_rc(clean.acct, PAM_SUCCESS);
    } else {
        if (clean.auth == PAM_SUCCESS || clean.acct == PAM_SUCCESS || is_ignore(clean.auth) ||
            is_ignore(clean.acct))
            fail_msg("fault-free run of %s: auth %s, account %s", user, rc_name(clean.auth),
                     rc_name(clean.acct));
    }
    long k = clean.allocs;
    if (k < 50) fail_msg("only %ld allocations in a login: is the shim counting?", k);
    std::printf("# %s: %ld allocations in a fault-free auth + account\n", user, k);
    int bad = 0;
    long succeeded = 0;
    for (long n = 1; n <= k && bad < 10; ++n) {
        Outcome o = login(s, user, hd.fresh(user), n);
        std::string why;
        if (o.signal) why = "killed by signal " + std::to_string(o.signal);
        else if (!o.exited) why = "driver child failed";
        else if (is_ignore(o.auth) || is_ignore(o.acct)) why = "PAM_IGNORE for a vendor";
        else if (!grants && (o.auth == PAM_SUCCESS || o.acct == PAM_SUCCESS))
            why = "success where the fault-free run denies";
        else if (o.auth != PAM_SUCCESS && o.acct == PAM_SUCCESS)
            why = "account success after a failed auth";
        if (!why.empty()) {
            ++bad;
            std::printf("# %s, allocation %ld failing: %s (auth %s, account %s)\n", user, n,
                        why.c_str(), rc_name(o.auth), rc_name(o.acct));
        }
        if (o.auth == PAM_SUCCESS && o.acct == PAM_SUCCESS) ++succeeded;
    }
    std::printf("# %s: %ld of %ld faulted logins still succeeded\n", user, succeeded, k);
    if (bad) fail_msg("%d faulted logins of %s ended badly (first 10 shown)", bad, user);
}

void test_oom_activated_vendor(void**) {
    NEED_ROOT();
    Spec sp;
    sp.access = "grant+otp";
    add_account("oom1", sp);
    activate("oom1");
    sweep("oom1", true);
}

void test_oom_denied_vendor(void**) {
    NEED_ROOT();
    Spec sp;
    sp.access = "grant+otp";
    add_account("oom2", sp);  // never activated: not_activated
    sweep("oom2", false);
}

int run_all() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_activated_vendor),
        cmocka_unit_test(test_oom_denied_vendor),
    };
    return cmocka_run_group_tests_name("pam_fault", tests, nullptr, nullptr);
}

}  // namespace

int main(int argc, char** argv) { return main_with(argc, argv, run_all); }
