// Reading the configuration file: the safe-open rules of files.h, then the
// pure parser of config.h. Kept apart from config.h so that the parser stays
// in the logic layer (it is what vendorctl config --check and the fuzzer run).
#pragma once

#include <string>

#include "config.h"
#include "result.h"

namespace vendor::core {

// Read `path` with the safe-open rules. An absent file at the *default* path
// yields the built-in defaults; an absent explicitly named file is an error.
Result<Config> load_config(const std::string& path, bool explicit_path);

}  // namespace vendor::core
