// make bench-nss — getpwnam_r/getpwuid_r (and getgrnam_r, nss_vendor only), hit and miss, at 10,
// 1,000 and 100,000 vendor accounts, for three backends holding the same entries, in one run. Each
// backend's own entry point is called through dlsym (glibc's dispatch is not measured). Everything
// happens in a private mount namespace, on a tmpfs mounted over /var/lib there:
//   files       glibc's _nss_files_getpwnam_r/getpwuid_r (libc.so.6 since
//               2.34), reading /etc/passwd: the generated file bind-mounted
//               over /etc/passwd
//   extrausers  libnss-extrausers, reading /var/lib/extrausers/passwd
//   nss_vendor  a bench copy of libnss_vendor.so.2 built with the default
//               index path, /var/lib/pam_vendor/nss/index (same path depth,
//               so the same lstat cost as in production), index written by
//               build_nss_index + install_nss_index, as vendorctl does
// The namespace dies with the process: nothing outside it ever sees the
// generated files, and the real /etc/passwd and /var/lib stay untouched.
// Needs root (unshare, mounts, a root-owned index).
//
// Timing: a case calls each backend in batches big enough to last 20 us,
// over keys spread through the whole set (4096 random hits, or names/ids
// that are absent), for --time seconds per backend in three turns (see
// measure()); the figure is the median of the per-call batch means, in ns,
// with warm caches (a steady stream of lookups). Ratios: vendor/peer.
// "lstat floor" is one lstat() of the index path: what the module paid on
// every call to notice a new index before the superseded mark; now it pays
// it once per kRecheckMs (nss_index.h), or per call only while its mapping
// is marked superseded.
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "files.h"
#include "nss_writer.h"

using vendor::core::NssUser;

namespace {

using PwNam = nss_status (*)(const char*, passwd*, char*, size_t, int*);
using PwUid = nss_status (*)(uid_t, passwd*, char*, size_t, int*);
using GrNam = nss_status (*)(const char*, group*, char*, size_t, int*);

struct Backend {
    const char* name = "";
    PwNam nam = nullptr;
    PwUid uid = nullptr;
    std::string why;  // not measured: why
};

constexpr std::uint32_t kGid = 2000300000;

double now_ns() {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

double g_budget_s = 0.3;

// A batch runs k calls over rotating key indexes and returns the ns spent.
using Batch = std::function<double(std::size_t)>;

template <typename Call>
Batch batch_of(Call call) {
    auto key = std::make_shared<std::size_t>(0);
    return [call, key](std::size_t k) {
        double t0 = now_ns();
        for (std::size_t i = 0; i < k; ++i) call((*key)++ & 4095);
        return now_ns() - t0;
    };
}

// Median ns per call of each batch function. The backends take turns in
// three rounds, each turn a stretch of batches of one backend (the first
// ones, up to 5 ms, not counted): a noisy moment hits them all alike, and
// each is measured with warm caches, its own data in them -- interleaving
// single batches would measure nss_vendor right after a 10 MB file scan
// has evicted its index.
std::vector<double> measure(const std::vector<Batch>& fns) {
    std::vector<std::size_t> k(fns.size(), 1);
    for (std::size_t i = 0; i < fns.size(); ++i)
        while (k[i] < (1u << 20) && fns[i](k[i]) < 20000.0) k[i] *= 2;
    std::vector<std::vector<double>> samples(fns.size());
    const int rounds = 3;
    for (int r = 0; r < rounds; ++r)
        for (std::size_t i = 0; i < fns.size(); ++i) {
            for (double warm = now_ns() + 5e6; now_ns() < warm;) fns[i](k[i]);
            double end = now_ns() + g_budget_s * 1e9 / rounds;
            std::size_t got = 0;
            while ((now_ns() < end && got < 700) || got < 3) {
                samples[i].push_back(fns[i](k[i]) / static_cast<double>(k[i]));
                ++got;
            }
        }
    std::vector<double> out;
    for (auto& v : samples) {
        std::sort(v.begin(), v.end());
        out.push_back(v[v.size() / 2]);
    }
    return out;
}

std::string name_of(std::uint32_t i) {
    // A bijection of [0, 1000003): names sort in an order unrelated to ids.
    return "vnd" + std::to_string((static_cast<std::uint64_t>(i) * 2654435761u) % 1000003u);
}

bool write_text(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "we");
    if (!f) return false;
    bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    return std::fclose(f) == 0 && ok;
}

void die(const std::string& msg) {
    std::fprintf(stderr, "bench-nss: %s\n", msg.c_str());
    std::exit(1);
}

struct Row {
    std::size_t n;
    const char* op;
    double ns[3];  // files, extrausers, vendor; < 0: not measured
};

}  // namespace

int main(int argc, char** argv) {
    std::string module, index;
    std::vector<std::size_t> sizes = {10, 1000, 100000};
    bool strict = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "--module") module = next();
        else if (a == "--index") index = next();
        else if (a == "--time") g_budget_s = std::atof(next().c_str());
        else if (a == "--strict") strict = true;
        else if (a == "--sizes") {
            sizes.clear();
            std::string s = next();
            for (std::size_t p = 0; p < s.size();) {
                std::size_t c = s.find(',', p);
                sizes.push_back(std::strtoul(s.substr(p, c - p).c_str(), nullptr, 10));
                p = c == std::string::npos ? s.size() : c + 1;
            }
        } else die("unknown argument " + a);
    }
    if (module.empty() || index.empty())
        die("usage: bench_nss --module SO --index PATH [--sizes 10,1000] [--time S]");
    if (geteuid() != 0)
        die("needs root: a private mount namespace, and an index the module believes (root-owned)");
    if (::unshare(CLONE_NEWNS) != 0)
        die(std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno));
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        die(std::string("making / private: ") + std::strerror(errno));

    Backend be[3];
    be[0].name = "files";
    be[1].name = "extrausers";
    be[2].name = "nss_vendor";
    be[0].nam = reinterpret_cast<PwNam>(::dlsym(RTLD_DEFAULT, "_nss_files_getpwnam_r"));
    be[0].uid = reinterpret_cast<PwUid>(::dlsym(RTLD_DEFAULT, "_nss_files_getpwuid_r"));
    if (!be[0].nam || !be[0].uid) {
        if (void* h = ::dlopen("libnss_files.so.2", RTLD_NOW)) {
            be[0].nam = reinterpret_cast<PwNam>(::dlsym(h, "_nss_files_getpwnam_r"));
            be[0].uid = reinterpret_cast<PwUid>(::dlsym(h, "_nss_files_getpwuid_r"));
        }
    }
    if (!be[0].nam || !be[0].uid) be[0].why = "glibc's _nss_files_getpwnam_r not found";
    if (void* h = ::dlopen("libnss_extrausers.so.2", RTLD_NOW)) {
        be[1].nam = reinterpret_cast<PwNam>(::dlsym(h, "_nss_extrausers_getpwnam_r"));
        be[1].uid = reinterpret_cast<PwUid>(::dlsym(h, "_nss_extrausers_getpwuid_r"));
    }
    if (!be[1].nam || !be[1].uid)
        be[1].why = "libnss_extrausers.so.2 not installed (apt install libnss-extrausers)";
    void* vh = ::dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!vh) die(std::string("dlopen ") + module + ": " + ::dlerror());
    be[2].nam = reinterpret_cast<PwNam>(::dlsym(vh, "_nss_vendor_getpwnam_r"));
    be[2].uid = reinterpret_cast<PwUid>(::dlsym(vh, "_nss_vendor_getpwuid_r"));
    if (!be[2].nam || !be[2].uid) die("the module exports no _nss_vendor_getpwnam_r/getpwuid_r");
    // getgrnam is measured for nss_vendor only (the peers read a one-line
    // /etc/group here): one group per account, so the group name lookup
    // runs over as many names as the passwd one.
    auto vgrnam = reinterpret_cast<GrNam>(::dlsym(vh, "_nss_vendor_getgrnam_r"));
    if (!vgrnam) die("the module exports no _nss_vendor_getgrnam_r");

    // A tmpfs over /var/lib, in this namespace only.
    if (index.rfind("/var/lib/", 0) != 0)
        die("--index must be under /var/lib (a tmpfs is mounted there)");
    if (::mount("tmpfs", "/var/lib", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1g") != 0)
        die(std::string("tmpfs on /var/lib: ") + std::strerror(errno));
    const std::string tmp = "/var/lib/nss-bench";
    ::mkdir(tmp.c_str(), 0755);
    ::mkdir("/var/lib/extrausers", 0755);
    const std::string index_dir = index.substr(0, index.rfind('/'));
    for (std::size_t p = 1; p != std::string::npos; p = index_dir.find('/', p + 1)) {
        std::string d = index_dir.substr(0, p == std::string::npos ? index_dir.size() : p);
        if (!d.empty()) ::mkdir(d.c_str(), 0755);
    }
    ::mkdir(index_dir.c_str(), 0755);
    ::chmod(index_dir.c_str(), 0755);

    struct utsname un {};
    ::uname(&un);
    std::printf("bench-nss: glibc %s, Linux %s, %ld CPU(s); backends called directly (dlsym), "
                "median ns/call\n",
                gnu_get_libc_version(), un.release, ::sysconf(_SC_NPROCESSORS_ONLN));

    std::vector<Row> rows;
    bool files_mounted = false;
    for (std::size_t n : sizes) {
        std::vector<NssUser> users;
        std::vector<vendor::core::NssGroup> groups = {{"vendors", kGid, {}}};
        std::string text;
        users.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i) {
            NssUser u;
            u.name = name_of(i);
            u.uid = kGid + 1 + i;
            u.gid = kGid;
            u.gecos = "Vendor " + std::to_string(i) + ", bench";
            u.dir = "/home/vendors/" + u.name;
            u.shell = "/bin/bash";
            text += u.name + ":x:" + std::to_string(u.uid) + ":" + std::to_string(u.gid) + ":" +
                    u.gecos + ":" + u.dir + ":" + u.shell + "\n";
            groups.push_back({"g" + u.name, kGid + 1 + i, {}});
            users.push_back(std::move(u));
        }
        // The same entries for every backend.
        if (files_mounted) ::umount2("/etc/passwd", MNT_DETACH);
        if (!write_text(tmp + "/passwd", text) || !write_text("/var/lib/extrausers/passwd", text))
            die("cannot write");
        ::chmod((tmp + "/passwd").c_str(), 0644);
        ::chmod("/var/lib/extrausers/passwd", 0644);
        files_mounted =
            ::mount((tmp + "/passwd").c_str(), "/etc/passwd", nullptr, MS_BIND, nullptr) == 0;
        if (!files_mounted && be[0].why.empty())
            be[0].why = std::string("bind mount: ") + std::strerror(errno);
        auto bytes = vendor::core::build_nss_index(users, groups, kGid, kGid + 199999);
        if (!bytes) die("build_nss_index: " + bytes.error().detail);
        if (auto w = vendor::core::install_nss_index(index, *bytes); !w)
            die("install_nss_index: " + w.error().detail);

        // Keys: 4096 hits spread over the whole set, 4096 misses.
        std::vector<std::string> hit_names(4096), miss_names(4096);
        std::vector<uid_t> hit_uids(4096), miss_uids(4096);
        std::uint64_t x = 88172645463325252ull;
        for (std::size_t k = 0; k < 4096; ++k) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            auto i = static_cast<std::uint32_t>(x % n);
            hit_names[k] = users[i].name;
            hit_uids[k] = users[i].uid;
            miss_names[k] = "zz" + std::to_string(k);
            miss_uids[k] = kGid + 300000 + static_cast<uid_t>(k);
        }
        for (int bi = 0; bi < 3; ++bi) {
            Backend& b = be[bi];
            if (!b.why.empty()) continue;
            // Right answers first: a backend that cannot see the entries is not measured.
            passwd pw{};
            char buf[1024];
            int err = 0;
            if (b.nam(hit_names[0].c_str(), &pw, buf, sizeof buf, &err) != NSS_STATUS_SUCCESS ||
                hit_names[0] != pw.pw_name ||
                b.uid(hit_uids[0], &pw, buf, sizeof buf, &err) != NSS_STATUS_SUCCESS ||
                pw.pw_uid != hit_uids[0] ||
                b.nam(miss_names[0].c_str(), &pw, buf, sizeof buf, &err) != NSS_STATUS_NOTFOUND ||
                b.uid(miss_uids[0], &pw, buf, sizeof buf, &err) != NSS_STATUS_NOTFOUND)
                b.why = "wrong answers at " + std::to_string(n) + " entries";
        }
        const char* ops[4] = {"getpwnam hit", "getpwnam miss", "getpwuid hit", "getpwuid miss"};
        long wrong[3] = {0, 0, 0};
        struct stat st {};
        for (int op = 0; op < 4; ++op) {
            Row r{n, ops[op], {-1, -1, -1}};
            std::vector<Batch> fns;
            std::vector<int> which;
            const auto& names = op == 0 ? hit_names : miss_names;
            const auto& uids = op == 2 ? hit_uids : miss_uids;
            for (int bi = 0; bi < 3; ++bi) {
                if (!be[bi].why.empty()) continue;
                PwNam nam = be[bi].nam;
                PwUid uid = be[bi].uid;
                which.push_back(bi);
                // Every answer is checked: a backend that fails fast must
                // not look fast.
                const int want = op % 2 == 0 ? NSS_STATUS_SUCCESS : NSS_STATUS_NOTFOUND;
                long* bad = &wrong[bi];
                if (op < 2)
                    fns.push_back(batch_of([nam, &names, want, bad](std::size_t k) {
                        passwd pw{};
                        char buf[1024];
                        int err = 0;
                        if (nam(names[k].c_str(), &pw, buf, sizeof buf, &err) != want) ++*bad;
                    }));
                else
                    fns.push_back(batch_of([uid, &uids, want, bad](std::size_t k) {
                        passwd pw{};
                        char buf[1024];
                        int err = 0;
                        if (uid(uids[k], &pw, buf, sizeof buf, &err) != want) ++*bad;
                    }));
            }
            if (!fns.empty()) {
                auto ns = measure(fns);
                for (std::size_t i = 0; i < which.size(); ++i) r.ns[which[i]] = ns[i];
            }
            for (int bi = 0; bi < 3; ++bi)
                if (wrong[bi]) {
                    std::fprintf(stderr,
                                 "bench-nss: %s %s at %zu: %ld wrong answer(s); not counted\n",
                                 be[bi].name, ops[op], n, wrong[bi]);
                    r.ns[bi] = -1;
                    wrong[bi] = 0;
                }
            rows.push_back(r);
        }
        for (int op = 0; op < 2; ++op) {
            Row r{n, op == 0 ? "getgrnam hit" : "getgrnam miss", {-1, -1, -1}};
            std::vector<std::string> keys(4096);
            for (std::size_t k = 0; k < 4096; ++k)
                keys[k] = op == 0 ? "g" + hit_names[k] : "g" + miss_names[k];
            const int want = op == 0 ? NSS_STATUS_SUCCESS : NSS_STATUS_NOTFOUND;
            long bad = 0;
            r.ns[2] = measure({batch_of([vgrnam, &keys, want, &bad](std::size_t k) {
                group gr{};
                char buf[1024];
                int err = 0;
                if (vgrnam(keys[k].c_str(), &gr, buf, sizeof buf, &err) != want) ++bad;
            })})[0];
            if (bad) {
                std::fprintf(stderr, "bench-nss: nss_vendor %s at %zu: %ld wrong answer(s)\n", r.op,
                             n, bad);
                r.ns[2] = -1;
            }
            rows.push_back(r);
        }
        Row floor{n, "lstat floor", {-1, -1, -1}};
        floor.ns[2] = measure({batch_of([&](std::size_t) { ::lstat(index.c_str(), &st); })})[0];
        rows.push_back(floor);
    }
    if (files_mounted) ::umount2("/etc/passwd", MNT_DETACH);
    ::umount2("/var/lib", MNT_DETACH);  // the tmpfs and all it held

    for (const auto& b : be)
        if (!b.why.empty()) std::printf("  %s: not measured: %s\n", b.name, b.why.c_str());
    auto cell = [](double v) {
        char s[32];
        if (v < 0) std::snprintf(s, sizeof s, "%12s", "n/a");
        else std::snprintf(s, sizeof s, "%12.0f", v);
        return std::string(s);
    };
    auto ratio = [](double a, double b) {
        char s[32];
        if (a < 0 || b <= 0) std::snprintf(s, sizeof s, "%12s", "n/a");
        else std::snprintf(s, sizeof s, "%12.4f", a / b);
        return std::string(s);
    };
    std::printf("\n%9s  %-14s%12s%12s%12s%12s%12s\n", "accounts", "lookup", "files", "extrausers",
                "nss_vendor", "vnd/files", "vnd/extra");
    for (const auto& r : rows)
        std::printf("%9zu  %-14s%s%s%s%s%s\n", r.n, r.op, cell(r.ns[0]).c_str(),
                    cell(r.ns[1]).c_str(), cell(r.ns[2]).c_str(), ratio(r.ns[2], r.ns[0]).c_str(),
                    ratio(r.ns[2], r.ns[1]).c_str());

    // The targets.
    bool all_ok = true;
    auto verdict = [&](bool ok, bool measured, const std::string& what) {
        std::printf("%-6s %s\n", !measured ? "n/a" : ok ? "PASS" : "MISS", what.c_str());
        if (measured && !ok) all_ok = false;
    };
    std::printf("\n");
    for (const auto& r : rows) {
        if (std::strstr(r.op, "floor")) continue;
        bool hit = std::strstr(r.op, "hit") != nullptr;
        if (hit && r.n == sizes.back())
            verdict(r.ns[2] >= 0 && r.ns[2] <= 1000.0, r.ns[2] >= 0,
                    "nss_vendor " + std::string(r.op) + " at " + std::to_string(r.n) +
                        " accounts <= 1 us (" + cell(r.ns[2]).substr(4) + " ns)");
        if (!hit || r.n == 10)
            verdict(r.ns[2] <= r.ns[0], r.ns[0] >= 0 && r.ns[2] >= 0,
                    "nss_vendor " + std::string(r.op) + " at " + std::to_string(r.n) +
                        " accounts no slower than files (ratio" + ratio(r.ns[2], r.ns[0]) + ")");
    }
    return strict && !all_ok ? 1 : 0;
}
