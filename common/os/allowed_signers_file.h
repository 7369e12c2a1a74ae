// Reading the allowed_signers file (issue 10 trust model): root-owned (or
// the caller's euid, for tests), not group/world writable, 0644 allowed, no
// symlink on the path: safe_read's checks. Never read from etcd.
#pragma once

#include <string_view>

#include "allowed_signers.h"
#include "result.h"

namespace vendor::core {

Result<AllowedSigners> load_allowed_signers(std::string_view abs_path);

}  // namespace vendor::core
