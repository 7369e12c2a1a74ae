// Business-hours schedules ("access = hours", R7 of the guideline) and the
// time zone they are read in.
//
// Grammar (pam_vendor.conf(5), pam_vendor-registry(5)):
//   schedule := rule { "," rule }
//   rule     := days range { " " range }
//   days     := "*" | day | day "-" day           (Mon Tue Wed Thu Fri Sat Sun; wraps: Fri-Mon)
//   range    := HH:MM "-" HH:MM                    (end 24:00 allowed; end < start runs past
//                                                   midnight into the next day)
#pragma once

#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace vendor::core {

inline constexpr int kMinutesPerWeek = 7 * 1440;

struct Schedule {
    std::string text;                   // as written, for display
    std::bitset<kMinutesPerWeek> open;  // minute of the week, Monday 00:00 = 0
    bool contains(int weekday_mon0, int minute_of_day) const noexcept;
    bool empty() const noexcept { return open.none(); }
};

Result<Schedule> parse_schedule(std::string_view s);

// A time zone read from a TZif file (zoneinfo), with its POSIX-TZ footer for
// instants past the last transition. Thread-safe once built; no TZ variable,
// no localtime(): the process environment of sshd is not ours to change.
class TimeZone {
  public:
    static TimeZone utc();
    // Parse TZif bytes (v1 data is skipped when a v2+ block exists).
    static Result<TimeZone> from_tzif(std::string_view bytes, const std::string& name);
    // POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3".
    static Result<TimeZone> from_posix(std::string_view rule, std::string name);
    // UTC offset in seconds at a UTC instant.
    std::int32_t offset_at(std::int64_t utc) const noexcept;
    const std::string& name() const noexcept { return name_; }

    struct Posix {
        std::int32_t std_off = 0, dst_off = 0;  // east-positive UTC offsets
        bool has_dst = false;
        struct Rule {
            int month = 0, week = 0, wday = 0;
            std::int32_t time = 7200;
        } start, end;
    };

  private:
    std::string name_ = "UTC";
    std::vector<std::int64_t> transitions_;
    std::vector<std::int32_t> offsets_after_;  // offset in force from transitions_[i]
    std::int32_t initial_offset_ = 0;
    bool has_footer_ = false;
    Posix footer_;
};

// Local civil fields of a UTC instant in a zone.
struct LocalTime {
    std::int64_t year;
    unsigned month, day;
    int weekday_mon0;  // Monday = 0
    int minute_of_day;
    int second;
};
LocalTime to_local(const TimeZone& tz, std::int64_t utc) noexcept;

}  // namespace vendor::core
