// duration.h: "90s", "10m", "2h", "1d", "1h30m"; units in decreasing order,
// each at most once, no sign, no spaces, at most 366 days.
#include "duration.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

void expect_duration(const char* s, std::int64_t want) {
    auto d = parse_duration(s);
    if (!d.ok()) fail_msg("'%s' refused: %s", s, d.error().detail.c_str());
    if (*d != want) fail_msg("'%s' = %lld, expected %lld", s, (long long)*d, (long long)want);
}

void valid_forms(void**) {
    expect_duration("90s", 90);
    expect_duration("10m", 600);
    expect_duration("2h", 7200);
    expect_duration("1d", 86400);
    expect_duration("1h30m", 5400);
    expect_duration("0s", 0);
    expect_duration("0m", 0);
    expect_duration("1d2h3m4s", 86400 + 7200 + 180 + 4);
    expect_duration("1d30s", 86430);
    expect_duration("120m", 7200);
    expect_duration("0001h", 3600);
    expect_duration("366d", 366 * 86400);
    expect_duration("8784h", 366 * 86400);
    expect_duration("527040m", 366 * 86400);
    expect_duration("31622400s", 366 * 86400);
}

void refused_forms(void**) {
    for (const char* s :
         {"",    "h",      "10",     "1m1h",  "1s1m", "1h1h", "1h30m30m",   "-5m", "+5m",
          " 5m", "5m ",    "5 m",    "5M",    "5H",   "1.5h", "1w",         "1y",  "5mm",
          "m5",  "1h-30m", "1h 30m", "0x10s", "\n5m", "5m\n", "1d2h3m4s5s", "1dh"})
        if (parse_duration(s).ok()) fail_msg("'%s' should be refused", s);
    assert_err(parse_duration("10"), Code::invalid);
    assert_err(parse_duration(std::string_view("5m\0", 3)), Code::invalid);
}

void refused_huge(void**) {
    assert_err(parse_duration("367d"), Code::invalid);
    assert_err(parse_duration("366d1s"), Code::invalid);
    assert_err(parse_duration("8785h"), Code::invalid);
    assert_err(parse_duration("31622401s"), Code::invalid);
    assert_err(parse_duration("100000000d"), Code::invalid);
    assert_err(parse_duration("99999999999999999999s"), Code::invalid);
    assert_err(parse_duration("18446744073709551616s"), Code::invalid);
    assert_err(parse_duration("9223372036854775807s"), Code::invalid);
    assert_err(parse_duration(std::string(40, '1') + "s"), Code::invalid);
    assert_err(parse_duration(std::string(33, '0') + "s"),
               Code::invalid);  // longer than the 32 cap
}

void format_known(void**) {
    assert_str_eq(format_duration(0), "0s");
    assert_str_eq(format_duration(-5), "0s");
    assert_str_eq(format_duration(1), "1s");
    assert_str_eq(format_duration(90), "1m30s");
    assert_str_eq(format_duration(600), "10m");
    assert_str_eq(format_duration(5400), "1h30m");
    assert_str_eq(format_duration(86400), "1d");
    assert_str_eq(format_duration(90061), "1d1h1m1s");
    assert_str_eq(format_duration(kMaxDuration), "366d");
}

void format_round_trip(void**) {
    std::int64_t checked = 0;
    for (std::int64_t s = 0; s <= kMaxDuration; s = s < 100000 ? s + 1 : s + 997) {
        auto text = format_duration(s);
        auto back = parse_duration(text);
        if (!back.ok())
            fail_msg("format_duration(%lld) = '%s' does not parse", (long long)s, text.c_str());
        if (*back != s)
            fail_msg("'%s' parsed back as %lld, not %lld", text.c_str(), (long long)*back,
                     (long long)s);
        ++checked;
    }
    assert_true(checked > 100000);
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(valid_forms),       cmocka_unit_test(refused_forms),
        cmocka_unit_test(refused_huge),      cmocka_unit_test(format_known),
        cmocka_unit_test(format_round_trip),
    };
    return RUN_GROUP("duration", tests);
}
