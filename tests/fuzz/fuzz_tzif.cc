// TimeZone::from_tzif: any bytes; a zone that parses answers for any instant.
#include "schedule.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto tz = TimeZone::from_tzif(fuzz::view(data, size), "fuzz");
    if (!tz) return 0;
    // Instants from about 1200 to 5100 (a login's clock is never outside).
    static const std::int64_t kInstants[] = {-24000000000LL,
                                             -2147483649LL,
                                             -2147483648LL,
                                             -1,
                                             0,
                                             1,
                                             1000000000,
                                             1774746000,
                                             1792890000,
                                             2147483647LL,
                                             2147483648LL,
                                             4102444800LL,
                                             99999999999LL};
    for (auto t : kInstants) {
        (void)tz->offset_at(t);
        auto lt = to_local(*tz, t);
        FUZZ_CHECK(lt.weekday_mon0 >= 0 && lt.weekday_mon0 < 7);
        FUZZ_CHECK(lt.minute_of_day >= 0 && lt.minute_of_day < 1440);
        FUZZ_CHECK(lt.second >= 0 && lt.second < 60);
        FUZZ_CHECK(lt.month >= 1 && lt.month <= 12 && lt.day >= 1 && lt.day <= 31);
    }
    return 0;
}
