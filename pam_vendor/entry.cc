// The C ABI of pam_vendor.so: the six service functions, each a guard around
// vendor::pam::run(). No exception crosses into the PAM application (sshd):
// out of memory is PAM_BUF_ERR, anything else is logged and PAM_SYSTEM_ERR —
// a denial, never PAM_SUCCESS or PAM_IGNORE.
#include <security/pam_modules.h>

#include <exception>
#include <new>

#include "glue.h"

namespace {

int guard(vendor::pam::Phase phase, pam_handle_t* pamh, int flags, int argc,
          const char** argv) noexcept {
    try {
        return vendor::pam::run(phase, pamh, flags, argc, argv);
    } catch (const std::bad_alloc&) {
        return PAM_BUF_ERR;
    } catch (const std::exception& e) {
        vendor::pam::log_unexpected(pamh, e.what());
        return PAM_SYSTEM_ERR;
    } catch (...) {
        vendor::pam::log_unexpected(pamh, "unknown exception");
        return PAM_SYSTEM_ERR;
    }
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* pamh, int flags,
                                                               int argc, const char** argv) {
    return guard(vendor::pam::Phase::auth, pamh, flags, argc, argv);
}

__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t* pamh, int flags, int argc,
                                                          const char** argv) {
    return guard(vendor::pam::Phase::setcred, pamh, flags, argc, argv);
}

__attribute__((visibility("default"))) int pam_sm_acct_mgmt(pam_handle_t* pamh, int flags, int argc,
                                                            const char** argv) {
    return guard(vendor::pam::Phase::account, pamh, flags, argc, argv);
}

__attribute__((visibility("default"))) int pam_sm_open_session(pam_handle_t* pamh, int flags,
                                                               int argc, const char** argv) {
    return guard(vendor::pam::Phase::open_session, pamh, flags, argc, argv);
}

__attribute__((visibility("default"))) int pam_sm_close_session(pam_handle_t* pamh, int flags,
                                                                int argc, const char** argv) {
    return guard(vendor::pam::Phase::close_session, pamh, flags, argc, argv);
}

__attribute__((visibility("default"))) int pam_sm_chauthtok(pam_handle_t* pamh, int flags, int argc,
                                                            const char** argv) {
    return guard(vendor::pam::Phase::chauthtok, pamh, flags, argc, argv);
}

}  // extern "C"
