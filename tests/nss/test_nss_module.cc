// libnss_vendor.so.2 called directly through dlopen()/dlsym(), as glibc does
// (no wrapper in between): the exact status/errno contract of nss_vendor(8).
//   found            NSS_STATUS_SUCCESS, errno untouched
//   absent           NSS_STATUS_NOTFOUND, *errnop = ENOENT
//   buffer too small NSS_STATUS_TRYAGAIN, *errnop = ERANGE
//   index missing    NSS_STATUS_UNAVAIL,  *errnop = ENOENT
//   index unusable   NSS_STATUS_UNAVAIL,  *errnop = EIO (never a partial entry)
// glibc passes &errno as errnop, so most calls here do too: an error must
// survive the module's own errno bookkeeping.
#include <atomic>
#include <thread>

#include "nss_test.h"

using namespace nsst;
using vendor::nssidx::GroupRec;
using vendor::nssidx::Header;
using vendor::nssidx::UserRec;

namespace {

constexpr std::uint32_t kAlice = kMin + 1, kBob = kMin + 2, kCarol = kMin + 3, kLong = kMin + 40;
const std::string kLongName = "d_very-long-name-of-32-chars_xyz";  // the 32-character maximum

std::vector<NssUser> base_users() {
    return {mkuser("alice", kAlice, kGid, "Acme, database", {100, 29, 44}),
            mkuser("bob", kBob, kGid, "Acme"),
            mkuser("carol", kCarol, kGid, "", {100}, "/usr/bin/tlog-rec-session"),
            mkuser(kLongName, kLong, kGid, std::string(300, 'g'), {29})};
}
std::vector<NssGroup> base_groups() {
    return {mkgroup("vendors", kGid, {"alice", "bob"}), mkgroup("vdev", kGid + 10),
            mkgroup("vops", kGid + 11, {"carol", kLongName})};
}
std::string base_index() { return build(base_users(), base_groups()); }

// Every test starts from the base index, freshly installed and mapped.
int setup(void**) {
    install(base_index());
    if (pwnam("alice").st != NSS_STATUS_SUCCESS) return -1;
    return 0;
}

std::size_t pw_size(const NssUser& u) {
    return u.name.size() + 1 + 2 + u.gecos.size() + 1 + u.dir.size() + 1 + u.shell.size() + 1;
}
std::size_t gr_size(const NssGroup& g) {
    std::size_t n = (g.members.size() + 1) * sizeof(char*) + g.name.size() + 1 + 2;
    for (const auto& m : g.members) n += m.size() + 1;
    return n;
}
std::size_t sp_size(const NssUser& u) { return u.name.size() + 1 + 2; }

void check_pw(const passwd& p, const NssUser& u) {
    assert_str_eq(p.pw_name, u.name);
    assert_str_eq(p.pw_passwd, "x");
    assert_int_equal(p.pw_uid, u.uid);
    assert_int_equal(p.pw_gid, u.gid);
    assert_str_eq(p.pw_gecos, u.gecos);
    assert_str_eq(p.pw_dir, u.dir);
    assert_str_eq(p.pw_shell, u.shell);
}
void check_gr(const group& g, const NssGroup& want) {
    assert_str_eq(g.gr_name, want.name);
    assert_str_eq(g.gr_passwd, "x");
    assert_int_equal(g.gr_gid, want.gid);
    std::size_t i = 0;
    for (; g.gr_mem[i]; ++i) {
        if (i >= want.members.size())
            fail_msg("group %s: extra member %s", want.name.c_str(), g.gr_mem[i]);
        assert_str_eq(g.gr_mem[i], want.members[i]);
    }
    assert_int_equal(i, want.members.size());
}
void check_sp(const spwd& s, const NssUser& u) {
    assert_str_eq(s.sp_namp, u.name);
    assert_str_eq(s.sp_pwdp, "!");  // locked: pam_unix can never authenticate a vendor account
    assert_int_equal(s.sp_lstchg, -1);
    assert_int_equal(s.sp_min, -1);
    assert_int_equal(s.sp_max, -1);
    assert_int_equal(s.sp_warn, -1);
    assert_int_equal(s.sp_inact, -1);
    assert_int_equal(s.sp_expire, -1);
}

// Calls `call(buf, len)` for every len from 0 to exact + 16 with a heap
// buffer of exactly len bytes (ASan catches a byte written past it) and
// errnop == &errno, errno primed to 1234: TRYAGAIN/ERANGE below the exact
// size, SUCCESS with errno still 1234 from it on; `check` sees the result.
template <typename Call, typename Check>
void sweep(const char* what, std::size_t exact, Call call, Check check) {
    for (std::size_t len = 0; len <= exact + 16; ++len) {
        char* buf = static_cast<char*>(std::malloc(len));
        errno = 1234;
        int st = call(buf, len);
        int e = errno;
        if (len < exact) {
            if (st != NSS_STATUS_TRYAGAIN || e != ERANGE)
                fail_msg("%s with %zu of %zu bytes: %s, errno %d (expected TRYAGAIN, ERANGE)", what,
                         len, exact, status_name(st), e);
        } else {
            if (st != NSS_STATUS_SUCCESS || e != 1234)
                fail_msg(
                    "%s with %zu of %zu bytes: %s, errno %d (expected SUCCESS, errno untouched)",
                    what, len, exact, status_name(st), e);
            check();
        }
        std::free(buf);
    }
}

// ------------------------------------------------------------ lookups

void getpwnam_sweep(void**) {
    for (const auto& u : base_users()) {
        passwd p{};
        sweep(("getpwnam_r " + u.name).c_str(), pw_size(u),
              [&](char* b, size_t l) {
                  return module().getpwnam_r(u.name.c_str(), &p, b, l, &errno);
              },
              [&] { check_pw(p, u); });
    }
}

void getpwuid_sweep(void**) {
    for (const auto& u : base_users()) {
        passwd p{};
        sweep(("getpwuid_r " + u.name).c_str(), pw_size(u),
              [&](char* b, size_t l) { return module().getpwuid_r(u.uid, &p, b, l, &errno); },
              [&] { check_pw(p, u); });
    }
}

void getgrnam_sweep(void**) {
    for (const auto& g : base_groups()) {
        group gr{};
        sweep(("getgrnam_r " + g.name).c_str(), gr_size(g),
              [&](char* b, size_t l) {
                  return module().getgrnam_r(g.name.c_str(), &gr, b, l, &errno);
              },
              [&] { check_gr(gr, g); });
    }
}

void getgrgid_sweep(void**) {
    for (const auto& g : base_groups()) {
        group gr{};
        sweep(("getgrgid_r " + g.name).c_str(), gr_size(g),
              [&](char* b, size_t l) { return module().getgrgid_r(g.gid, &gr, b, l, &errno); },
              [&] { check_gr(gr, g); });
    }
}

void getspnam_sweep(void**) {
    for (const auto& u : base_users()) {
        spwd s{};
        sweep(("getspnam_r " + u.name).c_str(), sp_size(u),
              [&](char* b, size_t l) {
                  return module().getspnam_r(u.name.c_str(), &s, b, l, &errno);
              },
              [&] { check_sp(s, u); });
    }
}

// A group buffer that is not pointer-aligned costs the padding, no more.
void getgrnam_unaligned_buffer(void**) {
    NssGroup g = base_groups()[0];
    char* raw = static_cast<char*>(std::malloc(gr_size(g) + 64));
    for (std::size_t skew = 1; skew < sizeof(char*); ++skew) {
        std::size_t exact = gr_size(g) + (sizeof(char*) - skew);
        for (std::size_t len = 0; len <= exact; ++len) {
            group gr{};
            errno = 1234;
            int st = module().getgrnam_r("vendors", &gr, raw + skew, len, &errno);
            if (len < exact) assert_nss(st, errno, NSS_STATUS_TRYAGAIN, ERANGE);
            else {
                assert_nss(st, errno, NSS_STATUS_SUCCESS, 1234);
                assert_int_equal(reinterpret_cast<uintptr_t>(gr.gr_mem) % alignof(char*), 0);
                check_gr(gr, g);
            }
        }
    }
    std::free(raw);
}

// A separate errnop: the module writes the error there, and errno itself
// is left alone on every path.
void separate_errnop(void**) {
    passwd p{};
    group g{};
    spwd s{};
    char buf[2048];
    int err = 777;
    errno = 4321;
    assert_nss(module().getpwnam_r("alice", &p, buf, sizeof buf, &err), err, NSS_STATUS_SUCCESS,
               777);
    assert_nss(module().getpwnam_r("alice", &p, buf, 3, &err), err, NSS_STATUS_TRYAGAIN, ERANGE);
    assert_nss(module().getpwnam_r("zed", &p, buf, sizeof buf, &err), err, NSS_STATUS_NOTFOUND,
               ENOENT);
    err = 777;
    assert_nss(module().getgrgid_r(kGid, &g, buf, sizeof buf, &err), err, NSS_STATUS_SUCCESS, 777);
    assert_nss(module().getspnam_r("bob", &s, buf, sizeof buf, &err), err, NSS_STATUS_SUCCESS, 777);
    assert_int_equal(errno, 4321);
}

void absent(void**) {
    passwd p{};
    group g{};
    spwd s{};
    char buf[2048];
    const char* names[] = {"zed",     "alic", "alicee", "root",   "daemon",
                           "vendors", "",     "ALICE",  "alice ", "a:b"};
    for (const char* n : names) {
        errno = 1234;
        assert_nss(module().getpwnam_r(n, &p, buf, sizeof buf, &errno), errno, NSS_STATUS_NOTFOUND,
                   ENOENT);
        errno = 1234;
        assert_nss(module().getspnam_r(n, &s, buf, sizeof buf, &errno), errno, NSS_STATUS_NOTFOUND,
                   ENOENT);
    }
    for (const char* n : {"zed", "alice", "root", "", "sudo"}) {
        errno = 1234;
        assert_nss(module().getgrnam_r(n, &g, buf, sizeof buf, &errno), errno, NSS_STATUS_NOTFOUND,
                   ENOENT);
    }
    // Never a name longer than any account could have, nor a null one.
    std::string longer(33, 'a'), huge(100000, 'b');
    for (const char* n : {longer.c_str(), huge.c_str(), static_cast<const char*>(nullptr)}) {
        errno = 1234;
        assert_nss(module().getpwnam_r(n, &p, buf, sizeof buf, &errno), errno, NSS_STATUS_NOTFOUND,
                   ENOENT);
        errno = 1234;
        assert_nss(module().getgrnam_r(n, &g, buf, sizeof buf, &errno), errno, NSS_STATUS_NOTFOUND,
                   ENOENT);
        errno = 1234;
        assert_nss(module().getspnam_r(n, &s, buf, sizeof buf, &errno), errno, NSS_STATUS_NOTFOUND,
                   ENOENT);
    }
    for (uid_t id :
         {0u, 1u, 999u, 1000u, 65534u, kMin - 1, kMin + 5, kMax, kMax + 1, 0xFFFFFFFFu}) {
        errno = 1234;
        assert_nss(module().getpwuid_r(id, &p, buf, sizeof buf, &errno), errno, NSS_STATUS_NOTFOUND,
                   ENOENT);
        errno = 1234;
        assert_nss(module().getgrgid_r(id, &g, buf, sizeof buf, &errno), errno, NSS_STATUS_NOTFOUND,
                   ENOENT);
    }
    std::vector<gid_t> gids;
    int err = 0;
    assert_nss(initgroups("zed", kGid, gids, &err), err, NSS_STATUS_NOTFOUND, ENOENT);
    assert_nss(initgroups("", kGid, gids, &err), err, NSS_STATUS_NOTFOUND, ENOENT);
    // A too-small buffer for an absent name is still "absent", not "retry".
    errno = 1234;
    assert_nss(module().getpwnam_r("zed", &p, buf, 0, &errno), errno, NSS_STATUS_NOTFOUND, ENOENT);
}

// errno is untouched by every successful call, enumeration included.
void errno_preserved_on_success(void**) {
    auto& m = module();
    passwd p{};
    group g{};
    spwd s{};
    char buf[4096];
    auto ok = [](const char* what, int st) {
        if (st != NSS_STATUS_SUCCESS || errno != 1234)
            fail_msg("%s: %s, errno %d (expected SUCCESS, errno 1234)", what, status_name(st),
                     errno);
    };
    errno = 1234;
    ok("getpwnam_r", m.getpwnam_r("alice", &p, buf, sizeof buf, &errno));
    ok("getpwuid_r", m.getpwuid_r(kBob, &p, buf, sizeof buf, &errno));
    ok("getgrnam_r", m.getgrnam_r("vops", &g, buf, sizeof buf, &errno));
    ok("getgrgid_r", m.getgrgid_r(kGid, &g, buf, sizeof buf, &errno));
    ok("getspnam_r", m.getspnam_r("carol", &s, buf, sizeof buf, &errno));
    ok("setpwent", m.setpwent(0));
    ok("getpwent_r", m.getpwent_r(&p, buf, sizeof buf, &errno));
    ok("endpwent", m.endpwent());
    ok("setgrent", m.setgrent(1));
    ok("getgrent_r", m.getgrent_r(&g, buf, sizeof buf, &errno));
    ok("endgrent", m.endgrent());
    ok("setspent", m.setspent(0));
    ok("getspent_r", m.getspent_r(&s, buf, sizeof buf, &errno));
    ok("endspent", m.endspent());
    long start = 1, size = 1;
    auto* groups = static_cast<gid_t*>(std::malloc(sizeof(gid_t)));
    groups[0] = kGid;
    ok("initgroups_dyn", m.initgroups_dyn("alice", kGid, &start, &size, &groups, 0, &errno));
    std::free(groups);
    // A reload (new index) on the way is no excuse either.
    install(build({mkuser("alice", kAlice, kGid, "reloaded")}, base_groups()));
    errno = 1234;
    ok("getpwnam_r after reload", m.getpwnam_r("alice", &p, buf, sizeof buf, &errno));
    assert_str_eq(p.pw_gecos, "reloaded");
}

// ------------------------------------------------------------ shadow, groups

void shadow_locked(void**) {
    for (const auto& u : base_users()) {
        spwd s{};
        char buf[512];
        int err = 0;
        assert_nss(module().getspnam_r(u.name.c_str(), &s, buf, sizeof buf, &err), 0,
                   NSS_STATUS_SUCCESS, 0);
        check_sp(s, u);
    }
}

void initgroups_appends(void**) {
    std::vector<gid_t> gids;
    int err = 0;
    errno = 1234;
    assert_nss(initgroups("alice", kGid, gids, &err), errno, NSS_STATUS_SUCCESS, 1234);
    assert_true((gids == std::vector<gid_t>{kGid, 100, 29, 44}));
    // No supplementary group: nothing appended, still SUCCESS.
    assert_nss(initgroups("bob", kGid, gids, &err), 0, NSS_STATUS_SUCCESS, 0);
    assert_true((gids == std::vector<gid_t>{kGid}));
    assert_nss(initgroups(kLongName.c_str(), kGid, gids, &err), 0, NSS_STATUS_SUCCESS, 0);
    assert_true((gids == std::vector<gid_t>{kGid, 29}));
}

// glibc's contract: append from *start, skip `skip`, never a duplicate of
// what is already there, grow with realloc, and stop at `limit` when > 0.
void initgroups_skip_dup_limit(void**) {
    auto& m = module();
    int err = 0;
    {  // skip
        long start = 1, size = 1;
        auto* g = static_cast<gid_t*>(std::malloc(sizeof(gid_t)));
        g[0] = kGid;
        assert_nss(m.initgroups_dyn("alice", 29, &start, &size, &g, 0, &err), 0, NSS_STATUS_SUCCESS,
                   0);
        assert_int_equal(start, 3);
        assert_true(size >= start);
        assert_true(g[0] == kGid && g[1] == 100 && g[2] == 44);
        std::free(g);
    }
    {  // already present from an earlier source: not twice
        long start = 2, size = 2;
        auto* g = static_cast<gid_t*>(std::malloc(2 * sizeof(gid_t)));
        g[0] = kGid;
        g[1] = 44;
        assert_nss(m.initgroups_dyn("alice", kGid, &start, &size, &g, 0, &err), 0,
                   NSS_STATUS_SUCCESS, 0);
        assert_int_equal(start, 4);
        assert_true(g[0] == kGid && g[1] == 44 && g[2] == 100 && g[3] == 29);
        std::free(g);
    }
    for (long limit = 1; limit <= 5; ++limit) {  // limit
        long start = 1, size = 1;
        auto* g = static_cast<gid_t*>(std::malloc(sizeof(gid_t)));
        g[0] = kGid;
        assert_nss(m.initgroups_dyn("alice", kGid, &start, &size, &g, limit, &err), 0,
                   NSS_STATUS_SUCCESS, 0);
        long want = std::min(limit, 4L);
        if (start != want || size > std::max(limit, 1L))
            fail_msg("limit %ld: start %ld size %ld (expected start %ld, size <= limit)", limit,
                     start, size, want);
        const gid_t all[] = {kGid, 100, 29, 44};
        for (long i = 0; i < start; ++i) assert_int_equal(g[i], all[i]);
        std::free(g);
    }
    {  // a big array: no realloc, size unchanged
        long start = 1, size = 64;
        auto* g = static_cast<gid_t*>(std::malloc(64 * sizeof(gid_t)));
        gid_t* before = g;
        g[0] = kGid;
        assert_nss(m.initgroups_dyn("alice", kGid, &start, &size, &g, 0, &err), 0,
                   NSS_STATUS_SUCCESS, 0);
        assert_int_equal(start, 4);
        assert_int_equal(size, 64);
        assert_ptr_equal(g, before);
        std::free(g);
    }
    {  // an empty array from a caller with nothing yet
        long start = 0, size = 0;
        gid_t* g = nullptr;
        assert_nss(m.initgroups_dyn("alice", kGid, &start, &size, &g, 0, &err), 0,
                   NSS_STATUS_SUCCESS, 0);
        assert_int_equal(start, 3);
        assert_true(g[0] == 100 && g[1] == 29 && g[2] == 44);
        std::free(g);
    }
}

// ------------------------------------------------------------ enumeration

template <typename Ent, typename Set, typename Get, typename End>
std::vector<std::string> walk(Set set, Get get, End end, const char* (*name_of)(const Ent&)) {
    std::vector<std::string> names;
    Ent e{};
    char buf[4096];
    assert_int_equal(set(0), NSS_STATUS_SUCCESS);
    for (int i = 0; i < 100000; ++i) {
        int err = 0;
        int st = get(&e, buf, sizeof buf, &err);
        if (st == NSS_STATUS_NOTFOUND) {
            assert_int_equal(err, ENOENT);
            break;
        }
        assert_nss(st, err, NSS_STATUS_SUCCESS, 0);
        names.emplace_back(name_of(e));
    }
    // The end stays the end until the next set*ent.
    int err = 0;
    assert_nss(get(&e, buf, sizeof buf, &err), err, NSS_STATUS_NOTFOUND, ENOENT);
    assert_int_equal(end(), NSS_STATUS_SUCCESS);
    return names;
}

const char* pw_name_of(const passwd& p) { return p.pw_name; }
const char* gr_name_of(const group& g) { return g.gr_name; }
const char* sp_name_of(const spwd& s) { return s.sp_namp; }

void enumerate_all(void**) {
    auto& m = module();
    std::vector<std::string> want_users = {"alice", "bob", "carol", kLongName};  // uid order
    std::vector<std::string> want_groups = {"vendors", "vdev", "vops"};          // gid order
    auto pw = walk<passwd>(m.setpwent, m.getpwent_r, m.endpwent, pw_name_of);
    assert_true(pw == want_users);
    auto gr = walk<group>(m.setgrent, m.getgrent_r, m.endgrent, gr_name_of);
    assert_true(gr == want_groups);
    auto sp = walk<spwd>(m.setspent, m.getspent_r, m.endspent, sp_name_of);
    assert_true(sp == want_users);
    // getpwent_r without setpwent starts at the beginning, as glibc allows.
    passwd p{};
    char buf[4096];
    int err = 0;
    assert_nss(m.getpwent_r(&p, buf, sizeof buf, &err), 0, NSS_STATUS_SUCCESS, 0);
    assert_str_eq(p.pw_name, "alice");
    assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);
    // An empty index enumerates nothing, successfully.
    install(build({}, {}));
    assert_true(walk<passwd>(m.setpwent, m.getpwent_r, m.endpwent, pw_name_of).empty());
    assert_true(walk<group>(m.setgrent, m.getgrent_r, m.endgrent, gr_name_of).empty());
}

// An entry that does not fit comes again, whole, with a bigger buffer.
void enumerate_sweep(void**) {
    auto& m = module();
    assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
    for (const auto& u : base_users()) {
        const std::size_t exact = pw_size(u);
        passwd p{};
        for (std::size_t len = 0; len < exact; ++len) {
            char* buf = static_cast<char*>(std::malloc(len));
            errno = 1234;
            int st = m.getpwent_r(&p, buf, len, &errno);
            if (st != NSS_STATUS_TRYAGAIN || errno != ERANGE)
                fail_msg("getpwent_r %s with %zu of %zu bytes: %s, errno %d", u.name.c_str(), len,
                         exact, status_name(st), errno);
            std::free(buf);
        }
        char* buf = static_cast<char*>(std::malloc(exact));
        errno = 1234;
        assert_nss(m.getpwent_r(&p, buf, exact, &errno), errno, NSS_STATUS_SUCCESS, 1234);
        check_pw(p, u);
        std::free(buf);
    }
    m.endpwent();

    assert_int_equal(m.setgrent(0), NSS_STATUS_SUCCESS);
    for (const auto& g : base_groups()) {
        group gr{};
        char small[8];
        int err = 0;
        assert_nss(m.getgrent_r(&gr, small, sizeof small, &err), err, NSS_STATUS_TRYAGAIN, ERANGE);
        std::vector<char> buf(gr_size(g));
        assert_nss(m.getgrent_r(&gr, buf.data(), buf.size(), &err), 0, NSS_STATUS_SUCCESS, 0);
        check_gr(gr, g);
    }
    m.endgrent();

    assert_int_equal(m.setspent(0), NSS_STATUS_SUCCESS);
    for (const auto& u : base_users()) {
        spwd s{};
        std::vector<char> buf(sp_size(u));
        errno = 1234;
        assert_nss(m.getspent_r(&s, buf.data(), buf.size() - 1, &errno), errno, NSS_STATUS_TRYAGAIN,
                   ERANGE);
        errno = 1234;
        assert_nss(m.getspent_r(&s, buf.data(), buf.size(), &errno), errno, NSS_STATUS_SUCCESS,
                   1234);
        check_sp(s, u);
    }
    m.endspent();
}

// Walk half, replace the index with a different one, finish: every entry of
// the walk comes from the old snapshot, while point lookups already see the
// new index. The next setpwent starts over on the new one.
void enumerate_snapshot(void**) {
    auto& m = module();
    std::vector<NssUser> olds, news;
    for (std::uint32_t i = 0; i < 10; ++i) {
        olds.push_back(mkuser("old" + std::to_string(i), kMin + 100 + i, kGid, "old"));
        news.push_back(mkuser("new" + std::to_string(i), kMin + 200 + i, kGid, "new"));
    }
    news.push_back(mkuser("extra", kMin + 300, kGid, "new"));
    install(build(olds, {mkgroup("vendors", kGid, {"old0"}), mkgroup("oldgrp", kGid + 1)}));
    assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
    assert_int_equal(m.setgrent(0), NSS_STATUS_SUCCESS);
    passwd p{};
    group g{};
    char buf[4096];
    int err = 0;
    std::vector<std::string> seen;
    for (int i = 0; i < 5; ++i) {
        assert_nss(m.getpwent_r(&p, buf, sizeof buf, &err), 0, NSS_STATUS_SUCCESS, 0);
        seen.emplace_back(p.pw_name);
    }
    assert_nss(m.getgrent_r(&g, buf, sizeof buf, &err), 0, NSS_STATUS_SUCCESS, 0);
    assert_str_eq(g.gr_name, "vendors");
    assert_string_equal(g.gr_mem[0], "old0");

    install(build(news, {mkgroup("vendors", kGid, {"new0"}), mkgroup("newgrp", kGid + 2)}));
    assert_int_equal(pwnam("new3").st, NSS_STATUS_SUCCESS);  // point lookups: the new index
    assert_int_equal(pwnam("old3").st, NSS_STATUS_NOTFOUND);
    assert_int_equal(grnam("vendors").mem.at(0) == "new0", 1);

    int st;
    while ((st = m.getpwent_r(&p, buf, sizeof buf, &err)) == NSS_STATUS_SUCCESS) {
        assert_str_eq(p.pw_gecos, "old");
        seen.emplace_back(p.pw_name);
    }
    assert_nss(st, err, NSS_STATUS_NOTFOUND, ENOENT);
    std::vector<std::string> want;
    for (const auto& u : olds) want.push_back(u.name);
    assert_true(seen == want);
    assert_nss(m.getgrent_r(&g, buf, sizeof buf, &err), 0, NSS_STATUS_SUCCESS, 0);
    assert_str_eq(g.gr_name, "oldgrp");
    assert_nss(m.getgrent_r(&g, buf, sizeof buf, &err), err, NSS_STATUS_NOTFOUND, ENOENT);

    // Even with the old file deleted meanwhile, the walk has its snapshot;
    // setpwent restarts on what is there now.
    assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
    assert_nss(m.getpwent_r(&p, buf, sizeof buf, &err), 0, NSS_STATUS_SUCCESS, 0);
    assert_str_eq(p.pw_name, "new0");
    ::unlink(index_path().c_str());
    settle();  // removed by hand: seen at the module's next check of the path
    assert_int_equal(pwnam("new1").st, NSS_STATUS_UNAVAIL);
    std::size_t rest = 0;
    while (m.getpwent_r(&p, buf, sizeof buf, &err) == NSS_STATUS_SUCCESS) {
        assert_str_eq(p.pw_gecos, "new");
        ++rest;
    }
    assert_int_equal(rest, news.size() - 1);
    m.endpwent();
    m.endgrent();
    // Ended: no index, no enumeration.
    assert_int_equal(m.setpwent(0), NSS_STATUS_UNAVAIL);
    assert_nss(m.getpwent_r(&p, buf, sizeof buf, &err), err, NSS_STATUS_UNAVAIL, ENOENT);
    m.endpwent();
}

// ------------------------------------------------------------ unusable index

// Every entry point says UNAVAIL with `want_err` (and never a stale or
// partial entry), then recovers when a valid index is back.
void expect_unavail(const char* what, int want_err) {
    auto& m = module();
    passwd p{};
    group g{};
    spwd s{};
    char buf[4096];
    auto chk = [&](const char* fn, int st) {
        int e = errno;
        if (st != NSS_STATUS_UNAVAIL || e != want_err)
            fail_msg("%s: %s gave %s, errno %d (expected UNAVAIL, %d)", what, fn, status_name(st),
                     e, want_err);
    };
    errno = 0;
    chk("getpwnam_r", m.getpwnam_r("alice", &p, buf, sizeof buf, &errno));
    errno = 0;
    chk("getpwuid_r", m.getpwuid_r(kAlice, &p, buf, sizeof buf, &errno));
    errno = 0;
    chk("getpwnam_r (absent name)", m.getpwnam_r("zed", &p, buf, sizeof buf, &errno));
    errno = 0;
    chk("getgrnam_r", m.getgrnam_r("vendors", &g, buf, sizeof buf, &errno));
    errno = 0;
    chk("getgrgid_r", m.getgrgid_r(kGid, &g, buf, sizeof buf, &errno));
    errno = 0;
    chk("getspnam_r", m.getspnam_r("alice", &s, buf, sizeof buf, &errno));
    errno = 0;
    chk("getpwnam_r (tiny buffer)", m.getpwnam_r("alice", &p, buf, 1, &errno));
    long start = 1, size = 1;
    auto* groups = static_cast<gid_t*>(std::malloc(sizeof(gid_t)));
    groups[0] = kGid;
    errno = 0;
    chk("initgroups_dyn", m.initgroups_dyn("alice", kGid, &start, &size, &groups, 0, &errno));
    assert_int_equal(start, 1);
    std::free(groups);
    if (m.setpwent(0) != NSS_STATUS_UNAVAIL) fail_msg("%s: setpwent did not say UNAVAIL", what);
    errno = 0;
    chk("getpwent_r", m.getpwent_r(&p, buf, sizeof buf, &errno));
    m.endpwent();
    if (m.setgrent(0) != NSS_STATUS_UNAVAIL) fail_msg("%s: setgrent did not say UNAVAIL", what);
    errno = 0;
    chk("getgrent_r", m.getgrent_r(&g, buf, sizeof buf, &errno));
    m.endgrent();
    errno = 0;
    chk("getspent_r", m.getspent_r(&s, buf, sizeof buf, &errno));
    m.endspent();
}

void expect_recovers(const char* what) {
    install(base_index());
    Pw p = pwnam("alice");
    if (p.st != NSS_STATUS_SUCCESS) fail_msg("after %s: a valid index is not served again", what);
}

void index_missing(void**) {
    ::unlink(index_path().c_str());
    settle();
    expect_unavail("no index file", ENOENT);
    expect_recovers("no index file");
    rm_rf(index_dir());
    settle();
    expect_unavail("no index directory", ENOENT);
    mkdir_p(index_dir(), 0755);
    expect_recovers("no index directory");
}

struct Mutation {
    const char* name;
    void (*apply)(std::string& b);
};

UserRec get_user(const std::string& b, std::uint32_t i) {
    Header h = header_of(b);
    UserRec u;
    std::memcpy(&u, b.data() + h.users_off + i * sizeof(UserRec), sizeof u);
    return u;
}
void put_user(std::string& b, std::uint32_t i, const UserRec& u) {
    Header h = header_of(b);
    std::memcpy(b.data() + h.users_off + i * sizeof(UserRec), &u, sizeof u);
}
GroupRec get_group(const std::string& b, std::uint32_t i) {
    Header h = header_of(b);
    GroupRec g;
    std::memcpy(&g, b.data() + h.groups_off + i * sizeof(GroupRec), sizeof g);
    return g;
}
void put_group(std::string& b, std::uint32_t i, const GroupRec& g) {
    Header h = header_of(b);
    std::memcpy(b.data() + h.groups_off + i * sizeof(GroupRec), &g, sizeof g);
}
char* str_at(std::string& b, std::uint32_t off) {
    return b.data() + header_of(b).strings_off + off;
}

const Mutation kMutations[] = {
    {"empty file", [](std::string& b) { b.clear(); }},
    {"one byte", [](std::string& b) { b.resize(1); }},
    {"shorter than a header", [](std::string& b) { b.resize(sizeof(Header) - 1); }},
    {"header only", [](std::string& b) { b.resize(sizeof(Header)); }},
    {"truncated to half", [](std::string& b) { b.resize(b.size() / 2); }},
    {"truncated by one byte", [](std::string& b) { b.pop_back(); }},
    {"trailing garbage", [](std::string& b) { b += "XXXX"; }},
    {"wrong magic", [](std::string& b) { b[0] = 'X'; }},
    {"magic of another version", [](std::string& b) { b[6] = '2'; }},
    {"version 2",
     [](std::string& b) {
         Header h = header_of(b);
         h.version = 2;
         set_header(b, h);
     }},
    {"header_size 100",
     [](std::string& b) {
         Header h = header_of(b);
         h.header_size = 100;
         set_header(b, h);
     }},
    {"file_size lies",
     [](std::string& b) {
         Header h = header_of(b);
         h.file_size -= 4;
         set_header(b, h);
     }},
    {"bad checksum (body byte)", [](std::string& b) { b[b.size() - 2] ^= 0x01; }},
    {"bad checksum (field)",
     [](std::string& b) {
         Header h = header_of(b);
         h.checksum ^= 1;
         set_header(b, h);
     }},
    {"id range below 1000",
     [](std::string& b) {
         Header h = header_of(b);
         h.id_min = 999;
         set_header(b, h);
     }},
    {"id range from 0",
     [](std::string& b) {
         Header h = header_of(b);
         h.id_min = 0;
         set_header(b, h);
     }},
    {"id range upside down",
     [](std::string& b) {
         Header h = header_of(b);
         h.id_max = h.id_min - 1;
         set_header(b, h);
     }},
    {"uid below the header range",
     [](std::string& b) {
         UserRec u = get_user(b, 0);
         u.uid = 1500;
         put_user(b, 0, u);
         fix_checksum(b);
     }},
    {"uid 0",
     [](std::string& b) {
         UserRec u = get_user(b, 0);
         u.uid = 0;
         put_user(b, 0, u);
         fix_checksum(b);
     }},
    {"uid above the header range",
     [](std::string& b) {
         UserRec u = get_user(b, 3);
         u.uid = kMax + 1;
         put_user(b, 3, u);
         fix_checksum(b);
     }},
    {"primary gid 0",
     [](std::string& b) {
         UserRec u = get_user(b, 1);
         u.gid = 0;
         put_user(b, 1, u);
         fix_checksum(b);
     }},
    {"users not sorted by uid",
     [](std::string& b) {
         UserRec a = get_user(b, 0), c = get_user(b, 1);
         put_user(b, 0, c);
         put_user(b, 1, a);
         fix_checksum(b);
     }},
    {"duplicate uid",
     [](std::string& b) {
         UserRec u = get_user(b, 1);
         u.uid = get_user(b, 0).uid;
         put_user(b, 1, u);
         fix_checksum(b);
     }},
    {"name index out of range",
     [](std::string& b) {
         Header h = header_of(b);
         std::uint32_t v = 99;
         std::memcpy(b.data() + h.users_by_name_off, &v, 4);
         fix_checksum(b);
     }},
    {"name index not sorted",
     [](std::string& b) {
         Header h = header_of(b);
         std::uint32_t x, y;
         std::memcpy(&x, b.data() + h.users_by_name_off, 4);
         std::memcpy(&y, b.data() + h.users_by_name_off + 4, 4);
         std::memcpy(b.data() + h.users_by_name_off, &y, 4);
         std::memcpy(b.data() + h.users_by_name_off + 4, &x, 4);
         fix_checksum(b);
     }},
    {"name index repeats an entry",
     [](std::string& b) {
         Header h = header_of(b);
         std::memcpy(b.data() + h.users_by_name_off + 4, b.data() + h.users_by_name_off, 4);
         fix_checksum(b);
     }},
    {"name string past the strings block",
     [](std::string& b) {
         UserRec u = get_user(b, 0);
         u.name = header_of(b).strings_size;
         put_user(b, 0, u);
         fix_checksum(b);
     }},
    // Found by fuzz_index: the name-order check read the name of a record
    // the validator had not reached yet.
    {"name index reaches an unchecked record",
     [](std::string& b) {
         Header h = header_of(b);
         UserRec u = get_user(b, 3);
         u.name = 0x7FFFFFF0;
         put_user(b, 3, u);
         const std::uint32_t order[] = {0, 3, 1, 2};
         std::memcpy(b.data() + h.users_by_name_off, order, sizeof order);
         fix_checksum(b);
     }},
    {"group name index reaches an unchecked record",
     [](std::string& b) {
         Header h = header_of(b);
         GroupRec g = get_group(b, 2);
         g.name = 0x7FFFFFF0;
         put_group(b, 2, g);
         const std::uint32_t order[] = {1, 2, 0};
         std::memcpy(b.data() + h.groups_by_name_off, order, sizeof order);
         fix_checksum(b);
     }},
    {"name with a colon",
     [](std::string& b) {
         str_at(b, get_user(b, 1).name)[1] = ':';
         fix_checksum(b);
     }},
    {"name with a newline",
     [](std::string& b) {
         str_at(b, get_user(b, 1).name)[0] = '\n';
         fix_checksum(b);
     }},
    {"empty name",
     [](std::string& b) {
         UserRec u = get_user(b, 0);
         u.name = 0;
         put_user(b, 0, u);
         fix_checksum(b);
     }},
    {"gecos with a newline",
     [](std::string& b) {
         str_at(b, get_user(b, 0).gecos)[2] = '\n';
         fix_checksum(b);
     }},
    {"relative home",
     [](std::string& b) {
         str_at(b, get_user(b, 0).dir)[0] = 'h';
         fix_checksum(b);
     }},
    {"empty shell",
     [](std::string& b) {
         UserRec u = get_user(b, 0);
         u.shell = 0;
         put_user(b, 0, u);
         fix_checksum(b);
     }},
    {"strings not terminated",
     [](std::string& b) {
         Header h = header_of(b);
         b[h.strings_off + h.strings_size - 1] = 'x';
         fix_checksum(b);
     }},
    {"strings block empty",
     [](std::string& b) {
         Header h = header_of(b);
         h.strings_size = 0;
         set_header(b, h);
     }},
    {"strings block past the end",
     [](std::string& b) {
         Header h = header_of(b);
         h.strings_size += 1;
         set_header(b, h);
     }},
    {"users section past the end",
     [](std::string& b) {
         Header h = header_of(b);
         h.n_users = 1000000;
         set_header(b, h);
     }},
    {"users section overflows 32 bits",
     [](std::string& b) {
         Header h = header_of(b);
         h.users_off = 0xFFFFFFF0u;
         set_header(b, h);
     }},
    {"section inside the header",
     [](std::string& b) {
         Header h = header_of(b);
         h.users_off = 8;
         set_header(b, h);
     }},
    {"misaligned section",
     [](std::string& b) {
         Header h = header_of(b);
         h.pool_off += 1;
         set_header(b, h);
     }},
    {"gid list past the pool",
     [](std::string& b) {
         UserRec u = get_user(b, 0);
         u.sup_off = header_of(b).pool_count;
         put_user(b, 0, u);
         fix_checksum(b);
     }},
    {"65 supplementary groups",
     [](std::string& b) {
         UserRec u = get_user(b, 0);
         u.sup_off = 0;
         u.sup_count = 65;
         put_user(b, 0, u);
         fix_checksum(b);
     }},
    {"group gid below the range",
     [](std::string& b) {
         GroupRec g = get_group(b, 0);
         g.gid = 27;
         put_group(b, 0, g);
         fix_checksum(b);
     }},
    {"groups not sorted by gid",
     [](std::string& b) {
         GroupRec a = get_group(b, 0), c = get_group(b, 1);
         put_group(b, 0, c);
         put_group(b, 1, a);
         fix_checksum(b);
     }},
    {"member list past the pool",
     [](std::string& b) {
         GroupRec g = get_group(b, 0);
         g.mem_count = 100000;
         put_group(b, 0, g);
         fix_checksum(b);
     }},
    {"member name past the strings",
     [](std::string& b) {
         Header h = header_of(b);
         GroupRec g = get_group(b, 0);
         std::uint32_t v = 0x7FFFFFFF;
         std::memcpy(b.data() + h.pool_off + g.mem_off * 4, &v, 4);
         fix_checksum(b);
     }},
    {"group name index out of range",
     [](std::string& b) {
         Header h = header_of(b);
         std::uint32_t v = 7;
         std::memcpy(b.data() + h.groups_by_name_off, &v, 4);
         fix_checksum(b);
     }},
    {"all zeroes", [](std::string& b) { b.assign(b.size(), '\0'); }},
    {"all 0xff", [](std::string& b) { b.assign(b.size(), '\xff'); }},
    {"random bytes after a valid header",
     [](std::string& b) {
         std::uint32_t x = 2463534242u;
         for (std::size_t i = sizeof(Header); i < b.size(); ++i) {
             x ^= x << 13;
             x ^= x >> 17;
             x ^= x << 5;
             b[i] = static_cast<char>(x);
         }
     }},
    {"random bytes, checksum fixed",
     [](std::string& b) {
         std::uint32_t x = 88172645u;
         for (std::size_t i = sizeof(Header); i < b.size(); ++i) {
             x ^= x << 13;
             x ^= x >> 17;
             x ^= x << 5;
             b[i] = static_cast<char>(x);
         }
         fix_checksum(b);
     }},
};

void index_corrupt(void**) {
    const std::string good = base_index();
    for (const auto& mu : kMutations) {
        install(good);
        if (pwnam("alice").st != NSS_STATUS_SUCCESS) fail_msg("%s: base index not served", mu.name);
        std::string bad = good;
        mu.apply(bad);
        // The reader of the module and of the writer's self-check agree.
        vendor::nssidx::View v;
        if (v.open(bad.data(), bad.size()) == nullptr)
            fail_msg("%s: View::open accepted it", mu.name);
        install(bad);
        expect_unavail(mu.name, EIO);
        expect_recovers(mu.name);
    }
}

// The writer never produces what the reader refuses, and refuses ids below
// the floor itself.
void writer_refuses_below_floor(void**) {
    assert_false(vendor::core::build_nss_index({}, {}, 999, kMax).ok());
    assert_false(vendor::core::build_nss_index({}, {}, 0, 5000).ok());
    assert_false(
        vendor::core::build_nss_index({mkuser("root2", 0, kGid, "")}, {}, kMin, kMax).ok());
    assert_false(
        vendor::core::build_nss_index({mkuser("low", 1500, kGid, "")}, {}, kMin, kMax).ok());
    assert_false(
        vendor::core::build_nss_index({mkuser("lowgid", kAlice, 0, "")}, {}, kMin, kMax).ok());
    assert_false(vendor::core::build_nss_index({}, {mkgroup("sudo2", 27)}, kMin, kMax).ok());
    // At the floor itself it is fine: 1000 is the first id the module may serve.
    install(build({mkuser("floor", 1000, 1000, "")}, {mkgroup("floorg", 1000)}, 1000, 1999));
    assert_int_equal(pwuid(1000).st, NSS_STATUS_SUCCESS);
    assert_int_equal(grgid(1000).st, NSS_STATUS_SUCCESS);
    assert_int_equal(pwuid(999).st, NSS_STATUS_NOTFOUND);
    assert_int_equal(pwuid(0).st, NSS_STATUS_NOTFOUND);
}

// The id floor also holds for what a lookup could be asked: root, system
// accounts and ids outside the range are never answered from an index.
void id_floor_header(void**) {
    std::string b = base_index();
    Header h = header_of(b);
    for (std::uint32_t low : {0u, 1u, 500u, 999u}) {
        Header x = h;
        x.id_min = low;
        set_header(b, x);
        install(b);
        expect_unavail(("header id_min " + std::to_string(low)).c_str(), EIO);
    }
    expect_recovers("header id floor");
    assert_int_equal(pwnam("root").st, NSS_STATUS_NOTFOUND);
    assert_int_equal(pwuid(0).st, NSS_STATUS_NOTFOUND);
    assert_int_equal(grgid(0).st, NSS_STATUS_NOTFOUND);
}

// A file above the module's size cap is refused before it is mapped.
void index_too_large(void**) {
    std::string tmp = index_dir() + "/big";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    std::string good = base_index();
    assert_int_equal(::write(fd, good.data(), good.size()), static_cast<ssize_t>(good.size()));
    assert_int_equal(::ftruncate(fd, static_cast<off_t>(vendor::nssidx::kMaxFile + 1)),
                     0);  // sparse
    ::close(fd);
    assert_int_equal(::rename(tmp.c_str(), index_path().c_str()), 0);
    settle();
    expect_unavail("index above the size cap", EIO);
    expect_recovers("index above the size cap");
}

// ------------------------------------------------------------ insecure index

void make_absent_then(const std::function<void()>& f) {
    // Drop the module's current mapping first: "fresh" means never mapped.
    ::unlink(index_path().c_str());
    settle();
    assert_int_equal(pwnam("alice").st, NSS_STATUS_UNAVAIL);
    f();
}

void insecure_fresh(void**) {
    const std::string good = base_index();
    // World-writable, group-writable.
    for (mode_t mode : {0666, 0646, 0664, 0620, 0602}) {
        make_absent_then([&] {
            install(good, 0644);
            assert_int_equal(::chmod(index_path().c_str(), mode), 0);
        });
        expect_unavail(("mode " + std::to_string(mode)).c_str(), EIO);
        expect_recovers("insecure mode");
    }
    // Not owned by root.
    for (uid_t owner : {1u, 65534u, kAlice}) {
        make_absent_then([&] {
            install(good);
            assert_int_equal(::chown(index_path().c_str(), owner, 0), 0);
        });
        expect_unavail(("owner " + std::to_string(owner)).c_str(), EIO);
        expect_recovers("foreign owner");
    }
    // A symlink to a perfectly good index.
    make_absent_then([&] {
        write_file(root() + "/elsewhere", good, 0644);
        assert_int_equal(::symlink((root() + "/elsewhere").c_str(), index_path().c_str()), 0);
    });
    expect_unavail("symlink", EIO);
    ::unlink(index_path().c_str());
    expect_recovers("symlink");
    // Not a regular file: a directory, a FIFO (must not block), /dev/null.
    make_absent_then([&] { assert_int_equal(::mkdir(index_path().c_str(), 0755), 0); });
    expect_unavail("directory", EIO);
    ::rmdir(index_path().c_str());
    make_absent_then([&] { assert_int_equal(::mkfifo(index_path().c_str(), 0644), 0); });
    expect_unavail("fifo", EIO);
    ::unlink(index_path().c_str());
    make_absent_then([&] { assert_int_equal(::symlink("/dev/null", index_path().c_str()), 0); });
    expect_unavail("symlink to /dev/null", EIO);
    ::unlink(index_path().c_str());
    expect_recovers("not a regular file");
}

// The same changes made to the index the module has already mapped: noticed
// at the module's next check of the path, at most kRecheckMs plus one clock
// tick later (the mapping is no longer a trusted file).
void insecure_in_place(void**) {
    const std::string good = base_index();
    for (mode_t mode : {0666, 0664, 0646}) {
        install(good);
        assert_int_equal(pwnam("alice").st, NSS_STATUS_SUCCESS);
        assert_int_equal(::chmod(index_path().c_str(), mode), 0);
        settle();
        expect_unavail(("chmod in place to " + std::to_string(mode)).c_str(), EIO);
    }
    expect_recovers("chmod in place");
    install(good);
    assert_int_equal(pwnam("alice").st, NSS_STATUS_SUCCESS);
    assert_int_equal(::chown(index_path().c_str(), 1, 0), 0);
    settle();
    expect_unavail("chown in place", EIO);
    expect_recovers("chown in place");
    // The very file the module has mapped, now reached through a symlink.
    install(good);
    assert_int_equal(pwnam("alice").st, NSS_STATUS_SUCCESS);
    std::string real = root() + "/index.real";
    assert_int_equal(::rename(index_path().c_str(), real.c_str()), 0);
    assert_int_equal(::symlink(real.c_str(), index_path().c_str()), 0);
    settle();
    expect_unavail("mapped file behind a symlink", EIO);
    ::unlink(index_path().c_str());
    ::unlink(real.c_str());
    expect_recovers("symlink in place");
}

// The mapped file changed in place (cp over it truncates it first, an
// editor rewrites it): the very next lookup, with no wait, must neither read
// the mapping (a truncated page is a SIGBUS in the caller: sshd, cron) nor
// serve unvalidated bytes; it answers UNAVAIL until a valid index is back.
void changed_in_place_seen_at_once(void**) {
    const std::string good = base_index();
    // Truncated to nothing, then to half (cp writes after truncating).
    for (std::size_t keep : {std::size_t{0}, good.size() / 2}) {
        install(good);
        assert_int_equal(pwnam("alice").st, NSS_STATUS_SUCCESS);
        int fd = ::open(index_path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        if (keep) assert_int_equal(::write(fd, good.data(), keep), static_cast<ssize_t>(keep));
        ::close(fd);
        expect_unavail(keep ? "truncated to half in place" : "truncated in place", EIO);
        expect_recovers("truncated in place");
    }
    // The same size, other bytes: a record's string offset now out of range.
    install(good);
    assert_int_equal(pwnam("alice").st, NSS_STATUS_SUCCESS);
    std::string bad = good;
    for (std::size_t i = sizeof(vendor::nssidx::Header); i < bad.size(); ++i) bad[i] = '\xff';
    int fd = ::open(index_path().c_str(), O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(::pwrite(fd, bad.data(), bad.size(), 0), static_cast<ssize_t>(bad.size()));
    ::close(fd);
    expect_unavail("rewritten in place, same size", EIO);
    expect_recovers("rewritten in place");
}

// The application closes the descriptor the module keeps for the mapped
// index and gets its number back for a file of its own (daemons close every
// fd): lookups go on, and the module never closes the application's fd,
// neither then nor when the old mapping is dropped after a replacement.
void kept_fd_closed_by_the_application(void**) {
    install(base_index());
    assert_int_equal(pwnam("alice").st, NSS_STATUS_SUCCESS);
    int ours = -1;
    for (int fd = 3; fd < 1024 && ours < 0; ++fd) {
        char link[64], target[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = ::readlink(link, target, sizeof target - 1);
        if (n > 0 && std::string(target, static_cast<std::size_t>(n)) == index_path()) ours = fd;
    }
    assert_true(ours >= 3);
    assert_int_equal(::close(ours), 0);
    int theirs = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_int_equal(theirs, ours);  // the lowest free number: the same one
    for (int i = 0; i < 3; ++i) assert_int_equal(pwnam("alice").st, NSS_STATUS_SUCCESS);
    install(build({mkuser("alice", kAlice, kGid, "v2")}, {}));
    assert_int_equal(pwnam("alice").st, NSS_STATUS_SUCCESS);
    assert_true(::fcntl(theirs, F_GETFD) >= 0);  // still open: not closed by the module
    struct stat st {};
    assert_int_equal(::fstat(theirs, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    ::close(theirs);
    expect_recovers("kept fd closed by the application");
}

// ------------------------------------------------------------ reload, scale

// Every replacement is seen by the very next call, even several within one
// timestamp tick with the same size (vendorctl replaces by rename).
void reload_every_replacement(void**) {
    std::vector<std::string> versions;
    for (char c : std::string("ABCDEFGH"))
        versions.push_back(build({mkuser("alice", kAlice, kGid, std::string("v") + c)}, {}));
    for (int round = 0; round < 50; ++round) {
        const std::string& v = versions[static_cast<std::size_t>(round) % versions.size()];
        install(v);
        Pw p = pwnam("alice");
        assert_int_equal(p.st, NSS_STATUS_SUCCESS);
        assert_str_eq(p.gecos, std::string("v") + "ABCDEFGH"[round % 8]);
    }
}

// ------------------------------------------------------------ the superseded mark

std::string one_user(const char* gecos) {
    return build({mkuser("alice", kAlice, kGid, gecos)}, {});
}

std::string gecos_now() {
    Pw p = pwnam("alice");
    if (p.st != NSS_STATUS_SUCCESS) fail_msg("alice: %s", status_name(p.st));
    return p.gecos;
}

std::uint32_t mark_of(const std::string& path) {
    std::string b = read_file(path);
    assert_true(b.size() >= sizeof(Header));
    return header_of(b).superseded;
}

// The writer marks the file it replaces, in place (same inode, same size,
// nothing else changed), and never marks the new one.
void writer_marks_the_old_file(void**) {
    const std::string a = one_user("A");
    install(a);
    assert_str_eq(gecos_now(), "A");
    std::string kept = root() + "/index.kept";
    assert_int_equal(::link(index_path().c_str(), kept.c_str()), 0);
    install(one_user("B"));
    std::string old = read_file(kept);
    assert_int_equal(old.size(), a.size());  // never truncated: readers map it
    assert_int_equal(header_of(old).superseded, 1);
    std::string unmarked = old;
    Header h = header_of(unmarked);
    h.superseded = 0;
    set_header(unmarked, h);
    assert_true(unmarked == a);
    assert_int_equal(mark_of(index_path()), 0);
    // The mark is outside the checksum: a marked index is still valid.
    vendor::nssidx::View v;
    assert_null(v.open(old.data(), old.size()));
    ::unlink(kept.c_str());
}

// A writer killed between its mark and its rename (simulated: the mark
// written, no rename): the old index is still the one at the path and is
// served; any replacement from then on is seen by the very next call, even
// one that sets no mark; the next install clears the state (new file).
void writer_crash_between_mark_and_rename(void**) {
    install(one_user("A"));
    assert_str_eq(gecos_now(), "A");
    int fd = ::open(index_path().c_str(), O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    const std::uint32_t one = 1;
    assert_int_equal(::pwrite(fd, &one, sizeof one, vendor::nssidx::kSupersededOffset), sizeof one);
    ::close(fd);
    for (int i = 0; i < 3; ++i) assert_str_eq(gecos_now(), "A");
    install_out_of_band(one_user("B"));  // no mark on top of the existing one
    assert_str_eq(gecos_now(), "B");
    install(one_user("C"));
    assert_str_eq(gecos_now(), "C");
    install(one_user("D"));
    assert_str_eq(gecos_now(), "D");
}

// A replacement that sets no mark (mv of a prepared file, cp to a temporary
// name and mv, an old vendorctl): seen within the bound. Deterministic: any
// call made once the bound has passed must see it, however late the
// scheduler runs us. The measured staleness is printed.
void out_of_band_seen_within_bound(void**) {
    const double bound_ms = static_cast<double>(vendor::nssidx::kRecheckMs) +
                            static_cast<double>(coarse_tick_ns()) / 1e6;
    double worst = 0;
    for (int round = 0; round < 20; ++round) {
        const char* from = round % 2 ? "B" : "A";
        const char* to = round % 2 ? "A" : "B";
        install(one_user(from));
        assert_str_eq(gecos_now(), from);
        install_out_of_band(one_user(to));
        timespec t0{}, t1{};
        ::clock_gettime(CLOCK_MONOTONIC, &t0);
        // Poll as a busy process would, until the new entry comes, or well
        // past the bound.
        double ms = 0;
        while (gecos_now() != to) {
            ::clock_gettime(CLOCK_MONOTONIC, &t1);
            ms = static_cast<double>(t1.tv_sec - t0.tv_sec) * 1e3 +
                 static_cast<double>(t1.tv_nsec - t0.tv_nsec) / 1e6;
            if (ms > 10 * bound_ms + 1000) fail_msg("round %d: not seen after %.1f ms", round, ms);
        }
        worst = std::max(worst, ms);
        // The promise itself: after the bound, the very next call.
        install(one_user(from));
        assert_str_eq(gecos_now(), from);
        install_out_of_band(one_user(to));
        settle();
        if (gecos_now() != to)
            fail_msg("round %d: an unmarked replacement not seen %.1f ms later", round, bound_ms);
    }
    // The polling figure also holds the scheduler's delays (a loaded machine,
    // a sanitizer build); the promise is the deterministic check above.
    std::printf("# unmarked replacement: polling saw it after at most %.1f ms; every call "
                "%.1f ms after it saw it\n",
                worst, bound_ms + 1.0);
}

// The writer writes its mark only into the regular file at the path: never
// through a symlink put there (into whatever it points at), never into a
// FIFO (opening it would block or wake a reader); both are just replaced.
void writer_marks_nothing_else(void**) {
    const std::string victim = root() + "/victim", a = one_user("A");
    write_file(victim, a, 0644);
    ::unlink(index_path().c_str());
    assert_int_equal(::symlink(victim.c_str(), index_path().c_str()), 0);
    settle();
    assert_int_equal(pwnam("alice").st, NSS_STATUS_UNAVAIL);
    install(one_user("B"));
    assert_str_eq(gecos_now(), "B");
    assert_true(read_file(victim) == a);
    ::unlink(victim.c_str());
    ::unlink(index_path().c_str());
    assert_int_equal(::mkfifo(index_path().c_str(), 0644), 0);
    settle();
    assert_int_equal(pwnam("alice").st, NSS_STATUS_UNAVAIL);
    install(one_user("C"));
    assert_str_eq(gecos_now(), "C");
}

// A file whose mark is already set when it is mapped (a hard link of an old
// index put back by hand) is served, and with it every call looks at the
// path: the next replacement, marked or not, is seen by the next call.
void superseded_file_restored(void**) {
    install(one_user("A"));
    std::string kept = root() + "/index.kept";
    assert_int_equal(::link(index_path().c_str(), kept.c_str()), 0);
    install(one_user("B"));
    assert_int_equal(mark_of(kept), 1);
    assert_int_equal(::rename(kept.c_str(), index_path().c_str()), 0);
    settle();
    assert_str_eq(gecos_now(), "A");
    install_out_of_band(one_user("C"));
    assert_str_eq(gecos_now(), "C");
}

// Writers serialize on the directory's flock (one per open file, so two
// threads of one process contend like two vendorctl processes): both finish
// without error or leftover temporary file, and the next install is served.
void concurrent_writers(void**) {
    const std::string va = one_user("A"), vb = one_user("B");
    std::atomic<int> errors{0};
    auto writer = [&](const std::string& mine, const std::string& theirs) {
        for (int i = 0; i < 40; ++i) {
            auto st = vendor::core::install_nss_index(index_path(), i % 2 ? theirs : mine);
            if (!st) errors++;
        }
    };
    std::thread t1(writer, va, vb), t2(writer, vb, va);
    t1.join();
    t2.join();
    assert_int_equal(errors.load(), 0);
    install(one_user("Z"));
    assert_str_eq(gecos_now(), "Z");
    // No temporary file left behind, only the index.
    auto names = vendor::core::list_dir(index_dir(), true);
    assert_true(names.ok());
    assert_int_equal(names->size(), 1);
}

void large_index(void**) {
    const std::uint32_t n = 20000;
    std::vector<NssUser> users;
    std::vector<std::string> members;
    for (std::uint32_t i = 0; i < n; ++i) {
        // Names in an order unrelated to uids, so both indexes matter.
        std::uint32_t k = (i * 7919u) % n;
        users.push_back(mkuser("v" + std::to_string(k), kMin + 1 + i, kGid,
                               "Vendor " + std::to_string(i), {100 + (i % 64)}));
        if (i < 300) members.push_back("v" + std::to_string(k));
    }
    install(build(users, {mkgroup("vendors", kGid, members)}));
    for (std::uint32_t i = 0; i < n; ++i) {
        const auto& u = users[i];
        Pw a = pwnam(u.name.c_str());
        Pw b = pwuid(u.uid);
        if (a.st != NSS_STATUS_SUCCESS || a.uid != u.uid || b.st != NSS_STATUS_SUCCESS ||
            b.name != u.name)
            fail_msg("%s/%u not found both ways", u.name.c_str(), u.uid);
    }
    for (std::uint32_t i = 0; i < 2000; ++i) {
        assert_int_equal(pwnam(("w" + std::to_string(i)).c_str()).st, NSS_STATUS_NOTFOUND);
        assert_int_equal(pwuid(kMin + n + 1 + i).st, NSS_STATUS_NOTFOUND);
    }
    Gr g = grgid(kGid);
    assert_int_equal(g.st, NSS_STATUS_SUCCESS);
    assert_int_equal(g.mem.size(), 300);
    auto& m = module();
    std::size_t count = 0;
    passwd p{};
    char buf[512];
    int err = 0;
    m.setpwent(0);
    while (m.getpwent_r(&p, buf, sizeof buf, &err) == NSS_STATUS_SUCCESS) ++count;
    m.endpwent();
    assert_int_equal(count, n);
}

// ------------------------------------------------------------ name hash

using vendor::nssidx::HashHead;
using vendor::nssidx::name_hash;
using vendor::nssidx::Slot;

HashHead hash_head(const std::string& b, bool users) {
    Header h = header_of(b);
    HashHead hh;
    std::memcpy(&hh, b.data() + (users ? h.users_hash_off : h.groups_hash_off), sizeof hh);
    return hh;
}
Slot get_slot(const std::string& b, bool users, std::uint32_t s) {
    Header h = header_of(b);
    Slot sl;
    std::memcpy(&sl,
                b.data() + (users ? h.users_hash_off : h.groups_hash_off) + sizeof(HashHead) +
                    s * sizeof(Slot),
                sizeof sl);
    return sl;
}
void put_slot(std::string& b, bool users, std::uint32_t s, const Slot& sl) {
    Header h = header_of(b);
    std::memcpy(b.data() + (users ? h.users_hash_off : h.groups_hash_off) + sizeof(HashHead) +
                    s * sizeof(Slot),
                &sl, sizeof sl);
}
void put_head(std::string& b, bool users, const HashHead& hh) {
    Header h = header_of(b);
    std::memcpy(b.data() + (users ? h.users_hash_off : h.groups_hash_off), &hh, sizeof hh);
}

// `count` names "c<k>" whose home slot in a table of `slots` is `home`; the
// first `skip` such names are passed over (to get misses with the same home).
std::vector<std::string> colliding(std::uint32_t slots, std::uint32_t home, std::size_t count,
                                   std::size_t skip = 0) {
    std::vector<std::string> out;
    for (std::uint32_t k = 0; out.size() < count; ++k) {
        std::string n = "c" + std::to_string(k);
        if ((name_hash(n.c_str()) & (slots - 1)) != home) continue;
        if (skip) {
            --skip;
            continue;
        }
        out.push_back(n);
    }
    return out;
}

// 8 users and 8 groups in 16-slot tables (2 per record), all with the same
// home: 15, the last slot, so the chain also wraps round to slot 0.
std::vector<std::string> g_chain, g_chain_miss;
std::string collided_index() {
    if (g_chain.empty()) {
        auto all = colliding(16, 15, 12);
        g_chain.assign(all.begin(), all.begin() + 8);
        g_chain_miss.assign(all.begin() + 8, all.end());
    }
    std::vector<NssUser> users;
    std::vector<NssGroup> groups;
    for (std::uint32_t i = 0; i < g_chain.size(); ++i) {
        users.push_back(mkuser(g_chain[i], kMin + 1 + i, kGid, "c"));
        groups.push_back(mkgroup(g_chain[i], kGid + 1 + i, {g_chain[i]}));
    }
    return build(users, groups);
}

// Every name at several sizes is found through the hash section (and agrees
// with the binary search it replaces); names not there are NOTFOUND.
void name_hash_every_name(void**) {
    for (std::uint32_t n : {1u, 2u, 3u, 31u, 32u, 33u, 1000u, 30000u}) {
        std::vector<NssUser> users;
        std::vector<NssGroup> groups;
        for (std::uint32_t i = 0; i < n; ++i) {
            std::string name = "v" + std::to_string((i * 7919u) % 1000003u);
            users.push_back(mkuser(name, kMin + 1 + i, kGid, "x"));
            groups.push_back(mkgroup("g" + name, kGid + 1 + i));
        }
        std::string b = build(users, groups);
        vendor::nssidx::View v;
        assert_null(v.open(b.data(), b.size()));
        assert_true(v.has_user_hash() && v.has_group_hash());
        HashHead uh = hash_head(b, true);
        assert_true(uh.slots >= 2 * n && uh.max_probe >= 1 &&
                    uh.max_probe <= vendor::nssidx::kMaxProbe);
        install(b);
        for (std::uint32_t i = 0; i < n; ++i) {
            const char* name = users[i].name.c_str();
            if (v.find_user_by_name(name) != v.by_name_search(name))
                fail_msg("n=%u: hash and binary search disagree on %s", n, name);
            Pw p = pwnam(name);
            if (p.st != NSS_STATUS_SUCCESS || p.uid != users[i].uid)
                fail_msg("n=%u: getpwnam %s: %s", n, name, status_name(p.st));
            Gr g = grnam(groups[i].name.c_str());
            if (g.st != NSS_STATUS_SUCCESS || g.gid != groups[i].gid)
                fail_msg("n=%u: getgrnam %s: %s", n, groups[i].name.c_str(), status_name(g.st));
        }
        for (std::uint32_t i = 0; i < 300; ++i) {
            std::string miss = "w" + std::to_string(i);
            assert_int_equal(pwnam(miss.c_str()).st, NSS_STATUS_NOTFOUND);
            assert_int_equal(grnam(miss.c_str()).st, NSS_STATUS_NOTFOUND);
        }
    }
    // Arbitrary keys: empty, over the 32-byte maximum, a prefix, an extension.
    install(base_index());
    const std::string over(4000, 'a');
    for (const char* k :
         {"", over.c_str(), "alic", "alicee", "Alice", "d_very-long-name-of-32-chars_xyzw"})
        assert_int_equal(pwnam(k).st, NSS_STATUS_NOTFOUND);
    assert_int_equal(pwnam(kLongName.c_str()).st, NSS_STATUS_SUCCESS);
    assert_int_equal(grnam(std::string(33, 'g').c_str()).st, NSS_STATUS_NOTFOUND);
}

// Names crafted to share one home slot (the last, so the chain wraps): all
// found, and misses with the same home walk the chain to NOTFOUND.
void name_hash_collisions(void**) {
    std::string b = collided_index();
    HashHead uh = hash_head(b, true), gh = hash_head(b, false);
    assert_int_equal(uh.slots, 16);
    assert_int_equal(uh.max_probe, 8);
    assert_int_equal(gh.max_probe, 8);
    // The chain occupies slots 15, 0, 1, ... 6 in insertion order.
    assert_int_equal(get_slot(b, true, 15).index, 0);
    assert_int_equal(get_slot(b, true, 0).index, 1);
    assert_int_equal(get_slot(b, true, 6).index, 7);
    install(b);
    for (std::uint32_t i = 0; i < g_chain.size(); ++i) {
        Pw p = pwnam(g_chain[i].c_str());
        if (p.st != NSS_STATUS_SUCCESS || p.uid != kMin + 1 + i)
            fail_msg("colliding %s: %s", g_chain[i].c_str(), status_name(p.st));
        Gr g = grnam(g_chain[i].c_str());
        if (g.st != NSS_STATUS_SUCCESS || g.gid != kGid + 1 + i)
            fail_msg("colliding group %s: %s", g_chain[i].c_str(), status_name(g.st));
    }
    for (const auto& miss : g_chain_miss) {
        assert_int_equal(pwnam(miss.c_str()).st, NSS_STATUS_NOTFOUND);
        assert_int_equal(grnam(miss.c_str()).st, NSS_STATUS_NOTFOUND);
    }
}

// An index without hash sections (as written before them: the header words
// were reserved and zero) is still served, by binary search.
void name_hash_absent_section(void**) {
    std::string b = collided_index();
    Header h = header_of(b);
    h.users_hash_off = h.groups_hash_off = 0;
    set_header(b, h);
    vendor::nssidx::View v;
    assert_null(v.open(b.data(), b.size()));
    assert_false(v.has_user_hash() || v.has_group_hash());
    install(b);
    for (const auto& n : g_chain) {
        assert_int_equal(pwnam(n.c_str()).st, NSS_STATUS_SUCCESS);
        assert_int_equal(grnam(n.c_str()).st, NSS_STATUS_SUCCESS);
    }
    assert_int_equal(pwnam(g_chain_miss[0].c_str()).st, NSS_STATUS_NOTFOUND);
}

// A damaged hash section refuses the whole index (UNAVAIL, EIO) in the
// module and in the writer's self-check, without a crash or a probe out of
// bounds; a valid index is served again afterwards.
void name_hash_damaged(void**) {
    const std::string good = collided_index();
    struct HashMutation {
        const char* name;
        std::function<void(std::string&)> apply;
    };
    const HashMutation muts[] = {
        {"probe bound 0",
         [](std::string& b) {
             put_head(b, true, {16, 0});
         }},
        {"probe bound too small (a chained name unreachable)",
         [](std::string& b) {
             put_head(b, true, {16, 7});
         }},
        {"group probe bound too small",
         [](std::string& b) {
             put_head(b, false, {16, 3});
         }},
        {"probe bound over kMaxProbe",
         [](std::string& b) {
             put_head(b, true, {16, vendor::nssidx::kMaxProbe + 1});
         }},
        {"probe bound over the slot count",
         [](std::string& b) {
             put_head(b, true, {16, 17});
         }},
        {"slot count not a power of two",
         [](std::string& b) {
             put_head(b, true, {15, 8});
         }},
        {"slot count 0",
         [](std::string& b) {
             put_head(b, true, {0, 0});
         }},
        {"slot count below the record count",
         [](std::string& b) {
             put_head(b, true, {4, 4});
         }},
        {"slot count past the file",
         [](std::string& b) {
             put_head(b, false, {1u << 20, 8});
         }},
        {"slot count past kMaxSlots",
         [](std::string& b) {
             put_head(b, true, {1u << 26, 8});
         }},
        {"slot index out of range",
         [](std::string& b) {
             Slot s = get_slot(b, true, 3);
             s.index = 8;
             put_slot(b, true, 3, s);
         }},
        {"free slot index out of range",
         [](std::string& b) {
             put_slot(b, true, 10, {0, 0xFFFFFFFEu});
         }},
        {"slot pointing to a different name",
         [](std::string& b) {
             Slot s = get_slot(b, true, 2);
             s.index = 0;
             put_slot(b, true, 2, s);
         }},
        {"two slots' indexes swapped (tags left)",
         [](std::string& b) {
             Slot a = get_slot(b, false, 0), c = get_slot(b, false, 1);
             std::swap(a.index, c.index);
             put_slot(b, false, 0, a);
             put_slot(b, false, 1, c);
         }},
        {"wrong tag",
         [](std::string& b) {
             Slot s = get_slot(b, true, 15);
             s.tag ^= 0x100;
             put_slot(b, true, 15, s);
         }},
        {"a hole in the chain",
         [](std::string& b) {
             put_slot(b, true, 3, {0, 0xFFFFFFFFu});
         }},
        {"section offset past the end",
         [](std::string& b) {
             Header h = header_of(b);
             h.users_hash_off = static_cast<std::uint32_t>(b.size() - 4);
             set_header(b, h);
         }},
        {"section offset unaligned",
         [](std::string& b) {
             Header h = header_of(b);
             h.groups_hash_off += 2;
             set_header(b, h);
         }},
        {"section offset inside the header",
         [](std::string& b) {
             Header h = header_of(b);
             h.users_hash_off = 8;
             set_header(b, h);
         }},
        {"section offset at the user records",
         [](std::string& b) {
             Header h = header_of(b);
             h.users_hash_off = h.users_off;
             set_header(b, h);
         }},
    };
    for (const auto& mu : muts) {
        install(good);
        if (pwnam(g_chain[0].c_str()).st != NSS_STATUS_SUCCESS)
            fail_msg("%s: good index not served", mu.name);
        std::string bad = good;
        mu.apply(bad);
        fix_checksum(bad);
        vendor::nssidx::View v;
        if (v.open(bad.data(), bad.size()) == nullptr)
            fail_msg("%s: View::open accepted it", mu.name);
        install(bad);
        expect_unavail(mu.name, EIO);
        expect_recovers(mu.name);
    }
}

int group_teardown(void**) {
    rm_rf(root());
    return 0;
}

}  // namespace

int main() {
    if (skip_unless_root("nss_module")) return 0;
    reset_root();
    const CMUnitTest tests[] = {
        cmocka_unit_test_setup(getpwnam_sweep, setup),
        cmocka_unit_test_setup(getpwuid_sweep, setup),
        cmocka_unit_test_setup(getgrnam_sweep, setup),
        cmocka_unit_test_setup(getgrgid_sweep, setup),
        cmocka_unit_test_setup(getspnam_sweep, setup),
        cmocka_unit_test_setup(getgrnam_unaligned_buffer, setup),
        cmocka_unit_test_setup(separate_errnop, setup),
        cmocka_unit_test_setup(absent, setup),
        cmocka_unit_test_setup(errno_preserved_on_success, setup),
        cmocka_unit_test_setup(shadow_locked, setup),
        cmocka_unit_test_setup(initgroups_appends, setup),
        cmocka_unit_test_setup(initgroups_skip_dup_limit, setup),
        cmocka_unit_test_setup(enumerate_all, setup),
        cmocka_unit_test_setup(enumerate_sweep, setup),
        cmocka_unit_test_setup(enumerate_snapshot, setup),
        cmocka_unit_test_setup(index_missing, setup),
        cmocka_unit_test_setup(index_corrupt, setup),
        cmocka_unit_test_setup(writer_refuses_below_floor, setup),
        cmocka_unit_test_setup(id_floor_header, setup),
        cmocka_unit_test_setup(index_too_large, setup),
        cmocka_unit_test_setup(insecure_fresh, setup),
        cmocka_unit_test_setup(insecure_in_place, setup),
        cmocka_unit_test_setup(changed_in_place_seen_at_once, setup),
        cmocka_unit_test_setup(kept_fd_closed_by_the_application, setup),
        cmocka_unit_test_setup(reload_every_replacement, setup),
        cmocka_unit_test_setup(writer_marks_the_old_file, setup),
        cmocka_unit_test_setup(writer_crash_between_mark_and_rename, setup),
        cmocka_unit_test_setup(out_of_band_seen_within_bound, setup),
        cmocka_unit_test_setup(writer_marks_nothing_else, setup),
        cmocka_unit_test_setup(superseded_file_restored, setup),
        cmocka_unit_test_setup(concurrent_writers, setup),
        cmocka_unit_test_setup(large_index, setup),
        cmocka_unit_test_setup(name_hash_every_name, setup),
        cmocka_unit_test_setup(name_hash_collisions, setup),
        cmocka_unit_test_setup(name_hash_absent_section, setup),
        cmocka_unit_test_setup(name_hash_damaged, setup),
    };
    return cmocka_run_group_tests_name("nss_module", tests, nullptr, group_teardown);
}
