// parse_schedule: the text it keeps parses to the same minutes.
#include "schedule.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto s = fuzz::view(data, size);
    auto r = parse_schedule(s);
    if (!r) return 0;
    FUZZ_CHECK(!r->empty());
    auto again = parse_schedule(r->text);
    FUZZ_CHECK(again && again->open == r->open);
    for (int d = -1; d <= 7; ++d)
        for (int m = -1; m <= 1440; m += 7) {
            bool in = r->contains(d, m);
            if (d < 0 || d > 6 || m < 0 || m >= 1440) FUZZ_CHECK(!in);
            else FUZZ_CHECK(in == r->open.test(static_cast<std::size_t>(d * 1440 + m)));
        }
    return 0;
}
