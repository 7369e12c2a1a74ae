// Session records: what pam_sm_close_session may trust when it runs in
// another PAM handle than the open. The PAM environment (PAM_VENDOR_SESSION)
// only names a session; its account and start come from a root-only file
// written at open, state_dir/sessions/ID.json, used once and removed.
// A forged or replayed id finds no record for this account: no session id
// and no duration are logged on its word.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config.h"
#include "result.h"

namespace vendor::core {

struct SessionRecord {
    std::string id;  // 32 lowercase hex digits
    std::string account;
    std::int64_t start_ms = 0;
    std::int64_t pid = 0;  // of the process that opened the session
};

bool valid_session_id(std::string_view id) noexcept;

// One small file at session open (mode 0600 in a 0700 directory).
Status write_session_record(const Config& c, const SessionRecord& r);
// The record of `id` if it belongs to `account`, removed on success (single
// use). not_found when there is none (or it belongs to another account,
// whose record is left in place).
Result<SessionRecord> take_session_record(const Config& c, std::string_view id,
                                          std::string_view account);
// Removes the record of `id` (absent is fine): the close that had the id
// in its own PAM handle.
Status drop_session_record(const Config& c, std::string_view id);

}  // namespace vendor::core
