// The mapped NSS index, shared by every thread of the process. A lookup
// costs one fstat() of the mapped file (kept open, O_CLOEXEC): a file
// changed in place (truncated by cp, rewritten, chmod/chown) is never read
// through the mapping, where a truncated page is a SIGBUS in the caller.
// While the file is unchanged, its `superseded` word is 0 and the last check
// of the path is less than kRecheckMs old (nss_index.h: how a replacement is
// noticed), that is all; otherwise one lstat() of the index path, and a
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
    int fd;                  // the mapped file, for fstat(); -1 once it is not ours
    int refs;                // guarded by the module mutex
    nssidx::View view;
};

// Status of acquire(): the index is there and valid, absent, or unusable.
enum class Avail { ok, missing, broken };

Avail acquire(Mapping** out) noexcept;
void release(Mapping* m) noexcept;

}  // namespace vendor::nss
