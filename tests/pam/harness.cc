// The PAM-stack test harness; see harness.h.
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "harness.h"  // last: <cmocka.h> defines macros

extern char** environ;

namespace pvt {

namespace {

Env g_env;

// ---- small process helpers -------------------------------------------------

// The environment for programs the tests start (vendorctl, useradd, nm):
// without pam_wrapper, which is for the PAM application only.
std::vector<std::string> clean_environ() {
    std::vector<std::string> out;
    for (char** e = environ; *e; ++e) {
        std::string_view v(*e);
        if (v.rfind("LD_PRELOAD=", 0) == 0 || v.rfind("PAM_WRAPPER", 0) == 0 ||
            v.rfind("UID_WRAPPER", 0) == 0)
            continue;
        out.emplace_back(v);
    }
    return out;
}

void drain(int fd, std::string& out) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

CmdResult run(const std::vector<std::string>& argv, const std::vector<std::string>& envv) {
    CmdResult r;
    int outp[2], errp[2];
    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) return r;
    std::vector<char*> av, ev;
    for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    for (const auto& e : envv) ev.push_back(const_cast<char*>(e.c_str()));
    ev.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return r;
    if (pid == 0) {
        dup2(outp[1], 1);
        dup2(errp[1], 2);
        int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull >= 0) dup2(devnull, 0);
        if (argv[0].find('/') != std::string::npos) execve(av[0], av.data(), ev.data());
        else execvpe(av[0], av.data(), ev.data());
        _exit(127);
    }
    ::close(outp[1]);
    ::close(errp[1]);
    // Both pipes: read them in turn with poll so that neither fills up.
    struct pollfd fds[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return r;
}

std::string trim_nl(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// ---- the private directory ---------------------------------------------------

void must(bool ok, const std::string& what) {
    if (!ok) {
        std::fprintf(stderr, "pam_stack_test: %s: %s\n", what.c_str(), std::strerror(errno));
        std::exit(1);
    }
}

void mkdir_mode(const std::string& p, mode_t mode) {
    must(::mkdir(p.c_str(), mode) == 0 || errno == EEXIST, "mkdir " + p);
    must(::chmod(p.c_str(), mode) == 0, "chmod " + p);
}

void put_file(const std::string& p, const std::string& text, mode_t mode) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    must(fd >= 0, "create " + p);
    must(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()), "write " + p);
    ::close(fd);
    must(::chmod(p.c_str(), mode) == 0, "chmod " + p);
}

void fill_paths(Env& e, const std::string& root) {
    e.root = root;
    e.registry = root + "/registry";
    e.registry_broken = root + "/registry_broken";
    e.state = root + "/state";
    e.audit_log = root + "/log/audit.jsonl";
    e.cfg = root + "/pam_vendor.conf";
}

std::string config_text(const Env& e, const std::string& registry, const std::string& audit_log,
                        const std::string& extra, unsigned threshold = kLockoutThreshold) {
    const std::pair<const char*, std::string> keys[] = {
        {"registry_dir", registry},
        {"state_dir", e.state},
        {"nss_dir", e.root + "/nss"},
        {"home_base", e.root + "/home"},
        {"audit_log", audit_log},
        {"host_name", kHostName},
        {"timezone", "UTC"},
        {"vendor_group", kVendorGroup},
        {"lockout_threshold", std::to_string(threshold)},
        {"lockout_time", "15m"},
        {"otp_ttl", "10m"},
    };
    std::string out = "# pam_vendor test config (tests/pam)\n";
    for (const auto& [k, v] : keys) out += std::string(k) + " = " + v + "\n";
    return out + extra;
}

// pam_vendor's result must be visible in the stack's result: success ends
// the stack (done), any failure ends it with pam_vendor's own code (die), and
// PAM_IGNORE falls through to the probe, which answers kIgnored. The session
// stack runs the probe's "export" line after a success to read the pam data
// pam_vendor leaves for pam_systemd.
std::string service_text(const std::string& module, const std::string& probe,
                         const std::string& cfg, const std::string& extra_args) {
    std::string m = module + " conf=" + cfg + extra_args;
    std::string ign = probe + " rc=ignored";
    const std::string lines[] = {
        "auth     [success=done ignore=ignore default=die] " + m,
        "auth     [default=die] " + ign,
        "account  [success=done ignore=ignore default=die] " + m,
        "account  [default=die] " + ign,
        "password [success=done ignore=ignore default=die] " + m,
        "password [default=die] " + ign,
        "session  [success=ok ignore=1 default=die] " + m,
        "session  [success=done default=die] " + probe + " export",
        "session  [default=die] " + ign,
    };
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

void build_tree(const Env& e, const std::string& probe) {
    mkdir_mode(e.registry, 0700);
    mkdir_mode(e.registry_broken, 0700);
    mkdir_mode(e.state, 0700);
    mkdir_mode(e.root + "/log", 0700);
    mkdir_mode(e.root + "/nss", 0755);
    mkdir_mode(e.root + "/home", 0755);
    // A directory anyone may write to: the audit log of pvt_noaudit lives
    // there, and pam_vendor must refuse to log — and so to allow — through it.
    mkdir_mode(e.root + "/badlog", 0777);
    mkdir_mode(e.root + "/services", 0700);

    put_file(e.cfg, config_text(e, e.registry, e.audit_log, ""), 0644);
    put_file(e.root + "/badkey.conf", config_text(e, e.registry, e.audit_log, "frobnicate = yes\n"),
             0644);
    put_file(e.root + "/broken.conf", config_text(e, e.registry_broken, e.audit_log, ""), 0644);
    put_file(e.root + "/noaudit.conf",
             config_text(e, e.registry, e.root + "/badlog/audit.jsonl", ""), 0644);
    put_file(e.root + "/privad.conf",
             config_text(e, e.registry, e.audit_log,
                         "privileged_groups = \"domain admins\" admins@corp.example ADM SUDO\n"),
             0644);
    put_file(e.root + "/race.conf",
             config_text(e, e.registry, e.audit_log, "", kRaceLockoutThreshold), 0644);
    put_file(e.root + "/fleet.conf",
             config_text(e, e.registry, e.audit_log, "state_backend = fleet\n"), 0644);
    std::string deaf = e.root + "/" + kDeafDir;
    mkdir_mode(deaf, 0700);
    put_file(e.root + "/deaf.conf",
             config_text(e, e.registry, deaf + "/audit.jsonl",
                         "syslog_socket = " + deaf + "/log.sock\n"),
             0644);

    std::string s = e.root + "/services/";
    put_file(s + kSvc, service_text(e.module, probe, e.cfg, ""), 0644);
    put_file(s + kSvcBadKey, service_text(e.module, probe, e.root + "/badkey.conf", ""), 0644);
    put_file(s + kSvcBadArg, service_text(e.module, probe, e.cfg, " debug"), 0644);
    put_file(s + kSvcBroken, service_text(e.module, probe, e.root + "/broken.conf", ""), 0644);
    put_file(s + kSvcNoAudit, service_text(e.module, probe, e.root + "/noaudit.conf", ""), 0644);
    // One service per way a configuration file can become unusable
    // (test_broken_config_*): each names its own file, made by the test.
    for (const char* k :
         {"symlink", "bom", "fifo", "dir", "big", "insecure", "missing", "eio", "gid", "salvage"})
        put_file(s + "pvt_cfg_" + k,
                 service_text(e.module, probe, e.root + "/cfg_" + k + ".conf", ""), 0644);
    put_file(s + kSvcPrivAd, service_text(e.module, probe, e.root + "/privad.conf", ""), 0644);
    put_file(s + kSvcRace, service_text(e.module, probe, e.root + "/race.conf", ""), 0644);
    put_file(s + kSvcFleet, service_text(e.module, probe, e.root + "/fleet.conf", ""), 0644);
    put_file(s + kSvcDeaf, service_text(e.module, probe, e.root + "/deaf.conf", ""), 0644);
    // libpam reads "other" beside every service; ours denies everything.
    put_file(s + "other",
             "auth required " + probe + "\naccount required " + probe + "\npassword required " +
                 probe + "\nsession required " + probe + "\n",
             0644);
    // A valid entry in a registry directory anyone may write to: the module
    // must not trust it (registry_error), and must still ignore root.
    put_file(
        e.registry_broken + "/brk1.json",
        "{\"name\":\"brk1\",\"vendor\":\"ACME\",\"from\":[\"192.0.2.0/24\"],\"uid\":2000300500,"
        "\"home\":\"/nonexistent\",\"shell\":\"/bin/sh\"}\n",
        0600);
    must(::chmod(e.registry_broken.c_str(), 0777) == 0, "chmod registry_broken");
}

void rm_rf(const std::string& path) {
    ::nftw(
        path.c_str(),
        [](const char* p, const struct stat*, int type, struct FTW*) -> int {
            if (type == FTW_DP) ::rmdir(p);
            else ::unlink(p);
            return 0;
        },
        16, FTW_DEPTH | FTW_PHYS);
}

// pam_wrapper copies the service files into /tmp/pam.X per process (its
// PAM_WRAPPER_RUNTIME_DIR) and removes that copy at exit; processes that end
// with _exit() (the race test's children) leave theirs. Remove the copies
// that hold our services, once their process is gone.
void remove_pam_wrapper_dirs(const Env& e) {
    for (char c = '0'; c <= 'z'; ++c) {
        if (!std::isalnum(static_cast<unsigned char>(c))) continue;
        std::string dir = std::string("/tmp/pam.") + c;
        std::string svc, pid;
        int fd = ::open((dir + "/" + kSvc).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        drain(fd, svc);
        ::close(fd);
        if (!contains(svc, "conf=" + e.cfg)) continue;
        fd = ::open((dir + "/pid").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            drain(fd, pid);
            ::close(fd);
            long p = std::atol(pid.c_str());
            if (p > 0 && (kill(static_cast<pid_t>(p), 0) == 0 || errno != ESRCH)) continue;
        }
        rm_rf(dir);
    }
}

// ---- throwaway users (root only) -------------------------------------------

bool user_exists(const char* name) { return getpwnam(name) != nullptr; }
bool group_exists(const char* name) { return getgrnam(name) != nullptr; }

bool sys(const std::vector<std::string>& argv) {
    auto r = run(argv, clean_environ());
    if (r.status != 0)
        std::fprintf(stderr, "# %s: exit %d: %s\n", argv[0].c_str(), r.status,
                     trim_nl(r.err).c_str());
    return r.status == 0;
}

void remove_users() {
    // Only our own, unlikely names; also what a killed earlier run left.
    for (const char* u :
         {kExtAlias, kPrivUser, kMemberUser, kExtUser, kExtUser2, kPrivUser2, kGidUser})
        if (user_exists(u)) (void)sys({"userdel", u});
    if (group_exists(kVendorGroup)) (void)sys({"groupdel", kVendorGroup});
}

void create_users(Env& e) {
    remove_users();
    const char* priv = group_exists("adm") ? "adm" : group_exists("sudo") ? "sudo" : nullptr;
    if (priv && sys({"useradd", "--system", "--no-create-home", "--no-user-group", "--shell",
                     "/usr/sbin/nologin", "--groups", priv, kPrivUser})) {
        e.have_priv_user = true;
        e.priv_group = priv;
    }
    if (sys({"groupadd", "--system", kVendorGroup}) &&
        sys({"useradd", "--system", "--no-create-home", "--no-user-group", "--shell",
             "/usr/sbin/nologin", "--groups", kVendorGroup, kMemberUser}))
        e.have_member_user = true;
    // Ordinary accounts (uid >= 1000, as an AD account is), one alias of the
    // first's uid, one in a privileged group.
    bool ok = sys({"useradd", "--no-create-home", "--no-user-group", "--shell", "/usr/sbin/nologin",
                   kExtUser}) &&
              sys({"useradd", "--no-create-home", "--no-user-group", "--shell", "/usr/sbin/nologin",
                   kExtUser2});
    if (ok) {
        struct passwd* pw = getpwnam(kExtUser);
        ok = pw && sys({"useradd", "--no-create-home", "--no-user-group", "--non-unique", "--uid",
                        std::to_string(pw->pw_uid), "--shell", "/usr/sbin/nologin", kExtAlias});
    }
    if (ok && priv)
        ok = sys({"useradd", "--no-create-home", "--no-user-group", "--shell", "/usr/sbin/nologin",
                  "--groups", priv, kPrivUser2});
    if (ok)
        ok = sys({"useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin",
                  kGidUser});
    e.have_ext_users = ok && priv;
}

// The rest of the test runs in its own mount namespace (with a private
// /var/log), where /etc/nsswitch.conf is a copy whose passwd line also asks the
// case-insensitive test source (libnss_pvtci.so.2, found through
// LD_LIBRARY_PATH). Nothing outside the namespace sees it.
bool private_nsswitch(const Env& e) {
    if (unshare(CLONE_NEWNS) != 0) return false;
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    std::string text = read_file("/etc/nsswitch.conf"), out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        if (line.rfind("passwd:", 0) == 0) line += " pvtci";
        out += line + "\n";
    }
    std::string copy = e.root + "/nsswitch.conf";
    put_file(copy, out, 0644);
    if (mount(copy.c_str(), "/etc/nsswitch.conf", nullptr, MS_BIND, nullptr) != 0) return false;
    // A denial logged where no trusted configuration says (the default audit
    // log: the fault sweep makes the configuration itself unreadable) must
    // not create /var/log/pam_vendor on the machine: a private /var/log.
    return mount("pvt-log", "/var/log", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == 0;
}

// ---- supervisor ---------------------------------------------------------------

volatile sig_atomic_t g_child = 0;

void forward_signal(int sig) {
    if (g_child > 0) kill(static_cast<pid_t>(g_child), sig == SIGALRM ? SIGKILL : sig);
}

}  // namespace

std::string asan_runtime() {
    FILE* f = std::fopen("/proc/self/maps", "re");
    if (!f) return "";
    char line[4096];
    std::string found;
    while (std::fgets(line, sizeof line, f)) {
        const char* p = std::strchr(line, '/');
        if (!p || !std::strstr(p, "/libasan.so")) continue;
        found = p;
        found = trim_nl(found);
        break;
    }
    std::fclose(f);
    return found;
}

namespace {

std::string abs_path(const char* p) {
    char buf[PATH_MAX];
    if (!realpath(p, buf)) {
        std::fprintf(stderr, "pam_stack_test: %s: %s\n", p, std::strerror(errno));
        std::exit(2);
    }
    return buf;
}

int supervise(int argc, char** argv) {
    std::string module, vendorctl_path, probe, map, data, fault, nss_dir, preload;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        if (k == "--module") module = abs_path(argv[i + 1]);
        else if (k == "--vendorctl") vendorctl_path = abs_path(argv[i + 1]);
        else if (k == "--probe") probe = abs_path(argv[i + 1]);
        else if (k == "--map") map = abs_path(argv[i + 1]);
        else if (k == "--data") data = abs_path(argv[i + 1]);
        else if (k == "--fault") fault = abs_path(argv[i + 1]);
        else if (k == "--nss-dir") nss_dir = abs_path(argv[i + 1]);
        else if (k == "--preload") preload = abs_path(argv[i + 1]);  // after pam_wrapper
    }
    if (module.empty() || vendorctl_path.empty() || probe.empty() || map.empty() || data.empty()) {
        std::fprintf(stderr,
                     "usage: %s --module pam_vendor.so --vendorctl vendorctl --probe pvt_probe.so "
                     "--map pam_vendor.map --data tests/data\n",
                     argv[0]);
        return 2;
    }
    // A private directory: root-owned 0700 under the sticky /tmp passes the
    // module's ownership rules (non-root: owned by the effective uid).
    const char* base = std::getenv("PAM_TEST_TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pam_vendor-pamtest.XXXXXX";
    std::vector<char> t(tmpl.begin(), tmpl.end());
    t.push_back('\0');
    must(mkdtemp(t.data()) != nullptr, "mkdtemp " + tmpl);
    Env e;
    fill_paths(e, t.data());
    e.module = module;
    e.vendorctl = vendorctl_path;
    e.map = map;
    e.is_root = geteuid() == 0;
    build_tree(e, probe);
    if (e.is_root) create_users(e);
    if (e.have_ext_users && (nss_dir.empty() || !private_nsswitch(e))) e.have_ext_users = false;

    // The test process under pam_wrapper. The sanitizer runtime must come
    // first in the initial library list (ASan aborts otherwise: "ASan runtime
    // does not come first"), so LD_PRELOAD names the libasan this binary is
    // linked with before libpam_wrapper.so. With libasan in LD_PRELOAD,
    // pam_wrapper also loads libpam without RTLD_DEEPBIND (deep binding would
    // route libpam's malloc/free around ASan's allocator);
    // PAM_WRAPPER_DISABLE_DEEPBIND says the same to later pam_wrapper releases
    // and UID_WRAPPER_DISABLE_DEEPBIND to 1.1.4, which reads that name.
    // pam_wrapper copies PAM_WRAPPER_SERVICE_DIR when it loads, which is why
    // the service files exist before this exec.
    std::vector<std::string> envv = clean_environ();
    std::string asan = asan_runtime();
    envv.push_back("LD_PRELOAD=" + (asan.empty() ? std::string() : asan + " ") +
                   (fault.empty() ? std::string() : fault + " ") + "libpam_wrapper.so" +
                   (preload.empty() ? std::string() : " " + preload));
    if (!nss_dir.empty()) envv.push_back("LD_LIBRARY_PATH=" + nss_dir);
    envv.push_back("PAM_WRAPPER=1");
    envv.push_back("PAM_WRAPPER_SERVICE_DIR=" + e.root + "/services");
    if (!asan.empty()) {
        envv.push_back("PAM_WRAPPER_DISABLE_DEEPBIND=1");
        envv.push_back("UID_WRAPPER_DISABLE_DEEPBIND=1");
    }
    envv.push_back("PVT_STAGE=2");
    envv.push_back("PVT_ROOT=" + e.root);
    envv.push_back("PVT_MODULE=" + e.module);
    envv.push_back("PVT_VENDORCTL=" + e.vendorctl);
    envv.push_back("PVT_MAP=" + e.map);
    envv.push_back("PVT_DATA=" + data);
    envv.push_back(std::string("PVT_PRIV=") + (e.have_priv_user ? e.priv_group : ""));
    envv.push_back(std::string("PVT_MEMBER=") + (e.have_member_user ? "1" : ""));
    envv.push_back(std::string("PVT_EXT=") + (e.have_ext_users ? "1" : ""));
    envv.push_back(std::string("PVT_FAULT=") + (fault.empty() ? "" : "1"));

    std::vector<char*> av, ev;
    for (int i = 0; i < argc; ++i) av.push_back(argv[i]);
    av.push_back(nullptr);
    for (auto& s : envv) ev.push_back(s.data());
    ev.push_back(nullptr);

    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGALRM}) sigaction(sig, &sa, nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    must(pid >= 0, "fork");
    if (pid == 0) {
        execve("/proc/self/exe", av.data(), ev.data());
        std::perror("pam_stack_test: re-exec under pam_wrapper");
        _exit(127);
    }
    g_child = pid;
    const char* to = std::getenv("PAM_TEST_TIMEOUT");
    alarm(static_cast<unsigned>(to && std::atoi(to) > 0 ? std::atoi(to) : 900));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    alarm(0);
    g_child = 0;
    if (e.is_root) remove_users();
    remove_pam_wrapper_dirs(e);
    const char* keep = std::getenv("PAM_TEST_KEEP");
    if (keep && *keep == '1') std::fprintf(stderr, "# kept %s\n", e.root.c_str());
    else rm_rf(e.root);
    if (WIFSIGNALED(st)) {
        std::fprintf(stderr, "pam_stack_test: test process killed by signal %d\n", WTERMSIG(st));
        return 1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

void ctl_ok(const std::vector<std::string>& args, std::string* out = nullptr) {
    auto r = vendorctl(args);
    if (r.status != 0) {
        std::string cmd;
        for (const auto& a : args) cmd += " " + a;
        fail_msg("vendorctl%s: exit %d: %s%s", cmd.c_str(), r.status, r.out.c_str(), r.err.c_str());
    }
    if (out) *out = trim_nl(r.out);
}

}  // namespace

const Env& env() { return g_env; }

int main_with(int argc, char** argv, int (*run_all)()) {
    const char* stage = std::getenv("PVT_STAGE");
    if (!stage || std::strcmp(stage, "2") != 0) return supervise(argc, argv);
    fill_paths(g_env, std::getenv("PVT_ROOT"));
    g_env.module = std::getenv("PVT_MODULE");
    g_env.vendorctl = std::getenv("PVT_VENDORCTL");
    g_env.map = std::getenv("PVT_MAP");
    g_env.data = std::getenv("PVT_DATA");
    g_env.is_root = geteuid() == 0;
    const char* priv = std::getenv("PVT_PRIV");
    g_env.priv_group = priv ? priv : "";
    g_env.have_priv_user = !g_env.priv_group.empty();
    const char* member = std::getenv("PVT_MEMBER");
    g_env.have_member_user = member && *member;
    const char* ext = std::getenv("PVT_EXT");
    g_env.have_ext_users = ext && *ext;
    const char* fault = std::getenv("PVT_FAULT");
    g_env.have_fault = fault && *fault;
    return run_all();
}

// ---- helpdesk side --------------------------------------------------------------

CmdResult run_cmd(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
    auto e = clean_environ();
    e.insert(e.end(), extra_env.begin(), extra_env.end());
    return run(argv, e);
}

CmdResult vendorctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {g_env.vendorctl, "--config", g_env.cfg};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, clean_environ());
}

std::string entry_path(const std::string& name) { return g_env.registry + "/" + name + ".json"; }

CmdResult vendorctl_with(const std::string& conf, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {g_env.vendorctl, "--config", conf};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, clean_environ());
}

void write_existing_entry(const std::string& name, const std::string& access, long uid) {
    std::string text = "{\"name\":\"" + name +
                       "\",\"vendor\":\"ACME Medical\",\"from\":[\"192.0.2.0/24\"],\"access\":\"" +
                       access + "\",\"existing\":true" +
                       (uid >= 0 ? ",\"uid\":" + std::to_string(uid) : std::string()) + "}\n";
    write_file(entry_path(name), text, 0600);
}

namespace {
template <typename F>
F fault_fn(const char* name) {
    return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}
}  // namespace

void fault_arm(const char* fn, long skip, long count, int err) {
    if (auto f = fault_fn<int (*)(const char*, long, long, int)>("pvt_fault_arm"))
        if (f(fn, skip, count, err) != 0) fail_msg("fault library: unknown function %s", fn);
}
void fault_disarm() {
    if (auto f = fault_fn<void (*)()>("pvt_fault_disarm")) f();
}
long fault_hits() {
    auto f = fault_fn<long (*)()>("pvt_fault_hits");
    return f ? f() : 0;
}

void add_account(const std::string& name, const Spec& s) {
    std::vector<std::string> a = {"add", name, "--vendor", s.vendor};
    if (!s.from.empty()) a.insert(a.end(), {"--from", s.from});
    if (!s.access.empty()) a.insert(a.end(), {"--access", s.access});
    if (!s.hours.empty()) a.insert(a.end(), {"--hours", s.hours});
    if (!s.hosts.empty()) a.insert(a.end(), {"--hosts", s.hosts});
    if (!s.key_file.empty()) a.insert(a.end(), {"--key", s.key_file});
    if (s.local) a.push_back("--local");
    if (s.any_source) a.push_back("--allow-any-source");
    if (s.existing) a.push_back("--existing");
    ctl_ok(a);
}

void activate(const std::string& name, const std::string& duration) {
    // An otp account also gets a code printed here; the tests issue their own.
    ctl_ok(
        {"activate", name, "--for", duration, "--ticket", "PVT-1", "--reason", "pam stack test"});
}

void deactivate(const std::string& name) { ctl_ok({"deactivate", name}); }

std::string issue_code(const std::string& name) {
    std::string code;
    ctl_ok({"otp", name, "--quiet"}, &code);
    if (code.size() < 8 || code.find_first_not_of("0123456789") != std::string::npos)
        fail_msg("otp --quiet printed '%s', not bare digits", code.c_str());
    return code;
}

void totp_enroll(const std::string& name) {
    std::string out;
    ctl_ok({"totp", "enroll", name}, &out);
    if (!contains(out, "otpauth://totp/"))
        fail_msg("totp enroll printed no otpauth URI: %s", out.c_str());
}

std::string totp_code(const std::string& name) {
    std::string code;
    ctl_ok({"totp", "code", name, "--quiet"}, &code);
    if (code.size() < 6 || code.find_first_not_of("0123456789") != std::string::npos)
        fail_msg("totp code --quiet printed '%s', not bare digits", code.c_str());
    return code;
}

void unlock(const std::string& name) { ctl_ok({"unlock", name}); }

void write_grant(const std::string& name, std::int64_t not_before, std::int64_t not_after) {
    std::string dir = g_env.state + "/grants";
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) fail_msg("mkdir %s", dir.c_str());
    write_file(dir + "/" + name + ".json",
               "{\"account\":\"" + name + "\",\"not_before\":" + std::to_string(not_before) +
                   ",\"not_after\":" + std::to_string(not_after) +
                   ",\"operator\":\"x\",\"ticket\":\"\",\"reason\":\"\"}\n",
               0600);
}

// ---- PAM side ---------------------------------------------------------------------

extern "C" int pvt_conv(int n, const struct pam_message** msg, struct pam_response** resp,
                        void* data) {
    auto* c = static_cast<ConvState*>(data);
    if (n <= 0 || n > PAM_MAX_NUM_MSG || !c) return PAM_CONV_ERR;
    auto* r =
        static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(n), sizeof(pam_response)));
    if (!r) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i) {
        int style = msg[i]->msg_style;
        if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON) {
            c->messages.emplace_back(msg[i]->msg ? msg[i]->msg : "");
            continue;
        }
        ++c->prompts;
        if (style == PAM_PROMPT_ECHO_OFF) ++c->echo_off;
        c->prompt_texts.emplace_back(msg[i]->msg ? msg[i]->msg : "");
        if (c->mode != ConvMode::answer) continue;
        if (c->next >= c->answers.size()) {
            for (int j = 0; j < i; ++j) std::free(r[j].resp);
            std::free(r);
            return PAM_CONV_ERR;
        }
        r[i].resp = strdup(c->answers[c->next++].c_str());
    }
    switch (c->mode) {
    case ConvMode::answer:
    case ConvMode::null_resp: *resp = r; return PAM_SUCCESS;
    case ConvMode::null_array:
        std::free(r);
        *resp = nullptr;
        return PAM_SUCCESS;
    case ConvMode::conv_error: std::free(r); return PAM_CONV_ERR;
    }
    std::free(r);
    return PAM_CONV_ERR;
}

Pam::Pam(const char* service, const std::string& user, const Source& src) {
    pc_.conv = pvt_conv;
    pc_.appdata_ptr = &conv;
    int rc = pam_start(service, user.c_str(), &pc_, &h_);
    if (rc != PAM_SUCCESS) fail_msg("pam_start(%s): %s", service, rc_name(rc));
    if (src.rhost && pam_set_item(h_, PAM_RHOST, src.rhost->c_str()) != PAM_SUCCESS)
        fail_msg("pam_set_item(PAM_RHOST)");
    if (pam_set_item(h_, PAM_TTY, "ssh") != PAM_SUCCESS) fail_msg("pam_set_item(PAM_TTY)");
    if (src.ssh_connection) {
        std::string v = "SSH_CONNECTION=" + *src.ssh_connection;
        if (pam_putenv(h_, v.c_str()) != PAM_SUCCESS) fail_msg("pam_putenv(SSH_CONNECTION)");
    }
    if (src.auth_info) {
        std::string v = "SSH_AUTH_INFO_0=" + *src.auth_info;
        if (pam_putenv(h_, v.c_str()) != PAM_SUCCESS) fail_msg("pam_putenv(SSH_AUTH_INFO_0)");
    }
}

Pam::~Pam() {
    if (h_) pam_end(h_, last_);
}

int Pam::auth(int flags) { return last_ = pam_authenticate(h_, flags); }
int Pam::acct(int flags) { return last_ = pam_acct_mgmt(h_, flags); }
int Pam::setcred(int flags) { return last_ = pam_setcred(h_, flags); }
int Pam::open(int flags) { return last_ = pam_open_session(h_, flags); }
int Pam::close(int flags) { return last_ = pam_close_session(h_, flags); }
int Pam::chauthtok(int flags) { return last_ = pam_chauthtok(h_, flags); }
std::string Pam::getenv(const char* name) const {
    const char* v = pam_getenv(h_, name);
    return v ? v : "";
}

const char* rc_name(int rc) {
    switch (rc) {
    case PAM_SUCCESS: return "PAM_SUCCESS";
    case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
    case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
    case PAM_SESSION_ERR: return "PAM_SESSION_ERR";
    case PAM_CRED_ERR: return "PAM_CRED_ERR";
    case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
    case PAM_SYSTEM_ERR: return "PAM_SYSTEM_ERR";
    case PAM_BUF_ERR: return "PAM_BUF_ERR";
    case PAM_CONV_ERR: return "PAM_CONV_ERR";
    case PAM_IGNORE: return "PAM_IGNORE";
    case PAM_INCOMPLETE: return "PAM_INCOMPLETE";
    case PAM_AUTHTOK_ERR: return "PAM_AUTHTOK_ERR";
    case kIgnored: return "ignored by pam_vendor (probe's PAM_NO_MODULE_DATA)";
    default: return "other";
    }
}

// ---- audit log -------------------------------------------------------------------

std::string Event::s(const char* k) const {
    auto it = str.find(k);
    return it == str.end() ? std::string() : it->second;
}

std::vector<std::string> audit_lines(const std::string& path) {
    std::string text;
    int fd = ::open((path.empty() ? g_env.audit_log : path).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    drain(fd, text);
    ::close(fd);
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        if (nl == std::string::npos) fail_msg("audit log ends with an unterminated line");
        out.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

std::size_t audit_mark() { return audit_lines().size(); }

std::vector<Event> events_since(std::size_t mark) {
    auto lines = audit_lines();
    std::vector<Event> out;
    for (std::size_t i = mark; i < lines.size(); ++i) {
        Event ev;
        ev.raw = lines[i];
        json_object* o = json_tokener_parse(lines[i].c_str());
        if (!o || !json_object_is_type(o, json_type_object)) {
            if (o) json_object_put(o);
            fail_msg("audit line %zu is not a JSON object: %s", i + 1, lines[i].c_str());
        }
        json_object_iter it;
        json_object_object_foreachC(o, it) {
            if (json_object_is_type(it.val, json_type_string))
                ev.str[it.key] =
                    std::string(json_object_get_string(it.val),
                                static_cast<std::size_t>(json_object_get_string_len(it.val)));
            else if (json_object_is_type(it.val, json_type_int))
                ev.num[it.key] = json_object_get_int64(it.val);
        }
        json_object_put(o);
        out.push_back(std::move(ev));
    }
    return out;
}

namespace {

std::string describe(const std::vector<Event>& evs) {
    std::string s;
    for (const auto& e : evs) s += "\n#   " + e.raw;
    return s.empty() ? " (none)" : s;
}

}  // namespace

std::vector<Event> expect_events(std::size_t mark, const std::string& account,
                                 std::vector<Want> want) {
    auto evs = events_since(mark);
    if (evs.size() != want.size())
        fail_msg("expected %zu audit event(s) for %s, got %zu:%s", want.size(), account.c_str(),
                 evs.size(), describe(evs).c_str());
    for (std::size_t i = 0; i < want.size(); ++i) {
        const auto& e = evs[i];
        const auto& w = want[i];
        bool ok = e.s("event") == w.event && e.s("account") == account &&
                  e.s("result") == w.result && (!w.reason || e.s("reason") == w.reason);
        if (!ok)
            fail_msg("audit event %zu: want event=%s account=%s result=%s reason=%s, got:%s", i + 1,
                     w.event, account.c_str(), w.result, w.reason ? w.reason : "(any)",
                     describe({e}).c_str());
        // Every decision line says where and who: host, service, pid.
        if (e.s("host") != kHostName || e.s("service").empty() || !e.num.count("pid") ||
            e.s("ts").empty())
            fail_msg("audit event lacks host/service/pid/ts:%s", describe({e}).c_str());
    }
    return evs;
}

void expect_no_events(std::size_t mark) {
    auto evs = events_since(mark);
    if (!evs.empty())
        fail_msg("expected no audit event, got %zu:%s", evs.size(), describe(evs).c_str());
}

void expect_denied_both(const char* service, const std::string& user, const Source& src,
                        const char* reason) {
    {
        std::size_t m = audit_mark();
        Pam p(service, user, src);
        assert_rc(p.auth(), PAM_AUTH_ERR);
        if (p.conv.prompts != 0)
            fail_msg("auth prompted %d time(s) although a gate is closed", p.conv.prompts);
        expect_events(m, user, {{"auth", "denied", reason}});
    }
    {
        std::size_t m = audit_mark();
        Pam p(service, user, src);
        assert_rc(p.acct(), PAM_PERM_DENIED);
        expect_events(m, user, {{"account", "denied", reason}});
    }
}

void expect_account_ok(const char* service, const std::string& user, const Source& src) {
    std::size_t m = audit_mark();
    Pam p(service, user, src);
    assert_rc(p.acct(), PAM_SUCCESS);
    expect_events(m, user, {{"account", "ok", "ok"}});
}

// ---- misc ----------------------------------------------------------------------------

void write_file(const std::string& path, std::string_view data, mode_t mode) {
    ::unlink(path.c_str());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) fail_msg("cannot create %s: %s", path.c_str(), std::strerror(errno));
    if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
        fail_msg("cannot write %s", path.c_str());
    ::close(fd);
    if (::chmod(path.c_str(), mode) != 0) fail_msg("cannot chmod %s", path.c_str());
}

std::string read_file(const std::string& path) {
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail_msg("cannot read %s: %s", path.c_str(), std::strerror(errno));
    drain(fd, out);
    ::close(fd);
    return out;
}

bool contains(std::string_view hay, std::string_view needle) {
    return hay.find(needle) != std::string_view::npos;
}

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

namespace {

const char* const kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

int weekday_mon0_utc(std::int64_t t) {
    // 1970-01-01 was a Thursday (Monday-based index 3).
    std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    return static_cast<int>(((days + 3) % 7 + 7) % 7);
}

}  // namespace

std::string schedule_excluding_now() {
    // A whole day that is neither today nor a neighbour of it (UTC, the test
    // zone): a test running across midnight still sees it closed.
    return std::string(kDays[(weekday_mon0_utc(now()) + 3) % 7]) + " 00:00-24:00";
}

std::string schedule_including_now() {
    int today = weekday_mon0_utc(now());
    return std::string(kDays[(today + 6) % 7]) + "-" + kDays[(today + 1) % 7] + " 00:00-24:00";
}

}  // namespace pvt
