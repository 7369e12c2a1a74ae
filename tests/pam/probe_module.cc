// pvt_probe.so — a test-only PAM module stacked after pam_vendor.so in the
// private service files of tests/pam (never installed).
//
//   rc=NAME      every phase returns that code (ignored, success, ...): the
//                line after pam_vendor that only runs when pam_vendor said
//                PAM_IGNORE, so the stack's result tells "ignored" apart from
//                "allowed" and from every denial code.
//   export       session phases: copy the pam data "systemd.runtime_max_sec"
//                that pam_vendor set (as pam_systemd, stacked after it, would
//                read it) into the PAM environment as PVT_RUNTIME_MAX_SEC,
//                where the application can see it (pam_get_data is
//                module-only). Returns PAM_SUCCESS.
#include <security/pam_modules.h>

#include <cstring>
#include <string>

namespace {

constexpr int kIgnoredSentinel = PAM_NO_MODULE_DATA;  // see tests/pam/harness.h

int parse_rc(const char* v) {
    if (std::strcmp(v, "ignored") == 0) return kIgnoredSentinel;
    if (std::strcmp(v, "success") == 0) return PAM_SUCCESS;
    return PAM_SYSTEM_ERR;
}

int probe(pam_handle_t* pamh, bool session, int argc, const char** argv) {
    int rc = PAM_SYSTEM_ERR;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "rc=", 3) == 0) {
            rc = parse_rc(argv[i] + 3);
        } else if (std::strcmp(argv[i], "export") == 0) {
            rc = PAM_SUCCESS;
            if (!session) continue;
            const void* d = nullptr;
            std::string env = "PVT_RUNTIME_MAX_SEC=";
            if (pam_get_data(pamh, "systemd.runtime_max_sec", &d) == PAM_SUCCESS && d)
                env += static_cast<const char*>(d);
            else env += "unset";
            if (pam_putenv(pamh, env.c_str()) != PAM_SUCCESS) return PAM_SYSTEM_ERR;
        }
    }
    return rc;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* h, int, int argc,
                                                               const char** argv) {
    return probe(h, false, argc, argv);
}
__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t* h, int, int argc,
                                                          const char** argv) {
    return probe(h, false, argc, argv);
}
__attribute__((visibility("default"))) int pam_sm_acct_mgmt(pam_handle_t* h, int, int argc,
                                                            const char** argv) {
    return probe(h, false, argc, argv);
}
__attribute__((visibility("default"))) int pam_sm_open_session(pam_handle_t* h, int, int argc,
                                                               const char** argv) {
    return probe(h, true, argc, argv);
}
__attribute__((visibility("default"))) int pam_sm_close_session(pam_handle_t* h, int, int argc,
                                                                const char** argv) {
    return probe(h, true, argc, argv);
}
__attribute__((visibility("default"))) int pam_sm_chauthtok(pam_handle_t* h, int, int argc,
                                                            const char** argv) {
    return probe(h, false, argc, argv);
}

}  // extern "C"
