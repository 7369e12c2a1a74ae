// session_record.h: the record pam_sm_close_session trusts instead of the
// PAM environment (account and start written at open, used once).
#include "session_record.h"

#include "files.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

constexpr const char* kId = "0123456789abcdef0123456789abcdef";

struct Fixture {
    TmpDir dir;
    Config cfg;
    Fixture() { cfg.state_dir = dir / "state"; }
};

void ids(void**) {
    assert_true(valid_session_id(kId));
    for (const char* bad :
         {"", "0123456789abcdef0123456789abcde", "0123456789ABCDEF0123456789abcdef",
          "0123456789abcdef0123456789abcdef0", "../../../../etc/passwd0123456789a",
          "0123456789abcdef0123456789abcde/"})
        if (valid_session_id(bad)) fail_msg("'%s' accepted as a session id", bad);
}

void write_take_once(void**) {
    Fixture f;
    SessionRecord r{kId, "acme", 1795851540123, 4242};
    auto st = write_session_record(f.cfg, r);
    if (!st) fail_msg("write: %s", st.error().detail.c_str());
    // Root-only: 0600 in a 0700 directory.
    auto mode = [](const std::string& p) {
        struct stat sb {};
        if (stat(p.c_str(), &sb) != 0) fail_msg("stat %s", p.c_str());
        return sb.st_mode & 07777;
    };
    assert_int_equal(mode(f.cfg.state_dir + "/sessions"), 0700);
    assert_int_equal(mode(f.cfg.state_dir + "/sessions/" + kId + ".json"), 0600);
    // Another account cannot use it, and does not consume it.
    auto other = take_session_record(f.cfg, kId, "other");
    assert_false(other.ok());
    assert_int_equal(other.error().code, Code::not_found);
    auto got = take_session_record(f.cfg, kId, "acme");
    if (!got) fail_msg("take: %s", got.error().detail.c_str());
    assert_str_eq(got->account, "acme");
    assert_int_equal(got->start_ms, 1795851540123);
    assert_int_equal(got->pid, 4242);
    // Single use.
    auto again = take_session_record(f.cfg, kId, "acme");
    assert_false(again.ok());
    assert_int_equal(again.error().code, Code::not_found);
}

void forged_and_dropped(void**) {
    Fixture f;
    // No record for an id that was never opened; a path in the id is refused.
    assert_false(take_session_record(f.cfg, kId, "acme").ok());
    assert_false(take_session_record(f.cfg, "../../etc/passwd", "acme").ok());
    assert_false(write_session_record(f.cfg, {"nothex", "acme", 1, 1}).ok());
    assert_false(write_session_record(f.cfg, {kId, "../x", 1, 1}).ok());
    // A close in the opening handle drops the record; absent is fine.
    assert_true(write_session_record(f.cfg, {kId, "acme", 1, 1}).ok());
    assert_true(drop_session_record(f.cfg, kId).ok());
    assert_true(drop_session_record(f.cfg, kId).ok());
    assert_false(take_session_record(f.cfg, kId, "acme").ok());
    // A record a non-root user could have written is not trusted.
    assert_true(write_session_record(f.cfg, {kId, "acme", 1, 1}).ok());
    std::string p = f.cfg.state_dir + "/sessions/" + kId + ".json";
    chmod(p.c_str(), 0666);
    auto t = take_session_record(f.cfg, kId, "acme");
    assert_false(t.ok());
    assert_int_equal(t.error().code, Code::insecure);
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(ids),
        cmocka_unit_test(write_take_once),
        cmocka_unit_test(forged_and_dropped),
    };
    return RUN_GROUP("session_record", tests);
}
