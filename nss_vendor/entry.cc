// The C ABI of libnss_vendor.so.2 (nss_vendor(8)). Contract, as glibc and
// nss-systemd expect it:
//   found            NSS_STATUS_SUCCESS, errno untouched
//   absent           NSS_STATUS_NOTFOUND, *errnop = ENOENT
//   buffer too small NSS_STATUS_TRYAGAIN, *errnop = ERANGE (caller retries bigger)
//   index missing    NSS_STATUS_UNAVAIL,  *errnop = ENOENT
//   index unusable   NSS_STATUS_UNAVAIL,  *errnop = EIO  (never a partial entry)
// No allocation except initgroups' array (glibc's contract), no logging, no
// NSS call of our own (no recursion), no C++ runtime, no exceptions.
// Freshness (index_map.cc, the full argument in nss_index.h): an index that
// vendorctl installed is served from the very next call after vendorctl's
// rename returns (the writer marks the old file superseded before the rename;
// a call reads that word after one fstat() of the mapped file, which also
// catches any change made in place: cp, an editor, chmod, chown); another
// file put at the path by hand (mv, rm) within kRecheckMs (10 ms) plus one
// tick of CLOCK_MONOTONIC_COARSE, the period of the module's lstat() of it.
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>

#include <cstdint>

#include "index_map.h"

using vendor::nss::Avail;
using vendor::nss::Mapping;
using vendor::nssidx::GroupRec;
using vendor::nssidx::UserRec;
using vendor::nssidx::View;

#define NSS_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// errno as the caller had it on success; on failure the status's errno in
// *errnop. glibc passes &errno as errnop, so the body reports into err and
// the destructor writes it last, after restoring errno: restoring errno
// after the body wrote *errnop would erase ERANGE, and glibc's getpwnam_r
// would return the caller's stale errno (often 0, "no such user") instead
// of retrying with a bigger buffer.
struct ErrnoGuard {
    int* const out;
    int saved = errno;
    int err = 0;
    explicit ErrnoGuard(int* errnop = nullptr) : out(errnop) {}
    ~ErrnoGuard() {
        errno = saved;
        if (out && err) *out = err;
    }
};

nss_status unavailable(Avail a, int* errnop) {
    *errnop = a == Avail::missing ? ENOENT : EIO;
    return NSS_STATUS_UNAVAIL;
}

// Bump allocator over the caller's buffer.
struct Buf {
    char* p;
    size_t left;
    char* str(const char* s) {
        size_t n = strlen(s) + 1;
        if (n > left) return nullptr;
        char* out = p;
        memcpy(out, s, n);
        p += n;
        left -= n;
        return out;
    }
    char** ptrs(size_t count) {
        size_t pad =
            (alignof(char*) - reinterpret_cast<uintptr_t>(p) % alignof(char*)) % alignof(char*);
        size_t need = pad + count * sizeof(char*);
        if (need > left || count > (SIZE_MAX / sizeof(char*))) return nullptr;
        char** out = reinterpret_cast<char**>(p + pad);
        p += need;
        left -= need;
        return out;
    }
};

nss_status fill_pw(const View& v, const UserRec& u, passwd* pw, char* buf, size_t len,
                   int* errnop) {
    Buf b{buf, len};
    char *name = b.str(v.str(u.name)), *pass = b.str("x"), *gecos = b.str(v.str(u.gecos)),
         *dir = b.str(v.str(u.dir)), *shell = b.str(v.str(u.shell));
    if (!name || !pass || !gecos || !dir || !shell) {
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    pw->pw_name = name;
    pw->pw_passwd = pass;
    pw->pw_uid = u.uid;
    pw->pw_gid = u.gid;
    pw->pw_gecos = gecos;
    pw->pw_dir = dir;
    pw->pw_shell = shell;
    return NSS_STATUS_SUCCESS;
}

nss_status fill_gr(const View& v, const GroupRec& g, group* gr, char* buf, size_t len,
                   int* errnop) {
    Buf b{buf, len};
    char** mem = b.ptrs(static_cast<size_t>(g.mem_count) + 1);
    char *name = mem ? b.str(v.str(g.name)) : nullptr, *pass = name ? b.str("x") : nullptr;
    if (!mem || !name || !pass) {
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    for (uint32_t k = 0; k < g.mem_count; ++k) {
        mem[k] = b.str(v.str(v.pool(g.mem_off + k)));
        if (!mem[k]) {
            *errnop = ERANGE;
            return NSS_STATUS_TRYAGAIN;
        }
    }
    mem[g.mem_count] = nullptr;
    gr->gr_name = name;
    gr->gr_passwd = pass;
    gr->gr_gid = g.gid;
    gr->gr_mem = mem;
    return NSS_STATUS_SUCCESS;
}

// Vendor accounts have no password: a locked shadow entry, so pam_unix can
// never authenticate one, and no ageing that could force a change.
nss_status fill_sp(const View& v, const UserRec& u, spwd* sp, char* buf, size_t len, int* errnop) {
    Buf b{buf, len};
    char *name = b.str(v.str(u.name)), *pass = name ? b.str("!") : nullptr;
    if (!name || !pass) {
        *errnop = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    sp->sp_namp = name;
    sp->sp_pwdp = pass;
    sp->sp_lstchg = -1;
    sp->sp_min = -1;
    sp->sp_max = -1;
    sp->sp_warn = -1;
    sp->sp_inact = -1;
    sp->sp_expire = -1;
    sp->sp_flag = ~0UL;
    return NSS_STATUS_SUCCESS;
}

bool name_arg_ok(const char* name) { return name && *name && strnlen(name, 33) <= 32; }

// One enumeration cursor per database, over one snapshot of the index.
struct Cursor {
    pthread_mutex_t lock;
    Mapping* snap;
    uint32_t next;
};
Cursor g_pw = {PTHREAD_MUTEX_INITIALIZER, nullptr, 0};
Cursor g_gr = {PTHREAD_MUTEX_INITIALIZER, nullptr, 0};
Cursor g_sp = {PTHREAD_MUTEX_INITIALIZER, nullptr, 0};

nss_status cursor_set(Cursor& c) {
    pthread_mutex_lock(&c.lock);
    vendor::nss::release(c.snap);
    c.snap = nullptr;
    c.next = 0;
    Mapping* m = nullptr;
    Avail a = vendor::nss::acquire(&m);
    if (a == Avail::ok) c.snap = m;
    pthread_mutex_unlock(&c.lock);
    return a == Avail::ok ? NSS_STATUS_SUCCESS : NSS_STATUS_UNAVAIL;
}

nss_status cursor_end(Cursor& c) {
    pthread_mutex_lock(&c.lock);
    vendor::nss::release(c.snap);
    c.snap = nullptr;
    c.next = 0;
    pthread_mutex_unlock(&c.lock);
    return NSS_STATUS_SUCCESS;
}

template <typename Fill>
nss_status cursor_next(Cursor& c, bool users, int* errnop, Fill fill) {
    pthread_mutex_lock(&c.lock);
    if (!c.snap) {
        Mapping* m = nullptr;
        Avail a = vendor::nss::acquire(&m);
        if (a != Avail::ok) {
            pthread_mutex_unlock(&c.lock);
            return unavailable(a, errnop);
        }
        c.snap = m;
        c.next = 0;
    }
    const View& v = c.snap->view;
    uint32_t n = users ? v.n_users() : v.n_groups();
    if (c.next >= n) {
        pthread_mutex_unlock(&c.lock);
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    nss_status st = fill(v, c.next);
    if (st == NSS_STATUS_SUCCESS) ++c.next;  // on ERANGE the same entry comes again
    pthread_mutex_unlock(&c.lock);
    return st;
}

// Looks up with a reference held for the duration of the fill.
template <typename Find, typename Fill>
nss_status lookup(int* errnop, Find find, Fill fill) {
    Mapping* m = nullptr;
    Avail a = vendor::nss::acquire(&m);
    if (a != Avail::ok) return unavailable(a, errnop);
    long idx = find(m->view);
    nss_status st;
    if (idx < 0) {
        *errnop = ENOENT;
        st = NSS_STATUS_NOTFOUND;
    } else {
        st = fill(m->view, static_cast<uint32_t>(idx));
    }
    vendor::nss::release(m);
    return st;
}

}  // namespace

NSS_EXPORT nss_status _nss_vendor_getpwnam_r(const char* name, passwd* pw, char* buf, size_t len,
                                             int* errnop) {
    ErrnoGuard g(errnop);
    errnop = &g.err;
    if (!name_arg_ok(name)) {
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    return lookup(
        errnop, [&](const View& v) { return v.find_user_by_name(name); },
        [&](const View& v, uint32_t i) { return fill_pw(v, v.user(i), pw, buf, len, errnop); });
}

NSS_EXPORT nss_status _nss_vendor_getpwuid_r(uid_t uid, passwd* pw, char* buf, size_t len,
                                             int* errnop) {
    ErrnoGuard g(errnop);
    errnop = &g.err;
    return lookup(
        errnop, [&](const View& v) { return v.find_user_by_uid(uid); },
        [&](const View& v, uint32_t i) { return fill_pw(v, v.user(i), pw, buf, len, errnop); });
}

NSS_EXPORT nss_status _nss_vendor_setpwent(int) {
    ErrnoGuard g;
    return cursor_set(g_pw);
}
NSS_EXPORT nss_status _nss_vendor_endpwent(void) {
    ErrnoGuard g;
    return cursor_end(g_pw);
}
NSS_EXPORT nss_status _nss_vendor_getpwent_r(passwd* pw, char* buf, size_t len, int* errnop) {
    ErrnoGuard g(errnop);
    errnop = &g.err;
    return cursor_next(g_pw, true, errnop, [&](const View& v, uint32_t i) {
        return fill_pw(v, v.user(i), pw, buf, len, errnop);
    });
}

NSS_EXPORT nss_status _nss_vendor_getgrnam_r(const char* name, group* gr, char* buf, size_t len,
                                             int* errnop) {
    ErrnoGuard g(errnop);
    errnop = &g.err;
    if (!name_arg_ok(name)) {
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    return lookup(
        errnop, [&](const View& v) { return v.find_group_by_name(name); },
        [&](const View& v, uint32_t i) { return fill_gr(v, v.group(i), gr, buf, len, errnop); });
}

NSS_EXPORT nss_status _nss_vendor_getgrgid_r(gid_t gid, group* gr, char* buf, size_t len,
                                             int* errnop) {
    ErrnoGuard g(errnop);
    errnop = &g.err;
    return lookup(
        errnop, [&](const View& v) { return v.find_group_by_gid(gid); },
        [&](const View& v, uint32_t i) { return fill_gr(v, v.group(i), gr, buf, len, errnop); });
}

NSS_EXPORT nss_status _nss_vendor_setgrent(int) {
    ErrnoGuard g;
    return cursor_set(g_gr);
}
NSS_EXPORT nss_status _nss_vendor_endgrent(void) {
    ErrnoGuard g;
    return cursor_end(g_gr);
}
NSS_EXPORT nss_status _nss_vendor_getgrent_r(group* gr, char* buf, size_t len, int* errnop) {
    ErrnoGuard g(errnop);
    errnop = &g.err;
    return cursor_next(g_gr, false, errnop, [&](const View& v, uint32_t i) {
        return fill_gr(v, v.group(i), gr, buf, len, errnop);
    });
}

NSS_EXPORT nss_status _nss_vendor_getspnam_r(const char* name, spwd* sp, char* buf, size_t len,
                                             int* errnop) {
    ErrnoGuard g(errnop);
    errnop = &g.err;
    if (!name_arg_ok(name)) {
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    return lookup(
        errnop, [&](const View& v) { return v.find_user_by_name(name); },
        [&](const View& v, uint32_t i) { return fill_sp(v, v.user(i), sp, buf, len, errnop); });
}

NSS_EXPORT nss_status _nss_vendor_setspent(int) {
    ErrnoGuard g;
    return cursor_set(g_sp);
}
NSS_EXPORT nss_status _nss_vendor_endspent(void) {
    ErrnoGuard g;
    return cursor_end(g_sp);
}
NSS_EXPORT nss_status _nss_vendor_getspent_r(spwd* sp, char* buf, size_t len, int* errnop) {
    ErrnoGuard g(errnop);
    errnop = &g.err;
    return cursor_next(g_sp, true, errnop, [&](const View& v, uint32_t i) {
        return fill_sp(v, v.user(i), sp, buf, len, errnop);
    });
}

// Supplementary groups of a vendor account, so glibc never scans the whole
// group database for a vendor login. glibc's contract: append to *groups
// from *start, growing it (up to limit when limit > 0).
NSS_EXPORT nss_status _nss_vendor_initgroups_dyn(const char* user, gid_t skip, long int* start,
                                                 long int* size, gid_t** groups, long int limit,
                                                 int* errnop) {
    ErrnoGuard g(errnop);
    errnop = &g.err;
    if (!name_arg_ok(user)) {
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    Mapping* m = nullptr;
    Avail a = vendor::nss::acquire(&m);
    if (a != Avail::ok) return unavailable(a, errnop);
    const View& v = m->view;
    long idx = v.find_user_by_name(user);
    if (idx < 0) {
        vendor::nss::release(m);
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    UserRec u = v.user(static_cast<uint32_t>(idx));
    nss_status st = NSS_STATUS_SUCCESS;
    for (uint32_t k = 0; k < u.sup_count; ++k) {
        gid_t gid = v.pool(u.sup_off + k);
        if (gid == skip) continue;
        bool dup = false;
        for (long j = 0; j < *start; ++j)
            if ((*groups)[j] == gid) dup = true;
        if (dup) continue;
        if (*start == *size) {
            if (limit > 0 && *size >= limit) break;  // the caller asked for no more
            long grow = *size > 0 ? *size * 2 : 8;
            if (limit > 0 && grow > limit) grow = limit;
            auto* ng =
                static_cast<gid_t*>(realloc(*groups, static_cast<size_t>(grow) * sizeof(gid_t)));
            if (!ng) {
                *errnop = ENOMEM;
                st = NSS_STATUS_TRYAGAIN;
                break;
            }
            *groups = ng;
            *size = grow;
        }
        (*groups)[(*start)++] = gid;
    }
    vendor::nss::release(m);
    return st;
}
