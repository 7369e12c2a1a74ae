// `make bench`: what one vendor login costs in PAM, against the pam_permit
// floor and the do-it-yourself peer stack (pam_oath + pam_access + pam_time),
// measured in the same run so that machine noise hits all three alike.
//
// Every sample is a fresh process (pam_txn: pam_start_confdir ... pam_end),
// as in sshd, where each connection's monitor runs PAM once: library loading,
// module dlopen, config parsing and every file the modules touch are part of
// the cost. Samples are interleaved (round r runs the stacks in the r-th of
// all orders), one-time codes are issued before the clock starts, and each
// sample is timed from spawn to reap.
//
// Targets (from the issue): pam_vendor <= 0.8 x the peer stack and within
// 0.6 ms of the floor (medians), at most 300 system calls per transaction
// (strace, printed per phase); pam_vendor.so must not load libcurl, which
// is checked twice: ldd, and the process's own mappings while the session is
// open (a dlopen would not show in ldd).
//
// Nothing in /etc is read for configuration or changed: the services live in a
// private directory given to pam_start_confdir(), all state in a fresh 0700
// directory removed at the end.
#include <elf.h>
#include <fcntl.h>
#include <liboath/oath.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.h"
#include "config_file.h"
#include "store.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct BenchError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Options {
    std::string driver;
    std::string module;
    std::string vendorctl;
    std::string tmpdir = "/tmp";
    std::string peer_user = "nobody";
    std::string vendor_user = "benchv";
    int runs = 300;
    int warmup = 10;
    bool profile = true;
    bool keep = false;
    bool strict = false;
    bool cold_nss = false;  // the driver skips its sshd-like getpwnam before PAM
    double max_ratio = 0.8;
    double max_delta_ms = 0.6;
    long max_syscalls = 300;
};

[[noreturn]] void usage() {
    fprintf(stderr, "usage: bench_run --driver PATH [--module PATH] [--vendorctl PATH]\n"
                    "                 [--runs N] [--warmup N] [--tmpdir DIR] [--peer-user NAME]\n"
                    "                 [--no-profile] [--keep] [--strict] [--cold-nss]\n");
    exit(2);
}

double now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void write_file(const fs::path& p, const std::string& text, mode_t mode) {
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) throw BenchError("cannot create " + p.string() + ": " + strerror(errno));
    bool ok = fchmod(fd, mode) == 0 &&
              write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    int err = errno;
    close(fd);
    if (!ok) throw BenchError("cannot write " + p.string() + ": " + strerror(err));
}

void make_dir(const fs::path& p, mode_t mode) {
    if (mkdir(p.c_str(), mode) != 0 || chmod(p.c_str(), mode) != 0)
        throw BenchError("cannot create directory " + p.string() + ": " + strerror(errno));
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string find_tool(const char* name) {
    const char* path = getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    std::stringstream ss(dirs);
    std::string d;
    while (std::getline(ss, d, ':')) {
        std::string p = d + "/" + name;
        if (access(p.c_str(), X_OK) == 0) return p;
    }
    return {};
}

struct Reaped {
    int status = 0;
    double wall_ms = 0;
    double cpu_ms = 0;  // user + system of the child
    double user_ms = 0;
    double sys_ms = 0;
    double minflt = 0;  // minor page faults (mapping libraries shows here)
};

// Spawn argv (argv[0] an absolute path), stdout/stderr optionally to files,
// wait. The clock covers exactly spawn -> reap.
Reaped spawn_wait(const std::vector<std::string>& argv, const std::string& out_path = {},
                  const std::string& err_path = {}) {
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!out_path.empty())
        posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0600);
    if (!err_path.empty())
        posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0600);
    pid_t pid = 0;
    Reaped r;
    double t0 = now_ms();
    int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw BenchError("cannot run " + argv[0] + ": " + strerror(rc));
    rusage ru{};
    while (wait4(pid, &r.status, 0, &ru) < 0) {
        if (errno != EINTR) throw BenchError(std::string("wait4: ") + strerror(errno));
    }
    r.wall_ms = now_ms() - t0;
    r.user_ms = static_cast<double>(ru.ru_utime.tv_sec) * 1e3 +
                static_cast<double>(ru.ru_utime.tv_usec) / 1e3;
    r.sys_ms = static_cast<double>(ru.ru_stime.tv_sec) * 1e3 +
               static_cast<double>(ru.ru_stime.tv_usec) / 1e3;
    r.cpu_ms = r.user_ms + r.sys_ms;
    r.minflt = static_cast<double>(ru.ru_minflt);
    return r;
}

bool exited_ok(const Reaped& r) { return WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0; }

// Output of a helper command (stdout, and stderr unless dropped).
std::string capture(const std::vector<std::string>& argv, int* status = nullptr,
                    bool drop_stderr = false) {
    char tmpl[] = "/tmp/pam_vendor-bench-out.XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) throw BenchError(std::string("mkstemp: ") + strerror(errno));
    close(fd);
    Reaped r = spawn_wait(argv, tmpl, drop_stderr ? "/dev/null" : tmpl);
    std::string out = read_text(tmpl);
    unlink(tmpl);
    if (status) *status = r.status;
    return out;
}

struct Stats {
    double median = 0, p90 = 0, p99 = 0, mean = 0, min = 0;
};

Stats stats(std::vector<double> v) {
    Stats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    auto rank = [&](double p) {
        auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
        return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
    };
    std::size_t n = v.size();
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    s.p90 = rank(0.90);
    s.p99 = rank(0.99);
    s.min = v.front();
    double sum = 0;
    for (double x : v) sum += x;
    s.mean = sum / static_cast<double>(n);
    return s;
}

double median_of(std::vector<double> v) { return stats(std::move(v)).median; }

// Pressure stall information: microseconds during which some task waited
// for the CPU (or for I/O) since boot; -1 when the kernel has no PSI.
double psi_some_total(const char* what) {
    std::istringstream in(read_text(std::string("/proc/pressure/") + what));
    std::string word;
    while (in >> word) {
        if (word.rfind("total=", 0) == 0) return std::stod(word.substr(6));
        if (word == "full") break;
    }
    return -1;
}

// 95 % interval of f(median a, median b) by resampling whole rounds (the
// stacks of one round ran back to back, so their noise is shared): a PASS or
// MISS whose interval straddles the target is within this machine's noise.
template <typename F>
std::pair<double, double> round_bootstrap(const std::vector<double>& a,
                                          const std::vector<double>& b, F f) {
    std::mt19937 rng(20240601);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible intervals
    std::uniform_int_distribution<std::size_t> pick(0, a.size() - 1);
    std::vector<double> out, ra(a.size()), rb(b.size());
    for (int i = 0; i < 1000; ++i) {
        for (std::size_t j = 0; j < a.size(); ++j) {
            std::size_t k = pick(rng);
            ra[j] = a[k];
            rb[j] = b[k];
        }
        out.push_back(f(median_of(ra), median_of(rb)));
    }
    std::sort(out.begin(), out.end());
    return {out[25], out[974]};
}

// ---------------------------------------------------------------- the stacks

// pam_oath's users file advances on every success: the next code is the one
// after the last counter used, and a code equal to the last one is refused as
// a replay, so that (rare) case skips one more step (window=5 allows it).
class Hotp {
  public:
    Hotp(fs::path file, std::string user) : file_(std::move(file)), user_(std::move(user)) {}
    static constexpr const char* kSecretHex =
        "3132333435363738393031323334353637383930";  // RFC 4226

    void create() const { write_file(file_, "HOTP " + user_ + " - " + kSecretHex + " 0\n", 0600); }

    std::string next() const {
        std::istringstream in(read_text(file_));
        std::string type, user, pin, secret, last;
        unsigned long long counter = 0;
        in >> type >> user >> pin >> secret >> counter >> last;
        if (user != user_ || secret != kSecretHex)
            throw BenchError("unexpected content in " + file_.string());
        if (!last.empty()) ++counter;
        std::string code = gen(counter);
        if (code == last) code = gen(counter + 1);
        return code;
    }

  private:
    static std::string gen(unsigned long long counter) {
        static const char raw[] = "12345678901234567890";
        char out[16] = {};
        if (oath_hotp_generate(raw, 20, counter, 6, false, OATH_HOTP_DYNAMIC_TRUNCATION, out) !=
            OATH_OK)
            throw BenchError("oath_hotp_generate failed");
        return out;
    }
    fs::path file_;
    std::string user_;
};

struct Stack {
    Stack(std::string k, std::string svc, std::string u, std::string w, bool v = false)
        : key(std::move(k)), service(std::move(svc)), user(std::move(u)), what(std::move(w)),
          vendor(v) {}
    std::string key;      // floor, peer, vendor, vendor-ex, load
    std::string service;  // file name in the private confdir
    std::string user;
    std::string what;
    bool vendor = false;                    // pam_vendor runs: needs a grant and a fresh code
    std::vector<double> wall, cpu, minflt;  // one entry per timed run
};

// What ld.so did for one stack (one extra run with LD_DEBUG=statistics):
// the figure behind "load - floor", reproducible on any machine.
struct LoadCost {
    std::size_t objects = 0;  // shared objects mapped while the session is open
    long relocs = -1;         // relocations processed: exec + every dlopen
    long cached = -1;         // of which resolved from ld.so's lookup cache
};

// The module's own share, read from its ELF headers: what every dlopen of it
// makes ld.so do before pam_sm_* is ever called.
struct ElfCost {
    bool ok = false;
    std::vector<std::string> needed;
    long relocs = 0;    // .rela.dyn + .rela.plt entries
    long relative = 0;  // DT_RELACOUNT: no symbol lookup
    long plt = 0;       // .rela.plt entries (resolved at load: -z now)
    long tls = 0;       // PT_TLS memory size
    long inits = 0;     // DT_INIT + DT_INIT_ARRAY entries run at load
};

ElfCost elf_cost(const std::string& path) {
    ElfCost c;
    std::string f = read_text(path);
    auto at = [&](std::size_t off, std::size_t len) {
        return off <= f.size() && len <= f.size() - off;
    };
    if (!at(0, sizeof(Elf64_Ehdr)) || memcmp(f.data(), ELFMAG, SELFMAG) != 0 ||
        f[EI_CLASS] != ELFCLASS64)
        return c;
    Elf64_Ehdr eh;
    memcpy(&eh, f.data(), sizeof eh);
    std::vector<Elf64_Phdr> ph;
    for (std::size_t i = 0; i < eh.e_phnum; ++i) {
        std::size_t off = eh.e_phoff + i * sizeof(Elf64_Phdr);
        if (!at(off, sizeof(Elf64_Phdr))) return c;
        Elf64_Phdr p;
        memcpy(&p, f.data() + off, sizeof p);
        ph.push_back(p);
    }
    // The string table is addressed by its load address.
    auto file_off = [&](Elf64_Addr va) -> std::size_t {
        for (const auto& p : ph)
            if (p.p_type == PT_LOAD && va >= p.p_vaddr && va < p.p_vaddr + p.p_filesz)
                return static_cast<std::size_t>(va - p.p_vaddr + p.p_offset);
        return f.size();
    };
    std::vector<Elf64_Dyn> dyn;
    for (const auto& p : ph) {
        if (p.p_type == PT_TLS) c.tls = static_cast<long>(p.p_memsz);
        if (p.p_type != PT_DYNAMIC) continue;
        for (std::size_t off = p.p_offset; at(off, sizeof(Elf64_Dyn)); off += sizeof(Elf64_Dyn)) {
            Elf64_Dyn d;
            memcpy(&d, f.data() + off, sizeof d);
            if (d.d_tag == DT_NULL) break;
            dyn.push_back(d);
        }
    }
    Elf64_Addr strtab = 0;
    for (const auto& d : dyn) {
        auto v = static_cast<long>(d.d_un.d_val);
        switch (d.d_tag) {
        case DT_STRTAB: strtab = d.d_un.d_ptr; break;
        case DT_RELASZ: c.relocs += v / static_cast<long>(sizeof(Elf64_Rela)); break;
        case DT_PLTRELSZ: c.plt = v / static_cast<long>(sizeof(Elf64_Rela)); break;
        case DT_RELACOUNT: c.relative = v; break;
        case DT_INIT: ++c.inits; break;
        case DT_INIT_ARRAYSZ: c.inits += v / static_cast<long>(sizeof(Elf64_Addr)); break;
        default: break;
        }
    }
    c.relocs += c.plt;
    std::size_t str = file_off(strtab);
    for (const auto& d : dyn) {
        if (d.d_tag != DT_NEEDED || str >= f.size()) continue;
        std::size_t name = str + d.d_un.d_val;
        if (name < f.size()) c.needed.emplace_back(f.c_str() + name);
    }
    c.ok = !dyn.empty();
    return c;
}

class Bench {
  public:
    explicit Bench(Options o) : o_(std::move(o)) {}
    ~Bench() { cleanup(); }
    int run();

  private:
    void setup();
    void setup_vendor();
    std::vector<std::string> argv_for(const Stack& s);  // issues the code, not timed
    void after(const Stack& s);
    void sanity();
    void measure();
    void report_ldd();
    void measure_ld();
    void profile();
    void probe_fs();
    int verdict();
    void cleanup();
    void explain_vendor_failure(const std::string& err_file, const std::string& user);
    void add_account(const std::string& user, bool existing);
    const Stack* find(const std::string& key) const {
        for (const auto& s : stacks_)
            if (s.key == key) return &s;
        return nullptr;
    }

    Options o_;
    fs::path root_;
    fs::path confdir_;
    fs::path vendor_conf_;
    std::vector<Stack> stacks_;
    std::unique_ptr<Hotp> hotp_;
    std::unique_ptr<vendor::core::Store> store_;
    vendor::core::Config cfg_;
    std::map<std::string, std::int64_t> grant_until_;
    bool have_vendor_ = false;
    bool curl_in_ldd_ = false, curl_mapped_ = false, ldd_ok_ = false, maps_ok_ = false;
    std::set<std::string> floor_maps_, vendor_maps_;
    std::map<std::string, LoadCost> load_cost_;
    std::string mount_;
    std::string summary_;       // repeated as the last line
    double cpu_pressure_ = -1;  // % of the measurement with tasks waiting for a CPU
    double io_pressure_ = -1;   // % of it with tasks waiting for I/O
};

void Bench::cleanup() {
    if (root_.empty()) return;
    if (o_.keep) {
        printf("kept: %s\n", root_.c_str());
    } else {
        std::error_code ec;
        fs::remove_all(root_, ec);
        if (ec)
            fprintf(stderr, "bench: could not remove %s: %s\n", root_.c_str(),
                    ec.message().c_str());
    }
    root_.clear();
}

// "ext4 rw,relatime,discard": the file system under the state decides what
// an fsync, a rename over a file or an unlink costs (with `discard`, freeing
// a file's blocks is synchronous), so the report names it.
std::string mount_of(const fs::path& p) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line, best_point, best;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string id, parent, dev, root, point, opts, f;
        ls >> id >> parent >> dev >> root >> point >> opts;
        while (ls >> f && f != "-") {}
        std::string type, source, super;
        ls >> type >> source >> super;
        std::string ps = p.string();
        bool under =
            ps == point || point == "/" ||
            (ps.rfind(point, 0) == 0 && ps.size() > point.size() && ps[point.size()] == '/');
        if (under && point.size() >= best_point.size()) {
            best_point = point;
            best = type + " on " + point + " (" + opts + "; " + super + ")";
        }
    }
    return best.empty() ? "?" : best;
}

void Bench::setup() {
    std::string tmpl = o_.tmpdir + "/pam_vendor-bench.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr)
        throw BenchError("mkdtemp in " + o_.tmpdir + ": " + strerror(errno));
    root_ = buf.data();
    chmod(root_.c_str(), 0700);
    std::error_code ec;
    mount_ = mount_of(fs::canonical(root_, ec));

    confdir_ = root_ / "pam.d";
    make_dir(confdir_, 0755);
    // No `other` file: with a private confdir libpam reads nothing from
    // /etc/pam.d, so each stack loads exactly its own modules.
    write_file(confdir_ / "bench-floor",
               "auth     required pam_permit.so\naccount  required pam_permit.so\n"
               "password required pam_permit.so\nsession  required pam_permit.so\n",
               0644);
    stacks_.emplace_back("floor", "bench-floor", o_.vendor_user,
                         "pam_permit in auth, account, session");

    if (getpwnam(o_.peer_user.c_str()) == nullptr)
        throw BenchError("peer user '" + o_.peer_user +
                         "' is not in the system passwd (pam_access needs one); "
                         "choose another with BENCH_PEER_USER");
    fs::path peer = root_ / "peer";
    make_dir(peer, 0700);
    hotp_ = std::make_unique<Hotp>(peer / "users.oath", o_.peer_user);
    hotp_->create();
    write_file(peer / "access.conf", "+ : " + o_.peer_user + " : 127.0.0.0/8\n- : ALL : ALL\n",
               0644);
    write_file(peer / "time.conf", "*;*;" + o_.peer_user + ";Al0000-2400\n", 0644);
    write_file(confdir_ / "bench-peer",
               "auth     required pam_oath.so usersfile=" + (peer / "users.oath").string() +
                   " window=5 digits=6\n" + "account  required pam_access.so accessfile=" +
                   (peer / "access.conf").string() + "\n" +
                   "account  required pam_time.so conffile=" + (peer / "time.conf").string() +
                   "\n" + "session  required pam_permit.so\n",
               0644);
    stacks_.emplace_back("peer", "bench-peer", o_.peer_user,
                         "pam_oath HOTP | pam_access + pam_time | pam_permit");

    have_vendor_ = !o_.module.empty() && access(o_.module.c_str(), R_OK) == 0;
    if (have_vendor_) setup_vendor();
}

// The entry is written by the project's own CLI (the documented contract),
// so the bench follows the registry format as it evolves; written by hand
// only when vendorctl is absent or refuses.
void Bench::add_account(const std::string& user, bool existing) {
    if (!o_.vendorctl.empty() && access(o_.vendorctl.c_str(), X_OK) == 0) {
        std::vector<std::string> argv = {
            o_.vendorctl, "--config", vendor_conf_.string(), "add",      user,       "--vendor",
            "ACME",       "--from",   "127.0.0.0/8",         "--access", "grant+otp"};
        if (existing) argv.push_back("--existing");
        int st = 0;
        std::string out = capture(argv, &st);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return;
        printf("note: vendorctl add %s failed (%s); registry entry written directly\n",
               user.c_str(), out.substr(0, out.find('\n')).c_str());
    }
    std::string kind = existing ? "\"existing\":true"
                                : "\"uid\":2000300001,\"home\":\"/nonexistent\","
                                  "\"shell\":\"/usr/sbin/nologin\"";
    write_file(root_ / "vendor" / "registry" / (user + ".json"),
               "{\"name\":\"" + user +
                   "\",\"vendor\":\"ACME\",\"from\":[\"127.0.0.0/8\"],\"access\":\"grant+otp\","
                   "\"keys\":[],\"hosts\":[\"*\"]," +
                   kind + "}\n",
               0600);
}

void Bench::setup_vendor() {
    using namespace vendor::core;
    fs::path v = root_ / "vendor";
    make_dir(v, 0755);
    make_dir(v / "registry", 0700);
    make_dir(v / "state", 0700);
    make_dir(v / "nss", 0755);
    make_dir(v / "log", 0700);
    make_dir(v / "home", 0755);
    vendor_conf_ = v / "pam_vendor.conf";
    // Only the paths differ from the shipped defaults: vendor_group,
    // privileged_groups, time zone ... keep their default cost.
    write_file(vendor_conf_,
               "# written by make bench\nregistry_dir = " + (v / "registry").string() +
                   "\nstate_dir = " + (v / "state").string() + "\nnss_dir = " +
                   (v / "nss").string() + "\naudit_log = " + (v / "log" / "audit.jsonl").string() +
                   "\nhome_base = " + (v / "home").string() + "\n",
               0644);
    // The issue's account: served by nss_vendor. The system's NSS does not
    // know it (that would need /etc/nsswitch.conf), so pam_vendor's
    // privileged-group check stops at the failed getpwnam.
    add_account(o_.vendor_user, false);
    // The same policy over an account the system resolves (as a production
    // account always does, through nss_vendor or sssd): the privileged-group
    // check runs in full (getgrouplist + one getgrnam per privileged group).
    add_account(o_.peer_user, true);
    auto cfg = load_config(vendor_conf_.string(), true);
    if (!cfg) throw BenchError("pam_vendor config: " + cfg.error().detail);
    cfg_ = *cfg;
    store_ = open_store(cfg_);
    std::string line = o_.module + " conf=" + vendor_conf_.string() + "\n";
    write_file(confdir_ / "bench-vendor",
               "auth     required " + line + "account  required " + line + "session  required " +
                   line,
               0644);
    stacks_.emplace_back("vendor", "bench-vendor", o_.vendor_user,
                         "pam_vendor.so (grant+otp) in auth, account, session", true);
    stacks_.emplace_back("vendor-ex", "bench-vendor", o_.peer_user,
                         "the same, account resolved by the system NSS (info)", true);
    // The floor with pam_vendor.so loaded by pam_start but never called
    // (password phase): splits pam_vendor's cost into loading and running.
    write_file(confdir_ / "bench-vendor-load",
               "auth     required pam_permit.so\naccount  required pam_permit.so\npassword "
               "optional " +
                   line + "session  required pam_permit.so\n",
               0644);
    stacks_.emplace_back("load", "bench-vendor-load", o_.vendor_user,
                         "floor + pam_vendor.so loaded, never called (info)");
}

std::vector<std::string> Bench::argv_for(const Stack& s) {
    std::vector<std::string> a = {o_.driver, s.service, s.user, confdir_.string()};
    if (s.key == "peer") a.push_back(hotp_->next());
    if (s.vendor) {
        std::int64_t now = time(nullptr);
        if (grant_until_[s.user] - now < 120) {
            vendor::core::Grant g{s.user, now - 10, now + 3600, "bench", "", "make bench"};
            if (auto st = store_->put_grant(g); !st)
                throw BenchError("put_grant: " + st.error().detail);
            grant_until_[s.user] = now + 3600;
        }
        auto code = store_->issue_code(s.user, cfg_.otp_digits, cfg_.otp_ttl, now);
        if (!code) throw BenchError("issue_code: " + code.error().detail);
        a.push_back(code->code);
    }
    if (o_.cold_nss) a.push_back("--cold-nss");
    return a;
}

// Not timed: the vendor run must really have used its code.
void Bench::after(const Stack& s) {
    if (!s.vendor) return;
    auto has = store_->has_code(s.user, time(nullptr));
    if (!has) throw BenchError("has_code: " + has.error().detail);
    if (*has) throw BenchError("pam_vendor succeeded but its one-time code is still outstanding");
}

void Bench::explain_vendor_failure(const std::string& err_file, const std::string& user) {
    fflush(stdout);
    fprintf(stderr, "%s", read_text(err_file).c_str());
    std::string tail = read_text(root_ / "vendor" / "log" / "audit.jsonl");
    if (!tail.empty()) {
        if (tail.size() > 2000) tail = tail.substr(tail.size() - 2000);
        fprintf(stderr, "bench: tail of the pam_vendor audit log:\n%s\n", tail.c_str());
    }
    if (!o_.vendorctl.empty() && access(o_.vendorctl.c_str(), X_OK) == 0) {
        std::string out = capture({o_.vendorctl, "--config", vendor_conf_.string(), "explain", user,
                                   "--from", "127.0.0.2", "--with-code"});
        fprintf(stderr, "bench: vendorctl explain %s --from 127.0.0.2 --with-code:\n%s\n",
                user.c_str(), out.c_str());
    }
}

// One run per stack with --maps: proves each stack succeeds before anything
// is timed, and records what the process has mapped while the session is open.
void Bench::sanity() {
    for (auto& s : stacks_) {
        auto argv = argv_for(s);
        argv.push_back("--maps");
        std::string out = (root_ / ("maps." + s.key)).string();
        std::string err = (root_ / ("err." + s.key)).string();
        Reaped r = spawn_wait(argv, out, err);
        if (!exited_ok(r)) {
            fflush(stdout);
            if (s.vendor) explain_vendor_failure(err, s.user);
            else fprintf(stderr, "%s", read_text(err).c_str());
            throw BenchError("the " + s.key + " stack does not succeed; nothing measured");
        }
        after(s);
        std::set<std::string> libs;
        std::istringstream in(read_text(out));
        std::string word, path;
        while (in >> word >> path) {
            if (word == "mapped") libs.insert(path);
        }
        load_cost_[s.key].objects = libs.size();
        if (s.key == "floor") floor_maps_ = libs;
        if (s.key == "vendor") {
            vendor_maps_ = libs;
            maps_ok_ = !libs.empty();
            for (const auto& l : libs)
                if (l.find("libcurl") != std::string::npos) curl_mapped_ = true;
        }
    }
}

// One more run per stack with LD_DEBUG=statistics: ld.so counts at exit the
// relocations it processed for the exec and every dlopen (pam_start loads the
// modules). Wall time moves with the machine; these counts do not.
void Bench::measure_ld() {
    std::string err = (root_ / "err.ld").string();
    for (auto& s : stacks_) {
        auto argv = argv_for(s);
        setenv("LD_DEBUG", "statistics", 1);
        Reaped r = spawn_wait(argv, "/dev/null", err);
        unsetenv("LD_DEBUG");
        after(s);
        if (!exited_ok(r)) continue;  // sanity() ran it: the counts stay unknown
        std::istringstream in(read_text(err));
        std::string line;
        LoadCost& c = load_cost_[s.key];
        while (std::getline(in, line)) {
            auto colon = line.rfind(':');
            if (colon == std::string::npos) continue;
            long n = strtol(line.c_str() + colon + 1, nullptr, 10);
            if (line.find("final number of relocations from cache:") != std::string::npos)
                c.cached = n;
            else if (line.find("final number of relocations:") != std::string::npos) c.relocs = n;
        }
    }
}

void Bench::measure() {
    // Round r runs the stacks in the (r mod k!)-th permutation: every stack is
    // as often first, last, and after each other one.
    std::vector<std::size_t> order(stacks_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::vector<std::vector<std::size_t>> perms;
    do perms.push_back(order);
    while (std::next_permutation(order.begin(), order.end()));

    std::string err = (root_ / "err.run").string();
    int total = o_.warmup + o_.runs;
    double t0 = now_ms(), cpu0 = psi_some_total("cpu"), io0 = psi_some_total("io");
    for (int round = 0; round < total; ++round) {
        for (std::size_t idx : perms[static_cast<std::size_t>(round) % perms.size()]) {
            if (g_stop) throw BenchError("interrupted");
            Stack& s = stacks_[idx];
            auto argv = argv_for(s);
            Reaped r = spawn_wait(argv, {}, err);
            if (!exited_ok(r)) {
                fflush(stdout);
                if (s.vendor) explain_vendor_failure(err, s.user);
                else fprintf(stderr, "%s", read_text(err).c_str());
                throw BenchError("the " + s.key + " stack failed in round " +
                                 std::to_string(round));
            }
            after(s);
            if (round >= o_.warmup) {
                s.wall.push_back(r.wall_ms);
                s.cpu.push_back(r.cpu_ms);
                s.minflt.push_back(r.minflt);
            }
        }
    }
    double span_us = (now_ms() - t0) * 1e3;
    double cpu1 = psi_some_total("cpu"), io1 = psi_some_total("io");
    if (cpu0 >= 0 && cpu1 >= 0) cpu_pressure_ = 100 * (cpu1 - cpu0) / span_us;
    if (io0 >= 0 && io1 >= 0) io_pressure_ = 100 * (io1 - io0) / span_us;
}

void Bench::report_ldd() {
    if (!have_vendor_) return;
    std::string ldd = find_tool("ldd");
    printf("\n-- ldd %s\n", o_.module.c_str());
    if (ldd.empty()) {
        printf("   (ldd not found)\n");
    } else {
        int st = 0;
        std::string out = capture({ldd, o_.module}, &st);
        ldd_ok_ = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        printf("%s", out.c_str());
        curl_in_ldd_ = out.find("libcurl") != std::string::npos;
    }
    printf("-- shared objects the pam_vendor stack adds to the process (vs the floor), session "
           "open:\n");
    for (const auto& l : vendor_maps_)
        if (!floor_maps_.count(l)) printf("   %s\n", l.c_str());
    printf("libcurl: %s in ldd; %s in the process maps while the session is open\n",
           !ldd_ok_       ? "UNKNOWN"
           : curl_in_ldd_ ? "PRESENT"
                          : "absent",
           !maps_ok_      ? "UNKNOWN"
           : curl_mapped_ ? "PRESENT"
                          : "absent");
    auto num = [](long v) { return v < 0 ? std::string("?") : std::to_string(v); };
    printf("-- load cost per stack (ld.so, one run each with LD_DEBUG=statistics): shared "
           "objects mapped\n   with the session open; relocations processed for the exec "
           "and every dlopen\n   (cached: symbol lookups ld.so answered from its cache)\n");
    printf("   %-10s %8s %12s %8s\n", "stack", "objects", "relocations", "cached");
    for (const auto& s : stacks_) {
        const LoadCost& c = load_cost_[s.key];
        printf("   %-10s %8zu %12s %8s\n", s.key.c_str(), c.objects, num(c.relocs).c_str(),
               num(c.cached).c_str());
    }
    const LoadCost& f = load_cost_["floor"];
    const LoadCost& l = load_cost_["load"];
    if (f.relocs >= 0 && l.relocs >= 0)
        printf("   load - floor: %+ld shared objects, %+ld relocations\n",
               static_cast<long>(l.objects) - static_cast<long>(f.objects), l.relocs - f.relocs);
    ElfCost e = elf_cost(o_.module);
    if (e.ok) {
        std::string needed;
        for (const auto& n : e.needed) needed += (needed.empty() ? "" : " ") + n;
        printf("   pam_vendor.so itself: %zu NEEDED (%s);\n   %ld relocations (%ld relative, %ld "
               "by symbol name, of which %ld PLT), %ld bytes TLS, %ld initialisers\n",
               e.needed.size(), needed.c_str(), e.relocs, e.relative, e.relocs - e.relative, e.plt,
               e.tls, e.inits);
    }
}

// "./elf/dl-open.c:_dl_open [/lib/ld.so]" -> "_dl_open";
// "???:(anonymous namespace)::guard(vendor::pam::Phase, ...)" -> "guard".
std::string function_of(std::string rest) {
    if (!rest.empty() && rest.back() == ']') {
        auto obj = rest.rfind(" [/");
        if (obj != std::string::npos) rest.resize(obj);
    }
    auto colon = rest.find(':');
    if (colon == std::string::npos) return {};
    std::string fn = rest.substr(colon + 1);
    for (const char* junk : {"(anonymous namespace)::", "[abi:cxx11]"}) {
        for (auto p = fn.find(junk); p != std::string::npos; p = fn.find(junk))
            fn.erase(p, strlen(junk));
    }
    auto paren = fn.find('(');
    if (paren != std::string::npos) fn.resize(paren);
    if (fn.find('\'') != std::string::npos) return {};  // callgrind's recursion copies
    return fn;
}

// Inclusive instruction counts per function, from callgrind_annotate.
std::map<std::string, long> inclusive_ir(const std::string& annotate, const std::string& file) {
    std::map<std::string, long> out;
    std::string text =
        capture({annotate, "--inclusive=yes", "--threshold=100", file}, nullptr, true);
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto first = line.find_first_not_of(' ');
        if (first == std::string::npos || !isdigit(static_cast<unsigned char>(line[first])))
            continue;
        auto pct = line.find("%)  ", first);
        if (pct == std::string::npos) continue;
        std::string num;
        for (std::size_t i = first;
             i < line.size() && (isdigit(static_cast<unsigned char>(line[i])) || line[i] == ',');
             ++i)
            if (line[i] != ',') num += line[i];
        std::string fn = function_of(line.substr(pct + 4));
        if (fn.empty() || num.empty()) continue;
        long ir = std::stol(num);
        long& slot = out[fn];
        slot = std::max(slot, ir);
    }
    return out;
}

std::string with_commas(long v) {
    std::string s = std::to_string(v), out;
    int n = 0;
    for (auto it = s.rbegin(); it != s.rend(); ++it) {
        if (n && n % 3 == 0 && *it != '-') out.insert(out.begin(), ',');
        out.insert(out.begin(), *it);
        ++n;
    }
    return out;
}

// Noise-free views of one transaction per stack: instruction counts by
// phase (callgrind) and system calls (strace), plus the slowest calls.
void Bench::profile() {
    std::string valgrind = find_tool("valgrind");
    std::string annotate = find_tool("callgrind_annotate");
    std::string strace = find_tool("strace");
    if (valgrind.empty() && strace.empty()) {
        printf("\n(profiles skipped: neither valgrind nor strace is installed)\n");
        return;
    }
    std::map<std::string, std::map<std::string, long>> ir, calls;
    std::map<std::string, std::vector<std::pair<double, std::string>>> slow;
    // System calls per phase, cut by the driver's --marks (min over runs).
    static const char* phases[] = {
        "start",  "pam_authenticate", "pam_acct_mgmt", "pam_open_session", "pam_close_session",
        "pam_end"};
    constexpr std::size_t kPhases = std::size(phases);
    std::map<std::string, std::array<long, kPhases>> by_phase;
    for (auto& s : stacks_) {
        if (!valgrind.empty() && !annotate.empty()) {
            std::string out = (root_ / ("callgrind." + s.key)).string();
            auto argv = argv_for(s);
            argv.insert(argv.begin(),
                        {valgrind, "--tool=callgrind", "--callgrind-out-file=" + out});
            Reaped r = spawn_wait(argv, (root_ / "vg.log").string(), (root_ / "vg.log").string());
            if (!exited_ok(r))
                throw BenchError(s.key + " failed under valgrind:\n" + read_text(root_ / "vg.log"));
            after(s);
            ir[s.key] = inclusive_ir(annotate, out);
            std::istringstream in(read_text(out));
            std::string line;
            while (std::getline(in, line))
                if (line.rfind("summary:", 0) == 0 || line.rfind("totals:", 0) == 0)
                    ir[s.key]["total"] = std::stol(line.substr(line.find(':') + 1));
        }
        if (!strace.empty()) {
            std::string out = (root_ / ("strace." + s.key)).string();
            auto argv = argv_for(s);
            argv.insert(argv.begin(), {strace, "-f", "-c", "-o", out});
            Reaped r = spawn_wait(argv, (root_ / "st.log").string(), (root_ / "st.log").string());
            if (!exited_ok(r))
                throw BenchError(s.key + " failed under strace:\n" + read_text(root_ / "st.log"));
            after(s);
            std::istringstream in(read_text(out));
            std::string line;
            while (std::getline(in, line)) {
                std::istringstream ls(line);
                std::vector<std::string> f;
                std::string w;
                while (ls >> w) f.push_back(w);
                // % time, seconds, usecs/call, calls, [errors], syscall
                if (f.size() < 5 || !isdigit(static_cast<unsigned char>(f[3][0]))) continue;
                calls[s.key][f.back()] = std::stol(f[3]);
            }
            // Three more runs with per-call durations: where system-call
            // time goes, per call name. The minimum over the runs, so that a
            // stall caused by another process is not charged to a stack.
            std::map<std::string, std::pair<double, long>> best;
            for (int run = 0; run < 3; ++run) {
                out = (root_ / ("strace-T." + s.key)).string();
                argv = argv_for(s);
                argv.push_back("--marks");
                argv.insert(argv.begin(), {strace, "-f", "-T", "-o", out});
                r = spawn_wait(argv, (root_ / "st.log").string(), (root_ / "st.log").string());
                if (!exited_ok(r))
                    throw BenchError(s.key + " failed under strace:\n" +
                                     read_text(root_ / "st.log"));
                after(s);
                std::map<std::string, std::pair<double, long>> cur;
                std::array<long, kPhases> phase_calls{};
                std::size_t phase = 0;
                std::istringstream tin(read_text(out));
                while (std::getline(tin, line)) {
                    if (auto m = line.find("\"@pam_txn:"); m != std::string::npos) {
                        for (std::size_t i = 1; i < kPhases; ++i)
                            if (line.compare(m + 10, strlen(phases[i]) + 1,
                                             std::string(phases[i]) + "\"") == 0)
                                phase = i;
                        continue;  // the mark is the driver's, not a stack's
                    }
                    // One count per call: not its "resumed" half, not a
                    // signal or exit line.
                    if (line.find("<... ") == std::string::npos &&
                        line.find("+++ ") == std::string::npos &&
                        line.find("--- ") == std::string::npos &&
                        line.find('(') != std::string::npos)
                        ++phase_calls[phase];
                    auto lt = line.rfind('<');
                    if (lt == std::string::npos || line.back() != '>') continue;
                    std::string name;
                    auto resumed = line.find("<... ");
                    if (resumed != std::string::npos) {
                        std::istringstream ns(line.substr(resumed + 5));
                        ns >> name;
                    } else {
                        auto sp = line.find(' ');
                        auto paren = line.find('(');
                        if (sp == std::string::npos || paren == std::string::npos || paren < sp)
                            continue;
                        name = line.substr(line.find_first_not_of(' ', sp),
                                           paren - line.find_first_not_of(' ', sp));
                    }
                    if (name.empty() || name == "execve") continue;
                    cur[name].first += strtod(line.c_str() + lt + 1, nullptr) * 1e3;
                    cur[name].second += 1;
                }
                if (run == 0) {
                    best = cur;
                    by_phase[s.key] = phase_calls;
                } else {
                    for (std::size_t i = 0; i < kPhases; ++i)
                        by_phase[s.key][i] = std::min(by_phase[s.key][i], phase_calls[i]);
                    for (auto& [name, tc] : best)
                        tc.first = std::min(tc.first, cur.count(name) ? cur[name].first : 0.0);
                }
            }
            for (auto& [name, tc] : best)
                slow[s.key].emplace_back(tc.first, name + " (" + std::to_string(tc.second) + ")");
            auto& v = slow[s.key];
            std::sort(v.begin(), v.end(), [](auto& x, auto& y) { return x.first > y.first; });
            if (v.size() > 4) v.resize(4);
        }
    }
    if (!ir.empty()) {
        printf("\n-- instructions per transaction by PAM call (callgrind Ir, inclusive; one fresh "
               "process each)\n");
        printf("   %-36s", "");
        for (auto& s : stacks_) printf("%12s", s.key.c_str());
        printf("\n");
        static const std::pair<const char*, const char*> rows[] = {
            {"total", "whole process (exec to exit)"},
            {"_dl_start", "ld.so start-up (driver's libraries)"},
            {"pam_start_confdir", "pam_start (parse, dlopen modules)"},
            {"pam_authenticate", "pam_authenticate"},
            {"pam_acct_mgmt", "pam_acct_mgmt"},
            {"pam_open_session", "pam_open_session"},
            {"pam_close_session", "pam_close_session"},
            {"pam_end", "pam_end"}};
        for (auto [fn, label] : rows) {
            printf("   %-36s", label);
            for (auto& s : stacks_)
                printf("%12s", ir[s.key].count(fn) ? with_commas(ir[s.key][fn]).c_str() : "-");
            printf("\n");
        }
        if (have_vendor_) {
            printf("   pam_vendor.so dlopen alone (load - floor, pam_start): %s Ir\n",
                   with_commas(ir["load"]["pam_start_confdir"] - ir["floor"]["pam_start_confdir"])
                       .c_str());
            // What pam_vendor spends its instructions on (inclusive and
            // overlapping: a caller includes its callees), and the libc/NSS
            // work it triggers.
            auto& v = ir["vendor"];
            auto& x = ir["vendor-ex"];
            std::vector<std::pair<long, std::string>> top;
            std::set<std::string> seen;
            for (auto* m : {&v, &x}) {
                for (auto& [fn, n] : *m) {
                    bool ours = fn.rfind("vendor::", 0) == 0 && fn != "vendor::pam::run";
                    bool sys = fn == "getpwnam_r" || fn == "getgrnam_r" || fn == "getgrouplist" ||
                               fn == "module_load" || fn == "pam_syslog" ||
                               fn == "crypto_generichash" || fn == "json_tokener_parse_ex";
                    if ((ours || sys) && seen.insert(fn).second)
                        top.emplace_back(std::max(v[fn], x[fn]), fn);
                }
            }
            std::sort(top.rbegin(), top.rend());
            if (top.size() > 24) top.resize(24);
            printf("\n-- inside pam_vendor, its four calls together (Ir inclusive: callers include "
                   "callees)\n   %12s %12s\n",
                   "vendor", "vendor-ex");
            for (auto& [n, fn] : top)
                printf("   %12s %12s  %s\n", with_commas(v[fn]).c_str(), with_commas(x[fn]).c_str(),
                       fn.c_str());
        }
    }
    if (!calls.empty()) {
        static const char* interesting[] = {
            "openat",    "newfstatat", "statx",    "read",      "write",  "pwrite64",
            "mmap",      "munmap",     "fsync",    "fdatasync", "rename", "renameat",
            "renameat2", "unlink",     "unlinkat", "mkdir",     "flock",  "fcntl",
            "socket",    "connect",    "sendto",   "getrandom", "total"};
        printf("\n-- system calls per transaction (strace -f -c)\n   %-12s", "");
        for (auto& s : stacks_) printf("%10s", s.key.c_str());
        printf("\n");
        for (const char* sc : interesting) {
            bool any = false;
            for (auto& s : stacks_) any = any || calls[s.key].count(sc);
            if (!any) continue;
            printf("   %-12s", sc);
            for (auto& s : stacks_) printf("%10ld", calls[s.key].count(sc) ? calls[s.key][sc] : 0L);
            printf("\n");
        }
        printf("\n-- system calls per phase (strace -f, cut by the driver's marks, min of 3 "
               "runs)\n   %-18s",
               "");
        for (auto& s : stacks_) printf("%10s", s.key.c_str());
        printf("\n");
        for (std::size_t i = 0; i < kPhases; ++i) {
            printf("   %-18s", i == 0 ? "exec + pam_start" : phases[i]);
            for (auto& s : stacks_) printf("%10ld", by_phase[s.key][i]);
            printf("\n");
        }
        printf("   %-18s", "total");
        for (auto& s : stacks_) {
            long t = 0;
            for (long n : by_phase[s.key]) t += n;
            printf("%10ld", t);
        }
        printf("\n");
        if (have_vendor_ && calls["vendor"].count("total")) {
            long n = calls["vendor"]["total"];
            bool ok = n <= o_.max_syscalls;
            printf("\nTARGET pam_vendor <= %ld system calls per transaction: %ld  %s\n",
                   o_.max_syscalls, n, ok ? "PASS" : "MISS");
            summary_ += ok ? "; system calls " : "; system calls MISS ";
            summary_ += std::to_string(n) + " (<= " + std::to_string(o_.max_syscalls) + ")";
        }
        printf("\n-- time inside system calls, top 4 per stack (strace -f -T, ms summed per call "
               "name,\n   min of 3 runs; strace slows every call a little)\n");
        for (auto& s : stacks_) {
            printf("   %-9s", s.key.c_str());
            for (auto& [ms, call] : slow[s.key]) printf("  %s %.3f", call.c_str(), ms);
            printf("\n");
        }
    }
}

// What the state directory's file system charges for the two operations a
// one-time code costs (the peer's pam_oath pays them too: fsync, then a
// rename whose replaced file is freed at close).
void Bench::probe_fs() {
    fs::path d = root_ / "probe";
    make_dir(d, 0700);
    std::vector<double> sync_ms, unlink_ms;
    std::string data(200, 'x');
    for (int i = 0; i < 15; ++i) {
        fs::path f = d / "f";
        int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
            throw BenchError("probe: cannot write " + f.string());
        double t0 = now_ms();
        fsync(fd);
        double t1 = now_ms();
        close(fd);
        double t2 = now_ms();
        unlink(f.c_str());
        double t3 = now_ms();
        sync_ms.push_back(t1 - t0);
        unlink_ms.push_back(t3 - t2);
    }
    printf("file system probe (state dir, medians): fsync of a new 200-byte file %.3f ms, "
           "unlink of a synced file %.3f ms\n",
           stats(sync_ms).median, stats(unlink_ms).median);
}

int Bench::verdict() {
    std::map<std::string, Stats> wall, cpu;
    std::string load = read_text("/proc/loadavg");
    printf("\n-- wall time per transaction, fresh process (spawn -> reap), ms; %d runs each, "
           "interleaved; load now %s",
           o_.runs, load.empty() ? "?\n" : load.c_str());
    printf("   %-9s %8s %8s %8s %8s %8s  %8s %7s   %s\n", "stack", "median", "p90", "p99", "mean",
           "min", "cpu med", "minflt", "what");
    for (auto& s : stacks_) {
        wall[s.key] = stats(s.wall);
        cpu[s.key] = stats(s.cpu);
        const Stats& w = wall[s.key];
        printf("   %-9s %8.3f %8.3f %8.3f %8.3f %8.3f  %8.3f %7.0f   %s (user %s)\n", s.key.c_str(),
               w.median, w.p90, w.p99, w.mean, w.min, cpu[s.key].median, stats(s.minflt).median,
               s.what.c_str(), s.user.c_str());
    }
    printf("   (cpu med: user+system time of the child; wall - cpu is waiting: I/O, locks, "
           "scheduling)\n");
    if (cpu_pressure_ >= 0)
        printf(
            "   pressure during the measurement: tasks waiting for a CPU %.0f%% of the time, for "
            "I/O %.0f%%\n",
            cpu_pressure_, io_pressure_);
    if (cpu_pressure_ > 20)
        printf("   WARNING: the machine was busy (CPU pressure %.0f%%): wall times include "
               "run-queue waits that grow\n   with a stack's own CPU time; rerun when it is quiet, "
               "and compare the cpu column.\n",
               cpu_pressure_);
    const Stats& f = wall["floor"];
    const Stats& p = wall["peer"];
    printf("\n   peer / floor        median %.2fx   p90 %.2fx   (peer - floor %+.3f ms)\n",
           p.median / f.median, p.p90 / f.p90, p.median - f.median);
    if (!have_vendor_) {
        summary_ = "RESULT: pam_vendor NOT MEASURED (" +
                   (o_.module.empty() ? "no --module" : o_.module) + " not found)";
        printf("\n%s\n", summary_.c_str());
        return 1;
    }
    const Stats& v = wall["vendor"];
    const Stats& l = wall["load"];
    double ratio = v.median / p.median;
    double delta = v.median - f.median;
    bool ratio_ok = ratio <= o_.max_ratio;
    bool delta_ok = delta <= o_.max_delta_ms;
    bool curl_ok = ldd_ok_ && maps_ok_ && !curl_in_ldd_ && !curl_mapped_;
    const Stack& sv = *find("vendor");
    auto ratio_ci =
        round_bootstrap(sv.wall, find("peer")->wall, [](double x, double y) { return x / y; });
    auto delta_ci =
        round_bootstrap(sv.wall, find("floor")->wall, [](double x, double y) { return x - y; });
    printf("   pam_vendor / peer   median %.2fx [95%% %.2f..%.2f]   p90 %.2fx   p99 %.2fx   cpu "
           "%.2fx\n",
           ratio, ratio_ci.first, ratio_ci.second, v.p90 / p.p90, v.p99 / p.p99,
           cpu["vendor"].median / cpu["peer"].median);
    printf("   pam_vendor - floor  median %+.3f ms [95%% %+.3f..%+.3f]   p90 %+.3f ms   cpu %+.3f "
           "ms\n",
           delta, delta_ci.first, delta_ci.second, v.p90 - f.p90,
           cpu["vendor"].median - cpu["floor"].median);
    printf("     of which loading pam_vendor.so (load - floor)   %+.3f ms   cpu %+.3f ms\n",
           l.median - f.median, cpu["load"].median - cpu["floor"].median);
    printf("     of which running it (vendor - load)             %+.3f ms   cpu %+.3f ms\n",
           v.median - l.median, cpu["vendor"].median - cpu["load"].median);
    if (const Stack* ex = find("vendor-ex"); ex && !ex->wall.empty()) {
        const Stats& x = wall["vendor-ex"];
        printf("   vendor-ex (account known to NSS): / peer %.2fx, - floor %+.3f ms, - vendor "
               "%+.3f ms\n",
               x.median / p.median, x.median - f.median, x.median - v.median);
    }
    printf("\nTARGET pam_vendor <= %.2f x peer (median):    %6.2fx     %s\n", o_.max_ratio, ratio,
           ratio_ok ? "PASS" : "MISS");
    printf("TARGET pam_vendor <= floor + %.1f ms (median): %+6.3f ms  %s\n", o_.max_delta_ms, delta,
           delta_ok ? "PASS" : "MISS");
    printf("TARGET pam_vendor.so does not load libcurl:   %s  %s\n",
           curl_ok ? "absent (ldd + maps)" : "see above", curl_ok ? "PASS" : "MISS");
    bool all = ratio_ok && delta_ok && curl_ok;
    char line[256];
    snprintf(line, sizeof line,
             "RESULT: %s (pam_vendor/peer %.2fx, pam_vendor-floor %+.3f ms, libcurl %s)",
             all ? "all targets met" : "target(s) missed", ratio, delta,
             curl_ok ? "absent" : "NOT proven absent");
    summary_ = line;
    printf("%s\n", summary_.c_str());
    return all || !o_.strict ? 0 : 1;
}

int Bench::run() {
    utsname u{};
    uname(&u);
    std::string load = read_text("/proc/loadavg");
    printf("== make bench: one PAM transaction per fresh process ==\n");
    printf("machine: %ld CPU, Linux %s, load %s", sysconf(_SC_NPROCESSORS_ONLN), u.release,
           load.empty() ? "?\n" : load.c_str());
    fflush(stdout);
    setup();
    printf("state in %s: %s\n", root_.c_str(), mount_.c_str());
    probe_fs();
    printf("services in a private confdir (pam_start_confdir): /etc/pam.d is not read\n");
    printf("each transaction: %spam_start_confdir, PAM_RHOST=127.0.0.2, PAM_TTY=ssh, "
           "authenticate, acct_mgmt,\n"
           "open_session, close_session, pam_end; codes issued before the clock starts\n",
           o_.cold_nss ? "(--cold-nss: no getpwnam first) "
                       : "getpwnam(USER) first as sshd does before PAM (--cold-nss: not), ");
    sanity();
    measure_ld();
    report_ldd();
    printf("\nmeasuring: %d warm-up + %d rounds x %zu stacks ...\n", o_.warmup, o_.runs,
           stacks_.size());
    fflush(stdout);
    measure();
    int rc = verdict();
    fflush(stdout);
    if (o_.profile) {
        try {
            profile();
        } catch (const BenchError& e) {
            printf("\n(profile incomplete: %s)\n", e.what());
        }
    }
    if (have_vendor_) {
        std::string audit = read_text(root_ / "vendor" / "log" / "audit.jsonl");
        printf("\n(pam_vendor wrote %ld audit events during the bench)\n",
               static_cast<long>(std::count(audit.begin(), audit.end(), '\n')));
    }
    printf("\n%s\n", summary_.c_str());
    return rc;
}

// A non-negative count from the command line; anything else is a usage error.
int count(const std::string& s) {
    char* end = nullptr;
    errno = 0;
    long v = strtol(s.c_str(), &end, 10);
    if (errno || end == s.c_str() || *end || v < 0 || v > 1000000) usage();
    return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--driver") o.driver = val();
        else if (a == "--module") o.module = val();
        else if (a == "--vendorctl") o.vendorctl = val();
        else if (a == "--runs") o.runs = count(val());
        else if (a == "--warmup") o.warmup = count(val());
        else if (a == "--tmpdir") o.tmpdir = val();
        else if (a == "--peer-user") o.peer_user = val();
        else if (a == "--no-profile") o.profile = false;
        else if (a == "--keep") o.keep = true;
        else if (a == "--strict") o.strict = true;
        else if (a == "--cold-nss") o.cold_nss = true;
        else usage();
    }
    if (o.driver.empty() || o.runs < 1 || o.warmup < 0) usage();
    for (std::string* p : {&o.driver, &o.module, &o.vendorctl, &o.tmpdir}) {
        if (!p->empty() && (*p)[0] != '/') *p = fs::absolute(*p).string();
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, on_signal);  // e.g. `make bench | head`: stop, clean up
    oath_init();
    try {
        Bench b(o);
        return b.run();
    } catch (const std::exception& e) {
        fflush(stdout);
        fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
}
