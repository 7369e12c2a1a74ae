// The registry directory as files: which entries exist. The entry grammar
// itself is pure (registry.h).
#pragma once

#include <string>
#include <vector>

#include "registry.h"
#include "result.h"

namespace vendor::core {

// The registry, listed one way: the account names of its NAME.json files
// (valid names only), sorted. No registry directory: no account.
Result<std::vector<std::string>> registry_names(const std::string& registry_dir);

}  // namespace vendor::core
