// libc lookups (getpwnam_r, getgrouplist, getpwent, ...) under nss_wrapper:
// small passwd/group files first, then the test copy of libnss_vendor.so.2
// (NSS_WRAPPER_MODULE_SO_PATH, NSS_WRAPPER_MODULE_FN_PREFIX=vendor), for
// accounts that vendorctl itself created, with a private configuration.
//
// The program re-executes itself with LD_PRELOAD=libnss_wrapper.so (after the
// ASan runtime in a sanitized build, which must come first); vendorctl runs
// under the same wrapper, so "already resolves elsewhere" includes the
// wrapper's passwd file.
#include "nss_test.h"

using namespace nsst;

namespace {

constexpr std::uint32_t kAlice = kGid + 1, kBob = kGid + 2, kSquatter = kGid + 3, kCarol = kGid + 4;

std::string conf_path() { return root() + "/pam_vendor.conf"; }

void write_config() {
    const std::string r = root();
    write_file(conf_path(),
               "registry_dir = " + r +
                   "/registry\n"
                   "state_dir = " +
                   r +
                   "/state\n"
                   "nss_dir = " +
                   r +
                   "/nss\n"
                   "audit_log = " +
                   r +
                   "/log/audit.jsonl\n"
                   "home_base = " +
                   r +
                   "/home\n"
                   "host_name = testhost\n"
                   "uid_min = " +
                   std::to_string(kMin) +
                   "\n"
                   "uid_max = " +
                   std::to_string(kMin + 999) +
                   "\n"
                   "vendor_gid = " +
                   std::to_string(kGid) +
                   "\n"
                   "allowed_groups = users vdev\n",
               0644);
}

Run vendorctl(std::vector<std::string> args) {
    args.insert(args.begin(), {env("NSS_TEST_VENDORCTL"), "--config", conf_path()});
    return run(args, {"ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0"});
}

// Before the first lookup: the wrapper reads its files lazily.
int group_setup(void**) {
    reset_root();
    mkdir_p(root() + "/wrap", 0755);
    write_file(root() + "/wrap/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                                        "wrapuser:x:1500:1500:Wrap User:/home/wrapuser:/bin/sh\n"
                                        "squatter:x:" +
                                            std::to_string(kSquatter) +
                                            ":1500:squats a vendor id:/:/bin/false\n");
    write_file(root() + "/wrap/group", "root:x:0:\n"
                                       "sudo:x:27:wrapuser\n"
                                       "users:x:100:\n"
                                       "vdev:x:5100:\n"
                                       "wrapgrp:x:1500:alice\n");
    write_config();
    Run a = vendorctl({"add", "alice", "--vendor", "Acme", "--from", "192.0.2.0/24", "--comment",
                       "db admin", "--groups", "vdev,users"});
    Run b = vendorctl(
        {"add", "bob", "--vendor", "Globex", "--from", "198.51.100.7", "--shell", "/bin/sh"});
    if (a.status != 0 || b.status != 0) {
        std::fprintf(stderr, "vendorctl add failed:\n%s%s%s%s", a.out.c_str(), a.err.c_str(),
                     b.out.c_str(), b.err.c_str());
        return -1;
    }
    return 0;
}

int group_teardown(void**) {
    rm_rf(root());
    return 0;
}

struct LibcPw {
    int rc = -1;
    bool found = false;
    std::string name, gecos, dir, shell;
    uid_t uid = 0;
    gid_t gid = 0;
};
LibcPw libc_pwnam(const char* name, std::size_t buflen = 4096) {
    LibcPw r;
    passwd p{}, *res = nullptr;
    std::vector<char> buf(buflen);
    r.rc = getpwnam_r(name, &p, buf.data(), buf.size(), &res);
    if (r.rc == 0 && res) {
        r.found = true;
        r.name = p.pw_name;
        r.gecos = p.pw_gecos;
        r.dir = p.pw_dir;
        r.shell = p.pw_shell;
        r.uid = p.pw_uid;
        r.gid = p.pw_gid;
    }
    return r;
}
LibcPw libc_pwuid(uid_t uid) {
    LibcPw r;
    passwd p{}, *res = nullptr;
    char buf[4096];
    r.rc = getpwuid_r(uid, &p, buf, sizeof buf, &res);
    if (r.rc == 0 && res) {
        r.found = true;
        r.name = p.pw_name;
        r.uid = p.pw_uid;
    }
    return r;
}

void getpwnam_vendor_accounts(void**) {
    LibcPw a = libc_pwnam("alice");
    assert_true(a.found);
    assert_str_eq(a.name, "alice");
    assert_int_equal(a.uid, kAlice);
    assert_int_equal(a.gid, kGid);
    assert_str_eq(a.gecos, "Acme, db admin");
    assert_str_eq(a.dir, root() + "/home/alice");
    assert_str_eq(a.shell, "/bin/bash");
    LibcPw b = libc_pwnam("bob");
    assert_true(b.found);
    assert_int_equal(b.uid, kBob);
    assert_str_eq(b.gecos, "Globex");
    assert_str_eq(b.shell, "/bin/sh");
    // The files source still answers first for its own accounts.
    LibcPw w = libc_pwnam("wrapuser");
    assert_true(w.found);
    assert_int_equal(w.uid, 1500);
    LibcPw r = libc_pwnam("root");
    assert_true(r.found);
    assert_int_equal(r.uid, 0);
}

void getpwuid_vendor_accounts(void**) {
    LibcPw a = libc_pwuid(kAlice);
    assert_true(a.found);
    assert_str_eq(a.name, "alice");
    LibcPw b = libc_pwuid(kBob);
    assert_true(b.found);
    assert_str_eq(b.name, "bob");
    assert_str_eq(libc_pwuid(0).name, "root");
}

void absent_accounts(void**) {
    for (const char* n : {"nosuch", "alic", "vendors", ""}) {
        LibcPw p = libc_pwnam(n);
        assert_false(p.found);
        // nss_wrapper reports the module's ENOENT; glibc would say 0.
        if (p.rc != 0 && p.rc != ENOENT) fail_msg("getpwnam_r(%s) = %d", n, p.rc);
    }
    assert_false(libc_pwuid(kGid + 500).found);
    assert_false(libc_pwuid(kGid).found);  // the group id is no account
}

// A buffer too small is ERANGE whatever errno held before: the wrapper, like
// glibc, returns errno after a TRYAGAIN.
void erange_through_libc(void**) {
    for (int before : {0, EINTR, 1234}) {
        for (std::size_t len : {std::size_t{1}, std::size_t{10}, std::size_t{30}}) {
            errno = before;
            LibcPw a = libc_pwnam("alice", len);
            if (a.found || a.rc != ERANGE)
                fail_msg("getpwnam_r(alice, %zu bytes), errno %d before: rc %d (expected ERANGE)",
                         len, before, a.rc);
        }
        errno = before;
        group g{}, *res = nullptr;
        char buf[4];
        int rc = getgrnam_r("vendors", &g, buf, sizeof buf, &res);
        if (rc != ERANGE || res)
            fail_msg("getgrnam_r(vendors, 4 bytes), errno %d before: rc %d", before, rc);
    }
    // The exact size is enough.
    const std::size_t exact = 6 + 2 + 15 + (root() + "/home/alice").size() + 1 + 10;
    assert_true(libc_pwnam("alice", exact).found);
    assert_int_equal(libc_pwnam("alice", exact - 1).rc, ERANGE);
}

void groups_by_name_and_gid(void**) {
    group g{}, *res = nullptr;
    char buf[4096];
    assert_int_equal(getgrnam_r("vendors", &g, buf, sizeof buf, &res), 0);
    assert_non_null(res);
    assert_int_equal(g.gr_gid, kGid);
    assert_null(g.gr_mem[0]);
    res = nullptr;
    assert_int_equal(getgrgid_r(kGid, &g, buf, sizeof buf, &res), 0);
    assert_non_null(res);
    assert_str_eq(g.gr_name, "vendors");
    // Files groups are untouched.
    res = nullptr;
    assert_int_equal(getgrnam_r("vdev", &g, buf, sizeof buf, &res), 0);
    assert_non_null(res);
    assert_int_equal(g.gr_gid, 5100);
    struct group* gp = getgrgid(kGid);
    assert_non_null(gp);
    assert_str_eq(gp->gr_name, "vendors");
}

void enumeration(void**) {
    std::vector<std::string> users, groups;
    setpwent();
    while (passwd* p = getpwent()) users.emplace_back(p->pw_name);
    endpwent();
    setgrent();
    while (struct group* g = getgrent()) groups.emplace_back(g->gr_name);
    endgrent();
    std::vector<std::string> want = {"root", "wrapuser", "squatter", "alice", "bob"};
    if (users != want) {
        std::string got;
        for (const auto& u : users) got += u + " ";
        fail_msg("getpwent gave: %s", got.c_str());
    }
    assert_int_equal(std::count(groups.begin(), groups.end(), "vendors"), 1);
    assert_int_equal(std::count(groups.begin(), groups.end(), "vdev"), 1);
}

// nss_wrapper 1.1.12 builds getgrouplist() (and initgroups()) by scanning
// every group's member list through getgrent, files and module alike; it
// never calls the module's initgroups_dyn. So here: the primary group from
// the module, the files group that lists alice, and nothing else (the
// vendors group lists no member). initgroups_dyn itself is tested by direct
// calls (nss_module) and through glibc's own initgroups (nss_system: id).
void grouplist(void**) {
    gid_t gids[64];
    int n = 64;
    int rc = getgrouplist("alice", kGid, gids, &n);
    std::set<gid_t> got(gids, gids + (n > 0 && n <= 64 ? n : 0));
    if (rc != 2 || n != 2 || got != std::set<gid_t>{kGid, 1500}) {
        std::string s;
        for (int i = 0; i < n && i < 64; ++i) s += std::to_string(gids[i]) + " ";
        fail_msg("getgrouplist(alice) = %d: %s(expected %u 1500)", rc, s.c_str(), kGid);
    }
    n = 64;
    rc = getgrouplist("bob", kGid, gids, &n);
    assert_int_equal(rc, 1);
    assert_int_equal(n, 1);
    assert_int_equal(gids[0], kGid);
    // A too-small array reports the count needed.
    n = 1;
    rc = getgrouplist("alice", kGid, gids, &n);
    assert_int_equal(rc, -1);
    assert_int_equal(n, 2);
}

// vendorctl sees the wrapper's accounts as "another NSS source".
void vendorctl_refuses_names_and_ids_in_use(void**) {
    for (const char* n : {"wrapuser", "root", "squatter"}) {
        Run r = vendorctl({"add", n, "--vendor", "Acme", "--from", "192.0.2.1"});
        assert_run(r, 1);
        if (!contains(r.err, "already resolves")) fail_msg("add %s: %s", n, r.err.c_str());
    }
    // squatter holds kSquatter in the files source: the next vendor skips it.
    Run c = vendorctl({"add", "carol", "--vendor", "Initech", "--from", "192.0.2.9"});
    assert_run(c, 0);
    LibcPw p = libc_pwnam("carol");
    assert_true(p.found);
    assert_int_equal(p.uid, kCarol);
    assert_str_eq(libc_pwuid(kSquatter).name, "squatter");
}

// A vendorctl change is visible to the next lookup of a running process.
void remove_is_seen_at_once(void**) {
    assert_true(libc_pwnam("bob").found);
    Run r = vendorctl({"remove", "bob", "--delete-home"});
    assert_run(r, 0);
    assert_false(libc_pwnam("bob").found);
    assert_false(libc_pwuid(kBob).found);
    assert_true(libc_pwnam("alice").found);
}

}  // namespace

int main(int argc, char** argv) {
    (void)argc;
    if (skip_unless_root("nss_wrapper")) return 0;
    if (!std::getenv("NSS_WRAPPER_MODULE_SO_PATH")) {
        std::string preload = env_or("NSS_TEST_PRELOAD", "");
        preload += (preload.empty() ? "" : " ") + std::string("libnss_wrapper.so");
        setenv("LD_PRELOAD", preload.c_str(), 1);
        setenv("NSS_WRAPPER_PASSWD", (root() + "/wrap/passwd").c_str(), 1);
        setenv("NSS_WRAPPER_GROUP", (root() + "/wrap/group").c_str(), 1);
        setenv("NSS_WRAPPER_MODULE_SO_PATH", env("NSS_TEST_MODULE").c_str(), 1);
        setenv("NSS_WRAPPER_MODULE_FN_PREFIX", "vendor", 1);
        // RTLD_DEEPBIND and the sanitizer runtimes do not mix.
        setenv("NSS_WRAPPER_DISABLE_DEEPBIND", "1", 1);
        execv("/proc/self/exe", argv);
        std::printf("1..1\nnot ok 1 - re-exec under nss_wrapper: %s\n", std::strerror(errno));
        return 1;
    }
    const CMUnitTest tests[] = {
        cmocka_unit_test(getpwnam_vendor_accounts),
        cmocka_unit_test(getpwuid_vendor_accounts),
        cmocka_unit_test(absent_accounts),
        cmocka_unit_test(erange_through_libc),
        cmocka_unit_test(groups_by_name_and_gid),
        cmocka_unit_test(enumeration),
        cmocka_unit_test(grouplist),
        cmocka_unit_test(vendorctl_refuses_names_and_ids_in_use),
        cmocka_unit_test(remove_is_seen_at_once),
    };
    return cmocka_run_group_tests_name("nss_wrapper", tests, group_setup, group_teardown);
}
