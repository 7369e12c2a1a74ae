// store.h / store_local.cc: grants, one-time codes, failure counters and
// lockout, structure-held TOTP, single use across processes.
#include "store.h"

#include <liboath/oath.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <csignal>

#include "files.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

constexpr std::int64_t kNow = 1795851540;  // 2026-11-28T07:39:00Z, a TOTP step boundary

struct Fixture {
    TmpDir dir;
    Config cfg;
    std::unique_ptr<Store> store;
    explicit Fixture(unsigned threshold = 5) {
        cfg.state_dir = dir / "state";
        cfg.lockout_threshold = threshold;
        cfg.lockout_time = 900;
        store = open_store(cfg);
    }
};

std::string issue(Store& s, const char* account, std::int64_t ttl = 600, std::int64_t now = kNow,
                  unsigned digits = 8) {
    auto c = s.issue_code(account, digits, ttl, now);
    if (!c.ok()) fail_msg("issue_code: %s", c.error().detail.c_str());
    if (c->code.size() != digits) fail_msg("code of %zu digits", c->code.size());
    for (char ch : c->code)
        if (ch < '0' || ch > '9') fail_msg("code is not digits");
    if (c->expires != now + ttl) fail_msg("wrong expiry");
    return c->code;
}

CodeVerdict consume(Store& s, const char* account, const std::string& input,
                    std::int64_t now = kNow) {
    auto v = s.consume(account, input, now);
    if (!v.ok()) fail_msg("consume: %s: %s", code_name(v.error().code), v.error().detail.c_str());
    return *v;
}

// The same number of digits, certainly not the code.
std::string other_code(const std::string& code) {
    std::string o = code;
    o.back() = o.back() == '0' ? '1' : '0';
    return o;
}

const char* outcome_name(CodeOutcome o) {
    switch (o) {
    case CodeOutcome::accepted_code: return "accepted_code";
    case CodeOutcome::accepted_totp: return "accepted_totp";
    case CodeOutcome::wrong: return "wrong";
    case CodeOutcome::locked: return "locked";
    }
    return "?";
}

#define assert_outcome(v, want)                                                                    \
    do {                                                                                           \
        if ((v).outcome != (want))                                                                 \
            fail_msg("outcome %s, expected %s", outcome_name((v).outcome), #want);                 \
    } while (0)

void grants(void**) {
    Fixture f;
    auto g0 = f.store->grant("acme");
    assert_ok(g0);
    assert_false(g0->has_value());
    bool existed = true;
    assert_ok(f.store->end_grant("acme", &existed));  // nothing to end yet
    assert_false(existed);
    Grant g{"acme", kNow, kNow + 7200, "alice", "INC-42", "PACS upgrade"};
    assert_ok(f.store->put_grant(g));
    auto g1 = f.store->grant("acme");
    assert_ok(g1);
    assert_true(g1->has_value());
    assert_str_eq((*g1)->account, "acme");
    assert_int_equal((*g1)->not_before, kNow);
    assert_int_equal((*g1)->not_after, kNow + 7200);
    assert_str_eq((*g1)->operator_name, "alice");
    assert_str_eq((*g1)->ticket, "INC-42");
    assert_str_eq((*g1)->reason, "PACS upgrade");
    assert_false(f.store->grant("other")->has_value());
    // Grant files are private to root.
    struct stat st {};
    assert_int_equal(::stat((f.dir / "state/grants/acme.json").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_ok(f.store->end_grant("acme", &existed));
    assert_true(existed);
    assert_false(f.store->grant("acme")->has_value());
    assert_ok(f.store->end_grant("acme", &existed));
    assert_false(existed);
}

void grant_files_checked(void**) {
    Fixture f;
    assert_ok(f.store->put_grant(Grant{"acme", kNow, kNow + 60, "", "", ""}));
    // A grant file naming another account, or ending before it starts, is refused.
    assert_ok(atomic_write(f.dir / "state/grants/other.json",
                           R"({"account":"acme","not_before":1,"not_after":2})", 0600));
    assert_err(f.store->grant("other"), Code::invalid);
    assert_ok(atomic_write(f.dir / "state/grants/rev.json",
                           R"({"account":"rev","not_before":5,"not_after":2})", 0600));
    assert_err(f.store->grant("rev"), Code::invalid);
    assert_ok(atomic_write(f.dir / "state/grants/extra.json",
                           R"({"account":"extra","not_before":1,"not_after":2,"admin":true})",
                           0600));
    assert_err(f.store->grant("extra"), Code::invalid);
    assert_ok(atomic_write(f.dir / "state/grants/junk.json", "{", 0600));
    assert_err(f.store->grant("junk"), Code::invalid);
    // A state directory others can write is not trusted.
    assert_int_equal(::chmod((f.dir / "state/grants").c_str(), 0770), 0);
    assert_err(f.store->grant("acme"), Code::insecure);
    assert_int_equal(::chmod((f.dir / "state/grants").c_str(), 0700), 0);
    assert_int_equal(::chmod((f.dir / "state/grants/acme.json").c_str(), 0666), 0);
    assert_err(f.store->grant("acme"), Code::insecure);
}

void code_single_use(void**) {
    Fixture f;
    auto has = f.store->has_code("acme", kNow);
    assert_ok(has);
    assert_false(*has);
    auto code = issue(*f.store, "acme");
    assert_true(*f.store->has_code("acme", kNow));
    // Stored only as a salted hash, in a private file.
    auto stored = slurp(f.dir / "state/codes/acme.json");
    assert_false(contains(stored, code));
    struct stat st {};
    assert_int_equal(::stat((f.dir / "state/codes/acme.json").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    auto v = consume(*f.store, "acme", code);
    assert_outcome(v, CodeOutcome::accepted_code);
    assert_int_equal(v.failures, 0);
    assert_false(*f.store->has_code("acme", kNow));
    v = consume(*f.store, "acme", code);  // the same code again
    assert_outcome(v, CodeOutcome::wrong);
    assert_int_equal(v.failures, 1);
    // A code is bound to its account.
    auto c2 = issue(*f.store, "acme");
    assert_outcome(consume(*f.store, "other", c2), CodeOutcome::wrong);
    assert_outcome(consume(*f.store, "acme", c2), CodeOutcome::accepted_code);
}

void code_reading_forms(void**) {
    Fixture f(100);
    auto code = issue(*f.store, "acme");
    assert_outcome(consume(*f.store, "acme", group_code(code)), CodeOutcome::accepted_code);
    code = issue(*f.store, "acme");
    assert_outcome(consume(*f.store, "acme", code.substr(0, 4) + "-" + code.substr(4)),
                   CodeOutcome::accepted_code);
    code = issue(*f.store, "acme");
    assert_outcome(
        consume(*f.store, "acme", " " + code.substr(0, 3) + " \t" + code.substr(3) + " "),
        CodeOutcome::accepted_code);
    code = issue(*f.store, "acme", 600, kNow, 12);
    assert_outcome(consume(*f.store, "acme", group_code(code)), CodeOutcome::accepted_code);
    // Not digits, too short, a prefix, the code twice: wrong, and counted.
    code = issue(*f.store, "acme");
    for (const std::string& bad :
         {std::string(""), std::string("abcdefgh"), code.substr(0, 7), code + code, code + "x",
          "+" + code, code.substr(0, 4) + "." + code.substr(4)}) {
        auto v = consume(*f.store, "acme", bad);
        assert_outcome(v, CodeOutcome::wrong);
    }
    assert_int_equal(f.store->failures("acme")->count, 7);
    assert_outcome(consume(*f.store, "acme", code), CodeOutcome::accepted_code);
    assert_int_equal(f.store->failures("acme")->count, 0);  // success resets the counter
    // Helpers.
    assert_str_eq(normalize_code("1234 5678"), "12345678");
    assert_str_eq(normalize_code("1234-5678"), "12345678");
    assert_str_eq(normalize_code("12345"), "");
    assert_str_eq(normalize_code("1234567890123"), "");
    assert_str_eq(normalize_code("1234x5678"), "");
    assert_str_eq(normalize_code(std::string(70, '1')), "");
    assert_str_eq(group_code("12345678"), "1234 5678");
    assert_str_eq(group_code("123456789"), "123 456 789");
    assert_str_eq(group_code("123456789012"), "1234 5678 9012");
    assert_err(f.store->issue_code("acme", 7, 600, kNow), Code::invalid);
    assert_err(f.store->issue_code("acme", 13, 600, kNow), Code::invalid);
}

void code_expiry_and_reissue(void**) {
    Fixture f(100);
    auto code = issue(*f.store, "acme", 60);
    assert_true(*f.store->has_code("acme", kNow + 59));
    assert_false(*f.store->has_code("acme", kNow + 60));
    assert_outcome(consume(*f.store, "acme", code, kNow + 60), CodeOutcome::wrong);
    assert_outcome(consume(*f.store, "acme", code, kNow), CodeOutcome::wrong);  // gone for good
    code = issue(*f.store, "acme", 60);
    assert_outcome(consume(*f.store, "acme", code, kNow + 59), CodeOutcome::accepted_code);
    // A new code replaces the outstanding one.
    auto a = issue(*f.store, "acme");
    auto b = issue(*f.store, "acme");
    if (a != b) assert_outcome(consume(*f.store, "acme", a), CodeOutcome::wrong);
    assert_outcome(consume(*f.store, "acme", b), CodeOutcome::accepted_code);
}

void lockout(void**) {
    Fixture f(3);
    auto code = issue(*f.store, "acme", 3600);
    auto bad = other_code(code);
    auto v = consume(*f.store, "acme", bad);
    assert_outcome(v, CodeOutcome::wrong);
    assert_false(v.just_locked);
    assert_int_equal(v.failures, 1);
    v = consume(*f.store, "acme", bad);
    assert_false(v.just_locked);
    assert_int_equal(v.failures, 2);
    v = consume(*f.store, "acme", bad);
    assert_outcome(v, CodeOutcome::wrong);
    assert_true(v.just_locked);
    assert_int_equal(v.failures, 3);
    auto fl = f.store->failures("acme");
    assert_ok(fl);
    assert_int_equal(fl->locked_until, kNow + 900);
    // Locked: even the right code is not compared, and just_locked is not repeated.
    v = consume(*f.store, "acme", code, kNow + 1);
    assert_outcome(v, CodeOutcome::locked);
    assert_false(v.just_locked);
    v = consume(*f.store, "acme", bad, kNow + 899);
    assert_outcome(v, CodeOutcome::locked);
    assert_true(*f.store->has_code("acme", kNow + 899));  // the code survived the lock
    // When the lock ends, the code works and the counter is cleared.
    v = consume(*f.store, "acme", code, kNow + 900);
    assert_outcome(v, CodeOutcome::accepted_code);
    fl = f.store->failures("acme");
    assert_int_equal(fl->count, 0);
    assert_int_equal(fl->locked_until, 0);
    // Other accounts are not affected by one account's lock.
    auto other = issue(*f.store, "other", 3600);
    for (int i = 0; i < 3; ++i) consume(*f.store, "acme", bad, kNow + 1000);
    assert_outcome(consume(*f.store, "other", other, kNow + 1000), CodeOutcome::accepted_code);
}

void unlock_resets(void**) {
    Fixture f(2);
    auto code = issue(*f.store, "acme", 3600);
    consume(*f.store, "acme", other_code(code));
    auto v = consume(*f.store, "acme", other_code(code));
    assert_true(v.just_locked);
    assert_outcome(consume(*f.store, "acme", code), CodeOutcome::locked);
    assert_ok(f.store->unlock("acme"));
    auto fl = f.store->failures("acme");
    assert_int_equal(fl->count, 0);
    assert_int_equal(fl->locked_until, 0);
    assert_outcome(consume(*f.store, "acme", code), CodeOutcome::accepted_code);
    assert_ok(f.store->unlock("never-seen"));
    // A corrupt counter fails closed (an error, never an acceptance).
    code = issue(*f.store, "acme");
    assert_ok(
        atomic_write(f.dir / "state/failures/acme.json", R"({"count":-1,"locked_until":0})", 0600));
    assert_false(f.store->consume("acme", code, kNow).ok());
    assert_ok(atomic_write(f.dir / "state/failures/acme.json", "garbage", 0600));
    assert_false(f.store->consume("acme", code, kNow).ok());
}

// Issue item 5: the failure is written before the code is compared; when
// that write fails nothing is compared, so wrong codes into a counter that
// cannot be written never lead to the right one being accepted.
void counter_write_fails_never_compares(void**) {
    Fixture f(3);
    auto code = issue(*f.store, "acme", 3600);
    auto bad = other_code(code);
    // No file may grow: every write fails (EFBIG), reads still work.
    struct rlimit old {};
    assert_int_equal(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit none = old;
    none.rlim_cur = 0;
    assert_int_equal(::setrlimit(RLIMIT_FSIZE, &none), 0);
    int errors = 0;
    bool accepted = false;
    for (int i = 0; i < 10; ++i)
        if (!f.store->consume("acme", bad, kNow).ok()) ++errors;
    auto right = f.store->consume("acme", code, kNow);
    if (right.ok() && right->outcome == CodeOutcome::accepted_code) accepted = true;
    assert_int_equal(::setrlimit(RLIMIT_FSIZE, &old), 0);
    std::signal(SIGXFSZ, old_handler);
    assert_int_equal(errors, 10);
    if (accepted) fail_msg("right code accepted after 10 wrong ones nobody could count");
    assert_false(right.ok());
    assert_int_equal(right.error().code, Code::io);
    // Never compared: the code is still outstanding, nothing was counted.
    assert_true(*f.store->has_code("acme", kNow));
    assert_int_equal(f.store->failures("acme")->count, 0);
    assert_outcome(consume(*f.store, "acme", code), CodeOutcome::accepted_code);
}

// The same on a real full file system: a tiny tmpfs in a private mount
// namespace (root only).
void full_state_fs_keeps_lockout(void**) {
    if (geteuid() != 0) skip();
    if (::unshare(CLONE_NEWNS) != 0) skip();
    assert_int_equal(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    Fixture f(3);
    make_dir(f.cfg.state_dir);
    assert_int_equal(::mount("pvt-tiny", f.cfg.state_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                             "size=64k,mode=0700"),
                     0);
    auto code = issue(*f.store, "acme", 3600);
    auto bad = other_code(code);
    auto v = consume(*f.store, "acme", bad);  // directories, lock file and counter exist
    assert_int_equal(v.failures, 1);
    // Fill the file system.
    std::string filler = f.cfg.state_dir + "/filler";
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    std::string block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {}
    assert_int_equal(errno, ENOSPC);
    ::close(fd);
    int errors = 0;
    for (int i = 0; i < 10; ++i)
        if (!f.store->consume("acme", bad, kNow).ok()) ++errors;
    auto right = f.store->consume("acme", code, kNow);
    bool accepted = right.ok() && right->outcome == CodeOutcome::accepted_code;
    ::unlink(filler.c_str());
    if (accepted) {
        (void)::umount2(f.cfg.state_dir.c_str(), MNT_DETACH);
        fail_msg("right code accepted on a full state file system after 10 wrong codes");
    }
    assert_int_equal(errors, 10);
    assert_false(right.ok());
    // With room again: the counter still says 1, the code was never compared.
    assert_int_equal(f.store->failures("acme")->count, 1);
    assert_true(*f.store->has_code("acme", kNow));
    v = consume(*f.store, "acme", bad);
    assert_int_equal(v.failures, 2);
    assert_outcome(consume(*f.store, "acme", code), CodeOutcome::accepted_code);
    assert_int_equal(f.store->failures("acme")->count, 0);
    f.store.reset();  // it holds the state directories open (kv_local.cc)
    assert_int_equal(::umount2(f.cfg.state_dir.c_str(), 0), 0);
}

// The counter written before the comparison keeps the arithmetic of
// pam_vendor(8): the threshold-th wrong code locks, a right code at that
// attempt is still accepted (and clears what it counted).
void lockout_arithmetic_pessimistic(void**) {
    Fixture f(3);
    auto code = issue(*f.store, "acme", 3600);
    auto bad = other_code(code);
    consume(*f.store, "acme", bad);
    consume(*f.store, "acme", bad);
    assert_int_equal(f.store->failures("acme")->count, 2);
    auto v = consume(*f.store, "acme", code);  // third attempt, right: no lock
    assert_outcome(v, CodeOutcome::accepted_code);
    assert_false(v.just_locked);
    auto fl = f.store->failures("acme");
    assert_int_equal(fl->count, 0);
    assert_int_equal(fl->locked_until, 0);
    // A right code with no failure before leaves no counter behind either.
    code = issue(*f.store, "acme", 3600);
    assert_outcome(consume(*f.store, "acme", code), CodeOutcome::accepted_code);
    assert_int_equal(f.store->failures("acme")->count, 0);
    struct stat st {};
    assert_int_equal(::stat((f.dir / "state/failures/acme.json").c_str(), &st), -1);
}

std::string oath_code(const std::string& b32, std::int64_t t) {
    char* secret = nullptr;
    size_t len = 0;
    if (oath_base32_decode(b32.data(), b32.size(), &secret, &len) != OATH_OK)
        fail_msg("bad base32 secret");
    char out[16] = {};
    int rc = oath_totp_generate(secret, len, static_cast<time_t>(t), 30, 0, 8, out);
    free(secret);
    if (rc != OATH_OK) fail_msg("oath_totp_generate: %s", oath_strerror(rc));
    return out;
}

void totp(void**) {
    Fixture f(100);
    assert_false(*f.store->totp_enrolled("acme"));
    assert_err(f.store->totp_code("acme", kNow), Code::not_found);
    auto en = f.store->totp_enroll("acme", "web-01");
    assert_ok(en);
    assert_true(*f.store->totp_enrolled("acme"));
    assert_int_equal(en->secret_base32.size(), 32);  // 160 bits
    assert_true(en->uri.rfind("otpauth://totp/", 0) == 0);
    assert_true(contains(en->uri, "secret=" + en->secret_base32));
    assert_true(contains(en->uri, "digits=8"));
    assert_true(contains(en->uri, "period=30"));
    struct stat st {};
    assert_int_equal(::stat((f.dir / "state/totp/acme.json").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    // The helpdesk's code is RFC 6238 over the enrolled secret.
    auto now_code = f.store->totp_code("acme", kNow);
    assert_ok(now_code);
    assert_str_eq(*now_code, oath_code(en->secret_base32, kNow));
    assert_int_equal(now_code->size(), 8);
    auto v = consume(*f.store, "acme", *now_code, kNow + 5);
    assert_outcome(v, CodeOutcome::accepted_totp);
    // The same step is refused afterwards, even within its window.
    assert_outcome(consume(*f.store, "acme", *now_code, kNow + 5), CodeOutcome::wrong);
    assert_outcome(consume(*f.store, "acme", *now_code, kNow + 30), CodeOutcome::wrong);
    // The next step is fine once; an older one is not.
    auto next = *f.store->totp_code("acme", kNow + 30);
    assert_outcome(consume(*f.store, "acme", next, kNow + 30), CodeOutcome::accepted_totp);
    // Beyond the window (totp_window = 1 step each side): refused.
    auto far = *f.store->totp_code("acme", kNow + 150);
    if (far != *f.store->totp_code("acme", kNow + 60) &&
        far != *f.store->totp_code("acme", kNow + 90))
        assert_outcome(consume(*f.store, "acme", far, kNow + 60), CodeOutcome::wrong);
    // One step ahead is inside the window.
    auto ahead = *f.store->totp_code("acme", kNow + 120);
    assert_outcome(consume(*f.store, "acme", ahead, kNow + 90), CodeOutcome::accepted_totp);
    // An issued code and TOTP coexist.
    auto code = issue(*f.store, "acme", 600, kNow + 200);
    assert_outcome(consume(*f.store, "acme", code, kNow + 200), CodeOutcome::accepted_code);
    // A secret readable by others is refused.
    assert_int_equal(::chmod((f.dir / "state/totp/acme.json").c_str(), 0640), 0);
    assert_err(f.store->totp_code("acme", kNow), Code::insecure);
}

void forget_everything(void**) {
    Fixture f;
    assert_ok(f.store->put_grant(Grant{"acme", kNow, kNow + 60, "", "", ""}));
    issue(*f.store, "acme");
    assert_ok(f.store->totp_enroll("acme", "h"));
    consume(*f.store, "acme", "00");
    assert_ok(f.store->forget("acme"));
    assert_false(f.store->grant("acme")->has_value());
    assert_false(*f.store->has_code("acme", kNow));
    assert_false(*f.store->totp_enrolled("acme"));
    assert_int_equal(f.store->failures("acme")->count, 0);
    assert_ok(f.store->forget("acme"));
}

// N processes race to use one code: exactly one wins (single use is atomic
// across processes, not only within one).
void concurrent_consume(void**) {
    constexpr int kProcs = 8;
    Fixture f(100);
    auto code = issue(*f.store, "acme");
    int gate[2];
    assert_int_equal(::pipe(gate), 0);
    std::vector<pid_t> kids;
    for (int i = 0; i < kProcs; ++i) {
        pid_t pid = ::fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            ::close(gate[1]);
            char c;
            while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {}
            auto store = open_store(f.cfg);
            auto v = store->consume("acme", code, kNow);
            // A loser exits with 10 + the count it wrote.
            int rc = !v.ok()                                    ? 3
                     : v->outcome == CodeOutcome::accepted_code ? 0
                     : v->outcome == CodeOutcome::wrong         ? 10 + static_cast<int>(v->failures)
                                                                : 2;
            ::_exit(rc);
        }
        kids.push_back(pid);
    }
    ::close(gate[0]);
    ::usleep(200 * 1000);  // let every child reach the gate
    ::close(gate[1]);      // EOF: all start together
    int accepted = 0, wrong = 0, other = 0;
    std::map<int, int> counts;  // count a loser wrote -> how many losers wrote it
    for (pid_t pid : kids) {
        int status = 0;
        assert_int_equal(::waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status)) {
            ++other;
            continue;
        }
        int rc = WEXITSTATUS(status);
        if (rc == 0) ++accepted;
        else if (rc > 10 && rc <= 10 + kProcs) ++wrong, ++counts[rc - 10];
        else ++other;
    }
    if (accepted != 1 || wrong != kProcs - 1 || other != 0)
        fail_msg("%d accepted, %d wrong, %d other (expected 1, %d, 0)", accepted, wrong, other,
                 kProcs - 1);
    // No lost update: the losers before the winner counted 1..b (the winner
    // reset that), those after it 1..a, and the counter holds a.
    auto after = static_cast<int>(f.store->failures("acme")->count);
    int before = kProcs - 1 - after;
    for (int n = 1; n <= kProcs; ++n) {
        int want = (n <= before ? 1 : 0) + (n <= after ? 1 : 0);
        if (counts[n] != want)
            fail_msg("%d losers wrote count %d, expected %d (%d before, %d after the winner)",
                     counts[n], n, want, before, after);
    }
    assert_false(*f.store->has_code("acme", kNow));
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(grants),
        cmocka_unit_test(grant_files_checked),
        cmocka_unit_test(code_single_use),
        cmocka_unit_test(code_reading_forms),
        cmocka_unit_test(code_expiry_and_reissue),
        cmocka_unit_test(lockout),
        cmocka_unit_test(unlock_resets),
        cmocka_unit_test(counter_write_fails_never_compares),
        cmocka_unit_test(full_state_fs_keeps_lockout),
        cmocka_unit_test(lockout_arithmetic_pessimistic),
        cmocka_unit_test(totp),
        cmocka_unit_test(forget_everything),
        cmocka_unit_test(concurrent_consume),
    };
    return RUN_GROUP("store", tests);
}
