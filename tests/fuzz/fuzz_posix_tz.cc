// TimeZone::from_posix: any rule text; a rule that parses answers for any instant.
#include "schedule.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto tz = TimeZone::from_posix(fuzz::view(data, size), "fuzz");
    if (!tz) return 0;
    std::int32_t first = tz->offset_at(0);
    bool seen_other = false;
    for (std::int64_t t = -24000000000LL; t < 99999999999LL; t += 86400LL * 97 + 3607) {
        auto off = tz->offset_at(t);
        // hh <= 167 (mm and ss are not range-checked, 3 digits at most), plus
        // the default hour of DST: always well under 8 days.
        FUZZ_CHECK(off > -8 * 86400 && off < 8 * 86400);
        if (off != first) seen_other = true;
        auto lt = to_local(*tz, t);
        FUZZ_CHECK(lt.weekday_mon0 >= 0 && lt.weekday_mon0 < 7);
        FUZZ_CHECK(lt.minute_of_day >= 0 && lt.minute_of_day < 1440);
    }
    (void)seen_other;
    return 0;
}
