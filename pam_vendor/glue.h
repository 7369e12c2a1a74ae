// The PAM glue: gathers PAM items, runs the core, maps results to PAM
// return values, logs once. Called only from entry.cc.
#pragma once

#include <security/pam_modules.h>

namespace vendor::pam {

enum class Phase { auth, setcred, account, open_session, close_session, chauthtok };

// Never throws for a known error; entry.cc still guards every call.
int run(Phase phase, pam_handle_t* pamh, int flags, int argc, const char** argv);

// Called by entry.cc when an exception escaped run(): one log line.
void log_unexpected(pam_handle_t* pamh, const char* what) noexcept;

}  // namespace vendor::pam
