// Shared helpers for the CMocka unit tests of the core (tests/unit/test_*.cc).
// Each test binary is one CMocka group; `make unit` runs it with
// CMOCKA_MESSAGE_OUTPUT=TAP through tests/support/run_tap.sh.
// A test that needs something the machine lacks (root) calls skip(); the
// runner records CMocka's "not ok N # SKIP" as a skip.
#pragma once

// Every C++ header before <cmocka.h>: it defines fail(), skip() ... as
// macros, which would rewrite std::basic_ios::fail(). Include this file last.
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
}

namespace unit {

// Assert a Result/Status is ok, printing the error detail otherwise.
#define assert_ok(expr)                                                                            \
    do {                                                                                           \
        const auto& r_ = (expr);                                                                   \
        if (!r_.ok())                                                                              \
            fail_msg("%s failed: %s: %s", #expr, vendor::core::code_name(r_.error().code),         \
                     r_.error().detail.c_str());                                                   \
    } while (0)

// Assert a Result/Status failed with the given vendor::core::Code.
#define assert_err(expr, want)                                                                     \
    do {                                                                                           \
        const auto& r_ = (expr);                                                                   \
        if (r_.ok()) fail_msg("%s succeeded, expected %s", #expr, vendor::core::code_name(want));  \
        if (r_.error().code != (want))                                                             \
            fail_msg("%s: expected %s, got %s: %s", #expr, vendor::core::code_name(want),          \
                     vendor::core::code_name(r_.error().code), r_.error().detail.c_str());         \
    } while (0)

#define assert_str_eq(a, b) assert_string_equal(std::string(a).c_str(), std::string(b).c_str())

inline bool contains(std::string_view hay, std::string_view needle) {
    return hay.find(needle) != std::string_view::npos;
}

// Where tests/data lives (make runs the tests from the top of the tree).
inline std::string data_path(const std::string& rel) {
    const char* d = std::getenv("TEST_DATA_DIR");
    return std::string(d && *d ? d : "tests/data") + "/" + rel;
}

inline bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

// The lines of a text (without their newlines).
inline std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < s.size()) {
        auto nl = s.find('\n', at);
        if (nl == std::string::npos) nl = s.size();
        out.push_back(s.substr(at, nl - at));
        at = nl + 1;
    }
    return out;
}

inline std::string slurp(const std::string& path) {
    std::string s;
    if (!read_file(path, s)) fail_msg("cannot read %s", path.c_str());
    return s;
}

// Plain write for test fixtures (the core's own writer is under test elsewhere).
inline void write_file(const std::string& path, std::string_view data, mode_t mode = 0600) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) fail_msg("cannot create %s: %s", path.c_str(), std::strerror(errno));
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n <= 0) fail_msg("cannot write %s", path.c_str());
        off += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (::chmod(path.c_str(), mode) != 0) fail_msg("cannot chmod %s", path.c_str());
}

inline void make_dir(const std::string& path, mode_t mode = 0700) {
    if (::mkdir(path.c_str(), mode) != 0)
        fail_msg("cannot mkdir %s: %s", path.c_str(), std::strerror(errno));
    if (::chmod(path.c_str(), mode) != 0) fail_msg("cannot chmod %s", path.c_str());
}

inline std::vector<std::string> dir_entries(const std::string& path) {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    return out;
}

// A private directory under /tmp (mode 0700, owned by the effective uid, so
// it passes the core's "trusted owner" rule as root and as a normal user).
// Removed recursively on destruction; a failing test (longjmp) leaves it.
class TmpDir {
  public:
    TmpDir() {
        char tmpl[] = "/tmp/pam_vendor-unit.XXXXXX";
        if (!::mkdtemp(tmpl)) fail_msg("mkdtemp: %s", std::strerror(errno));
        path_ = tmpl;
        ::chmod(path_.c_str(), 0700);
    }
    ~TmpDir() {
        ::nftw(
            path_.c_str(),
            [](const char* p, const struct stat*, int type, struct FTW*) -> int {
                if (type == FTW_DP) ::rmdir(p);
                else ::unlink(p);
                return 0;
            },
            16, FTW_DEPTH | FTW_PHYS);
    }
    TmpDir(const TmpDir&) = delete;
    TmpDir& operator=(const TmpDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

  private:
    std::string path_;
};

inline int run_group(const char* name, const CMUnitTest* tests, std::size_t n) {
    if (sodium_init() < 0) {
        std::fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    return _cmocka_run_group_tests(name, tests, n, nullptr, nullptr);
}

}  // namespace unit

#define RUN_GROUP(name, tests) unit::run_group(name, tests, sizeof(tests) / sizeof((tests)[0]))
