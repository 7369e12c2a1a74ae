#include "duration.h"

#include "util.h"

namespace vendor::core {

Result<std::int64_t> parse_duration(std::string_view s) {
    auto bad = [&](const char* why) {
        return make_error(Code::invalid,
                          std::string("bad duration '") + escape(s, 32) + "': " + why);
    };
    if (s.empty()) return bad("empty");
    if (s.size() > 32) return bad("too long");
    static constexpr struct {
        char unit;
        std::int64_t mult;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    std::size_t next_unit = 0;  // index into units: enforce order and uniqueness
    std::int64_t total = 0;
    while (!s.empty()) {
        std::size_t i = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == 0) return bad("expected a number");
        if (i == s.size()) return bad("missing unit (s, m, h or d)");
        std::uint64_t n;
        if (!parse_uint(s.substr(0, i), 100000000, n)) return bad("number too large");
        char u = s[i];
        std::size_t k = next_unit;
        while (k < 4 && units[k].unit != u) ++k;
        if (k == 4) return bad("unknown or repeated unit");
        total += static_cast<std::int64_t>(n) * units[k].mult;
        if (total > kMaxDuration) return bad("longer than 366 days");
        next_unit = k + 1;
        s.remove_prefix(i + 1);
    }
    return total;
}

std::string format_duration(std::int64_t seconds) {
    if (seconds <= 0) return "0s";
    std::string out;
    std::int64_t d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60,
                 sec = seconds % 60;
    if (d) out += std::to_string(d) + "d";
    if (h) out += std::to_string(h) + "h";
    if (m) out += std::to_string(m) + "m";
    if (sec) out += std::to_string(sec) + "s";
    return out;
}

}  // namespace vendor::core
