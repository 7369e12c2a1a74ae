/* tests/support/fault.c — an LD_PRELOAD library that makes chosen libc calls
 * fail on demand, for the fault-injection tests of the "who is a vendor"
 * boundary (pam_vendor(8): every lookup error is a denial).
 *
 * Inert until armed. A test in the same process arms it through the exported
 * control function, found with dlsym(RTLD_DEFAULT, "pvt_fault_arm"):
 *
 *   pvt_fault_arm("getpwnam_r", skip, count, err);
 *
 * lets `skip` calls of that function through, then fails the next `count`
 * (-1: every later call, "sticky") with `err` (for getgrouplist, EDOM means
 * "succeed, but with the primary group only": a source that failed silently);
 * pvt_fault_disarm() stops all
 * and pvt_fault_hits() says how many calls were failed. Interposed calls:
 * the NSS lookups (getpwnam_r, getpwuid_r, getgrnam_r, getgrgid_r,
 * getgrouplist) and the file calls the module makes (fstatat, openat).
 * Under ASan the interceptor of the sanitizer runtime (first in LD_PRELOAD)
 * calls through to these, which call the next definition (libc or
 * nss_wrapper).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define PVT_EXPORT __attribute__((visibility("default")))

enum { F_GETPWNAM, F_GETPWUID, F_GETGRNAM, F_GETGRGID, F_GETGROUPLIST, F_FSTATAT, F_OPENAT, F_N };
static const char* const names[F_N] = {"getpwnam_r", "getpwuid_r",   "getgrnam_r", "getgrgid_r",
                                       "getgrouplist", "fstatat", "openat"};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int armed;
    long skip;
    long count; /* -1: sticky */
    int err;
} plan[F_N];
static long hits;

PVT_EXPORT int pvt_fault_arm(const char* fn, long skip, long count, int err) {
    for (int i = 0; i < F_N; ++i) {
        if (strcmp(fn, names[i]) != 0) continue;
        pthread_mutex_lock(&mu);
        plan[i].armed = 1;
        plan[i].skip = skip;
        plan[i].count = count;
        plan[i].err = err;
        pthread_mutex_unlock(&mu);
        return 0;
    }
    return -1;
}

PVT_EXPORT void pvt_fault_disarm(void) {
    pthread_mutex_lock(&mu);
    memset(plan, 0, sizeof plan);
    hits = 0;
    pthread_mutex_unlock(&mu);
}

PVT_EXPORT long pvt_fault_hits(void) {
    pthread_mutex_lock(&mu);
    long h = hits;
    pthread_mutex_unlock(&mu);
    return h;
}

/* Only calls pam_vendor.so makes count: a file an NSS module opens for
 * itself (libnss_systemd probes its userdb directories and treats a failure
 * as "no entry") is that module's business, not the boundary under test.
 * The first caller outside this library and the sanitizer runtimes decides. */
static int from_module(void) {
    void* bt[12];
    int n = backtrace(bt, 12);
    for (int i = 1; i < n; ++i) {
        Dl_info info;
        if (!dladdr(bt[i], &info) || !info.dli_fname) return 0;
        const char* f = info.dli_fname;
        if (strstr(f, "pvt_fault") || strstr(f, "libasan") || strstr(f, "libubsan")) continue;
        return strstr(f, "pam_vendor") != NULL;
    }
    return 0;
}

/* 0: let the call through; else the errno to fail it with. */
static int should_fail(int which) {
    int err = 0;
    if (!plan[which].armed || !from_module()) return 0;
    pthread_mutex_lock(&mu);
    if (plan[which].armed) {
        if (plan[which].skip > 0) {
            plan[which].skip--;
        } else if (plan[which].count != 0) {
            if (plan[which].count > 0) plan[which].count--;
            err = plan[which].err;
            hits++;
            if (getenv("PVT_FAULT_TRACE")) { /* debugging aid: where the fault hit */
                void* bt[32];
                int n = backtrace(bt, 32);
                backtrace_symbols_fd(bt, n, 2);
            }
        }
    }
    pthread_mutex_unlock(&mu);
    return err;
}

#define NEXT(var, name)                                                                            \
    do {                                                                                           \
        if (!var) *(void**)(&var) = dlsym(RTLD_NEXT, name);                                        \
    } while (0)

/* PVT_SLOW_GETPWNAM=NAME:MS:MARKER in the environment of a process (a
 * vendorctl the race test starts): getpwnam_r(NAME) creates MARKER, then
 * sleeps MS milliseconds, holding that process mid-command while the test
 * runs another one. */
static void maybe_stall(const char* name) {
    const char* spec = getenv("PVT_SLOW_GETPWNAM");
    if (!spec || !name) return;
    const char* c1 = strchr(spec, ':');
    if (!c1 || (size_t)(c1 - spec) != strlen(name) || strncmp(spec, name, strlen(name)) != 0)
        return;
    char* c2 = NULL;
    long ms = strtol(c1 + 1, &c2, 10);
    if (!c2 || *c2 != ':' || ms <= 0) return;
    int fd = open(c2 + 1, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

PVT_EXPORT int getpwnam_r(const char* name, struct passwd* pw, char* buf, size_t len,
                          struct passwd** res) {
    static int (*next)(const char*, struct passwd*, char*, size_t, struct passwd**);
    maybe_stall(name);
    int err = should_fail(F_GETPWNAM);
    if (err) {
        *res = NULL;
        return err;
    }
    NEXT(next, "getpwnam_r");
    return next(name, pw, buf, len, res);
}

PVT_EXPORT int getpwuid_r(uid_t uid, struct passwd* pw, char* buf, size_t len,
                          struct passwd** res) {
    static int (*next)(uid_t, struct passwd*, char*, size_t, struct passwd**);
    int err = should_fail(F_GETPWUID);
    if (err) {
        *res = NULL;
        return err;
    }
    NEXT(next, "getpwuid_r");
    return next(uid, pw, buf, len, res);
}

PVT_EXPORT int getgrnam_r(const char* name, struct group* gr, char* buf, size_t len,
                          struct group** res) {
    static int (*next)(const char*, struct group*, char*, size_t, struct group**);
    int err = should_fail(F_GETGRNAM);
    if (err) {
        *res = NULL;
        return err;
    }
    NEXT(next, "getgrnam_r");
    return next(name, gr, buf, len, res);
}

PVT_EXPORT int getgrgid_r(gid_t gid, struct group* gr, char* buf, size_t len,
                          struct group** res) {
    static int (*next)(gid_t, struct group*, char*, size_t, struct group**);
    int err = should_fail(F_GETGRGID);
    if (err) {
        *res = NULL;
        return err;
    }
    NEXT(next, "getgrgid_r");
    return next(gid, gr, buf, len, res);
}

/* getgrouplist has no error return: a failing NSS source shows as -1 with a
 * count that does not ask for a larger buffer (what glibc returns when an
 * allocation inside it fails). */
PVT_EXPORT int getgrouplist(const char* user, gid_t group, gid_t* groups, int* ngroups) {
    static int (*next)(const char*, gid_t, gid_t*, int*);
    int err = should_fail(F_GETGROUPLIST);
    if (err == EDOM) {
        /* A source whose initgroups failed: glibc skips it and reports
         * success with what the others gave (here: the primary group). */
        if (*ngroups < 1) {
            *ngroups = 1;
            return -1;
        }
        groups[0] = group;
        *ngroups = 1;
        return 1;
    }
    if (err) {
        errno = err;
        return -1;
    }
    NEXT(next, "getgrouplist");
    return next(user, group, groups, ngroups);
}

PVT_EXPORT int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
    static int (*next)(int, const char*, struct stat*, int);
    int err = should_fail(F_FSTATAT);
    if (err) {
        errno = err;
        return -1;
    }
    NEXT(next, "fstatat");
    return next(dirfd, path, st, flags);
}

PVT_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) {
    return fstatat(dirfd, path, (struct stat*)st, flags);
}

PVT_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
    static int (*next)(int, const char*, int, ...);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int err = should_fail(F_OPENAT);
    if (err) {
        errno = err;
        return -1;
    }
    NEXT(next, "openat");
    return next(dirfd, path, flags, mode);
}

PVT_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return openat(dirfd, path, flags, mode);
}
