#include "net.h"

#include <cstdio>

#include "util.h"

namespace vendor::core {

namespace {

constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool parse_v4(std::string_view s, std::uint8_t out[4]) noexcept {
    int part = 0;
    while (true) {
        std::size_t i = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == 0 || i > 3) return false;
        if (i > 1 && s[0] == '0') return false;  // leading zero: octal in inet_aton
        unsigned v = 0;
        for (std::size_t k = 0; k < i; ++k) v = v * 10 + static_cast<unsigned>(s[k] - '0');
        if (v > 255) return false;
        out[part++] = static_cast<std::uint8_t>(v);
        s.remove_prefix(i);
        if (part == 4) return s.empty();
        if (s.empty() || s[0] != '.') return false;
        s.remove_prefix(1);
    }
}

int hexval(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool parse_v6(std::string_view s, std::uint8_t out[16]) noexcept {
    std::uint16_t words[8] = {};
    int n = 0;     // words written
    int gap = -1;  // index where "::" was
    if (s.size() < 2 || s.size() > 45) return false;
    if (s.substr(0, 2) == "::") {
        gap = 0;
        s.remove_prefix(2);
        if (s.empty()) goto done;
    } else if (s[0] == ':') {
        return false;
    }
    while (true) {
        // an embedded IPv4 tail takes two words
        auto colon = s.find(':');
        if (colon == std::string_view::npos && s.find('.') != std::string_view::npos) {
            if (n > 6) return false;
            std::uint8_t v4[4];
            if (!parse_v4(s, v4)) return false;
            words[n++] = static_cast<std::uint16_t>(v4[0] << 8 | v4[1]);
            words[n++] = static_cast<std::uint16_t>(v4[2] << 8 | v4[3]);
            break;
        }
        std::size_t i = 0;
        unsigned v = 0;
        while (i < s.size() && i < 5 && hexval(s[i]) >= 0)
            v = v * 16 + static_cast<unsigned>(hexval(s[i++]));
        if (i == 0 || i > 4 || n >= 8) return false;
        words[n++] = static_cast<std::uint16_t>(v);
        s.remove_prefix(i);
        if (s.empty()) break;
        if (s[0] != ':') return false;
        s.remove_prefix(1);
        if (!s.empty() && s[0] == ':') {
            if (gap >= 0) return false;
            gap = n;
            s.remove_prefix(1);
            if (s.empty()) break;
        } else if (s.empty()) {
            return false;  // trailing single colon
        }
    }
done:
    if (gap < 0) {
        if (n != 8) return false;
    } else {
        if (n > 7) return false;  // "::" must stand for at least one word
        int tail = n - gap;
        for (int k = 0; k < tail; ++k) words[7 - k] = words[n - 1 - k];
        for (int k = gap; k < 8 - tail; ++k) words[k] = 0;
    }
    for (int k = 0; k < 8; ++k) {
        out[2 * k] = static_cast<std::uint8_t>(words[k] >> 8);
        out[2 * k + 1] = static_cast<std::uint8_t>(words[k] & 0xff);
    }
    return true;
}

}  // namespace

bool IpAddr::is_v4() const noexcept {
    for (std::size_t i = 0; i < 12; ++i)
        if (b[i] != kMappedPrefix[i]) return false;
    return true;
}

std::string IpAddr::str() const {
    char buf[64];
    if (is_v4()) {
        snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
        return buf;
    }
    // RFC 5952: longest run (>1) of zero words compressed, lowercase hex.
    std::uint16_t w[8];
    for (int k = 0; k < 8; ++k) w[k] = static_cast<std::uint16_t>(b[2 * k] << 8 | b[2 * k + 1]);
    int best = -1, best_len = 1;
    for (int k = 0; k < 8;) {
        if (w[k] != 0) {
            ++k;
            continue;
        }
        int j = k;
        while (j < 8 && w[j] == 0) ++j;
        if (j - k > best_len) {
            best = k;
            best_len = j - k;
        }
        k = j;
    }
    std::string out;
    for (int k = 0; k < 8; ++k) {
        if (k == best) {
            out += "::";
            k += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        snprintf(buf, sizeof buf, "%x", w[k]);
        out += buf;
    }
    return out;
}

std::optional<IpAddr> parse_ip(std::string_view s) noexcept {
    IpAddr a;
    if (s.find(':') == std::string_view::npos) {
        std::uint8_t v4[4];
        if (!parse_v4(s, v4)) return std::nullopt;
        for (std::size_t i = 0; i < 12; ++i) a.b[i] = kMappedPrefix[i];
        for (std::size_t i = 0; i < 4; ++i) a.b[12 + i] = v4[i];
        return a;
    }
    if (!parse_v6(s, a.b.data())) return std::nullopt;
    return a;
}

bool Cidr::contains(const IpAddr& a) const noexcept {
    if (a.is_v4() && !is_v4()) return false;
    unsigned full = prefix / 8, rest = prefix % 8;
    for (unsigned i = 0; i < full; ++i)
        if (a.b[i] != base.b[i]) return false;
    if (rest) {
        auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
        if ((a.b[full] & mask) != (base.b[full] & mask)) return false;
    }
    return true;
}

std::string Cidr::str() const {
    unsigned shown = base.is_v4() && prefix >= 96 ? prefix - 96 : prefix;
    return base.str() + "/" + std::to_string(shown);
}

Result<Cidr> parse_cidr(std::string_view s) {
    auto bad = [&](const char* why) {
        return make_error(Code::invalid,
                          std::string("bad address block '") + escape(s, 64) + "': " + why);
    };
    auto slash = s.find('/');
    auto addr = parse_ip(s.substr(0, slash));
    if (!addr) return bad("not a literal IPv4 or IPv6 address");
    bool v4_text = s.substr(0, slash).find(':') == std::string_view::npos;
    Cidr c;
    c.base = *addr;
    unsigned max = v4_text ? 32 : 128;
    std::uint64_t p = max;
    if (slash != std::string_view::npos) {
        auto ps = s.substr(slash + 1);
        if (ps.size() > 1 && ps[0] == '0') return bad("prefix with a leading zero");
        if (!parse_uint(ps, max, p)) return bad("prefix out of range");
    }
    c.prefix = static_cast<unsigned>(v4_text ? p + 96 : p);
    // Host bits beyond the prefix mean the writer meant something else.
    for (unsigned bit = c.prefix; bit < 128; ++bit) {
        if (c.base.b[bit / 8] & (0x80 >> (bit % 8))) return bad("host bits set beyond the prefix");
    }
    return c;
}

bool any_contains(const std::vector<Cidr>& list, const IpAddr& a) noexcept {
    for (const auto& c : list)
        if (c.contains(a)) return true;
    return false;
}

}  // namespace vendor::core
