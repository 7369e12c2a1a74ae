// util.h: account names, log escaping, RFC 3339, civil dates, parse_uint, split.
#include "util.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

void account_names_valid(void**) {
    for (const char* n : {"a", "_", "_svc", "acme", "acme-maint", "acme_2", "a0", "z-_9"})
        if (!valid_account_name(n)) fail_msg("'%s' should be valid", n);
    // 32 characters is the limit (vendorctl(8)).
    assert_true(valid_account_name(std::string(32, 'a')));
}

void account_names_invalid(void**) {
    for (const char* n :
         {"", "A", "Acme", "acmE", "1acme", "-acme", "0", "acme.corp", "acme corp", "acme/x",
          "../etc", "acme$", "acme@x", "acme:", " acme", "acme ", "acme\n", "\xc3\xa9t\xc3\xa9"})
        if (valid_account_name(n)) fail_msg("'%s' should be refused", n);
    assert_false(valid_account_name(std::string(33, 'a')));
    // An embedded NUL must not end the name early.
    assert_false(valid_account_name(std::string_view("acme\0x", 6)));
}

void escape_plain_kept(void**) {
    assert_str_eq(escape("acme-maint 192.0.2.1 ok"), "acme-maint 192.0.2.1 ok");
    assert_str_eq(escape(""), "");
    assert_str_eq(escape("~!#$%&'()*+,-./:;<=>?@[]^_`{|}"), "~!#$%&'()*+,-./:;<=>?@[]^_`{|}");
}

void escape_control_and_quotes(void**) {
    assert_str_eq(escape("a\nb"), "a\\x0ab");
    assert_str_eq(escape("\r\t"), "\\x0d\\x09");
    assert_str_eq(escape("say \"hi\""), "say \\x22hi\\x22");
    assert_str_eq(escape("back\\slash"), "back\\x5cslash");
    assert_str_eq(escape("\x7f\x1b[31m"), "\\x7f\\x1b[31m");
    assert_str_eq(escape("\xff\x80"), "\\xff\\x80");
    assert_str_eq(escape(std::string_view("a\0b", 3)), "a\\x00b");
}

void escape_long_input_capped(void**) {
    std::string in(1000, 'x');
    auto out = escape(in);
    assert_int_equal(out.size(), 256 + 3);
    assert_str_eq(out.substr(256), "...");
    assert_str_eq(escape("abcde", 5), "abcde");  // exactly the cap: no ellipsis
    assert_str_eq(escape("abcdef", 5), "abcde...");
    // A cap never lets a raw control character through.
    auto ctl = escape(std::string(500, '\n'), 10);
    assert_false(contains(ctl, "\n"));
    assert_true(ctl.size() <= 10 + 4 + 3);
}

void rfc3339_known_values(void**) {
    auto t = parse_rfc3339("2026-11-28T07:39:07Z");
    assert_ok(t);
    assert_int_equal(*t, 1795851547);
    assert_str_eq(format_rfc3339(1795851547), "2026-11-28T07:39:07Z");
    assert_str_eq(format_rfc3339(0), "1970-01-01T00:00:00Z");
    assert_str_eq(format_rfc3339(-1), "1969-12-31T23:59:59Z");
    assert_str_eq(format_rfc3339(1709164800), "2024-02-29T00:00:00Z");
    assert_str_eq(format_rfc3339_ms(1795851547123), "2026-11-28T07:39:07.123Z");
    assert_str_eq(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    assert_str_eq(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    assert_str_eq(format_rfc3339_ms(5), "1970-01-01T00:00:00.005Z");
}

void rfc3339_round_trip(void**) {
    for (std::int64_t t = -2208988800; t < 4102444800; t += 7777777) {  // 1900 .. 2100
        auto s = format_rfc3339(t);
        auto back = parse_rfc3339(s);
        assert_ok(back);
        if (*back != t)
            fail_msg("%s parsed back as %lld, not %lld", s.c_str(), (long long)*back, (long long)t);
    }
    // The millisecond form parses back to the second.
    auto ms = parse_rfc3339(format_rfc3339_ms(1795851547999));
    assert_ok(ms);
    assert_int_equal(*ms, 1795851547);
}

void rfc3339_offsets(void**) {
    auto z = parse_rfc3339("2026-03-29T01:00:00Z");
    auto plus = parse_rfc3339("2026-03-29T03:00:00+02:00");
    auto minus = parse_rfc3339("2026-03-28T20:30:00-04:30");
    auto frac = parse_rfc3339("2026-03-29T01:00:00.123456Z");
    auto lower = parse_rfc3339("2026-03-29t01:00:00z");
    auto space = parse_rfc3339("2026-03-29 01:00:00Z");
    assert_ok(z);
    assert_ok(plus);
    assert_ok(minus);
    assert_ok(frac);
    assert_ok(lower);
    assert_ok(space);
    assert_int_equal(*z, 1774746000);
    assert_int_equal(*plus, *z);
    assert_int_equal(*minus, *z);
    assert_int_equal(*frac, *z);
    assert_int_equal(*lower, *z);
    assert_int_equal(*space, *z);
    // Offset that crosses a day and a year.
    auto ny = parse_rfc3339("2026-12-31T23:00:00-05:00");
    assert_ok(ny);
    assert_int_equal(*ny, *parse_rfc3339("2027-01-01T04:00:00Z"));
}

void rfc3339_invalid(void**) {
    for (const char* s : {"",
                          "2026-11-28",
                          "2026-11-28T07:39:07",
                          "2026-02-30T00:00:00Z",
                          "2026-02-29T00:00:00Z",
                          "2026-04-31T00:00:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-00-10T00:00:00Z",
                          "2026-01-00T00:00:00Z",
                          "2026-01-32T00:00:00Z",
                          "2026-01-01T24:00:00Z",
                          "2026-01-01T23:60:00Z",
                          "2026-01-01T23:59:61Z",
                          "2026-1-01T00:00:00Z",
                          "2026/01/01T00:00:00Z",
                          "2026-01-01X00:00:00Z",
                          "2026-01-01T00:00:00+0100",
                          "2026-01-01T00:00:00+24:00",
                          "2026-01-01T00:00:00+01:60",
                          "2026-01-01T00:00:00.Z",
                          "2026-01-01T00:00:00ZZ",
                          "2026-01-01T00:00:00Z ",
                          " 2026-01-01T00:00:00Z",
                          "+026-01-01T00:00:00Z",
                          "2026-01-01T00:00:00.123456789012345678901Z",
                          "20260101T000000Z",
                          "yesterday"})
        if (parse_rfc3339(s).ok()) fail_msg("'%s' should be refused", s);
    assert_err(parse_rfc3339("2026-02-30T00:00:00Z"), Code::invalid);
    // Leap days only in leap years.
    assert_ok(parse_rfc3339("2024-02-29T00:00:00Z"));
    assert_ok(parse_rfc3339("2000-02-29T00:00:00Z"));
    assert_false(parse_rfc3339("1900-02-29T00:00:00Z").ok());
}

void civil_days(void**) {
    assert_int_equal(days_from_civil(1970, 1, 1), 0);
    assert_int_equal(days_from_civil(1969, 12, 31), -1);
    assert_int_equal(days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(days_from_civil(2026, 1, 5), 1767571200 / 86400);
    assert_int_equal(days_from_civil(0, 1, 1), -62167219200 / 86400);
    std::int64_t y;
    unsigned m, d;
    civil_from_days(-1, y, m, d);
    assert_int_equal(y, 1969);
    assert_int_equal(m, 12);
    assert_int_equal(d, 31);
    civil_from_days(11016, y, m, d);  // the day before 2000-03-01
    assert_int_equal(y, 2000);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    // Consecutive days map to consecutive dates and back, across centuries.
    std::int64_t py = 0;
    unsigned pm = 0, pd = 0;
    for (std::int64_t z = -800000; z <= 800000; ++z) {
        civil_from_days(z, y, m, d);
        if (m < 1 || m > 12 || d < 1 || d > 31) fail_msg("day %lld gave %u-%u", (long long)z, m, d);
        if (days_from_civil(y, m, d) != z) fail_msg("day %lld does not round trip", (long long)z);
        if (z > -800000 && !(d == pd + 1 && m == pm && y == py) &&
            !(d == 1 && (m == pm + 1 || (m == 1 && pm == 12))))
            fail_msg("day %lld: %lld-%u-%u does not follow %lld-%u-%u", (long long)z, (long long)y,
                     m, d, (long long)py, pm, pd);
        py = y;
        pm = m;
        pd = d;
    }
}

void uint_parsing(void**) {
    std::uint64_t v = 99;
    assert_true(parse_uint("0", 10, v));
    assert_int_equal(v, 0);
    assert_true(parse_uint("255", 255, v));
    assert_int_equal(v, 255);
    assert_false(parse_uint("256", 255, v));
    // A single digit above a small maximum (max - digit must not wrap).
    assert_false(parse_uint("4", 3, v));
    assert_false(parse_uint("9", 8, v));
    assert_false(parse_uint("1", 0, v));
    assert_true(parse_uint("3", 3, v));
    assert_int_equal(v, 3);
    assert_false(parse_uint("10", 9, v));
    assert_true(parse_uint("18446744073709551615", UINT64_MAX, v));
    assert_false(parse_uint("18446744073709551616", UINT64_MAX, v));
    assert_false(parse_uint("99999999999999999999", UINT64_MAX, v));
    for (const char* s : {"", "-1", "+1", " 1", "1 ", "1a", "0x10", "1.0"})
        if (parse_uint(s, 1000, v)) fail_msg("'%s' should be refused", s);
}

void trim_and_split(void**) {
    assert_str_eq(trim("  a b \t\r\n"), "a b");
    assert_str_eq(trim("   "), "");
    auto parts = split(" a , b,,c ,", ',');
    assert_int_equal(parts.size(), 3);
    assert_str_eq(parts[0], "a");
    assert_str_eq(parts[1], "b");
    assert_str_eq(parts[2], "c");
    assert_int_equal(split("", ',').size(), 0);
    assert_int_equal(split(" , ,", ',').size(), 0);
    assert_str_eq(to_hex(reinterpret_cast<const unsigned char*>("\x00\xff\x10"), 3), "00ff10");
}

void utf8_validation(void**) {
    for (std::string_view ok :
         {"", "ascii", "Soci\xc3\xa9t\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x8f\xa5", "\xed\x9f\xbf",
          "\xee\x80\x80", "\xf4\x8f\xbf\xbf", "\x7f"})
        if (!valid_utf8(ok)) fail_msg("'%s' is valid UTF-8", escape(ok).c_str());
    assert_true(valid_utf8(std::string_view("a\0b", 3)));  // NUL is UTF-8; other checks refuse it
    for (std::string_view bad :
         {"\xff", "\x80", "\xc3", "\xc3\x28", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe2\x82",
          "\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80",
          "\xf5\x80\x80\x80", "\xf0\x9f\x8f", "ok\xfe", "\xe9t\xe9"})
        if (valid_utf8(bad)) fail_msg("'%s' is not valid UTF-8", escape(bad).c_str());
}

void utf8_sanitizing(void**) {
    assert_str_eq(utf8_sanitize("plain"), "plain");
    assert_str_eq(utf8_sanitize("Soci\xc3\xa9t\xc3\xa9"), "Soci\xc3\xa9t\xc3\xa9");
    assert_str_eq(utf8_sanitize("\xe9t\xe9"), "\\xe9t\\xe9");
    // A truncated sequence: each of its bytes, then the text resumes.
    assert_str_eq(utf8_sanitize("a\xe2\x82"
                                "b\xe2\x82\xac"),
                  "a\\xe2\\x82b\xe2\x82\xac");
    assert_str_eq(utf8_sanitize("\xed\xa0\x80"), "\\xed\\xa0\\x80");
    for (int b = 0; b < 256; ++b) {
        std::string s(1, static_cast<char>(b));
        s += "\xc3";
        assert_true(valid_utf8(utf8_sanitize(s)));
    }
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(account_names_valid),
        cmocka_unit_test(account_names_invalid),
        cmocka_unit_test(escape_plain_kept),
        cmocka_unit_test(escape_control_and_quotes),
        cmocka_unit_test(escape_long_input_capped),
        cmocka_unit_test(rfc3339_known_values),
        cmocka_unit_test(rfc3339_round_trip),
        cmocka_unit_test(rfc3339_offsets),
        cmocka_unit_test(rfc3339_invalid),
        cmocka_unit_test(civil_days),
        cmocka_unit_test(uint_parsing),
        cmocka_unit_test(trim_and_split),
        cmocka_unit_test(utf8_validation),
        cmocka_unit_test(utf8_sanitizing),
    };
    return RUN_GROUP("util", tests);
}
