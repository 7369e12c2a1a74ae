// schedule.h: business-hours schedules (R7) and the zones they are read in.
#include "schedule.h"

#include "util.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

enum { Mon, Tue, Wed, Thu, Fri, Sat, Sun };
int hm(int h, int m) { return h * 60 + m; }

Schedule sched(const char* s) {
    auto r = parse_schedule(s);
    if (!r.ok()) fail_msg("'%s' refused: %s", s, r.error().detail.c_str());
    return *r;
}

// ---- schedules ---------------------------------------------------------------

void weekdays_boundaries(void**) {
    auto s = sched("Mon-Fri 08:00-18:00");
    for (int d = Mon; d <= Fri; ++d) {
        assert_false(s.contains(d, hm(7, 59)));
        assert_true(s.contains(d, hm(8, 0)));
        assert_true(s.contains(d, hm(12, 0)));
        assert_true(s.contains(d, hm(17, 59)));
        assert_false(s.contains(d, hm(18, 0)));
    }
    assert_false(s.contains(Sat, hm(10, 0)));
    assert_false(s.contains(Sun, hm(10, 0)));
    assert_int_equal(s.open.count(), 5 * 600);
    assert_str_eq(s.text, "Mon-Fri 08:00-18:00");
    assert_false(s.empty());
    // Out-of-range queries are closed, never out of bounds.
    assert_false(s.contains(-1, hm(9, 0)));
    assert_false(s.contains(7, hm(9, 0)));
    assert_false(s.contains(Mon, -1));
    assert_false(s.contains(Mon, 1440));
}

void several_rules(void**) {
    auto s = sched("Mon-Fri 08:00-12:00 14:00-18:00, Sat 09:00-12:00");
    assert_true(s.contains(Wed, hm(11, 59)));
    assert_false(s.contains(Wed, hm(12, 0)));
    assert_false(s.contains(Wed, hm(13, 59)));
    assert_true(s.contains(Wed, hm(14, 0)));
    assert_false(s.contains(Wed, hm(18, 0)));
    assert_true(s.contains(Sat, hm(9, 0)));
    assert_false(s.contains(Sat, hm(14, 0)));
    assert_false(s.contains(Sun, hm(9, 0)));
    assert_int_equal(s.open.count(), 5 * 480 + 180);
    // Case and extra spaces do not matter.
    auto t = sched("  mon-FRI  08:00-12:00   14:00-18:00 ,sat 09:00-12:00 ");
    assert_true(t.open == s.open);
}

void past_midnight(void**) {
    auto s = sched("Fri 22:00-02:00");
    assert_false(s.contains(Fri, hm(21, 59)));
    assert_true(s.contains(Fri, hm(22, 0)));
    assert_true(s.contains(Fri, hm(23, 59)));
    assert_true(s.contains(Sat, hm(0, 0)));
    assert_true(s.contains(Sat, hm(1, 0)));
    assert_true(s.contains(Sat, hm(1, 59)));
    assert_false(s.contains(Sat, hm(2, 0)));
    assert_false(s.contains(Fri, hm(1, 0)));  // the range starts on Friday evening
    assert_int_equal(s.open.count(), 240);
    // Sunday night runs into Monday morning (the week wraps).
    auto w = sched("Sun 23:00-01:00");
    assert_true(w.contains(Sun, hm(23, 30)));
    assert_true(w.contains(Mon, hm(0, 30)));
    assert_false(w.contains(Mon, hm(1, 0)));
}

void wrapping_days(void**) {
    auto s = sched("Fri-Mon 10:00-11:00");
    for (int d : {Fri, Sat, Sun, Mon}) assert_true(s.contains(d, hm(10, 30)));
    for (int d : {Tue, Wed, Thu}) assert_false(s.contains(d, hm(10, 30)));
    auto one = sched("Wed-Wed 10:00-11:00");
    assert_int_equal(one.open.count(), 60);
}

void star_and_24h(void**) {
    auto all = sched("* 00:00-24:00");
    assert_int_equal(all.open.count(), kMinutesPerWeek);
    auto s = sched("* 09:00-10:00");
    for (int d = Mon; d <= Sun; ++d) assert_true(s.contains(d, hm(9, 30)));
    assert_int_equal(s.open.count(), 7 * 60);
    auto late = sched("Mon 18:00-24:00");
    assert_true(late.contains(Mon, hm(23, 59)));
    assert_false(late.contains(Tue, hm(0, 0)));
    assert_int_equal(late.open.count(), 360);
    auto day = sched("Tue 00:00-24:00");
    assert_true(day.contains(Tue, 0));
    assert_true(day.contains(Tue, 1439));
    assert_false(day.contains(Mon, 1439));
    assert_false(day.contains(Wed, 0));
}

void refused(void**) {
    for (const char* s : {"",
                          " ",
                          ",",
                          "Mon",
                          "Mon-Fri",
                          "Mon 8:00-9:00",
                          "Mon 08:00-9:00",
                          "Mon 08.00-09.00",
                          "Xyz 08:00-09:00",
                          "Monday 08:00-09:00",
                          "Mo 08:00-09:00",
                          "Mon-Xyz 08:00-09:00",
                          "Mon- 08:00-09:00",
                          "-Mon 08:00-09:00",
                          "Mon 09:00-09:00",
                          "Mon 24:30-25:00",
                          "Mon 24:00-01:00",
                          "Mon 08:60-09:00",
                          "Mon 25:00-26:00",
                          "Mon 08:00-24:01",
                          "Mon 08:00",
                          "Mon 08:00-",
                          "Mon -09:00",
                          "Mon 08:00-09:00-10:00",
                          "Mon 08:00 09:00",
                          "Mon 08:00-09:00, Tue",
                          "Mon,Tue 08:00-09:00",
                          "** 08:00-09:00",
                          "Mon 08:00:00-09:00",
                          "Mon +8:00-09:00",
                          "Mon 08:00-09:00,Sun 9:00-10:00",
                          "Mon\t08:00-09:00"})
        if (parse_schedule(s).ok()) fail_msg("'%s' should be refused", s);
    assert_err(parse_schedule("Mon 09:00-09:00"), Code::invalid);
    assert_err(parse_schedule(std::string(600, ' ') + "Mon 08:00-09:00"), Code::invalid);
}

// ---- time zones ----------------------------------------------------------------

constexpr std::int64_t kParisSpring2026 = 1774746000;  // 2026-03-29T01:00:00Z
constexpr std::int64_t kParisAutumn2026 = 1792890000;  // 2026-10-25T01:00:00Z
constexpr std::int64_t kNySpring2026 = 1772953200;     // 2026-03-08T07:00:00Z
constexpr std::int64_t kNyAutumn2026 = 1793512800;     // 2026-11-01T06:00:00Z

TimeZone posix(const char* rule) {
    auto tz = TimeZone::from_posix(rule, rule);
    if (!tz.ok()) fail_msg("'%s' refused: %s", rule, tz.error().detail.c_str());
    return *tz;
}

void expect_offset(const TimeZone& tz, std::int64_t t, std::int32_t want) {
    auto got = tz.offset_at(t);
    if (got != want)
        fail_msg("%s at %s: offset %d, expected %d", tz.name().c_str(), format_rfc3339(t).c_str(),
                 got, want);
}

void posix_cet(void**) {
    auto tz = posix("CET-1CEST,M3.5.0,M10.5.0/3");
    expect_offset(tz, kParisSpring2026 - 86400 * 30, 3600);
    expect_offset(tz, kParisSpring2026 - 1, 3600);
    expect_offset(tz, kParisSpring2026, 7200);
    expect_offset(tz, kParisSpring2026 + 3600, 7200);
    expect_offset(tz, kParisAutumn2026 - 1, 7200);
    expect_offset(tz, kParisAutumn2026, 3600);
    expect_offset(tz, kParisAutumn2026 + 86400 * 30, 3600);
    // 2027: last Sundays are March 28 and October 31.
    expect_offset(tz, 1806195600 - 1, 3600);
    expect_offset(tz, 1806195600, 7200);
    expect_offset(tz, 1824944400 - 1, 7200);
    expect_offset(tz, 1824944400, 3600);
}

void posix_other_rules(void**) {
    auto ny = posix("EST5EDT,M3.2.0,M11.1.0");
    expect_offset(ny, kNySpring2026 - 1, -18000);
    expect_offset(ny, kNySpring2026, -14400);
    expect_offset(ny, kNyAutumn2026 - 1, -14400);
    expect_offset(ny, kNyAutumn2026, -18000);
    // Southern hemisphere: DST spans the new year.
    auto syd = posix("AEST-10AEDT,M10.1.0,M4.1.0/3");
    expect_offset(syd, 1768478400, 39600);  // 2026-01-15
    expect_offset(syd, 1775318400 - 1, 39600);
    expect_offset(syd, 1775318400, 36000);  // 2026-04-04T16:00Z
    expect_offset(syd, 1782907200, 36000);  // 2026-07-01
    expect_offset(syd, 1791043200 - 1, 36000);
    expect_offset(syd, 1791043200, 39600);  // 2026-10-03T16:00Z
    // Negative DST (Europe/Dublin: winter time is the "daylight" one).
    auto dub = posix("IST-1GMT0,M10.5.0,M3.5.0/1");
    expect_offset(dub, 1768478400, 0);
    expect_offset(dub, kParisSpring2026 - 1, 0);
    expect_offset(dub, kParisSpring2026, 3600);
    expect_offset(dub, kParisAutumn2026 - 1, 3600);
    expect_offset(dub, kParisAutumn2026, 0);
    // Quoted names and negative rule times (America/Nuuk).
    auto nuuk = posix("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    expect_offset(nuuk, kParisSpring2026 - 1, -7200);
    expect_offset(nuuk, kParisSpring2026, -3600);
    expect_offset(nuuk, kParisAutumn2026 - 1, -3600);
    expect_offset(nuuk, kParisAutumn2026, -7200);
    // No DST at all.
    auto plus3 = posix("<+03>-3");
    expect_offset(plus3, 0, 10800);
    expect_offset(plus3, kParisSpring2026, 10800);
    expect_offset(posix("UTC0"), kParisSpring2026, 0);
    expect_offset(posix("IST-5:30"), kParisSpring2026, 19800);
    expect_offset(TimeZone::utc(), kParisSpring2026, 0);
}

void posix_refused(void**) {
    for (const char* s : {"",
                          "CET",
                          "CE-1",
                          "-1",
                          "CET-1CEST",
                          "CET-1CEST,M3.5.0",
                          "CET-1CEST,J60,J300",
                          "CET-1CEST,60,300",
                          "CET-1CEST,M13.5.0,M10.5.0",
                          "CET-1CEST,M0.5.0,M10.5.0",
                          "CET-1CEST,M3.6.0,M10.5.0",
                          "CET-1CEST,M3.0.0,M10.5.0",
                          "CET-1CEST,M3.5.7,M10.5.0",
                          "CET-168",
                          "CET-1CEST,M3.5.0,M10.5.0/3x",
                          "CET-1CEST,M3.5.0,M10.5.0,",
                          "<CET-1",
                          "CET-1CEST,M3.5.0/,M10.5.0",
                          "CET-1CEST,M3.5,M10.5.0",
                          "CET-1 CEST,M3.5.0,M10.5.0",
                          "CET-1CEST;M3.5.0,M10.5.0",
                          "CET-1CEST,M3.5.0,M10.5.0 "})
        if (TimeZone::from_posix(s, "x").ok()) fail_msg("'%s' should be refused", s);
}

// The system zoneinfo file when present (what load_zone reads in production),
// else the copy shipped as a fuzz seed.
std::string zone_bytes(const char* name) {
    std::string bytes;
    std::string sys = std::string("/usr/share/zoneinfo/") + name;
    if (read_file(sys, bytes) && bytes.rfind("TZif", 0) == 0) return bytes;
    std::string copy = name;
    std::replace(copy.begin(), copy.end(), '/', '_');
    std::printf("# %s not found, using tests/fuzz/corpus/tzif/%s\n", sys.c_str(), copy.c_str());
    return slurp("tests/fuzz/corpus/tzif/" + copy);
}

TimeZone tzif(const char* name) {
    auto tz = TimeZone::from_tzif(zone_bytes(name), name);
    if (!tz.ok()) fail_msg("%s refused: %s", name, tz.error().detail.c_str());
    return *tz;
}

void tzif_paris_matches_posix(void**) {
    auto file = tzif("Europe/Paris");
    auto rule = posix("CET-1CEST,M3.5.0,M10.5.0/3");
    assert_str_eq(file.name(), "Europe/Paris");
    expect_offset(file, kParisSpring2026 - 1, 3600);
    expect_offset(file, kParisSpring2026, 7200);
    expect_offset(file, kParisAutumn2026 - 1, 7200);
    expect_offset(file, kParisAutumn2026, 3600);
    // Every hour (and the second before it) from 1996, when the current EU
    // rule started, to 2100: the table part and the footer part of the file
    // must both agree with the rule. Transitions fall on the hour in UTC.
    for (std::int64_t t = 820454400; t < 4102444800; t += 3600) {
        if (file.offset_at(t) != rule.offset_at(t) ||
            file.offset_at(t - 1) != rule.offset_at(t - 1))
            fail_msg("Europe/Paris and its rule disagree at %s", format_rfc3339(t).c_str());
    }
}

void tzif_new_york(void**) {
    auto ny = tzif("America/New_York");
    expect_offset(ny, 1768478400, -18000);  // 2026-01-15, EST
    expect_offset(ny, 1782907200, -14400);  // 2026-07-01, EDT
    expect_offset(ny, kNySpring2026 - 1, -18000);
    expect_offset(ny, kNySpring2026, -14400);
    expect_offset(ny, kNyAutumn2026 - 1, -14400);
    expect_offset(ny, kNyAutumn2026, -18000);
    expect_offset(ny, 1142164800, -18000);      // 2006-03-12: the pre-2007 rule, still EST
    expect_offset(ny, 1143961200 - 1, -18000);  // 2006-04-02T06:59:59Z
    expect_offset(ny, 1143961200, -14400);      // first Sunday of April 2006
    expect_offset(ny, 128952000, -14400);       // 1974-02-01, year-round DST
    expect_offset(ny, -838987200, -14400);      // 1943-06-01, war time
    expect_offset(ny, -5364662400, -17762);     // 1800: local mean time
    expect_offset(ny, 4102444800 + 86400 * 180, -14400);  // 2100-06-30, footer rule
}

std::string be32(std::uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i)
        s[static_cast<std::size_t>(i)] = static_cast<char>(v >> (24 - 8 * i));
    return s;
}
std::string be64(std::uint64_t v) {
    return be32(static_cast<std::uint32_t>(v >> 32)) + be32(static_cast<std::uint32_t>(v));
}

// A minimal TZif file: v1 block, and for version '2' a v2 block and footer.
std::string make_tzif(char version, const std::vector<std::int64_t>& times, const std::string& idx,
                      const std::vector<std::int32_t>& offs, const std::string& footer,
                      std::uint32_t typecnt_override = 0) {
    auto block = [&](bool wide) {
        std::string h = "TZif";
        h += version;
        h += std::string(15, '\0');
        std::uint32_t typecnt =
            typecnt_override ? typecnt_override : static_cast<std::uint32_t>(offs.size());
        h += be32(0) + be32(0) + be32(0) + be32(static_cast<std::uint32_t>(times.size())) +
             be32(typecnt) + be32(4);
        for (auto t : times)
            h += wide ? be64(static_cast<std::uint64_t>(t)) : be32(static_cast<std::uint32_t>(t));
        h += idx;
        for (auto o : offs) h += be32(static_cast<std::uint32_t>(o)) + std::string("\0\0", 2);
        h += std::string("AB\0\0", 4);
        return h;
    };
    std::string out = block(false);
    if (version >= '2') out += block(true) + "\n" + footer + "\n";
    return out;
}

void tzif_synthetic(void**) {
    std::string idx("\x01\x00", 2);
    auto v1 = TimeZone::from_tzif(make_tzif('\0', {1000000, 2000000}, idx, {3600, 7200}, ""), "v1");
    assert_ok(v1);
    expect_offset(*v1, 0, 3600);  // before the first transition: type 0
    expect_offset(*v1, 1000000, 7200);
    expect_offset(*v1, 1999999, 7200);
    expect_offset(*v1, 2000000, 3600);  // after the last one, no footer: stays
    auto v2 =
        TimeZone::from_tzif(make_tzif('2', {1000000, 2000000}, idx, {3600, 7200}, "<+05>-5"), "v2");
    assert_ok(v2);
    expect_offset(*v2, 1500000, 7200);
    expect_offset(*v2, 2000000, 18000);  // footer beyond the table
    // A broken footer is ignored, not fatal: the table still applies.
    auto bad_footer = TimeZone::from_tzif(
        make_tzif('2', {1000000}, std::string("\x01", 1), {3600, 7200}, "??"), "f");
    assert_ok(bad_footer);
    expect_offset(*bad_footer, 3000000, 7200);
    // Refusals: index out of range, transitions not increasing, no types.
    assert_err(TimeZone::from_tzif(
                   make_tzif('2', {1000000}, std::string("\x02", 1), {3600, 7200}, ""), "x"),
               Code::invalid);
    assert_err(TimeZone::from_tzif(make_tzif('\0', {2000000, 1000000}, idx, {3600, 7200}, ""), "x"),
               Code::invalid);
    assert_err(TimeZone::from_tzif(make_tzif('2', {1000000, 1000000}, idx, {3600, 7200}, ""), "x"),
               Code::invalid);
    assert_err(TimeZone::from_tzif(make_tzif('2', {}, "", {}, ""), "x"), Code::invalid);
    // Counts claiming more data than the file holds.
    assert_err(TimeZone::from_tzif(make_tzif('2', {}, "", {3600}, "", 90000), "x"), Code::invalid);
    assert_err(TimeZone::from_tzif(make_tzif('2', {}, "", {3600}, "", 0xffffffffu), "x"),
               Code::invalid);
}

void tzif_garbage_and_truncated(void**) {
    for (std::string_view g :
         {std::string_view(""), std::string_view("TZif"), std::string_view("TZif2"),
          std::string_view("not a zone file at all, but long enough for a header....")})
        assert_err(TimeZone::from_tzif(g, "garbage"), Code::invalid);
    assert_err(TimeZone::from_tzif(std::string(44, '\0'), "zeros"), Code::invalid);
    auto paris = zone_bytes("Europe/Paris");
    auto magic = paris;
    magic[0] = 'X';
    assert_err(TimeZone::from_tzif(magic, "x"), Code::invalid);
    // Every cut before the footer is refused; cutting only the footer is not.
    auto footer_at = paris.rfind('\n', paris.size() - 2);
    assert_true(footer_at != std::string::npos && footer_at > 44);
    for (std::size_t len = 0; len < footer_at; ++len)
        if (TimeZone::from_tzif(std::string_view(paris).substr(0, len), "cut").ok())
            fail_msg("Europe/Paris cut to %zu bytes of %zu was accepted", len, paris.size());
    assert_ok(TimeZone::from_tzif(std::string_view(paris).substr(0, footer_at), "no footer"));
}

void local_fields(void**) {
    auto utc = TimeZone::utc();
    auto lt = to_local(utc, 1767571200);  // 2026-01-05 00:00:00Z, a Monday
    assert_int_equal(lt.year, 2026);
    assert_int_equal(lt.month, 1);
    assert_int_equal(lt.day, 5);
    assert_int_equal(lt.weekday_mon0, Mon);
    assert_int_equal(lt.minute_of_day, 0);
    lt = to_local(utc, 1767571200 + 86399);
    assert_int_equal(lt.weekday_mon0, Mon);
    assert_int_equal(lt.minute_of_day, 1439);
    assert_int_equal(lt.second, 59);
    lt = to_local(utc, 1795851547);  // 2026-11-28T07:39:07Z, a Saturday
    assert_int_equal(lt.weekday_mon0, Sat);
    assert_int_equal(lt.minute_of_day, 7 * 60 + 39);
    assert_int_equal(lt.second, 7);
    lt = to_local(utc, -1);  // 1969-12-31T23:59:59Z, a Wednesday
    assert_int_equal(lt.year, 1969);
    assert_int_equal(lt.weekday_mon0, Wed);
    assert_int_equal(lt.minute_of_day, 1439);
    assert_int_equal(lt.second, 59);
    // In Paris the same instants move by the zone offset, across midnight.
    auto paris = posix("CET-1CEST,M3.5.0,M10.5.0/3");
    lt = to_local(paris, 1767598200);  // 07:30Z -> 08:30 CET
    assert_int_equal(lt.weekday_mon0, Mon);
    assert_int_equal(lt.minute_of_day, 8 * 60 + 30);
    lt = to_local(paris, 1767571200 - 1800);  // Sunday 23:30Z -> Monday 00:30
    assert_int_equal(lt.weekday_mon0, Mon);
    assert_int_equal(lt.minute_of_day, 30);
    lt = to_local(paris, kParisSpring2026 - 1);  // 01:59:59 CET, then 03:00 CEST
    assert_int_equal(lt.weekday_mon0, Sun);
    assert_int_equal(lt.minute_of_day, 119);
    lt = to_local(paris, kParisSpring2026);
    assert_int_equal(lt.minute_of_day, 180);
    lt = to_local(paris, kParisAutumn2026 - 1);  // 02:59:59 CEST, then 02:00 CET
    assert_int_equal(lt.minute_of_day, 179);
    lt = to_local(paris, kParisAutumn2026);
    assert_int_equal(lt.minute_of_day, 120);
    // Weekdays stay in step over a long range.
    for (std::int64_t d = -3000; d < 3000; ++d) {
        auto l = to_local(utc, 1767571200 + d * 86400 + 43200);
        int want = static_cast<int>(((d % 7) + 7) % 7);
        if (l.weekday_mon0 != want)
            fail_msg("day %lld: weekday %d, expected %d", (long long)d, l.weekday_mon0, want);
    }
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(weekdays_boundaries),
        cmocka_unit_test(several_rules),
        cmocka_unit_test(past_midnight),
        cmocka_unit_test(wrapping_days),
        cmocka_unit_test(star_and_24h),
        cmocka_unit_test(refused),
        cmocka_unit_test(posix_cet),
        cmocka_unit_test(posix_other_rules),
        cmocka_unit_test(posix_refused),
        cmocka_unit_test(tzif_paris_matches_posix),
        cmocka_unit_test(tzif_new_york),
        cmocka_unit_test(tzif_synthetic),
        cmocka_unit_test(tzif_garbage_and_truncated),
        cmocka_unit_test(local_fields),
    };
    return RUN_GROUP("schedule", tests);
}
