// 16 threads of mixed lookups (by name, uid, group name and gid, shadow,
// initgroups, small buffers, hits and misses, and one thread enumerating)
// while the index is replaced again and again, alternating two versions:
//   rewrites   NSS_STRESS_REWRITES (default 1000) replacements by the writer
//              vendorctl uses (build_nss_index + install_nss_index: temp
//              file, fsync, superseded mark on the old file, rename, fsync
//              of the directory), from a thread;
//   vendorctl  NSS_STRESS_VENDORCTL (default 100) `vendorctl reindex` runs,
//              alternating two configurations that share nss_dir.
// Every answer must be exactly the old or the new entry (never a mix, never
// garbage), a miss in at least one version, and never UNAVAIL: the path
// always names a complete index. An enumeration must list one version whole.
// And exactly the new one when it must: a lookup that begins after a
// replacement has returned and ends before the next one begins answers from
// the version just installed (nss_vendor(8): the next call after the writer
// returns sees the new index), counted as "exact" answers; the writer's own
// thread checks that right after each replacement too.
// Cost under ASan on 2 vCPUs with the readers running: about 12 ms per
// atomic replacement (two fsyncs) and 0.27 s per vendorctl process; the
// defaults keep the program near 40 s. NSS_STRESS_VENDORCTL=1000 gives the
// full count through vendorctl processes (about 5 minutes).
// Replacing the index in place instead (truncate + write, as cp does) makes
// this program die of SIGBUS in the readers: the module maps the file, and
// only a rename is a safe way to replace it.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "nss_test.h"

using namespace nsst;

namespace {

constexpr int kThreads = 16;

bool same(const Pw& a, const Pw& b) {
    return a.name == b.name && a.passwd == b.passwd && a.gecos == b.gecos && a.dir == b.dir &&
           a.shell == b.shell && a.uid == b.uid && a.gid == b.gid;
}
bool same(const Gr& a, const Gr& b) {
    return a.name == b.name && a.passwd == b.passwd && a.gid == b.gid && a.mem == b.mem;
}

// One version of the index as the module answers it, captured while it was
// the only one installed.
struct Version {
    std::map<std::string, Pw> pw_by_name;
    std::map<std::uint32_t, Pw> pw_by_uid;
    std::map<std::string, Gr> gr_by_name;
    std::map<std::uint32_t, Gr> gr_by_gid;
    std::map<std::string, std::vector<gid_t>> groups;
    std::vector<std::string> walk;  // getpwent order
};

Version capture() {
    auto& m = module();
    Version v;
    passwd p{};
    group g{};
    char buf[4096];
    int err = 0;
    assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
    while (m.getpwent_r(&p, buf, sizeof buf, &err) == NSS_STATUS_SUCCESS) {
        Pw x = copy_pw(NSS_STATUS_SUCCESS, 0, p);
        v.walk.push_back(x.name);
        v.pw_by_name[x.name] = x;
        v.pw_by_uid[x.uid] = x;
    }
    m.endpwent();
    assert_int_equal(m.setgrent(0), NSS_STATUS_SUCCESS);
    while (m.getgrent_r(&g, buf, sizeof buf, &err) == NSS_STATUS_SUCCESS) {
        Gr x = copy_gr(NSS_STATUS_SUCCESS, 0, g);
        v.gr_by_name[x.name] = x;
        v.gr_by_gid[x.gid] = x;
    }
    m.endgrent();
    for (const auto& [name, pw] : v.pw_by_name) {
        std::vector<gid_t> gids;
        assert_int_equal(initgroups(name.c_str(), pw.gid, gids, &err), NSS_STATUS_SUCCESS);
        v.groups[name] = gids;
    }
    assert_false(v.walk.empty());
    return v;
}

struct Shared {
    const Version* ver[2];
    std::vector<std::string> names, gnames;
    std::vector<std::uint32_t> uids, gids;
    std::atomic<bool> stop{false};
    std::atomic<long> ops{0}, failures{0}, seen[2] = {0, 0}, walks{0}, small_retries{0};
    // Replacement i installs version i % 2; before the first one, version B
    // (the last one captured) is in place.
    std::atomic<long> started{-1}, finished{-1}, exact{0};
    static int version_after(long finished) { return finished < 0 ? 1 : int(finished % 2); }
    std::mutex mu;
    std::string first;

    void bad(const std::string& what) {
        if (failures.fetch_add(1) == 0) {
            std::lock_guard<std::mutex> l(mu);
            first = what;
        }
    }
};

// Which versions a found entry matches, or a failure.
// `want` is the version the answer must come from (-1: either may).
template <typename Map, typename Key, typename T>
void judge(Shared& s, const char* what, const std::string& key_text, int st, int e, const Key& key,
           const T& got, Map Version::*map, int want = -1) {
    bool in[2] = {(s.ver[0]->*map).count(key) > 0, (s.ver[1]->*map).count(key) > 0};
    if (st == NSS_STATUS_SUCCESS) {
        bool match[2] = {in[0] && same((s.ver[0]->*map).at(key), got),
                         in[1] && same((s.ver[1]->*map).at(key), got)};
        if (!match[0] && !match[1])
            s.bad(std::string(what) + " " + key_text + ": an entry of neither version");
        if (match[0] != match[1]) s.seen[match[0] ? 0 : 1]++;
        if (want >= 0 && !match[want])
            s.bad(std::string(what) + " " + key_text +
                  ": a stale entry after the replacement had returned");
        if (want >= 0) s.exact++;
    } else if (st == NSS_STATUS_NOTFOUND) {
        if (e != ENOENT) s.bad(std::string(what) + " " + key_text + ": NOTFOUND without ENOENT");
        if (in[0] && in[1])
            s.bad(std::string(what) + " " + key_text + ": NOTFOUND, but in both versions");
        if (want >= 0 && in[want])
            s.bad(std::string(what) + " " + key_text +
                  ": NOTFOUND, but in the version installed before the lookup began");
        if (want >= 0) s.exact++;
    } else {
        s.bad(std::string(what) + " " + key_text + ": " + status_name(st) + " errno " +
              std::to_string(e));
    }
}

void reader(Shared& s, int id) {
    // Below the writer: 16 spinning readers on a small machine would starve
    // the vendorctl processes; they still run whenever a CPU is free (the
    // writer spends most of its time in fsync).
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    auto& m = module();
    std::uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(id + 1);
    auto rnd = [&](std::size_t n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return static_cast<std::size_t>(x % n);
    };
    char buf[4096];
    long ops = 0;
    while (!s.stop.load(std::memory_order_relaxed)) {
        ++ops;
        if (id == 0 && ops % 50 == 0) {
            // The enumerating thread: one version, whole, in order.
            std::vector<std::string> walk;
            passwd p{};
            int e = 0, st;
            m.setpwent(0);
            while ((st = m.getpwent_r(&p, buf, sizeof buf, &e)) == NSS_STATUS_SUCCESS)
                walk.emplace_back(p.pw_name);
            m.endpwent();
            if (st != NSS_STATUS_NOTFOUND) s.bad(std::string("getpwent_r: ") + status_name(st));
            else if (walk != s.ver[0]->walk && walk != s.ver[1]->walk)
                s.bad("getpwent: a walk of " + std::to_string(walk.size()) +
                      " entries matching neither version");
            s.walks++;
            continue;
        }
        // The version that must answer when no replacement ran meanwhile.
        const long done = s.finished.load();
        auto want = [&] { return s.started.load() == done ? Shared::version_after(done) : -1; };
        switch (rnd(8)) {
        case 0: {
            const std::string& n = s.names[rnd(s.names.size())];
            passwd p{};
            errno = 0;
            int st = m.getpwnam_r(n.c_str(), &p, buf, sizeof buf, &errno);
            int e = errno;
            judge(s, "getpwnam_r", n, st, e, n, copy_pw(st, e, p), &Version::pw_by_name, want());
            break;
        }
        case 1: {
            std::uint32_t u = s.uids[rnd(s.uids.size())];
            passwd p{};
            errno = 0;
            int st = m.getpwuid_r(u, &p, buf, sizeof buf, &errno);
            int e = errno;
            judge(s, "getpwuid_r", std::to_string(u), st, e, u, copy_pw(st, e, p),
                  &Version::pw_by_uid, want());
            break;
        }
        case 2: {
            const std::string& n = s.gnames[rnd(s.gnames.size())];
            group g{};
            errno = 0;
            int st = m.getgrnam_r(n.c_str(), &g, buf, sizeof buf, &errno);
            int e = errno;
            judge(s, "getgrnam_r", n, st, e, n, copy_gr(st, e, g), &Version::gr_by_name, want());
            break;
        }
        case 3: {
            std::uint32_t gid = s.gids[rnd(s.gids.size())];
            group g{};
            errno = 0;
            int st = m.getgrgid_r(gid, &g, buf, sizeof buf, &errno);
            int e = errno;
            judge(s, "getgrgid_r", std::to_string(gid), st, e, gid, copy_gr(st, e, g),
                  &Version::gr_by_gid, want());
            break;
        }
        case 4: {  // a buffer of a random size: ERANGE, or a whole entry
            const std::string& n = s.names[rnd(s.names.size())];
            std::size_t len = rnd(120);
            char* small = static_cast<char*>(std::malloc(len));
            passwd p{};
            errno = 0;
            int st = m.getpwnam_r(n.c_str(), &p, small, len, &errno);
            if (st == NSS_STATUS_TRYAGAIN) {
                if (errno != ERANGE) s.bad("getpwnam_r " + n + ": TRYAGAIN without ERANGE");
                else if (!s.ver[0]->pw_by_name.count(n) && !s.ver[1]->pw_by_name.count(n))
                    s.bad("getpwnam_r " + n + ": TRYAGAIN for a name in neither version");
                s.small_retries++;
            } else {
                judge(s, "getpwnam_r (small)", n, st, errno, n, copy_pw(st, errno, p),
                      &Version::pw_by_name);
            }
            std::free(small);
            break;
        }
        case 5: {
            const std::string& n = s.names[rnd(s.names.size())];
            spwd sp{};
            errno = 0;
            int st = m.getspnam_r(n.c_str(), &sp, buf, sizeof buf, &errno);
            if (st == NSS_STATUS_SUCCESS) {
                if (n != sp.sp_namp || std::strcmp(sp.sp_pwdp, "!") != 0)
                    s.bad("getspnam_r " + n + ": wrong entry");
                if (!s.ver[0]->pw_by_name.count(n) && !s.ver[1]->pw_by_name.count(n))
                    s.bad("getspnam_r " + n + ": found in neither version");
            } else if (st != NSS_STATUS_NOTFOUND || errno != ENOENT) {
                s.bad("getspnam_r " + n + ": " + status_name(st));
            }
            break;
        }
        case 6: {
            const std::string& n = s.names[rnd(s.names.size())];
            std::vector<gid_t> got;
            int e = 0;
            int st = initgroups(n.c_str(), kGid, got, &e);
            bool in[2] = {s.ver[0]->groups.count(n) > 0, s.ver[1]->groups.count(n) > 0};
            if (st == NSS_STATUS_SUCCESS) {
                bool match[2] = {in[0] && s.ver[0]->groups.at(n) == got,
                                 in[1] && s.ver[1]->groups.at(n) == got};
                if (!match[0] && !match[1])
                    s.bad("initgroups_dyn " + n + ": a list of neither version");
            } else if (st != NSS_STATUS_NOTFOUND || (in[0] && in[1])) {
                s.bad("initgroups_dyn " + n + ": " + status_name(st));
            }
            break;
        }
        default: {  // a miss that is a miss in both versions
            std::string n = "zz_miss" + std::to_string(rnd(1000));
            passwd p{};
            errno = 0;
            int st = m.getpwnam_r(n.c_str(), &p, buf, sizeof buf, &errno);
            if (st != NSS_STATUS_NOTFOUND || errno != ENOENT)
                s.bad("miss " + n + ": " + status_name(st));
            errno = 0;
            st = m.getpwuid_r(static_cast<uid_t>(rnd(1000)), &p, buf, sizeof buf, &errno);
            if (st != NSS_STATUS_NOTFOUND || errno != ENOENT)
                s.bad(std::string("uid miss: ") + status_name(st));
            break;
        }
        }
    }
    s.ops += ops;
}

// Every entry of `v`, by name and by uid, from the calling thread: what the
// next lookups after a replacement must answer. Returns the first mismatch.
std::string check_now(const Version& v) {
    for (const auto& [name, want] : v.pw_by_name) {
        Pw got = pwnam(name.c_str());
        if (got.st != NSS_STATUS_SUCCESS || !same(got, want)) return "getpwnam_r " + name;
        Pw byuid = pwuid(want.uid);
        if (byuid.st != NSS_STATUS_SUCCESS || !same(byuid, want))
            return "getpwuid_r " + std::to_string(want.uid);
    }
    return "";
}

// Runs the readers while `writer` replaces the index, then checks. The
// writer calls replaced(i) right after replacement i has returned (it
// installed version i % 2), and starting(i) right before it begins.
struct Replacements {
    Shared* s;
    const Version* ver[2];
    void starting(long i) { s->started.store(i); }
    void replaced(long i) {
        s->finished.store(i);
        // The next lookup after the rename returns: this thread's own.
        std::string bad = check_now(*ver[i % 2]);
        if (!bad.empty()) s->bad(bad + ": stale right after replacement " + std::to_string(i));
    }
};

void hammer(const Version& a, const Version& b, const std::function<void(Replacements&)>& writer,
            const char* what) {
    Shared s;
    s.ver[0] = &a;
    s.ver[1] = &b;
    std::set<std::string> names = {"root", "nobody", "vendors"}, gnames = {"root", "sudo", "users"};
    std::set<std::uint32_t> uids = {0, 1000, kMin, kMax}, gids = {0, 27, 100, kMin + 99999};
    for (const Version* v : {&a, &b}) {
        for (const auto& [n, p] : v->pw_by_name) {
            names.insert(n);
            uids.insert(p.uid);
        }
        for (const auto& [n, g] : v->gr_by_name) {
            gnames.insert(n);
            gids.insert(g.gid);
        }
    }
    s.names.assign(names.begin(), names.end());
    s.gnames.assign(gnames.begin(), gnames.end());
    s.uids.assign(uids.begin(), uids.end());
    s.gids.assign(gids.begin(), gids.end());
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) threads.emplace_back(reader, std::ref(s), i);
    auto t0 = std::chrono::steady_clock::now();
    Replacements r{&s, {&a, &b}};
    writer(r);
    s.stop = true;
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("# %s: %.1f s, %ld lookups by %d threads, %ld answers of version A, %ld of B, %ld "
                "exact (after a replacement returned), %ld walks, %ld ERANGE\n",
                what, secs, s.ops.load(), kThreads, s.seen[0].load(), s.seen[1].load(),
                s.exact.load(), s.walks.load(), s.small_retries.load());
    if (s.failures)
        fail_msg("%s: %ld bad answer(s); first: %s", what, s.failures.load(), s.first.c_str());
    // Both versions were really served while the readers ran.
    if (s.seen[0] == 0 || s.seen[1] == 0) fail_msg("%s: the readers never saw both versions", what);
    if (s.exact == 0) fail_msg("%s: no lookup ran between two replacements", what);
}

long env_count(const char* name, long def) {
    const char* v = std::getenv(name);
    if (!v || !*v) return def;
    return std::strtol(v, nullptr, 10);
}

void rewrites_by_the_writer(void**) {
    std::vector<NssUser> ua, ub;
    std::vector<std::string> mem_a, mem_b;
    for (std::uint32_t i = 0; i < 200; ++i) {
        std::string n = "u" + std::to_string(1000 + i).substr(1);
        ua.push_back(mkuser(n, kMin + 1 + i, kGid, "A-" + n, {100}));
        ua.back().dir = "/home/a/" + n;
        ub.push_back(mkuser(n, kMin + 1 + i, kGid, "B-" + n, {29, 44}, "/bin/sh"));
        ub.back().dir = "/home/b/" + n;
        if (i < 2) mem_a.push_back(n);
        if (i == 2) mem_b.push_back(n);
    }
    for (std::uint32_t i = 0; i < 50; ++i) {
        ua.push_back(mkuser("onlya" + std::to_string(i), kMin + 1001 + i, kGid, "A only"));
        ub.push_back(mkuser("onlyb" + std::to_string(i), kMin + 2001 + i, kGid, "B only"));
    }
    const std::string ia =
        build(ua, {mkgroup("vendors", kGid, mem_a), mkgroup("grpa", kGid + 500, {"u000"})});
    const std::string ib =
        build(ub, {mkgroup("vendors", kGid, mem_b), mkgroup("grpb", kGid + 600)});
    install(ia);
    Version a = capture();
    install(ib);
    Version b = capture();
    assert_int_equal(a.walk.size(), 250);
    assert_int_equal(b.walk.size(), 250);
    const long n = env_count("NSS_STRESS_REWRITES", 1000);
    hammer(
        a, b,
        [&](Replacements& rep) {
            for (long i = 0; i < n; ++i) {
                rep.starting(i);
                install(i % 2 ? ib : ia);
                rep.replaced(i);
            }
        },
        ("index replaced " + std::to_string(n) + " times (install_nss_index, as vendorctl)")
            .c_str());
}

void rewrites_by_vendorctl(void**) {
    const std::string r = root();
    auto conf = [&](char v, const char* allowed) {
        std::string path = r + "/conf" + v;
        write_file(path, "registry_dir = " + r + "/registry" + v + "\nstate_dir = " + r +
                             "/state\nnss_dir = " + r + "/nss\naudit_log = " + r +
                             "/log/audit.jsonl\nhome_base = " + r + "/home" + v +
                             "\nhost_name = testhost\nuid_min = " + std::to_string(kMin) +
                             "\nuid_max = " + std::to_string(kMin + 999) + "\nvendor_gid = " +
                             std::to_string(kGid) + "\nallowed_groups = " + allowed + "\n");
        return path;
    };
    const std::string ca = conf('A', "users"), cb = conf('B', "audio");
    auto vctl = [&](const std::string& c, std::vector<std::string> args) {
        args.insert(args.begin(), {env("NSS_TEST_VENDORCTL"), "--config", c});
        return run(args, {"ASAN_OPTIONS=detect_leaks=0"});
    };
    for (int i = 0; i < 5; ++i) {
        std::string n = "v" + std::to_string(i);
        assert_run(vctl(ca, {"add", n, "--vendor", "Acme", "--comment", "A", "--from", "192.0.2.1",
                             "--groups", "users"}),
                   0);
        assert_run(vctl(cb, {"add", n, "--vendor", "Acme", "--comment", "B", "--from", "192.0.2.1",
                             "--groups", "audio", "--shell", "/bin/sh"}),
                   0);
    }
    assert_run(vctl(cb, {"add", "vb5", "--vendor", "Globex", "--from", "192.0.2.1"}), 0);
    assert_run(vctl(ca, {"reindex"}), 0);
    Version a = capture();
    assert_run(vctl(cb, {"reindex"}), 0);
    Version b = capture();
    assert_int_equal(a.walk.size(), 5);
    assert_int_equal(b.walk.size(), 6);
    assert_true(a.groups.at("v0") == (std::vector<gid_t>{kGid, 100}));
    assert_true(b.groups.at("v0") == (std::vector<gid_t>{kGid, 29}));
    const long n = env_count("NSS_STRESS_VENDORCTL", 100);
    long failed = 0;
    std::string why;
    hammer(
        a, b,
        [&](Replacements& rep) {
            for (long i = 0; i < n; ++i) {
                rep.starting(i);
                Run x = vctl(i % 2 ? cb : ca, {"reindex"});
                if (x.status != 0 && failed++ == 0) why = x.err;
                rep.replaced(i);
            }
        },
        ("index replaced " + std::to_string(n) + " times (vendorctl reindex)").c_str());
    if (failed) fail_msg("%ld vendorctl reindex run(s) failed: %s", failed, why.c_str());
}

int group_setup(void**) {
    reset_root();
    return 0;
}
int group_teardown(void**) {
    rm_rf(root());
    return 0;
}

}  // namespace

int main() {
    if (skip_unless_root("nss_stress")) return 0;
    const CMUnitTest tests[] = {
        cmocka_unit_test(rewrites_by_the_writer),
        cmocka_unit_test(rewrites_by_vendorctl),
    };
    return cmocka_run_group_tests_name("nss_stress", tests, group_setup, group_teardown);
}
