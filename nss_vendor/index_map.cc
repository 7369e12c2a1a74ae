#include "index_map.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <new>

#ifndef PAM_VENDOR_NSS_INDEX
#define PAM_VENDOR_NSS_INDEX "/var/lib/pam_vendor/nss/index"
#endif

namespace vendor::nss {

namespace {

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
Mapping* g_current = nullptr;  // holds one reference while current
long g_next_check_ms = 0;      // CLOCK_MONOTONIC_COARSE ms of the next lstat(); under g_lock

// vDSO, no system call: a few ns, in steps of one kernel tick (1-10 ms).
long coarse_ms() noexcept {
    timespec ts{};
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0) return 0;  // 0: always check
    return static_cast<long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The writer sets the word in place before it renames a new index over this
// one (nss_index.h); the mapping is MAP_SHARED so the store is seen here.
bool superseded(const Mapping* m) noexcept {
    const auto* word = reinterpret_cast<const std::uint32_t*>(static_cast<const char*>(m->base) +
                                                              nssidx::kSupersededOffset);
    return __atomic_load_n(word, __ATOMIC_ACQUIRE) != 0;
}

// The ctime matters too: a chmod/chown of the mapped file changes nothing
// else, and the module must stop believing a file others may now write.
bool same_file(const Mapping* m, const struct stat& st) noexcept {
    return m->dev == st.st_dev && m->ino == st.st_ino &&
           m->len == static_cast<std::size_t>(st.st_size) && m->mtime_s == st.st_mtim.tv_sec &&
           m->mtime_ns == st.st_mtim.tv_nsec && m->ctime_s == st.st_ctim.tv_sec &&
           m->ctime_ns == st.st_ctim.tv_nsec;
}

bool same_mapping(const Mapping* a, const Mapping* b) noexcept {
    return a->dev == b->dev && a->ino == b->ino && a->len == b->len && a->mtime_s == b->mtime_s &&
           a->mtime_ns == b->mtime_ns && a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns;
}

// Is the mapped file still exactly what was mapped? Checked before any byte
// of the mapping is read. An fd the application closed (EBADF) or closed and
// reused for another file (other dev/ino) is forgotten, never closed by us.
bool mapped_file_unchanged(Mapping* m) noexcept {
    if (m->fd < 0) return false;
    struct stat st {};
    int saved = errno;
    int rc = fstat(m->fd, &st);
    errno = saved;
    if (rc != 0 || m->dev != st.st_dev || m->ino != st.st_ino) {
        m->fd = -1;
        return false;
    }
    return same_file(m, st);
}

void drop_locked(Mapping* m) noexcept {
    if (--m->refs == 0) {
        if (m->fd >= 0) close(m->fd);
        munmap(m->base, m->len);
        std::free(m);
    }
}

// Map and validate the file; nullptr and a status on failure.
Mapping* load(Avail* why) noexcept {
    int fd = open(PAM_VENDOR_NSS_INDEX, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *why = errno == ENOENT ? Avail::missing : Avail::broken;
        return nullptr;
    }
    struct stat st {};
    // Only a root-owned regular file nobody else can write is believed.
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) ||
        st.st_size < static_cast<off_t>(sizeof(nssidx::Header)) ||
        static_cast<std::uint64_t>(st.st_size) > nssidx::kMaxFile) {
        close(fd);
        *why = Avail::broken;
        return nullptr;
    }
    // Shared, read-only: the writer's superseded mark must reach this mapping.
    // The fd stays open: every lookup fstat()s it before reading the mapping.
    void* base = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        close(fd);
        *why = Avail::broken;
        return nullptr;
    }
    auto* m = static_cast<Mapping*>(std::calloc(1, sizeof(Mapping)));
    if (!m) {
        munmap(base, static_cast<std::size_t>(st.st_size));
        close(fd);
        *why = Avail::broken;
        return nullptr;
    }
    m->fd = fd;
    new (&m->view) nssidx::View();
    m->base = base;
    m->len = static_cast<std::size_t>(st.st_size);
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    m->mtime_s = st.st_mtim.tv_sec;
    m->mtime_ns = st.st_mtim.tv_nsec;
    m->ctime_s = st.st_ctim.tv_sec;
    m->ctime_ns = st.st_ctim.tv_nsec;
    m->refs = 1;
    if (m->view.open(base, m->len) != nullptr) {
        munmap(base, m->len);
        close(fd);
        std::free(m);
        *why = Avail::broken;
        return nullptr;
    }
    return m;
}

}  // namespace

Avail acquire(Mapping** out) noexcept {
    *out = nullptr;
    const long now = coarse_ms();
    pthread_mutex_lock(&g_lock);
    // fstat first: the mark itself is read through the mapping.
    if (g_current && now != 0 && now < g_next_check_ms && mapped_file_unchanged(g_current) &&
        !superseded(g_current)) {
        ++g_current->refs;
        *out = g_current;
        pthread_mutex_unlock(&g_lock);
        return Avail::ok;
    }
    pthread_mutex_unlock(&g_lock);
    struct stat st {};
    // lstat: the mapped file reached through a symlink put in its place
    // must not look unchanged (load() refuses a symlink).
    if (lstat(PAM_VENDOR_NSS_INDEX, &st) != 0) {
        Avail a = errno == ENOENT ? Avail::missing : Avail::broken;
        pthread_mutex_lock(&g_lock);
        if (g_current) {
            drop_locked(g_current);
            g_current = nullptr;
        }
        pthread_mutex_unlock(&g_lock);
        return a;
    }
    pthread_mutex_lock(&g_lock);
    // Same file at the path, and still ours to fstat: the mapping stays.
    if (g_current && same_file(g_current, st) && mapped_file_unchanged(g_current)) {
        g_next_check_ms = now + nssidx::kRecheckMs;  // from before the lstat: never late
        ++g_current->refs;
        *out = g_current;
        pthread_mutex_unlock(&g_lock);
        return Avail::ok;
    }
    pthread_mutex_unlock(&g_lock);
    // Map outside the lock: validation is O(n) and other threads keep going
    // on the old mapping meanwhile.
    Avail why = Avail::ok;
    Mapping* fresh = load(&why);
    if (!fresh) return why;
    pthread_mutex_lock(&g_lock);
    // Another thread mapped the same file meanwhile: keep one, the one that
    // can still be fstat()ed (a current mapping whose fd the application
    // closed would otherwise send every call down this path again).
    if (g_current && same_mapping(g_current, fresh) && g_current->fd >= 0) {
        drop_locked(fresh);
    } else {
        if (g_current) drop_locked(g_current);
        g_current = fresh;
    }
    g_next_check_ms = now + nssidx::kRecheckMs;
    ++g_current->refs;
    *out = g_current;
    pthread_mutex_unlock(&g_lock);
    return Avail::ok;
}

void release(Mapping* m) noexcept {
    if (!m) return;
    pthread_mutex_lock(&g_lock);
    drop_locked(m);
    pthread_mutex_unlock(&g_lock);
}

}  // namespace vendor::nss
