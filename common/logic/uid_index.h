// The registry's uid index file (registry_dir/.uids): "UID NAME" lines,
// written by vendorctl, read by the module (identity.h, registered_uids).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.h"

namespace vendor::core {

std::string uid_index_text(const std::vector<std::pair<std::uint32_t, std::string>>& uids);
Result<std::vector<std::pair<std::uint32_t, std::string>>> parse_uid_index(std::string_view text);

}  // namespace vendor::core
