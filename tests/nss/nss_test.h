// Shared helpers of the NSS tests (tests/nss/test_*.cc): the test copy of
// libnss_vendor.so.2 opened with dlopen(), indexes written with the writer
// vendorctl uses (build_nss_index + atomic_write), child processes.
//
// The test copy of the module is compiled with PAM_VENDOR_NSS_INDEX pointing
// at $(B)/tests/nss/root/nss/index, so every test binary owns that private
// root (NSS_TEST_ROOT) while it runs and removes it at the end; the suites
// run one after the other. The module believes only a root-owned index that
// nobody else can write: these tests need root, and report a SKIP without it.
//
// Environment (set by tests/nss/nss.mk): NSS_TEST_ROOT, NSS_TEST_MODULE (the
// test copy), NSS_TEST_PLAIN_MODULE (same, no sanitizer), NSS_TEST_REAL_MODULE
// ($(B)/nss_vendor/libnss_vendor.so.2), NSS_TEST_MAP, NSS_TEST_VENDORCTL,
// NSS_TEST_PRELOAD (sanitizer runtime a non-sanitized program needs before it
// can dlopen the sanitized module; empty in a plain build).
#pragma once

// Every C++ header before <cmocka.h>: it defines fail(), skip() ... as macros.
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "files.h"
#include "nss_index.h"
#include "nss_writer.h"
#include "result.h"

extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
}

extern "C" char** environ;

namespace nsst {

using vendor::core::NssGroup;
using vendor::core::NssUser;

#define assert_ok(expr)                                                                            \
    do {                                                                                           \
        const auto& r_ = (expr);                                                                   \
        if (!r_.ok()) fail_msg("%s failed: %s", #expr, r_.error().detail.c_str());                 \
    } while (0)

#define assert_str_eq(a, b) assert_string_equal(std::string(a).c_str(), std::string(b).c_str())

inline const char* status_name(int st) {
    switch (st) {
    case NSS_STATUS_TRYAGAIN: return "TRYAGAIN";
    case NSS_STATUS_UNAVAIL: return "UNAVAIL";
    case NSS_STATUS_NOTFOUND: return "NOTFOUND";
    case NSS_STATUS_SUCCESS: return "SUCCESS";
    case NSS_STATUS_RETURN: return "RETURN";
    }
    return "?";
}

// Status and errno together, with a readable failure.
#define assert_nss(got_st, got_err, want_st, want_err)                                             \
    do {                                                                                           \
        int gs_ = (got_st), ge_ = (got_err), ws_ = (want_st), we_ = (want_err);                    \
        if (gs_ != ws_ || ge_ != we_)                                                              \
            fail_msg("%s: got %s/%s, expected %s/%s", #got_st, nsst::status_name(gs_),             \
                     strerrorname_np(ge_) ? strerrorname_np(ge_) : "?", nsst::status_name(ws_),    \
                     strerrorname_np(we_) ? strerrorname_np(we_) : "?");                           \
    } while (0)

inline std::string env(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) {
        std::fprintf(stderr, "tests/nss: %s is not set (run through make nss)\n", name);
        std::exit(2);
    }
    return v;
}
inline std::string env_or(const char* name, const char* def) {
    const char* v = std::getenv(name);
    return v ? v : def;
}

inline std::string root() { return env("NSS_TEST_ROOT"); }
inline std::string index_dir() { return root() + "/nss"; }
inline std::string index_path() { return index_dir() + "/" + vendor::nssidx::kFileName; }

// Without root the module refuses every index we can write: one TAP skip
// line for the whole program (CMocka 1.1 would print a skip as "not ok").
inline bool skip_unless_root(const char* what) {
    if (geteuid() == 0) return false;
    std::printf("1..1\nok 1 - %s # SKIP needs root: the module believes only a root-owned index\n",
                what);
    return true;
}

inline int rm_cb(const char* p, const struct stat*, int type, struct FTW*) {
    if (type == FTW_DP) return ::rmdir(p) == 0 || errno == ENOENT ? 0 : -1;
    return ::unlink(p) == 0 || errno == ENOENT ? 0 : -1;
}
inline void rm_rf(const std::string& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return;
    // Homes are 0700 and owned by other uids: root walks them anyway.
    ::nftw(p.c_str(), rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

inline void mkdir_p(const std::string& p, mode_t mode) {
    std::string walked;
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = p.find('/', pos + 1);
        walked = p.substr(0, pos);
        ::mkdir(walked.c_str(), mode);
    }
    ::chmod(p.c_str(), mode);
}

// A fresh private root: root-owned 0755, like /var/lib/pam_vendor/nss.
inline void reset_root() {
    rm_rf(root());
    mkdir_p(root(), 0755);
    // The tests' parent may have been created under a permissive umask; the
    // safe-open rules of vendorctl refuse a group/world-writable ancestor.
    std::string parent = root().substr(0, root().rfind('/'));
    ::chmod(parent.c_str(), 0755);
    mkdir_p(index_dir(), 0755);
}

inline void write_file(const std::string& path, std::string_view data, mode_t mode = 0644) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) fail_msg("cannot create %s: %s", path.c_str(), std::strerror(errno));
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n <= 0) fail_msg("cannot write %s", path.c_str());
        off += static_cast<std::size_t>(n);
    }
    ::fchmod(fd, mode);
    ::close(fd);
}

inline std::string read_file(const std::string& path) {
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}

inline bool exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

inline bool contains(std::string_view hay, std::string_view needle) {
    return hay.find(needle) != std::string_view::npos;
}

// ---------------------------------------------------------------- indexes

inline NssUser mkuser(const std::string& name, std::uint32_t uid, std::uint32_t gid,
                      const std::string& gecos, std::vector<std::uint32_t> sup = {},
                      const std::string& shell = "/bin/bash") {
    NssUser u;
    u.name = name;
    u.uid = uid;
    u.gid = gid;
    u.gecos = gecos;
    u.dir = "/home/vendors/" + name;
    u.shell = shell;
    u.sup = std::move(sup);
    return u;
}

inline NssGroup mkgroup(const std::string& name, std::uint32_t gid,
                        std::vector<std::string> members = {}) {
    NssGroup g;
    g.name = name;
    g.gid = gid;
    g.members = std::move(members);
    return g;
}

inline constexpr std::uint32_t kMin = 2000300000, kMax = 2000499999, kGid = 2000300000;

inline std::string build(const std::vector<NssUser>& users, const std::vector<NssGroup>& groups,
                         std::uint32_t id_min = kMin, std::uint32_t id_max = kMax) {
    auto r = vendor::core::build_nss_index(users, groups, id_min, id_max);
    if (!r) fail_msg("build_nss_index: %s", r.error().detail.c_str());
    return *r;
}

// As vendorctl installs it: temp file, fsync, the old file marked
// superseded, rename (new inode every time).
inline void install(const std::string& bytes, mode_t mode = 0644) {
    auto st = vendor::core::install_nss_index(index_path(), bytes, mode);
    if (!st) fail_msg("install_nss_index: %s", st.error().detail.c_str());
}

// As an admin's own tool would (mv of a prepared file): an atomic rename,
// but no superseded mark on the old file.
inline void install_out_of_band(const std::string& bytes, mode_t mode = 0644) {
    auto st = vendor::core::atomic_write(index_path(), bytes, mode);
    if (!st) fail_msg("atomic_write: %s", st.error().detail.c_str());
}

// Long enough for the module's periodic re-check of the path to have run
// (nss_index.h: kRecheckMs plus one tick of CLOCK_MONOTONIC_COARSE), so a
// change made behind the writer's back is seen by the next call.
inline long coarse_tick_ns() {
    timespec res{};
    ::clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    return res.tv_sec * 1000000000L + res.tv_nsec;
}
inline void settle() {
    long ns = vendor::nssidx::kRecheckMs * 1000000L + coarse_tick_ns() + 1000000L;
    timespec ts{ns / 1000000000L, ns % 1000000000L};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

// Recompute the checksum after a deliberate edit of the body, so that the
// structural checks (not the checksum) are what refuses it.
inline void fix_checksum(std::string& b) {
    vendor::nssidx::Header h;
    std::memcpy(&h, b.data(), sizeof h);
    h.checksum = vendor::nssidx::fnv1a(reinterpret_cast<const unsigned char*>(b.data()) + sizeof h,
                                       b.size() - sizeof h);
    std::memcpy(b.data(), &h, sizeof h);
}
inline vendor::nssidx::Header header_of(const std::string& b) {
    vendor::nssidx::Header h;
    std::memcpy(&h, b.data(), sizeof h);
    return h;
}
inline void set_header(std::string& b, const vendor::nssidx::Header& h) {
    std::memcpy(b.data(), &h, sizeof h);
}

// ---------------------------------------------------------------- the module

using PwFn = nss_status (*)(const char*, passwd*, char*, size_t, int*);
using PwUidFn = nss_status (*)(uid_t, passwd*, char*, size_t, int*);
using PwEntFn = nss_status (*)(passwd*, char*, size_t, int*);
using GrFn = nss_status (*)(const char*, group*, char*, size_t, int*);
using GrGidFn = nss_status (*)(gid_t, group*, char*, size_t, int*);
using GrEntFn = nss_status (*)(group*, char*, size_t, int*);
using SpFn = nss_status (*)(const char*, spwd*, char*, size_t, int*);
using SpEntFn = nss_status (*)(spwd*, char*, size_t, int*);
using SetFn = nss_status (*)(int);
using EndFn = nss_status (*)(void);
using InitgrFn = nss_status (*)(const char*, gid_t, long*, long*, gid_t**, long, int*);

struct Module {
    void* h = nullptr;
    PwFn getpwnam_r;
    PwUidFn getpwuid_r;
    SetFn setpwent;
    PwEntFn getpwent_r;
    EndFn endpwent;
    GrFn getgrnam_r;
    GrGidFn getgrgid_r;
    SetFn setgrent;
    GrEntFn getgrent_r;
    EndFn endgrent;
    SpFn getspnam_r;
    SetFn setspent;
    SpEntFn getspent_r;
    EndFn endspent;
    InitgrFn initgroups_dyn;
};

template <typename T>
inline void sym(void* h, const char* name, T& out) {
    void* p = ::dlsym(h, name);
    if (!p) {
        std::fprintf(stderr, "tests/nss: %s missing from the module\n", name);
        std::exit(2);
    }
    out = reinterpret_cast<T>(p);
}

// Opened once per process, as glibc does; never closed (neither does glibc).
inline Module& module(const std::string& path = env("NSS_TEST_MODULE")) {
    static Module m;
    if (m.h) return m;
    m.h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!m.h) {
        std::fprintf(stderr, "tests/nss: dlopen %s: %s\n", path.c_str(), ::dlerror());
        std::exit(2);
    }
    sym(m.h, "_nss_vendor_getpwnam_r", m.getpwnam_r);
    sym(m.h, "_nss_vendor_getpwuid_r", m.getpwuid_r);
    sym(m.h, "_nss_vendor_setpwent", m.setpwent);
    sym(m.h, "_nss_vendor_getpwent_r", m.getpwent_r);
    sym(m.h, "_nss_vendor_endpwent", m.endpwent);
    sym(m.h, "_nss_vendor_getgrnam_r", m.getgrnam_r);
    sym(m.h, "_nss_vendor_getgrgid_r", m.getgrgid_r);
    sym(m.h, "_nss_vendor_setgrent", m.setgrent);
    sym(m.h, "_nss_vendor_getgrent_r", m.getgrent_r);
    sym(m.h, "_nss_vendor_endgrent", m.endgrent);
    sym(m.h, "_nss_vendor_getspnam_r", m.getspnam_r);
    sym(m.h, "_nss_vendor_setspent", m.setspent);
    sym(m.h, "_nss_vendor_getspent_r", m.getspent_r);
    sym(m.h, "_nss_vendor_endspent", m.endspent);
    sym(m.h, "_nss_vendor_initgroups_dyn", m.initgroups_dyn);
    return m;
}

// One passwd lookup with a generous buffer: status, errno and a copy.
struct Pw {
    int st = -1, err = 0;
    std::string name, passwd, gecos, dir, shell;
    std::uint32_t uid = 0, gid = 0;
};
inline Pw copy_pw(int st, int err, const passwd& p) {
    Pw r;
    r.st = st;
    r.err = err;
    if (st == NSS_STATUS_SUCCESS) {
        r.name = p.pw_name;
        r.passwd = p.pw_passwd;
        r.gecos = p.pw_gecos;
        r.dir = p.pw_dir;
        r.shell = p.pw_shell;
        r.uid = p.pw_uid;
        r.gid = p.pw_gid;
    }
    return r;
}
inline Pw pwnam(const char* name) {
    passwd p{};
    char buf[4096];
    int err = 0;
    int st = module().getpwnam_r(name, &p, buf, sizeof buf, &err);
    return copy_pw(st, err, p);
}
inline Pw pwuid(uid_t uid) {
    passwd p{};
    char buf[4096];
    int err = 0;
    int st = module().getpwuid_r(uid, &p, buf, sizeof buf, &err);
    return copy_pw(st, err, p);
}

struct Gr {
    int st = -1, err = 0;
    std::string name, passwd;
    std::uint32_t gid = 0;
    std::vector<std::string> mem;
};
inline Gr copy_gr(int st, int err, const group& g) {
    Gr r;
    r.st = st;
    r.err = err;
    if (st == NSS_STATUS_SUCCESS) {
        r.name = g.gr_name;
        r.passwd = g.gr_passwd;
        r.gid = g.gr_gid;
        for (char** m = g.gr_mem; *m; ++m) r.mem.emplace_back(*m);
    }
    return r;
}
inline Gr grnam(const char* name) {
    group g{};
    std::vector<char> buf(65536);  // member lists can be long
    int err = 0;
    int st = module().getgrnam_r(name, &g, buf.data(), buf.size(), &err);
    return copy_gr(st, err, g);
}
inline Gr grgid(gid_t gid) {
    group g{};
    std::vector<char> buf(65536);  // member lists can be long
    int err = 0;
    int st = module().getgrgid_r(gid, &g, buf.data(), buf.size(), &err);
    return copy_gr(st, err, g);
}

// initgroups_dyn as glibc calls it: the primary group already in the array.
inline int initgroups(const char* user, gid_t primary, std::vector<gid_t>& out, int* err,
                      long limit = 0) {
    long start = 1, size = 1;
    auto* groups = static_cast<gid_t*>(std::malloc(sizeof(gid_t)));
    groups[0] = primary;
    int st = module().initgroups_dyn(user, primary, &start, &size, &groups, limit, err);
    out.assign(groups, groups + start);
    std::free(groups);
    return st;
}

// ---------------------------------------------------------------- processes

struct Run {
    int status = -1;  // exit status, or 128+signal
    std::string out, err;
};

// Runs argv with the current environment plus `extra` ("K=V"; "K=" removes K)
// and stdout/stderr captured; never through a shell.
inline Run run(const std::vector<std::string>& argv, const std::vector<std::string>& extra = {},
               const std::string& input = "") {
    Run r;
    std::map<std::string, std::string> envm;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) envm[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& kv : extra) {
        auto eq = kv.find('=');
        std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
        if (v.empty()) envm.erase(k);
        else envm[k] = v;
    }
    std::vector<std::string> envs;
    for (const auto& [k, v] : envm) envs.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : envs) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& s : argv_copy) args.push_back(s.data());
    args.push_back(nullptr);
    char out_t[] = "/tmp/nss-test-out.XXXXXX", err_t[] = "/tmp/nss-test-err.XXXXXX",
         in_t[] = "/tmp/nss-test-in.XXXXXX";
    int ofd = ::mkstemp(out_t), efd = ::mkstemp(err_t), ifd = ::mkstemp(in_t);
    if (ofd < 0 || efd < 0 || ifd < 0) fail_msg("mkstemp: %s", std::strerror(errno));
    if (!input.empty() &&
        ::write(ifd, input.data(), input.size()) != static_cast<ssize_t>(input.size()))
        fail_msg("cannot write child input");
    ::lseek(ifd, 0, SEEK_SET);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, ifd, 0);
    posix_spawn_file_actions_adddup2(&fa, ofd, 1);
    posix_spawn_file_actions_adddup2(&fa, efd, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) {
        int ws = 0;
        while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
        r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    } else {
        r.status = 127;
        r.err = std::string("cannot run ") + argv[0] + ": " + std::strerror(rc);
    }
    ::close(ofd);
    ::close(efd);
    ::close(ifd);
    r.out = read_file(out_t);
    r.err += read_file(err_t);
    ::unlink(out_t);
    ::unlink(err_t);
    ::unlink(in_t);
    return r;
}

#define assert_run(r, want)                                                                        \
    do {                                                                                           \
        const auto& rr_ = (r);                                                                     \
        if (rr_.status != (want))                                                                  \
            fail_msg("%s: exit %d, expected %d\nstdout: %s\nstderr: %s", #r, rr_.status, (want),   \
                     rr_.out.c_str(), rr_.err.c_str());                                            \
    } while (0)

}  // namespace nsst
