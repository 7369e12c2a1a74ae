// parse_duration / format_duration: bounds and round trip.
#include "duration.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto s = fuzz::view(data, size);
    auto d = parse_duration(s);
    if (d) {
        FUZZ_CHECK(*d >= 0 && *d <= kMaxDuration);
        auto back = parse_duration(format_duration(*d));
        FUZZ_CHECK(back && *back == *d);
    }
    // Any in-range number formats to something that reads back.
    if (size >= 8) {
        std::uint64_t raw = 0;
        for (int i = 0; i < 8; ++i) raw = raw << 8 | data[i];
        auto n = static_cast<std::int64_t>(raw % static_cast<std::uint64_t>(kMaxDuration + 1));
        auto back = parse_duration(format_duration(n));
        FUZZ_CHECK(back && *back == n);
    }
    return 0;
}
