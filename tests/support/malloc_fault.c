/* Allocation fault injection for tests/pam/fault_test (LD_PRELOAD).
 *
 * Inert until armed: pvt_fault_arm(n) (found with dlsym) makes the n-th
 * allocation after it fail with ENOMEM, once; n = 0 only counts.
 * pvt_fault_disarm() stops and returns how many allocations were seen.
 * Every allocation entry point of glibc is covered (malloc, calloc,
 * realloc and the aligned ones C++ uses), so operator new inside
 * pam_vendor.so sees the failure as std::bad_alloc.
 *
 * Not for sanitizer builds: ASan interposes the same functions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

extern void* __libc_malloc(size_t n);
extern void* __libc_calloc(size_t n, size_t size);
extern void* __libc_realloc(void* p, size_t n);
extern void* __libc_memalign(size_t align, size_t n);

static atomic_int armed;
static atomic_long seen;
static atomic_long target;

__attribute__((visibility("default"))) void pvt_fault_arm(long nth) {
    atomic_store(&armed, 0);
    atomic_store(&seen, 0);
    atomic_store(&target, nth);
    atomic_store(&armed, 1);
}

__attribute__((visibility("default"))) long pvt_fault_disarm(void) {
    atomic_store(&armed, 0);
    return atomic_load(&seen);
}

static int fail_now(void) {
    if (!atomic_load_explicit(&armed, memory_order_relaxed)) return 0;
    long n = atomic_fetch_add(&seen, 1) + 1;
    if (n != atomic_load(&target)) return 0;
    errno = ENOMEM;
    return 1;
}

void* malloc(size_t n) { return fail_now() ? NULL : __libc_malloc(n); }

void* calloc(size_t n, size_t size) { return fail_now() ? NULL : __libc_calloc(n, size); }

void* realloc(void* p, size_t n) { return fail_now() ? NULL : __libc_realloc(p, n); }

void* memalign(size_t align, size_t n) { return fail_now() ? NULL : __libc_memalign(align, n); }

void* aligned_alloc(size_t align, size_t n) {
    return fail_now() ? NULL : __libc_memalign(align, n);
}

int posix_memalign(void** out, size_t align, size_t n) {
    if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
    if (fail_now()) return ENOMEM;
    void* p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
