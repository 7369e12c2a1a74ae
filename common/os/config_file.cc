#include "config_file.h"

#include "files.h"

namespace vendor::core {

Result<Config> load_config(const std::string& path, bool explicit_path) {
    auto text = safe_read(path);
    if (!text) {
        if (text.error().code == Code::not_found && !explicit_path) {
            Config c;
            return c;
        }
        return std::move(text).error();
    }
    return parse_config(*text, path);
}

}  // namespace vendor::core
