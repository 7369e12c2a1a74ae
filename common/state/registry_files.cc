#include "registry_files.h"

#include <algorithm>

#include "files.h"
#include "util.h"

namespace vendor::core {

Result<std::vector<std::string>> registry_names(const std::string& registry_dir) {
    std::vector<std::string> names;
    auto list = list_dir(registry_dir);
    if (!list) {
        if (list.error().code == Code::not_found) return names;
        return std::move(list).error();
    }
    for (const auto& f : *list) {
        if (f.size() <= 5 || f.compare(f.size() - 5, 5, ".json") != 0) continue;
        std::string n = f.substr(0, f.size() - 5);
        if (valid_account_name(n)) names.push_back(std::move(n));
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace vendor::core
