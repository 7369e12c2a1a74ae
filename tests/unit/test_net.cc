// net.h: strict literal addresses and CIDR blocks (the source gate, R1).
#include "net.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

IpAddr ip(const char* s) {
    auto a = parse_ip(s);
    if (!a) fail_msg("'%s' should parse", s);
    return *a;
}

Cidr cidr(const char* s) {
    auto c = parse_cidr(s);
    if (!c.ok()) fail_msg("'%s' should parse: %s", s, c.error().detail.c_str());
    return *c;
}

IpAddr bytes(std::initializer_list<int> v) {
    IpAddr a;
    std::size_t i = 0;
    for (int b : v) a.b[i++] = static_cast<std::uint8_t>(b);
    return a;
}

void v4_valid(void**) {
    auto a = ip("192.0.2.10");
    assert_true(a.is_v4());
    assert_true(a == bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 10}));
    assert_str_eq(a.str(), "192.0.2.10");
    assert_str_eq(ip("0.0.0.0").str(), "0.0.0.0");
    assert_str_eq(ip("255.255.255.255").str(), "255.255.255.255");
    assert_str_eq(ip("10.0.0.1").str(), "10.0.0.1");
}

void v4_strict(void**) {
    for (const char* s :
         {"010.0.0.1", "10.0.0.01", "00.0.0.0",   "1.2.3",     "1.2.3.4.5",  "256.1.1.1",
          "1.2.3.256", "1.2.3.4 ",  " 1.2.3.4",   "1.2.3.4\n", "1..2.3",     "1.2.3.",
          ".1.2.3",    "1.2.3.4/",  "1.2.3.-4",   "+1.2.3.4",  "0x7f.0.0.1", "1.2.3.1000",
          "1e2.0.0.1", "127.1",     "2130706433", "",          ".",          "localhost",
          "1.2.3.4.",  "1,2,3,4"})
        if (parse_ip(s)) fail_msg("'%s' should be refused", s);
    assert_false(parse_ip(std::string_view("1.2.3.4\0", 8)).has_value());
}

void v6_forms(void**) {
    IpAddr zero{};
    assert_true(ip("::") == zero);
    assert_false(ip("::").is_v4());
    assert_true(ip("::1") == bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
    auto full = ip("2001:0db8:0000:0000:0000:0000:0000:0001");
    assert_true(full == ip("2001:db8::1"));
    assert_true(full == ip("2001:DB8:0:0:0:0:0:1"));
    assert_true(full == ip("2001:db8:0::0:1"));
    assert_true(ip("1::") == bytes({0, 1}));
    assert_true(ip("1:2:3:4:5:6:7::") == ip("1:2:3:4:5:6:7:0"));
    assert_true(ip("::2:3:4:5:6:7:8") == ip("0:2:3:4:5:6:7:8"));
    assert_true(ip("fe80::1:2") == bytes({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2}));
    // Embedded IPv4 tails.
    assert_true(ip("64:ff9b::192.0.2.33") ==
                bytes({0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 33}));
    assert_true(ip("1:2:3:4:5:6:1.2.3.4") == ip("1:2:3:4:5:6:102:304"));
    // The IPv4-mapped form is the same address as the dotted quad.
    assert_true(ip("::ffff:1.2.3.4") == ip("1.2.3.4"));
    assert_true(ip("::FFFF:0102:0304") == ip("1.2.3.4"));
    assert_true(ip("0:0:0:0:0:ffff:1.2.3.4") == ip("1.2.3.4"));
    assert_true(ip("::ffff:1.2.3.4").is_v4());
    assert_false(ip("::1.2.3.4").is_v4());  // deprecated compatible form: not mapped
    assert_false(ip("::fffe:1.2.3.4").is_v4());
    // 45 characters, the longest text form.
    assert_true(ip("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255").b[0] == 0xff);
}

void v6_refused(void**) {
    for (const char* s : {":::",
                          "1::2::3",
                          "::1::",
                          "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7",
                          "1:2:3:4:5:6:7:8::",
                          "::1:2:3:4:5:6:7:8",
                          "fe80::1%eth0",
                          "fe80::1%1",
                          "[::1]",
                          "[::1]:22",
                          ":1::",
                          "1:",
                          ":",
                          "1::2:",
                          "::1:",
                          "12345::",
                          "g::",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "::1.2.3",
                          "::1.2.3.4.5",
                          "::010.0.0.1",
                          "::1.2.3.4:5",
                          "1.2.3.4::",
                          "::ffff:256.0.0.1",
                          ":: ",
                          " ::",
                          "::1 ",
                          "1:2:3:4:5:6:7:8 ",
                          "2001:db8::/32",
                          "0000:0000:0000:0000:0000:0000:0000:0000:0000"})
        if (parse_ip(s)) fail_msg("'%s' should be refused", s);
}

void str_rfc5952(void**) {
    assert_str_eq(ip("::").str(), "::");
    assert_str_eq(ip("::1").str(), "::1");
    assert_str_eq(ip("1::").str(), "1::");
    assert_str_eq(ip("2001:0DB8:0000:0000:0000:0000:0000:0001").str(), "2001:db8::1");
    // A single zero word is not compressed.
    assert_str_eq(ip("2001:db8:0:1:1:1:1:1").str(), "2001:db8:0:1:1:1:1:1");
    // The longest run wins; on a tie, the first.
    assert_str_eq(ip("2001:0:0:1:0:0:0:1").str(), "2001:0:0:1::1");
    assert_str_eq(ip("2001:db8:0:0:1:0:0:1").str(), "2001:db8::1:0:0:1");
    assert_str_eq(ip("1:0:0:2:0:0:3:4").str(), "1::2:0:0:3:4");
    assert_str_eq(ip("1:2:3:4:5:6:7:8").str(), "1:2:3:4:5:6:7:8");
    assert_str_eq(ip("fe80::abcd:ef01").str(), "fe80::abcd:ef01");
    // Mapped addresses print as their IPv4 form.
    assert_str_eq(ip("::ffff:192.0.2.1").str(), "192.0.2.1");
    // Every str() parses back to the same address.
    for (const char* s : {"::", "::1", "1::", "2001:db8::1", "1:0:0:2:0:0:3:4", "::ffff:1.2.3.4",
                          "64:ff9b::1.2.3.4", "0:1:0:1:0:1:0:1", "ffff::ffff"}) {
        auto a = ip(s);
        auto back = parse_ip(a.str());
        if (!back || !(*back == a))
            fail_msg("'%s' -> '%s' does not parse back", s, a.str().c_str());
    }
}

void cidr_prefixes(void**) {
    auto c = cidr("10.0.0.0/8");
    assert_int_equal(c.prefix, 96 + 8);
    assert_str_eq(c.str(), "10.0.0.0/8");
    assert_int_equal(cidr("192.0.2.10").prefix, 128);  // bare address: host route
    assert_str_eq(cidr("192.0.2.10").str(), "192.0.2.10/32");
    assert_int_equal(cidr("0.0.0.0/0").prefix, 96);
    assert_int_equal(cidr("2001:db8::/32").prefix, 32);
    assert_int_equal(cidr("::/0").prefix, 0);
    assert_int_equal(cidr("2001:db8::1").prefix, 128);
    assert_int_equal(cidr("1.2.3.4/32").prefix, 128);
    assert_int_equal(cidr("::1/128").prefix, 128);
    assert_str_eq(cidr("2001:DB8::/32").str(), "2001:db8::/32");
    // An IPv6-written mapped block is shown (and compared) as the IPv4 block.
    assert_true(cidr("::ffff:10.0.0.0/104") == cidr("10.0.0.0/8"));
    assert_str_eq(cidr("::ffff:10.0.0.0/104").str(), "10.0.0.0/8");
}

void cidr_refused(void**) {
    for (const char* s : {"10.0.0.0/33",
                          "::/129",
                          "10.0.0.0/08",
                          "10.0.0.0/00",
                          "::/0128",
                          "10.0.0.0/",
                          "10.0.0.0/-1",
                          "10.0.0.0/+8",
                          "10.0.0.0/ 8",
                          "10.0.0.0 /8",
                          "10.0.0.0/8 ",
                          "10.0.0.0/8/8",
                          "10.0.0.0/x",
                          "/8",
                          "",
                          "10.0.0/8",
                          "example.org/32",
                          "10.0.0.0/4294967304",
                          "10.0.0.0/18446744073709551624",
                          "fe80::/10%eth0",
                          "[2001:db8::]/32"})
        if (parse_cidr(s).ok()) fail_msg("'%s' should be refused", s);
    assert_err(parse_cidr("10.0.0.0/33"), Code::invalid);
    assert_err(parse_cidr("::/129"), Code::invalid);
}

void cidr_host_bits(void**) {
    for (const char* s :
         {"10.0.0.1/24", "11.0.0.0/7", "192.0.2.128/24", "192.0.2.1/31", "2001:db8::1/64",
          "2001:db9::/31", "::1/127", "::ffff:10.0.0.0/95", "0.0.0.1/0"})
        if (parse_cidr(s).ok()) fail_msg("'%s' has host bits set and should be refused", s);
    assert_ok(parse_cidr("192.0.2.0/24"));
    assert_ok(parse_cidr("192.0.2.128/25"));
    assert_ok(parse_cidr("192.0.2.1/32"));
    assert_ok(parse_cidr("2001:db8::/64"));
}

void cidr_contains_v4(void**) {
    auto c = cidr("192.0.2.0/24");
    assert_true(c.contains(ip("192.0.2.0")));
    assert_true(c.contains(ip("192.0.2.255")));
    assert_false(c.contains(ip("192.0.3.0")));
    assert_false(c.contains(ip("192.0.1.255")));
    auto odd = cidr("10.0.0.0/9");
    assert_true(odd.contains(ip("10.127.255.255")));
    assert_false(odd.contains(ip("10.128.0.0")));
    auto host = cidr("198.51.100.7");
    assert_true(host.contains(ip("198.51.100.7")));
    assert_false(host.contains(ip("198.51.100.6")));
    // 0.0.0.0/0 is every IPv4 address, and no IPv6 one.
    auto all4 = cidr("0.0.0.0/0");
    assert_true(all4.contains(ip("255.255.255.255")));
    assert_true(all4.contains(ip("0.0.0.0")));
    assert_false(all4.contains(ip("2001:db8::1")));
    assert_false(all4.contains(ip("::")));
}

void cidr_contains_v6_and_mapped(void**) {
    auto c = cidr("2001:db8::/32");
    assert_true(c.contains(ip("2001:db8::1")));
    assert_true(c.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
    assert_false(c.contains(ip("2001:db9::")));
    assert_false(c.contains(ip("10.0.0.1")));
    auto c63 = cidr("2001:db8:0:fffe::/63");
    assert_true(c63.contains(ip("2001:db8:0:ffff::1")));
    assert_false(c63.contains(ip("2001:db8:1::")));
    // ::/0 is every IPv6 address and no IPv4 one, in either spelling: the
    // mapped form must not let a short IPv6 block admit IPv4.
    assert_false(cidr("::/0").contains(ip("192.0.2.1")));
    assert_false(cidr("::/0").contains(ip("::ffff:192.0.2.1")));
    assert_true(cidr("::/0").contains(ip("2001:db8::1")));
    assert_false(cidr("::/1").contains(ip("192.0.2.1")));
    assert_false(cidr("::/80").contains(ip("192.0.2.1")));
    assert_false(cidr("::fffe:0:0/95").contains(ip("192.0.2.1")));  // holds ::ffff:0:0/96
    assert_true(cidr("::ffff:0:0/96").contains(ip("192.0.2.1")));
    assert_true(cidr("::ffff:192.0.2.0/120").is_v4());
    assert_false(cidr("::/0").is_v4());
    // An IPv4 rule matches an IPv4-mapped source and the other way round.
    assert_true(cidr("192.0.2.0/24").contains(ip("::ffff:192.0.2.77")));
    assert_true(cidr("::ffff:192.0.2.0/120").contains(ip("192.0.2.77")));
    assert_false(cidr("192.0.2.0/24").contains(ip("::192.0.2.77")));
    assert_false(cidr("192.0.2.0/24").contains(ip("64:ff9b::192.0.2.77")));
    // Wide blocks (need the entry's any_source): shorter than /8 or /16.
    for (const char* w : {"0.0.0.0/0", "128.0.0.0/1", "0.0.0.0/7", "::/0", "2000::/3", "2000::/15",
                          "::ffff:0:0/96", "::ffff:0.0.0.0/100"})
        if (!cidr(w).is_wide()) fail_msg("%s should be wide", w);
    for (const char* n : {"10.0.0.0/8", "192.0.2.0/24", "2001::/16", "2001:db8::/32",
                          "::ffff:10.0.0.0/104", "192.0.2.1"})
        if (cidr(n).is_wide()) fail_msg("%s should not be wide", n);
    std::vector<Cidr> list = {cidr("192.0.2.0/24"), cidr("2001:db8::/48")};
    assert_true(any_contains(list, ip("2001:db8:0:1::5")));
    assert_true(any_contains(list, ip("192.0.2.9")));
    assert_false(any_contains(list, ip("2001:db8:1::5")));
    assert_false(any_contains({}, ip("192.0.2.9")));
}

void cidr_round_trip(void**) {
    for (const char* s : {"10.0.0.0/8", "192.0.2.7/32", "0.0.0.0/0", "::/0", "2001:db8::/32",
                          "2001:db8::1/128", "::ffff:0.0.0.0/96", "fe80::/10", "64:ff9b::/96"}) {
        auto c = cidr(s);
        auto back = parse_cidr(c.str());
        if (!back.ok() || !(*back == c))
            fail_msg("'%s' -> '%s' does not parse back", s, c.str().c_str());
    }
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(v4_valid),         cmocka_unit_test(v4_strict),
        cmocka_unit_test(v6_forms),         cmocka_unit_test(v6_refused),
        cmocka_unit_test(str_rfc5952),      cmocka_unit_test(cidr_prefixes),
        cmocka_unit_test(cidr_refused),     cmocka_unit_test(cidr_host_bits),
        cmocka_unit_test(cidr_contains_v4), cmocka_unit_test(cidr_contains_v6_and_mapped),
        cmocka_unit_test(cidr_round_trip),
    };
    return RUN_GROUP("net", tests);
}
