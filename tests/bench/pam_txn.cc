// One PAM transaction in a fresh process, the unit `make bench` times:
// pam_start_confdir -> authenticate -> acct_mgmt -> open_session ->
// close_session -> pam_end, as sshd drives a vendor login (PAM_RHOST,
// PAM_TTY and SSH_CONNECTION set as sshd sets them). Like sshd, which
// resolves the user (getpwnamallow) before it starts PAM, the driver calls
// getpwnam(USER) first, outside any phase: the NSS modules of the machine are
// loaded then in every stack, as they are in sshd, and not charged to the
// first module that asks NSS. --cold-nss skips it (the fresh-process worst
// case, for comparison).
// Exit 0 only when every step returned PAM_SUCCESS; anything else names the
// step and the PAM error on stderr, so a misconfigured stack can never be
// timed as if it had succeeded.
//
//   pam_txn SERVICE USER CONFDIR [CODE] [--maps] [--marks] [--cold-nss]
//
// CODE answers every echo-off prompt (pam_oath, pam_vendor). --maps prints,
// while the session is open (every module loaded), the shared objects mapped
// into the process: the runtime half of "pam_vendor.so must not load libcurl",
// which ldd alone cannot prove (dlopen). --marks makes one failing
// access("@pam_txn:STEP") before each step and at the end: in an strace
// of the process the marks cut the system calls into phases.
//
// No C++ library is used here and it is linked --as-needed: sshd is a C
// program, so libstdc++ must be paid for by the module that needs it, not
// preloaded for it by the driver.
#include <security/pam_appl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <pwd.h>
#include <unistd.h>

namespace {

bool g_marks = false;

// A system call nobody else makes, for the runner's per-phase counts.
void mark(const char* step) {
    if (!g_marks) return;
    char path[64];
    snprintf(path, sizeof path, "@pam_txn:%s", step);
    (void)access(path, F_OK);
}

struct ConvData {
    const char* code = nullptr;
    int prompts = 0;
};

int conv(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* d = static_cast<ConvData*>(data);
    if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
    auto* r = static_cast<pam_response*>(calloc(static_cast<size_t>(n), sizeof(pam_response)));
    if (r == nullptr) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i) {
        switch (msg[i]->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
        case PAM_PROMPT_ECHO_ON:
            if (d->code == nullptr) {
                fprintf(stderr, "pam_txn: unexpected prompt \"%s\" and no code given\n",
                        msg[i]->msg);
                free(r);
                return PAM_CONV_ERR;
            }
            ++d->prompts;
            r[i].resp = strdup(d->code);
            break;
        case PAM_ERROR_MSG:
            fprintf(stderr, "pam_txn: module error message: %s\n", msg[i]->msg);
            break;
        default:  // PAM_TEXT_INFO: a real client shows it; nothing to do here
            break;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

// One line per mapping of a shared object (the runner de-duplicates).
void print_maps() {
    FILE* f = fopen("/proc/self/maps", "re");
    if (f == nullptr) {
        perror("pam_txn: /proc/self/maps");
        return;
    }
    char line[4096];
    while (fgets(line, sizeof line, f) != nullptr) {
        const char* p = strchr(line, '/');
        if (p != nullptr && strstr(p, ".so") != nullptr) printf("mapped %s", p);
    }
    fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
    bool maps = false;
    bool cold_nss = false;
    const char* pos[4] = {};
    int npos = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--maps") == 0) {
            maps = true;
        } else if (strcmp(argv[i], "--marks") == 0) {
            g_marks = true;
        } else if (strcmp(argv[i], "--cold-nss") == 0) {
            cold_nss = true;
        } else if (npos < 4) {
            pos[npos++] = argv[i];
        } else {
            npos = 5;
        }
    }
    if (npos < 3 || npos > 4) {
        fprintf(stderr,
                "usage: pam_txn SERVICE USER CONFDIR [CODE] [--maps] [--marks] [--cold-nss]\n");
        return 2;
    }
    ConvData data;
    data.code = npos == 4 ? pos[3] : nullptr;
    struct pam_conv pc = {conv, &data};
    pam_handle_t* pamh = nullptr;

    if (!cold_nss) {
        mark("getpwnam");
        (void)getpwnam(pos[1]);  // sshd's getpwnamallow(); absent is fine
    }
    mark("pam_start");
    int rc = pam_start_confdir(pos[0], pos[1], &pc, pos[2], &pamh);
    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pam_txn: pam_start_confdir(%s): %s\n", pos[0], pam_strerror(nullptr, rc));
        return 1;
    }
    const char* step = "pam_set_item";
    rc = pam_set_item(pamh, PAM_RHOST, "127.0.0.2");
    if (rc == PAM_SUCCESS) rc = pam_set_item(pamh, PAM_TTY, "ssh");
    // What sshd puts in the PAM environment before the first call.
    if (rc == PAM_SUCCESS) rc = pam_putenv(pamh, "SSH_CONNECTION=127.0.0.2 50022 127.0.0.1 22");
    if (rc == PAM_SUCCESS) {
        step = "pam_authenticate";
        mark("pam_authenticate");
        rc = pam_authenticate(pamh, 0);
    }
    if (rc == PAM_SUCCESS) {
        step = "pam_acct_mgmt";
        mark("pam_acct_mgmt");
        rc = pam_acct_mgmt(pamh, 0);
    }
    if (rc == PAM_SUCCESS) {
        step = "pam_open_session";
        mark("pam_open_session");
        rc = pam_open_session(pamh, 0);
    }
    if (rc == PAM_SUCCESS) {
        if (maps) print_maps();
        step = "pam_close_session";
        mark("pam_close_session");
        rc = pam_close_session(pamh, 0);
    }
    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pam_txn: %s (service %s, user %s): %s\n", step, pos[0], pos[1],
                pam_strerror(pamh, rc));
        pam_end(pamh, rc);
        return 1;
    }
    if (data.code != nullptr && data.prompts == 0) {
        fprintf(stderr, "pam_txn: a code was given but no module asked for it (service %s)\n",
                pos[0]);
        pam_end(pamh, PAM_SUCCESS);
        return 1;
    }
    mark("pam_end");
    rc = pam_end(pamh, PAM_SUCCESS);
    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pam_txn: pam_end: %s\n", pam_strerror(nullptr, rc));
        return 1;
    }
    return 0;
}
