#include "allowed_signers_file.h"

#include "files.h"

namespace vendor::core {

Result<AllowedSigners> load_allowed_signers(std::string_view abs_path) {
    auto text = safe_read(abs_path);
    if (!text) return std::move(text).error();
    return parse_allowed_signers(*text);
}

}  // namespace vendor::core
