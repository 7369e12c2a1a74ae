#include "uid_index.h"

#include "util.h"

namespace vendor::core {

std::string uid_index_text(const std::vector<std::pair<std::uint32_t, std::string>>& uids) {
    std::string out =
        "# pam_vendor uid index, written by vendorctl; do not edit (vendorctl reindex)\n";
    for (const auto& [uid, name] : uids) out += std::to_string(uid) + " " + name + "\n";
    return out;
}

Result<std::vector<std::pair<std::uint32_t, std::string>>> parse_uid_index(std::string_view text) {
    std::vector<std::pair<std::uint32_t, std::string>> out;
    int lineno = 0;
    while (!text.empty()) {
        ++lineno;
        auto nl = text.find('\n');
        if (nl == std::string_view::npos)
            return make_error(Code::invalid, "uid index: unterminated last line");
        auto line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (line.empty() || line[0] == '#') continue;
        auto sp = line.find(' ');
        std::uint64_t uid = 0;
        if (sp == std::string_view::npos || !parse_uint(line.substr(0, sp), 4294967294ULL, uid) ||
            !valid_account_name(line.substr(sp + 1)))
            return make_error(Code::invalid,
                              "uid index: line " + std::to_string(lineno) + " is not 'UID NAME'");
        out.emplace_back(static_cast<std::uint32_t>(uid), std::string(line.substr(sp + 1)));
    }
    return out;
}

}  // namespace vendor::core
