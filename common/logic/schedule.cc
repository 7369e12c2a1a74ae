#include "schedule.h"

#include <algorithm>
#include <cstring>

#include "util.h"

namespace vendor::core {

namespace {

constexpr const char* kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int parse_day(std::string_view s) noexcept {
    if (s.size() != 3) return -1;
    char low[3];
    for (int i = 0; i < 3; ++i) {
        char c = s[static_cast<std::size_t>(i)];
        low[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    for (int d = 0; d < 7; ++d)
        if (std::memcmp(low, kDays[d], 3) == 0) return d;
    return -1;
}

int parse_hhmm(std::string_view s) noexcept {
    if (s.size() != 5 || s[2] != ':') return -1;
    std::uint64_t h, m;
    if (!parse_uint(s.substr(0, 2), 24, h) || !parse_uint(s.substr(3, 2), 59, m)) return -1;
    if (h == 24 && m != 0) return -1;
    return static_cast<int>(h * 60 + m);
}

}  // namespace

bool Schedule::contains(int weekday_mon0, int minute_of_day) const noexcept {
    if (weekday_mon0 < 0 || weekday_mon0 > 6 || minute_of_day < 0 || minute_of_day >= 1440)
        return false;
    return open.test(static_cast<std::size_t>(weekday_mon0 * 1440 + minute_of_day));
}

Result<Schedule> parse_schedule(std::string_view s) {
    auto bad = [&](const std::string& why) {
        return make_error(Code::invalid, "bad schedule '" + escape(s, 80) + "': " + why);
    };
    if (s.size() > 512) return bad("too long");
    Schedule out;
    out.text = std::string(trim(s));
    auto rules = split(s, ',');
    if (rules.empty()) return bad("empty");
    for (const auto& rule : rules) {
        auto words = split(rule, ' ');
        if (words.size() < 2) return bad("each rule is DAYS HH:MM-HH:MM");
        std::bitset<7> days;
        const std::string& dw = words[0];
        if (dw == "*") {
            days.set();
        } else if (auto dash = dw.find('-'); dash != std::string::npos) {
            int a = parse_day(std::string_view(dw).substr(0, dash));
            int b = parse_day(std::string_view(dw).substr(dash + 1));
            if (a < 0 || b < 0) return bad("unknown day in '" + escape(dw, 16) + "'");
            for (int d = a;; d = (d + 1) % 7) {
                days.set(static_cast<std::size_t>(d));
                if (d == b) break;
            }
        } else {
            int a = parse_day(dw);
            if (a < 0) return bad("unknown day '" + escape(dw, 16) + "'");
            days.set(static_cast<std::size_t>(a));
        }
        for (std::size_t i = 1; i < words.size(); ++i) {
            const std::string& r = words[i];
            auto dash = r.find('-');
            if (dash == std::string::npos)
                return bad("range '" + escape(r, 16) + "' is not HH:MM-HH:MM");
            int from = parse_hhmm(std::string_view(r).substr(0, dash));
            int to = parse_hhmm(std::string_view(r).substr(dash + 1));
            if (from < 0 || to < 0 || from == 1440)
                return bad("bad time in '" + escape(r, 16) + "'");
            if (from == to) return bad("empty range '" + escape(r, 16) + "'");
            int len = to > from ? to - from : 1440 - from + to;  // past midnight
            for (int d = 0; d < 7; ++d) {
                if (!days.test(static_cast<std::size_t>(d))) continue;
                for (int k = 0; k < len; ++k)
                    out.open.set(static_cast<std::size_t>((d * 1440 + from + k) % kMinutesPerWeek));
            }
        }
    }
    return out;
}

// ---- time zones -------------------------------------------------------------

TimeZone TimeZone::utc() { return TimeZone{}; }

namespace {

std::int64_t be(const unsigned char* p, int n) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | p[i];
    if (n == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
    return static_cast<std::int64_t>(v);
}

// [+-]hh[:mm[:ss]] ; returns seconds, sets ok
bool parse_posix_time(std::string_view& s, std::int32_t& out) noexcept {
    int sign = 1;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        if (s[0] == '-') sign = -1;
        s.remove_prefix(1);
    }
    std::int32_t parts[3] = {0, 0, 0};
    for (int k = 0; k < 3; ++k) {
        std::size_t i = 0;
        std::int32_t v = 0;
        while (i < s.size() && i < 3 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
        if (i == 0) return false;
        parts[k] = v;
        s.remove_prefix(i);
        if (k < 2 && !s.empty() && s[0] == ':') {
            s.remove_prefix(1);
            continue;
        }
        break;
    }
    if (parts[0] > 167) return false;
    out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return true;
}

bool parse_posix_name(std::string_view& s) noexcept {
    if (!s.empty() && s[0] == '<') {
        auto e = s.find('>');
        if (e == std::string_view::npos) return false;
        s.remove_prefix(e + 1);
        return true;
    }
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z'))) ++i;
    if (i < 3) return false;
    s.remove_prefix(i);
    return true;
}

bool parse_posix_rule(std::string_view& s, TimeZone::Posix::Rule& r) noexcept {
    // Only the Mm.w.d form is accepted; every zone in tzdata uses it.
    if (s.empty() || s[0] != 'M') return false;
    s.remove_prefix(1);
    int vals[3];
    for (int k = 0; k < 3; ++k) {
        std::size_t i = 0;
        int v = 0;
        while (i < s.size() && i < 2 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
        if (i == 0) return false;
        vals[k] = v;
        s.remove_prefix(i);
        if (k < 2) {
            if (s.empty() || s[0] != '.') return false;
            s.remove_prefix(1);
        }
    }
    if (vals[0] < 1 || vals[0] > 12 || vals[1] < 1 || vals[1] > 5 || vals[2] > 6) return false;
    r.month = vals[0];
    r.week = vals[1];
    r.wday = vals[2];
    r.time = 7200;
    if (!s.empty() && s[0] == '/') {
        s.remove_prefix(1);
        if (!parse_posix_time(s, r.time)) return false;
    }
    return true;
}

// Local (wall) seconds since the epoch at which rule r fires in year y.
std::int64_t rule_local(const TimeZone::Posix::Rule& r, std::int64_t y) noexcept {
    std::int64_t first = days_from_civil(y, static_cast<unsigned>(r.month), 1);
    int wd_first = static_cast<int>(((first % 7) + 11) % 7);  // Sunday = 0 (1970-01-01 Thu)
    int delta = (r.wday - wd_first + 7) % 7;
    std::int64_t day = first + delta + 7 * (r.week - 1);
    unsigned next_m = r.month == 12 ? 1 : static_cast<unsigned>(r.month + 1);
    std::int64_t next_first = days_from_civil(r.month == 12 ? y + 1 : y, next_m, 1);
    while (day >= next_first) day -= 7;
    return day * 86400 + r.time;
}

}  // namespace

Result<TimeZone> TimeZone::from_posix(std::string_view rule, std::string name) {
    auto bad = [&] {
        return make_error(Code::invalid, "bad POSIX TZ rule '" + escape(rule, 64) + "'");
    };
    TimeZone tz;
    tz.name_ = std::move(name);
    std::string_view s = rule;
    std::int32_t off;
    if (!parse_posix_name(s) || !parse_posix_time(s, off)) return bad();
    Posix p;
    p.std_off = -off;
    if (!s.empty()) {
        if (!parse_posix_name(s)) return bad();
        p.has_dst = true;
        p.dst_off = p.std_off + 3600;
        if (!s.empty() && s[0] != ',') {
            if (!parse_posix_time(s, off)) return bad();
            p.dst_off = -off;
        }
        if (s.empty() || s[0] != ',') return bad();
        s.remove_prefix(1);
        if (!parse_posix_rule(s, p.start)) return bad();
        if (s.empty() || s[0] != ',') return bad();
        s.remove_prefix(1);
        if (!parse_posix_rule(s, p.end) || !s.empty()) return bad();
    }
    tz.has_footer_ = true;
    tz.footer_ = p;
    tz.initial_offset_ = p.std_off;
    return tz;
}

Result<TimeZone> TimeZone::from_tzif(std::string_view bytes, const std::string& name) {
    auto bad = [&](const char* why) {
        return make_error(Code::invalid,
                          "bad zoneinfo file for '" + escape(name, 64) + "': " + why);
    };
    auto data = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t size = bytes.size();
    auto header = [&](std::size_t at, std::int64_t c[6]) -> bool {
        if (at + 44 > size || std::memcmp(data + at, "TZif", 4) != 0) return false;
        for (int k = 0; k < 6; ++k) c[k] = be(data + at + 20 + 4 * k, 4);
        for (int k = 0; k < 6; ++k)
            if (c[k] < 0 || c[k] > 100000) return false;
        return true;
    };
    std::int64_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
    if (!header(0, c)) return bad("no TZif header");
    char version = static_cast<char>(data[4]);
    std::size_t at = 44;
    int tsize = 4;
    auto block_len = [&](int ts) {
        return static_cast<std::size_t>(c[3] * ts + c[3] + c[4] * 6 + c[5] + c[2] * (ts + 4) +
                                        c[1] + c[0]);
    };
    if (version >= '2') {
        at += block_len(4);
        if (!header(at, c)) return bad("no second TZif header");
        at += 44;
        tsize = 8;
    }
    if (c[4] < 1) return bad("no local time types");
    if (at + block_len(tsize) > size) return bad("truncated");
    TimeZone tz;
    tz.name_ = name;
    const unsigned char* times = data + at;
    const unsigned char* idx = times + c[3] * tsize;
    const unsigned char* types = idx + c[3];
    std::vector<std::int32_t> type_off(static_cast<std::size_t>(c[4]));
    for (std::int64_t k = 0; k < c[4]; ++k)
        type_off[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(be(types + 6 * k, 4));
    tz.initial_offset_ = type_off[0];
    std::int64_t prev = INT64_MIN;
    for (std::int64_t k = 0; k < c[3]; ++k) {
        std::int64_t t = be(times + k * tsize, tsize);
        unsigned ti = idx[k];
        if (ti >= type_off.size() || t <= prev) return bad("bad transition");
        prev = t;
        tz.transitions_.push_back(t);
        tz.offsets_after_.push_back(type_off[ti]);
    }
    std::size_t end = at + block_len(tsize);
    if (tsize == 8 && end < size && data[end] == '\n') {
        auto nl = bytes.find('\n', end + 1);
        if (nl != std::string_view::npos && nl > end + 1) {
            auto footer = bytes.substr(end + 1, nl - end - 1);
            auto p = from_posix(footer, tz.name_);
            if (p) {
                tz.has_footer_ = true;
                tz.footer_ = p->footer_;
            }
        }
    }
    return tz;
}

std::int32_t TimeZone::offset_at(std::int64_t utc) const noexcept {
    if (!transitions_.empty() && utc < transitions_.back()) {
        if (utc < transitions_.front()) return initial_offset_;
        auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc);
        return offsets_after_[static_cast<std::size_t>(it - transitions_.begin() - 1)];
    }
    if (!has_footer_) return transitions_.empty() ? initial_offset_ : offsets_after_.back();
    const Posix& p = footer_;
    if (!p.has_dst) return p.std_off;
    std::int64_t y;
    unsigned m, d;
    civil_from_days((utc + p.std_off) / 86400, y, m, d);
    std::int64_t start = rule_local(p.start, y) - p.std_off;  // DST starts, given in std time
    std::int64_t end = rule_local(p.end, y) - p.dst_off;      // DST ends, given in DST time
    bool in_dst = start < end ? (utc >= start && utc < end) : (utc >= start || utc < end);
    return in_dst ? p.dst_off : p.std_off;
}

LocalTime to_local(const TimeZone& tz, std::int64_t utc) noexcept {
    std::int64_t local = utc + tz.offset_at(utc);
    std::int64_t days = local / 86400;
    std::int64_t rem = local % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    LocalTime lt{};
    civil_from_days(days, lt.year, lt.month, lt.day);
    lt.weekday_mon0 = static_cast<int>(((days % 7) + 10) % 7);  // 1970-01-01 was a Thursday
    lt.minute_of_day = static_cast<int>(rem / 60);
    lt.second = static_cast<int>(rem % 60);
    return lt;
}

}  // namespace vendor::core
