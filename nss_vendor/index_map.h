// The mapped NSS index, shared by every thread of the process. A lookup
// costs no system call while the mapping's `superseded` word is 0 and the
// last check of the path is less than kRecheckMs old (nss_index.h: how a
// replacement is noticed); otherwise one lstat() of the index path, and a
// changed file (new inode, size, mtime or ctime, or a symlink in its place)
// is mapped and validated once. The old mapping lives on until its last
// reader (an enumeration holds one for its whole walk) lets go.
#pragma once

#include <cstddef>

#include "nss_index.h"

namespace vendor::nss {

struct Mapping {
    void* base;
    std::size_t len;
    unsigned long dev, ino;
    long mtime_s, mtime_ns;
    long ctime_s, ctime_ns;  // chmod/chown of the mapped file changes only these
    int refs;                // guarded by the module mutex
    nssidx::View view;
};

// Status of acquire(): the index is there and valid, absent, or unusable.
enum class Avail { ok, missing, broken };

Avail acquire(Mapping** out) noexcept;
void release(Mapping* m) noexcept;

}  // namespace vendor::nss
