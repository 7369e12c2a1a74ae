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

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(expiry_exact_second),
        cmocka_unit_test(default_options_restrict),
    };
    return RUN_GROUP("authkeys", tests);
}
