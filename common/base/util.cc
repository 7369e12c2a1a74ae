#include "util.h"

#include <cstdio>
#include <ctime>

namespace vendor::core {

const char* code_name(Code c) noexcept {
    switch (c) {
    case Code::invalid: return "invalid";
    case Code::not_found: return "not_found";
    case Code::insecure: return "insecure";
    case Code::io: return "io";
    case Code::too_large: return "too_large";
    case Code::busy: return "busy";
    case Code::exists: return "exists";
    case Code::refused: return "refused";
    case Code::no_memory: return "no_memory";
    case Code::internal: return "internal";
    }
    return "internal";
}

bool valid_account_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 32) return false;
    auto c0 = name[0];
    if (!((c0 >= 'a' && c0 <= 'z') || c0 == '_')) return false;
    for (char c : name.substr(1)) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    while (true) {
        auto pos = s.find(sep);
        auto field = trim(s.substr(0, pos));
        if (!field.empty()) out.emplace_back(field);
        if (pos == std::string_view::npos) break;
        s.remove_prefix(pos + 1);
    }
    return out;
}

std::string escape(std::string_view s, std::size_t max_len) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() < max_len ? s.size() : max_len);
    for (unsigned char c : s) {
        if (out.size() >= max_len) {
            out += "...";
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
}

static std::string format_ts(std::int64_t epoch_s, int ms) {
    std::int64_t days = epoch_s / 86400;
    std::int64_t rem = epoch_s % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    std::int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    char buf[48];
    if (ms >= 0)
        snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03dZ",
                 static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                 static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60), ms);
    else
        snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                 static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                 static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
    return buf;
}

std::string format_rfc3339_ms(std::int64_t epoch_ms) {
    std::int64_t s = epoch_ms / 1000;
    auto ms = static_cast<int>(epoch_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        s -= 1;
    }
    return format_ts(s, ms);
}

std::string format_rfc3339(std::int64_t epoch_s) { return format_ts(epoch_s, -1); }

bool parse_uint(std::string_view s, std::uint64_t max, std::uint64_t& out) noexcept {
    if (s.empty() || s.size() > 20) return false;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        auto digit = static_cast<std::uint64_t>(c - '0');
        // digit > max first: max - digit would wrap and let "4" through a max of 3.
        if (digit > max || v > (max - digit) / 10) return false;
        v = v * 10 + digit;
    }
    out = v;
    return true;
}

Result<std::int64_t> parse_rfc3339(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)
    auto bad = [&] { return make_error(Code::invalid, "bad timestamp '" + escape(s, 64) + "'"); };
    if (s.size() < 20 || s.size() > 35) return bad();
    std::uint64_t y, mo, d, h, mi, se;
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return bad();
    if (!parse_uint(s.substr(0, 4), 9999, y) || !parse_uint(s.substr(5, 2), 12, mo) ||
        !parse_uint(s.substr(8, 2), 31, d) || !parse_uint(s.substr(11, 2), 23, h) ||
        !parse_uint(s.substr(14, 2), 59, mi) || !parse_uint(s.substr(17, 2), 60, se))
        return bad();
    if (mo < 1 || d < 1) return bad();
    std::string_view rest = s.substr(19);
    if (!rest.empty() && rest[0] == '.') {
        std::size_t i = 1;
        while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
        if (i == 1) return bad();
        rest.remove_prefix(i);
    }
    std::int64_t offset = 0;
    if (rest == "Z" || rest == "z") {
        offset = 0;
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
        std::uint64_t oh, om;
        if (!parse_uint(rest.substr(1, 2), 23, oh) || !parse_uint(rest.substr(4, 2), 59, om))
            return bad();
        offset = static_cast<std::int64_t>(oh * 3600 + om * 60);
        if (rest[0] == '-') offset = -offset;
    } else {
        return bad();
    }
    std::int64_t days = days_from_civil(static_cast<std::int64_t>(y), static_cast<unsigned>(mo),
                                        static_cast<unsigned>(d));
    // reject 2026-02-31 and the like
    std::int64_t cy;
    unsigned cm, cd;
    civil_from_days(days, cy, cm, cd);
    if (cm != mo || cd != d) return bad();
    return days * 86400 + static_cast<std::int64_t>(h * 3600 + mi * 60 + se) - offset;
}

std::int64_t now_s() noexcept { return static_cast<std::int64_t>(time(nullptr)); }

std::int64_t now_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out += hex[p[i] >> 4];
        out += hex[p[i] & 15];
    }
    return out;
}

namespace {

// Length of the well-formed UTF-8 sequence at s[i], 0 if there is none.
std::size_t utf8_seq_len(std::string_view s, std::size_t i) noexcept {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    if (c < 0x80) return 1;
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte (RFC 3629 table)
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;       // overlong
        else if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;       // overlong
        else if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
    } else {
        return 0;
    }
    if (s.size() - i < n) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xbf) return 0;
    return n;
}

}  // namespace

bool valid_utf8(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        auto n = utf8_seq_len(s, i);
        if (!n) return false;
        i += n;
    }
    return true;
}

std::string utf8_sanitize(std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        auto n = utf8_seq_len(s, i);
        if (n) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        auto c = static_cast<unsigned char>(s[i++]);
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

}  // namespace vendor::core
