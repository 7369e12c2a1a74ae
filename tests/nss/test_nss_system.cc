// The module as the system uses it, and the account lifecycle of vendorctl:
//   - vendorctl add/remove with a private configuration (registry, state,
//     nss_dir, audit log and home_base under the test root): homes, names
//     and groups refused, --existing, the uid floor, archive/delete/keep;
//   - glibc itself loading the test copy of libnss_vendor.so.2: getent -s
//     vendor (LD_LIBRARY_PATH), then id/getent in a private mount namespace
//     whose /etc/nsswitch.conf is a bind-mounted "passwd: files vendor" file
//     (the real one is never touched; checked before and after);
//   - the real $(B)/nss_vendor/libnss_vendor.so.2: its ldd and export list.
// The tests run in order and share the accounts they create.
#include "nss_test.h"

using namespace nsst;

namespace {

constexpr std::uint32_t kAlice = kGid + 1;
constexpr gid_t kUsers = 100, kAudio = 29;  // Debian's fixed ids (base-passwd)

bool g_unshare_ok = false;
std::string g_nsswitch_before;

std::string conf_path() { return root() + "/pam_vendor.conf"; }
std::string home_base() { return root() + "/home"; }

std::string config_text(const std::string& extra = "", const std::string& allowed = "users audio") {
    const std::string r = root();
    return "registry_dir = " + r +
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
           home_base() +
           "\n"
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
           "allowed_groups = " +
           allowed + "\n" + extra;
}

Run vendorctl_with(const std::string& conf, std::vector<std::string> args) {
    args.insert(args.begin(), {env("NSS_TEST_VENDORCTL"), "--config", conf});
    return run(args, {"ASAN_OPTIONS=detect_leaks=0"});
}
Run vendorctl(std::vector<std::string> args) {
    return vendorctl_with(conf_path(), std::move(args));
}

// What a program needs to load the test copy through glibc's own dlopen.
std::vector<std::string> module_env() {
    std::string mod = env("NSS_TEST_MODULE");
    return {"LD_LIBRARY_PATH=" + mod.substr(0, mod.rfind('/')),
            "LD_PRELOAD=" + env_or("NSS_TEST_PRELOAD", ""), "ASAN_OPTIONS=detect_leaks=0"};
}
Run getent(std::vector<std::string> args) {
    args.insert(args.begin(), {"getent", "-s", "vendor"});
    return run(args, module_env());
}

// argv run inside a private mount namespace whose /etc/nsswitch.conf lists
// the vendor service; nscd, if any, hidden so that glibc asks the modules.
// group_file, when given, is bind-mounted over /etc/group as well.
Run in_namespace(std::vector<std::string> argv, const std::string& group_file = "") {
    std::string mod = env("NSS_TEST_MODULE");
    std::string script =
        "conf=$1; grp=$2; shift 2; "
        "mount --bind \"$conf\" /etc/nsswitch.conf || exit 97; "
        "if [ -n \"$grp\" ]; then mount --bind \"$grp\" /etc/group || exit 96; fi; "
        "if [ -d /run/nscd ]; then mount -t tmpfs tmpfs /run/nscd || exit 98; fi; "
        "exec env LD_LIBRARY_PATH='" +
        mod.substr(0, mod.rfind('/')) + "' LD_PRELOAD='" + env_or("NSS_TEST_PRELOAD", "") +
        "' ASAN_OPTIONS=detect_leaks=0 \"$@\"";
    std::vector<std::string> full = {
        "unshare", "--mount", "--propagation",           "private", "--", "/bin/sh", "-c",
        script,    "sh",      root() + "/nsswitch.conf", group_file};
    full.insert(full.end(), argv.begin(), argv.end());
    return run(full);
}

struct Stat {
    bool ok = false;
    struct stat st {};
};
Stat lstat_of(const std::string& p) {
    Stat s;
    s.ok = ::lstat(p.c_str(), &s.st) == 0;
    return s;
}

int group_setup(void**) {
    reset_root();
    write_file(conf_path(), config_text());
    write_file(root() + "/nsswitch.conf",
               "passwd: files vendor\ngroup: files vendor\nshadow: files vendor\n");
    g_nsswitch_before = read_file("/etc/nsswitch.conf");
    return 0;
}

int group_teardown(void**) {
    rm_rf(root());
    if (read_file("/etc/nsswitch.conf") != g_nsswitch_before) {
        std::fprintf(stderr, "/etc/nsswitch.conf changed during the tests!\n");
        return -1;
    }
    return 0;
}

// ------------------------------------------------------------ lifecycle

void add_creates_account_and_home(void**) {
    Run r = vendorctl({"add", "alice", "--vendor", "Acme", "--from", "192.0.2.0/24", "--comment",
                       "db admin", "--groups", "users,audio"});
    assert_run(r, 0);
    assert_true(contains(r.out, "uid " + std::to_string(kAlice)));
    // The home: the account's, its primary group, 0700, reachable.
    Stat h = lstat_of(home_base() + "/alice");
    assert_true(h.ok);
    assert_true(S_ISDIR(h.st.st_mode));
    assert_int_equal(h.st.st_uid, kAlice);
    assert_int_equal(h.st.st_gid, kGid);
    assert_int_equal(h.st.st_mode & 07777, 0700);
    Stat base = lstat_of(home_base());
    assert_int_equal(base.st.st_uid, 0);
    if ((base.st.st_mode & 07777) != 0755)
        fail_msg("home_base created with mode %o: a vendor could not reach his home",
                 base.st.st_mode & 07777);
    // /etc/skel's top-level regular files, handed over.
    std::size_t copied = 0;
    if (DIR* d = ::opendir("/etc/skel")) {
        while (dirent* e = ::readdir(d)) {
            std::string src = std::string("/etc/skel/") + e->d_name;
            Stat s = lstat_of(src);
            if (!s.ok || !S_ISREG(s.st.st_mode)) continue;
            std::string dst = home_base() + "/alice/" + e->d_name;
            Stat c = lstat_of(dst);
            if (!c.ok) fail_msg("skeleton file %s not copied", e->d_name);
            assert_true(S_ISREG(c.st.st_mode));
            assert_int_equal(c.st.st_uid, kAlice);
            assert_int_equal(c.st.st_gid, kGid);
            assert_int_equal(c.st.st_mode & 07777, s.st.st_mode & 0755);
            assert_true(read_file(dst) == read_file(src));
            ++copied;
        }
        ::closedir(d);
    }
    std::printf("# %zu skeleton file(s) checked\n", copied);
    // Served at once, with exactly the allowed supplementary groups.
    Pw p = pwnam("alice");
    assert_int_equal(p.st, NSS_STATUS_SUCCESS);
    assert_int_equal(p.uid, kAlice);
    assert_int_equal(p.gid, kGid);
    assert_str_eq(p.gecos, "Acme, db admin");
    assert_str_eq(p.dir, home_base() + "/alice");
    assert_str_eq(p.shell, "/bin/bash");
    std::vector<gid_t> gids;
    int err = 0;
    assert_int_equal(initgroups("alice", kGid, gids, &err), NSS_STATUS_SUCCESS);
    assert_true((gids == std::vector<gid_t>{kGid, kUsers, kAudio}));
    Gr g = grgid(kGid);
    assert_int_equal(g.st, NSS_STATUS_SUCCESS);
    assert_str_eq(g.name, "vendors");
    // The index vendorctl installed: root-owned, 0644, in a 0755 directory.
    Stat idx = lstat_of(index_path());
    assert_int_equal(idx.st.st_uid, 0);
    assert_int_equal(idx.st.st_mode & 07777, 0644);
    assert_int_equal(lstat_of(index_dir()).st.st_mode & 07777, 0755);
}

void add_refuses_names_resolving_elsewhere(void**) {
    const std::string before = read_file(index_path());
    for (const char* n : {"root", "daemon", "bin", "nobody"}) {
        Run r = vendorctl({"add", n, "--vendor", "Evil", "--from", "192.0.2.66"});
        assert_run(r, 1);
        if (!contains(r.err, "already resolves")) fail_msg("add %s: %s", n, r.err.c_str());
        assert_false(exists(root() + "/registry/" + n + ".json"));
        assert_false(exists(home_base() + "/" + n));
    }
    Run again = vendorctl({"add", "alice", "--vendor", "Acme", "--from", "192.0.2.1"});
    assert_run(again, 1);
    for (const char* bad : {"Root", "a:b", "-x", "../etc", "averyveryveryveryveryverylongname1"}) {
        Run r = vendorctl({"add", bad, "--vendor", "Evil", "--from", "192.0.2.66"});
        assert_run(r, 2);
    }
    assert_true(read_file(index_path()) == before);
    assert_int_equal(pwnam("root").st, NSS_STATUS_NOTFOUND);
    assert_int_equal(pwuid(0).st, NSS_STATUS_NOTFOUND);
}

void add_refuses_groups(void**) {
    struct Case {
        const char* groups;
        const char* why;
    };
    for (const Case& c :
         {Case{"sudo", "privileged"}, Case{"adm", "privileged"}, Case{"root", "privileged"},
          Case{"users,shadow", "privileged"}, Case{"staff", "not in allowed_groups"},
          Case{"audio,video", "not in allowed_groups"}}) {
        Run r = vendorctl(
            {"add", "bob", "--vendor", "Globex", "--from", "192.0.2.2", "--groups", c.groups});
        assert_run(r, 1);
        if (!contains(r.err, c.why)) fail_msg("--groups %s: %s", c.groups, r.err.c_str());
    }
    // Allowed by the configuration but absent from the system.
    std::string conf2 = root() + "/nogroup.conf";
    write_file(conf2, config_text("", "users nosuchgroup9"));
    Run r = vendorctl_with(conf2, {"add", "bob", "--vendor", "Globex", "--from", "192.0.2.2",
                                   "--groups", "nosuchgroup9"});
    assert_run(r, 1);
    assert_true(contains(r.err, "does not exist"));
    // A configuration that allows a privileged group is refused whole.
    std::string conf3 = root() + "/privallowed.conf";
    write_file(conf3, config_text("", "users sudo"));
    assert_run(vendorctl_with(conf3, {"config", "--check"}), 1);
    assert_false(exists(root() + "/registry/bob.json"));
    assert_false(exists(home_base() + "/bob"));
    assert_int_equal(pwnam("bob").st, NSS_STATUS_NOTFOUND);
}

// --existing: only over an account that resolves elsewhere, only with a code
// (its secret is not in AD), never served by nss_vendor.
void add_existing(void**) {
    Run r = vendorctl({"add", "nosuchuser9", "--existing", "--access", "otp", "--vendor", "AD",
                       "--from", "192.0.2.3"});
    assert_run(r, 1);
    assert_true(contains(r.err, "no account"));
    r = vendorctl({"add", "nobody", "--existing", "--vendor", "AD", "--from", "192.0.2.3"});
    assert_run(r, 1);
    assert_true(contains(r.err, "otp"));
    r = vendorctl({"add", "nobody", "--existing", "--access", "hours", "--hours",
                   "Mon-Fri 08:00-18:00", "--vendor", "AD", "--from", "192.0.2.3"});
    assert_run(r, 1);
    assert_run(vendorctl({"add", "nobody", "--existing", "--access", "otp", "--groups", "users",
                          "--vendor", "AD", "--from", "192.0.2.3"}),
               2);
    assert_run(vendorctl({"add", "nobody", "--existing", "--access", "otp", "--shell", "/bin/sh",
                          "--vendor", "AD", "--from", "192.0.2.3"}),
               2);
    r = vendorctl({"add", "nobody", "--existing", "--access", "grant+otp", "--vendor", "AD",
                   "--from", "192.0.2.3"});
    assert_run(r, 0);
    assert_true(contains(vendorctl({"show", "nobody"}).out, "existing"));
    assert_int_equal(pwnam("nobody").st, NSS_STATUS_NOTFOUND);  // never served by the module
    assert_false(exists(home_base() + "/nobody"));
    r = vendorctl({"remove", "nobody"});
    assert_run(r, 0);
    assert_false(exists(root() + "/registry/nobody.json"));
}

// The id floor in the configuration: nothing below 1000, whatever the key.
void config_uid_floor(void**) {
    std::string c = root() + "/floor.conf";
    struct Case {
        std::string text;
        int want;
    };
    const std::string dirs = "registry_dir = " + root() + "/registry\n";
    for (const Case& k :
         {Case{"uid_min = 999\nuid_max = 5000\nvendor_gid = 1000\n", 1},
          Case{"uid_min = 0\nuid_max = 5000\nvendor_gid = 1000\n", 1},
          Case{"uid_min = 1000\nuid_max = 5000\nvendor_gid = 999\n", 1},
          Case{"uid_min = 1000\nuid_max = 999\nvendor_gid = 1000\n", 1},
          Case{"uid_min = 1000\nuid_max = 5000\nvendor_gid = 1000\n", 0},
          Case{"uid_min = 2147483647\nuid_max = 2147483648\nvendor_gid = 2147483647\n", 1}}) {
        write_file(c, dirs + k.text);
        Run r = vendorctl_with(c, {"config", "--check"});
        if (r.status != k.want)
            fail_msg("%s-> exit %d, expected %d: %s", k.text.c_str(), r.status, k.want,
                     r.err.c_str());
        if (k.want == 1 && !contains(r.err, "uid_") && !contains(r.err, "vendor_gid"))
            fail_msg("no reason naming the key: %s", r.err.c_str());
    }
}

// `config --keys` and `reasons` print the built-in tables: no configuration
// is read (a missing, explicitly named one is no error), nothing is written.
void tables_need_no_config(void**) {
    const std::string none = root() + "/no-such.conf";
    Run r = vendorctl_with(none, {"config", "--keys"});
    assert_run(r, 0);
    assert_true(contains(r.out, "registry_dir\tpath\t/etc/pam_vendor/accounts.d\t"));
    assert_true(contains(r.out, "\nauthorized_keys_options\tssh-options\trestrict,pty\t"));
    r = vendorctl_with(none, {"reasons"});
    assert_run(r, 0);
    assert_true(r.out.rfind("ok\t", 0) == 0);
    assert_true(contains(r.out, "\nprivileged_group\t"));
    assert_run(vendorctl_with(none, {"config"}), 1);
    assert_run(vendorctl_with(none, {"config", "--keys", "--check"}), 2);
}

// Supplementary groups are re-checked on every compile: a group that left
// allowed_groups (or became privileged) is dropped from the index.
void groups_rechecked_at_reindex(void**) {
    std::string narrow = root() + "/narrow.conf";
    write_file(narrow, config_text("", "audio"));
    assert_run(vendorctl_with(narrow, {"reindex"}), 0);
    std::vector<gid_t> gids;
    int err = 0;
    assert_int_equal(initgroups("alice", kGid, gids, &err), NSS_STATUS_SUCCESS);
    assert_true((gids == std::vector<gid_t>{kGid, kAudio}));
    std::string priv = root() + "/priv.conf";
    write_file(priv, config_text("privileged_groups = sudo audio\n", "users"));
    assert_run(vendorctl_with(priv, {"reindex"}), 0);
    assert_int_equal(initgroups("alice", kGid, gids, &err), NSS_STATUS_SUCCESS);
    assert_true((gids == std::vector<gid_t>{kGid, kUsers}));
    assert_run(vendorctl({"reindex"}), 0);
    assert_int_equal(initgroups("alice", kGid, gids, &err), NSS_STATUS_SUCCESS);
    assert_true((gids == std::vector<gid_t>{kGid, kUsers, kAudio}));
}

// ------------------------------------------------------------ glibc, getent

void getent_service_vendor(void**) {
    const std::string line = "alice:x:" + std::to_string(kAlice) + ":" + std::to_string(kGid) +
                             ":Acme, db admin:" + home_base() + "/alice:/bin/bash\n";
    Run r = getent({"passwd", "alice"});
    assert_run(r, 0);
    assert_str_eq(r.out, line);
    r = getent({"passwd", std::to_string(kAlice)});
    assert_run(r, 0);
    assert_str_eq(r.out, line);
    r = getent({"group", "vendors"});
    assert_run(r, 0);
    assert_str_eq(r.out, "vendors:x:" + std::to_string(kGid) + ":\n");
    r = getent({"group", std::to_string(kGid)});
    assert_run(r, 0);
    assert_true(contains(r.out, "vendors:x:"));
    r = getent({"shadow", "alice"});
    assert_run(r, 0);
    assert_str_eq(r.out, "alice:!:::::::\n");  // locked, no ageing
    r = getent({"initgroups", "alice"});
    assert_run(r, 0);
    assert_true(contains(r.out, "alice") && contains(r.out, " 100") && contains(r.out, " 29"));
    r = getent({"passwd"});
    assert_run(r, 0);
    assert_str_eq(r.out, line);
    // Absent or never served: exit 2 ("key not found").
    for (const char* k : {"root", "nobody", "0", "zed"}) assert_run(getent({"passwd", k}), 2);
    assert_run(getent({"group", "root"}), 2);
    assert_run(getent({"shadow", "root"}), 2);
}

// glibc's getpwnam/getgrnam start with a 1 KiB buffer and retry bigger on
// ERANGE: a long gecos or a long member list must still resolve.
void getent_long_entries(void**) {
    std::string vendor(256, 'V');
    std::string comment(1024, 'c');
    Run r = vendorctl(
        {"add", "longg", "--vendor", vendor, "--from", "192.0.2.4", "--comment", comment});
    assert_run(r, 0);
    r = getent({"passwd", "longg"});
    assert_run(r, 0);
    assert_true(r.out.size() > 1024);
    assert_true(contains(r.out, "longg:x:"));
    assert_run(vendorctl({"remove", "longg", "--delete-home"}), 0);
    assert_run(getent({"passwd", "longg"}), 2);
}

void namespace_nsswitch(void**) {
    if (!g_unshare_ok) fail_msg("unshare --mount does not work here");
    Run r = in_namespace({"id", "alice"});
    assert_run(r, 0);
    const std::string want =
        "uid=" + std::to_string(kAlice) + "(alice) gid=" + std::to_string(kGid) +
        "(vendors) groups=" + std::to_string(kGid) + "(vendors),100(users),29(audio)\n";
    assert_str_eq(r.out, want);
    r = in_namespace({"getent", "passwd", "alice", "root"});
    assert_run(r, 0);
    assert_true(contains(r.out, "alice:x:" + std::to_string(kAlice)));
    assert_true(contains(r.out, "root:x:0:0:"));
    r = in_namespace({"getent", "passwd", std::to_string(kAlice)});
    assert_run(r, 0);
    assert_true(contains(r.out, "alice:x:"));
    r = in_namespace({"getent", "group", "vendors"});
    assert_run(r, 0);
    r = in_namespace({"getent", "shadow", "alice"});
    assert_run(r, 0);
    assert_str_eq(r.out, "alice:!:::::::\n");
    // Files first: root stays root, and the vendor service cannot add to it.
    r = in_namespace({"id", "root"});
    assert_run(r, 0);
    assert_true(contains(r.out, "uid=0(root) gid=0(root)"));
    assert_run(in_namespace({"id", "nosuchvendor9"}), 1);
    // Outside the namespace nothing changed.
    assert_true(read_file("/etc/nsswitch.conf") == g_nsswitch_before);
    assert_run(run({"getent", "passwd", "alice"}), 2);
}

// A supplementary group whose group(5) entry is larger than 4 KiB (a files
// or AD group with hundreds of members) must reach the index: the writer
// once looked groups up with a fixed 4 KiB buffer and read ERANGE as "no
// such group", silently dropping it from the account. The group exists
// only inside a private mount namespace (a copy of /etc/group bind-mounted
// over it).
void big_group_kept(void**) {
    if (!g_unshare_ok) fail_msg("unshare --mount does not work here");
    constexpr gid_t kBig = 59871;
    std::string etc_group = read_file("/etc/group");
    if (contains(etc_group, "\npvbig:") || contains(etc_group, ":" + std::to_string(kBig) + ":"))
        fail_msg("/etc/group already has pvbig or gid %u", kBig);
    std::string line = "pvbig:x:" + std::to_string(kBig) + ":";
    for (int i = 0; i < 600; ++i) line += (i ? ",member" : "member") + std::to_string(i);
    assert_true(line.size() > 4096);
    const std::string group_file = root() + "/group";
    write_file(group_file, etc_group + line + "\n");
    const std::string conf = root() + "/big.conf";
    write_file(conf, config_text("", "users audio pvbig"));
    Run r = in_namespace({"getent", "group", "pvbig"}, group_file);
    assert_run(r, 0);
    assert_true(r.out.size() > 4096);
    r = in_namespace({env("NSS_TEST_VENDORCTL"), "--config", conf, "add", "bigg", "--vendor",
                      "Acme", "--from", "192.0.2.5", "--groups", "users,pvbig"},
                     group_file);
    assert_run(r, 0);
    std::vector<gid_t> gids;
    int err = 0;
    assert_int_equal(initgroups("bigg", kGid, gids, &err), NSS_STATUS_SUCCESS);
    if (gids != std::vector<gid_t>{kGid, kUsers, kBig})
        fail_msg("bigg lost a group: %zu gids served, want vendors, users and pvbig", gids.size());
    assert_run(vendorctl({"remove", "bigg", "--delete-home"}), 0);
}

// ------------------------------------------------------------ removal

void remove_archives_by_default(void**) {
    Run r = vendorctl({"remove", "alice"});
    assert_run(r, 0);
    assert_false(exists(home_base() + "/alice"));
    assert_false(exists(root() + "/registry/alice.json"));
    Stat removed = lstat_of(home_base() + "/.removed");
    assert_true(removed.ok && S_ISDIR(removed.st.st_mode));
    assert_int_equal(removed.st.st_uid, 0);
    assert_int_equal(removed.st.st_mode & 07777, 0700);
    std::string archived;
    if (DIR* d = ::opendir((home_base() + "/.removed").c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::strncmp(e->d_name, "alice-", 6) == 0) archived = e->d_name;
        ::closedir(d);
    }
    if (archived.empty()) fail_msg("no archive of alice's home in .removed");
    Stat a = lstat_of(home_base() + "/.removed/" + archived);
    assert_int_equal(a.st.st_uid, kAlice);
    assert_true(exists(home_base() + "/.removed/" + archived + "/.profile") ||
                !exists("/etc/skel/.profile"));
    // No longer resolves, by name or id, through the module or glibc.
    assert_int_equal(pwnam("alice").st, NSS_STATUS_NOTFOUND);
    assert_int_equal(pwuid(kAlice).st, NSS_STATUS_NOTFOUND);
    assert_run(getent({"passwd", "alice"}), 2);
    if (g_unshare_ok) assert_run(in_namespace({"id", "alice"}), 1);
}

// --delete-home removes the tree without following what the vendor planted
// in it: symlinks to files and directories outside, a hard link.
void remove_delete_home_no_follow(void**) {
    assert_run(vendorctl({"add", "carol", "--vendor", "Initech", "--from", "192.0.2.5"}), 0);
    const std::string out = root() + "/outside", home = home_base() + "/carol";
    mkdir_p(out + "/dir", 0755);
    write_file(out + "/victim", "precious\n");
    write_file(out + "/dir/keep.txt", "keep\n");
    write_file(out + "/hardvictim", "hard\n");
    assert_int_equal(::symlink((out + "/victim").c_str(), (home + "/escape").c_str()), 0);
    assert_int_equal(::symlink((out + "/dir").c_str(), (home + "/escdir").c_str()), 0);
    mkdir_p(home + "/sub/deeper", 0700);
    write_file(home + "/sub/deeper/file", "mine\n");
    assert_int_equal(::symlink(out.c_str(), (home + "/sub/up").c_str()), 0);
    assert_int_equal(::symlink("../../../outside", (home + "/sub/deeper/rel").c_str()), 0);
    assert_int_equal(::link((out + "/hardvictim").c_str(), (home + "/hard").c_str()), 0);
    Run r = vendorctl({"remove", "carol", "--delete-home"});
    assert_run(r, 0);
    assert_false(exists(home));
    assert_false(exists(home_base() + "/.removed/carol"));
    assert_str_eq(read_file(out + "/victim"), "precious\n");
    assert_str_eq(read_file(out + "/dir/keep.txt"), "keep\n");
    assert_str_eq(read_file(out + "/hardvictim"), "hard\n");
    assert_int_equal(pwnam("carol").st, NSS_STATUS_NOTFOUND);
}

// A home that is no directory (a symlink put in its place) is refused, and
// whatever it points to survives.
void remove_refuses_symlinked_home(void**) {
    assert_run(vendorctl({"add", "dave", "--vendor", "Initech", "--from", "192.0.2.6"}), 0);
    const std::string out = root() + "/outside2", home = home_base() + "/dave";
    mkdir_p(out, 0755);
    write_file(out + "/victim", "precious\n");
    rm_rf(home);
    assert_int_equal(::symlink(out.c_str(), home.c_str()), 0);
    Run r = vendorctl({"remove", "dave", "--delete-home"});
    assert_run(r, 1);
    assert_str_eq(read_file(out + "/victim"), "precious\n");
    assert_int_equal(pwnam("dave").st, NSS_STATUS_NOTFOUND);  // the account went first
    ::unlink(home.c_str());
}

void remove_keep_home(void**) {
    assert_run(vendorctl({"add", "erin", "--vendor", "Umbrella", "--from", "192.0.2.7"}), 0);
    Stat before = lstat_of(home_base() + "/erin");
    assert_true(before.ok);
    Run r = vendorctl({"remove", "erin", "--keep-home"});
    assert_run(r, 0);
    Stat after = lstat_of(home_base() + "/erin");
    assert_true(after.ok && S_ISDIR(after.st.st_mode));
    assert_int_equal(after.st.st_uid, before.st.st_uid);
    assert_int_equal(after.st.st_ino, before.st.st_ino);
    assert_int_equal(pwnam("erin").st, NSS_STATUS_NOTFOUND);
    // A new account of that name refuses to inherit the kept home.
    r = vendorctl({"add", "erin", "--vendor", "Umbrella", "--from", "192.0.2.7"});
    assert_run(r, 1);
    assert_true(contains(r.err, "already exists"));
    assert_int_equal(pwnam("erin").st, NSS_STATUS_NOTFOUND);
}

// Item 16: a removed account's uid is never given out again, whatever became
// of its home: the next vendor must not own the old one's files.
void removed_uid_not_reused(void**) {
    assert_run(vendorctl({"add", "hank", "--vendor", "Globex", "--from", "192.0.2.9"}), 0);
    Pw hank = pwnam("hank");
    assert_int_equal(hank.st, NSS_STATUS_SUCCESS);
    const std::string home = home_base() + "/hank";
    write_file(home + "/notes.txt", "old vendor's file\n");
    assert_int_equal(::chown((home + "/notes.txt").c_str(), hank.uid, kGid), 0);
    assert_run(vendorctl({"remove", "hank", "--keep-home"}), 0);
    assert_run(vendorctl({"add", "ivan", "--vendor", "Globex", "--from", "192.0.2.9"}), 0);
    Pw ivan = pwnam("ivan");
    assert_int_equal(ivan.st, NSS_STATUS_SUCCESS);
    if (ivan.uid == hank.uid) fail_msg("ivan got hank's uid %u", hank.uid);
    // The old home and its files still belong to the old uid, which nobody has.
    Stat h = lstat_of(home), f = lstat_of(home + "/notes.txt");
    assert_true(h.ok && f.ok);
    assert_int_equal(h.st.st_uid, hank.uid);
    assert_int_equal(f.st.st_uid, hank.uid);
    assert_int_equal(pwuid(hank.uid).st, NSS_STATUS_NOTFOUND);
    // The reservation is on record, root-only.
    Stat r = lstat_of(root() + "/registry/.retired-uids");
    assert_true(r.ok && (r.st.st_mode & 0777) == 0600 && r.st.st_uid == 0);
    assert_true(contains(read_file(root() + "/registry/.retired-uids"),
                         std::to_string(hank.uid) + " hank "));
    // Archived or deleted homes too: the uid may own files elsewhere.
    assert_run(vendorctl({"remove", "ivan", "--delete-home"}), 0);
    assert_run(vendorctl({"add", "judy", "--vendor", "Globex", "--from", "192.0.2.9"}), 0);
    Pw judy = pwnam("judy");
    assert_true(judy.uid != ivan.uid && judy.uid != hank.uid);
    assert_run(vendorctl({"remove", "judy", "--delete-home"}), 0);
    rm_rf(home);
}

// remove_home = delete in the configuration, --archive-home wins over it.
void remove_home_from_config(void**) {
    std::string del = root() + "/delete.conf";
    write_file(del, config_text("remove_home = delete\n"));
    assert_run(vendorctl_with(del, {"add", "frank", "--vendor", "Acme", "--from", "192.0.2.8"}), 0);
    assert_run(vendorctl_with(del, {"remove", "frank"}), 0);
    assert_false(exists(home_base() + "/frank"));
    assert_run(vendorctl_with(del, {"add", "grace", "--vendor", "Acme", "--from", "192.0.2.8"}), 0);
    assert_run(vendorctl_with(del, {"remove", "grace", "--archive-home"}), 0);
    assert_false(exists(home_base() + "/grace"));
    bool archived = false;
    if (DIR* d = ::opendir((home_base() + "/.removed").c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::strncmp(e->d_name, "grace-", 6) == 0) archived = true;
        ::closedir(d);
    }
    assert_true(archived);
}

// ------------------------------------------------------------ the real module

std::set<std::string> words_after(const std::string& text, std::size_t col) {
    std::set<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        std::vector<std::string> w;
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
            std::size_t j = i;
            while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
            if (j > i) w.push_back(line.substr(i, j - i));
            i = j;
        }
        if (w.size() > col) out.insert(w[col]);
    }
    return out;
}

std::set<std::string> map_globals() {
    std::string map = read_file(env("NSS_TEST_MAP"));
    auto g = map.find("global:"), l = map.find("local:");
    assert_true(g != std::string::npos && l != std::string::npos && g < l);
    std::set<std::string> out;
    std::string cur;
    for (char c : map.substr(g + 7, l - g - 7)) {
        if (c == ';') {
            out.insert(cur);
            cur.clear();
        } else if (!std::isspace(static_cast<unsigned char>(c))) {
            cur += c;
        }
    }
    return out;
}

std::set<std::string> lib_names(const std::string& ldd_out) {
    std::set<std::string> out;
    for (const auto& w : words_after(ldd_out, 0)) out.insert(w.substr(w.rfind('/') + 1));
    return out;
}

bool any_like(const std::set<std::string>& libs, const char* stem) {
    for (const auto& l : libs)
        if (l.rfind(stem, 0) == 0) return true;
    return false;
}

void real_module_ldd(void**) {
    const char* heavy[] = {"libstdc++", "libjson-c", "libcurl",   "libsodium",
                           "liboath",   "libpam",    "libsystemd"};
    const std::string real = env("NSS_TEST_REAL_MODULE");
    // Direct dependencies: libc and, in a sanitized build, the runtimes.
    Run needed = run({"readelf", "-d", "-W", real});
    assert_run(needed, 0);
    std::set<std::string> direct;
    for (std::size_t p = needed.out.find("Shared library: ["); p != std::string::npos;
         p = needed.out.find("Shared library: [", p + 1)) {
        std::size_t b = p + 17, e = needed.out.find(']', b);
        direct.insert(needed.out.substr(b, e - b));
    }
    for (const auto& d : direct)
        if (d.rfind("libc.so", 0) != 0 && d.rfind("libasan.so", 0) != 0 &&
            d.rfind("libubsan.so", 0) != 0 && d.rfind("libpthread.so", 0) != 0)
            fail_msg("the module needs %s", d.c_str());
    // Everything loaded with it, minus what only the sanitizer runtimes bring.
    Run l = run({"ldd", real});
    assert_run(l, 0);
    std::set<std::string> all = lib_names(l.out), runtime_deps;
    for (const auto& d : direct)
        if (d.rfind("libasan", 0) == 0 || d.rfind("libubsan", 0) == 0)
            for (const auto& x : lib_names(run({"ldd", "/lib/x86_64-linux-gnu/" + d}).out))
                runtime_deps.insert(x);
    for (const char* h : heavy) {
        std::set<std::string> own;
        for (const auto& x : all)
            if (!runtime_deps.count(x)) own.insert(x);
        if (any_like(own, h)) fail_msg("ldd of the module shows %s:\n%s", h, l.out.c_str());
    }
    // The same sources built without sanitizers: nothing but libc.
    Run p = run({"ldd", env("NSS_TEST_PLAIN_MODULE")});
    assert_run(p, 0);
    for (const auto& x : lib_names(p.out))
        if (x.rfind("libc.so", 0) != 0 && x.rfind("linux-vdso", 0) != 0 &&
            x.rfind("ld-linux", 0) != 0 && x.rfind("libpthread", 0) != 0)
            fail_msg("plain module: ldd shows %s", x.c_str());
    for (const char* h : heavy) assert_false(any_like(lib_names(p.out), h));
}

void real_module_exports(void**) {
    const std::set<std::string> want = map_globals();
    assert_int_equal(want.size(), 15);
    for (const std::string& so :
         {env("NSS_TEST_REAL_MODULE"), env("NSS_TEST_MODULE"), env("NSS_TEST_PLAIN_MODULE")}) {
        Run nm = run({"nm", "-D", "--defined-only", so});
        assert_run(nm, 0);
        std::set<std::string> got = words_after(nm.out, 2);
        if (got != want) {
            std::string s;
            for (const auto& x : got) s += x + " ";
            fail_msg("%s exports: %s", so.c_str(), s.c_str());
        }
        // No NSS call of its own (recursion), no logging, no threads, no C++
        // runtime, no static destructor (__cxa_atexit).
        Run und = run({"nm", "-D", "--undefined-only", so});
        assert_run(und, 0);
        for (const auto& s : words_after(und.out, 1)) {
            std::string name = s.substr(0, s.find('@'));
            if (name == "__cxa_finalize") continue;  // libc's, in every shared object
            for (const char* bad :
                 {"getpw", "getgr", "getsp", "initgroups", "getgrouplist", "openlog", "syslog",
                  "pthread_create", "__cxa_", "_Znw", "_Zda", "_Zdl", "__gxx_personality"})
                if (name.rfind(bad, 0) == 0) fail_msg("%s calls %s", so.c_str(), name.c_str());
        }
    }
}

}  // namespace

int main() {
    if (skip_unless_root("nss_system")) return 0;
    Run u = run({"unshare", "--mount", "--propagation", "private", "--", "true"});
    g_unshare_ok = u.status == 0;
    std::vector<CMUnitTest> tests = {
        cmocka_unit_test(add_creates_account_and_home),
        cmocka_unit_test(add_refuses_names_resolving_elsewhere),
        cmocka_unit_test(add_refuses_groups),
        cmocka_unit_test(add_existing),
        cmocka_unit_test(config_uid_floor),
        cmocka_unit_test(tables_need_no_config),
        cmocka_unit_test(groups_rechecked_at_reindex),
        cmocka_unit_test(getent_service_vendor),
        cmocka_unit_test(getent_long_entries),
    };
    // CMocka 1.1 prints its own skips as "not ok": say it in TAP ourselves.
    if (g_unshare_ok) {
        tests.push_back(cmocka_unit_test(namespace_nsswitch));
        tests.push_back(cmocka_unit_test(big_group_kept));
    } else {
        std::printf("ok - namespace_nsswitch # SKIP unshare --mount failed: %s\n", u.err.c_str());
        std::printf("ok - big_group_kept # SKIP unshare --mount failed: %s\n", u.err.c_str());
    }
    const CMUnitTest rest[] = {
        cmocka_unit_test(remove_archives_by_default),
        cmocka_unit_test(remove_delete_home_no_follow),
        cmocka_unit_test(remove_refuses_symlinked_home),
        cmocka_unit_test(remove_keep_home),
        cmocka_unit_test(removed_uid_not_reused),
        cmocka_unit_test(remove_home_from_config),
        cmocka_unit_test(real_module_ldd),
        cmocka_unit_test(real_module_exports),
    };
    tests.insert(tests.end(), std::begin(rest), std::end(rest));
    return _cmocka_run_group_tests("nss_system", tests.data(), tests.size(), group_setup,
                                   group_teardown);
}
