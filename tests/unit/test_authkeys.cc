// authkeys.h: the authorized_keys lines sshd gets from vendorctl
// authorized-keys (from=, expiry-time=, the configured options).
#include "authkeys.h"

#include "util.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

PublicView view(std::int64_t not_before, std::int64_t not_after) {
    PublicView v;
    v.name = "acme";
    v.from = {"192.0.2.0/24", "2001:db8::/32"};
    v.access = kAccessGrant;
    v.keys = {std::string(trim(slurp(data_path("keys/ed25519.pub"))))};
    v.grant_not_before = not_before;
    v.grant_not_after = not_after;
    return v;
}

// sshd reads YYYYMMDDHHMM in its local zone: a grant ending at 12:34:56 would
// stop the key at 12:34:00. The line carries the exact second, in UTC.
void expiry_exact_second(void**) {
    Config c;
    constexpr std::int64_t kEnd = 1795851296;  // 2026-11-28T07:34:56Z
    std::string why;
    auto lines = authorized_keys_lines(c, view(kEnd - 3600, kEnd), kEnd - 59, &why);
    assert_int_equal(lines.size(), 1);
    if (!contains(lines[0], ",expiry-time=\"20261128073456Z\","))
        fail_msg("line: %s", lines[0].c_str());
    // On a minute boundary too, and never the minute before.
    lines = authorized_keys_lines(c, view(kEnd - 3600, kEnd + 4), kEnd, &why);
    assert_int_equal(lines.size(), 1);
    if (!contains(lines[0], ",expiry-time=\"20261128073500Z\","))
        fail_msg("line: %s", lines[0].c_str());
    // One second before the end the key is still handed out; at the end not.
    assert_int_equal(authorized_keys_lines(c, view(kEnd - 3600, kEnd), kEnd - 1, &why).size(), 1);
    assert_int_equal(authorized_keys_lines(c, view(kEnd - 3600, kEnd), kEnd, &why).size(), 0);
    assert_str_eq(why, "grant_expired");
}

void default_options_restrict(void**) {
    Config c;
    constexpr std::int64_t kEnd = 1795851296;
    auto lines = authorized_keys_lines(c, view(kEnd - 3600, kEnd), kEnd - 60);
    assert_int_equal(lines.size(), 1);
    // No forwarding of any kind for a vendor key: restrict, then a pty back.
    if (!contains(lines[0], "Z\",restrict,pty ssh-ed25519 "))
        fail_msg("line: %s", lines[0].c_str());
    if (lines[0].rfind("from=\"192.0.2.0/24,2001:db8::/32\",", 0) != 0)
        fail_msg("line: %s", lines[0].c_str());
}

// The key view is decide(Phase::keys): the policy's reason names, and a zone
// that cannot be read is config_error (it read as outside_hours before).
void key_view_reasons(void**) {
    Config c;
    constexpr std::int64_t kEnd = 1795851296;
    std::string why;
    auto v = view(kEnd - 3600, kEnd);
    v.access = kAccessGrant | kAccessHours;
    v.hours = "* 00:00-24:00";
    c.timezone = "UTC";
    assert_int_equal(authorized_keys_lines(c, v, kEnd - 60, &why).size(), 1);
    assert_str_eq(why, "");
    c.timezone = "No/Such_Zone";
    assert_int_equal(authorized_keys_lines(c, v, kEnd - 60, &why).size(), 0);
    assert_str_eq(why, "config_error");
    assert_int_equal(key_view_verdict(c, v, kEnd - 60).reason, Reason::config_error);
    c.timezone = "UTC";
    v.hours = "Blursday 25:00-26:00";
    assert_int_equal(authorized_keys_lines(c, v, kEnd - 60, &why).size(), 0);
    assert_str_eq(why, "state_error");
    v = view(kEnd - 3600, kEnd);
    v.keys.clear();
    assert_int_equal(authorized_keys_lines(c, v, kEnd - 60, &why).size(), 0);
    assert_str_eq(why, "no_pinned_key");
    v = view(0, 0);
    authorized_keys_lines(c, v, kEnd - 60, &why);
    assert_str_eq(why, "not_activated");
    v = view(kEnd - 3600, kEnd);
    v.from.clear();
    authorized_keys_lines(c, v, kEnd - 60, &why);
    assert_str_eq(why, "source_not_allowed");
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(expiry_exact_second),
        cmocka_unit_test(default_options_restrict),
        cmocka_unit_test(key_view_reasons),
    };
    return RUN_GROUP("authkeys", tests);
}
