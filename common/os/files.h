// The only way the core touches the file system. Every file that controls
// access is opened through safe_read(): absolute path, no symlink anywhere on
// the path, every directory and the file owned by a trusted user (root, or
// the effective uid of a non-root caller, who can only hurt itself) and not
// writable by group or others — sshd's StrictModes. A world-writable sticky
// directory (/tmp) is allowed above a trusted directory, as its sticky bit
// keeps others from replacing what root put there.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"
#include "util.h"

namespace vendor::core {

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    // A descriptor someone else keeps open (a DirScope's): never closed here.
    static Fd borrowed(int fd) noexcept {
        Fd f(fd);
        f.own_ = false;
        return f;
    }
    Fd(Fd&& o) noexcept : own_(o.own_), fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();
    int get() const noexcept { return fd_; }
    int release() noexcept {
        int f = fd_;
        fd_ = -1;
        own_ = true;
        return f;
    }
    explicit operator bool() const noexcept { return fd_ >= 0; }

  private:
    bool own_ = true;
    int fd_ = -1;
};

// The directories one PAM call has walked and checked, kept open while it
// runs: open_dir_checked() of a directory (or below one) walked before in the
// same scope starts from that descriptor instead of from "/" (issue 9: no
// directory walk per file or per audit event). The scope lives on the stack
// of one call (one phase): a later phase walks again, so a directory made
// insecure or replaced between auth and session is seen. Scopes nest; the
// innermost is used. Only successful walks are kept; not thread-shared.
class DirScope {
  public:
    DirScope() noexcept;
    ~DirScope();
    DirScope(const DirScope&) = delete;
    DirScope& operator=(const DirScope&) = delete;

    struct Slot {
        std::string path;  // absolute, no trailing '/'
        Fd fd;             // O_PATH|O_DIRECTORY
        mode_t mode;       // as checked when it was opened
    };
    // The active scope of this thread, or nullptr.
    static DirScope* current() noexcept;
    // The deepest kept directory that is `abs_path` or one of its ancestors.
    const Slot* deepest(std::string_view abs_path) const noexcept;
    // Keeps `fd` (checked as `path`, with `mode`); returns a borrowed copy,
    // or `fd` itself when the scope is full.
    Fd keep(std::string path, Fd fd, mode_t mode);
    std::size_t walks = 0;  // components opened in this scope (tests)

  private:
    std::vector<Slot> slots_;
    DirScope* prev_;
};

struct SafeOpts {
    std::size_t max_size = kMaxFileSize;
    bool allow_group_read = true;  // false: mode must not give group/other any access
};

// Open a directory path component by component (O_NOFOLLOW at every step),
// checking owner and mode of each. Returns an O_PATH|O_DIRECTORY fd.
Result<Fd> open_dir_checked(std::string_view abs_path);
// What says a file is still the one read before: a replaced, rewritten or
// re-moded file differs in one of these (issue 9 §7: the config and entry
// parsed once per PAM handle, re-validated cheaply by the later phases).
struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    mode_t mode = 0;
    uid_t uid = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    bool operator==(const FileId&) const = default;
};
// safe_read's checks (walk, no symlink, regular, owner, mode, size cap)
// without reading: one fstatat in the checked directory.
Result<FileId> safe_stat(std::string_view abs_path, const SafeOpts& opts = {});
// Read a whole regular file with the checks above.
Result<std::string> safe_read(std::string_view abs_path, const SafeOpts& opts = {});
// Like safe_read but an absent file is not an error: returns std::nullopt-like
// empty optional through `found`.
Result<std::string> safe_read_optional(std::string_view abs_path, bool& found,
                                       const SafeOpts& opts = {});

// safe_read's file checks for `name` inside a directory already opened with
// open_dir_checked (`abs_path` names it in errors): one directory walk for
// many reads. An absent file sets found = false and is not an error.
Result<std::string> safe_read_at(int dir_fd, std::string_view name, std::string_view abs_path,
                                 bool& found, const SafeOpts& opts = {});

// Read a file's lines backwards, last first, with safe_read's checks
// (opts.max_size bounds the file), in blocks: a large log costs only the tail
// a caller needs. `sink` returns false to stop; at most `cap` bytes are read
// (a line that does not fit in what is left ends the walk). A last line
// without its newline is delivered too.
struct LineSink {
    virtual ~LineSink() = default;
    virtual bool line(std::string_view l) = 0;
    // Set for each line delivered: it has no newline (only ever the last
    // line: an append in progress or a torn write), and where it starts.
    bool partial = false;
    std::uint64_t offset = 0;
};
Status safe_read_lines_backwards(std::string_view abs_path, const SafeOpts& opts, std::size_t cap,
                                 LineSink& sink, bool& found);
// The same forwards, from byte `offset` (which should be the start of a
// line), in order, at most `cap` bytes read.
Status safe_read_lines_forward(std::string_view abs_path, const SafeOpts& opts,
                               std::uint64_t offset, std::size_t cap, LineSink& sink, bool& found);

// Atomic replace: temp file in the same directory, write, fsync, rename,
// fsync the directory. Mode applied before the data is written.
// durable = false skips both fsyncs, for records whose loss in a crash is
// harmless (a session record: the close then logs that it has none); the
// rename still makes the replacement atomic.
Status atomic_write(std::string_view abs_path, std::string_view data, mode_t mode,
                    bool durable = true);
// atomic_write (durable) for a file that readers keep mapped and watch (the
// NSS index, nss_index.h): under an exclusive flock of the directory, the file
// now at the path, when it is a regular file of a trusted owner, gets `mark`
// written at `mark_offset` (in place, never truncated) before the new file is
// renamed over it, so a reader that sees the mark knows to look again.
Status atomic_write_superseding(std::string_view abs_path, std::string_view data, mode_t mode,
                                std::uint64_t mark_offset, std::string_view mark);
// Remove a file; absent is not an error. Sets `removed` when it existed.
Status remove_file(std::string_view abs_path, bool* removed = nullptr);
// Create a directory (and missing parents) with `mode` if absent; an existing
// one must pass the ownership checks.
Status ensure_dir(std::string_view abs_path, mode_t mode);
// Names of regular entries in a checked directory (no dot files).
Result<std::vector<std::string>> list_dir(std::string_view abs_path, bool include_hidden = false);

// Append one line to a log file with O_APPEND (created with `mode`), the file
// held under an exclusive flock for the duration of `fn`, which receives the
// current tail of the file (at most `tail_max` bytes) and returns the line to
// append. Bounded wait for the lock.
//
// A file that does not end with a newline has a torn last line (a crash or
// ENOSPC in the middle of a write): under the lock it is first cut back to
// just after its last newline (to 0 when it has none), so that the new line
// follows a complete one; `torn_bytes` tells make_line how many bytes went.
// A torn part longer than tail_max is not cut: Code::invalid.
// `locked` runs first under the lock with the checked directory of the file
// (e.g. to open a record kept beside it). After the line is written, still
// under the lock, `committed` gets that directory and the file's new size;
// the errors of both are locked_append's.
struct AppendFn {
    virtual ~AppendFn() = default;
    virtual Status locked(int /*dir_fd*/) { return {}; }
    virtual Result<std::string> make_line(std::string_view tail) = 0;
    virtual Status committed(int /*dir_fd*/, std::uint64_t /*size*/) { return {}; }
    std::size_t torn_bytes = 0;
    std::uint64_t size_before = 0;  // of the file make_line sees (torn tail cut)
};
Status locked_append(std::string_view abs_path, mode_t mode, std::size_t tail_max, AppendFn& fn);

// Rewrite a log file in place under its flock (the one locked_append takes):
// fn gets the whole content and returns the new one, which replaces the file
// atomically. Appenders waiting on the lock follow the new inode.
// `replacing` runs under the lock just before the rename: appenders that
// open the new file run after it.
struct RewriteFn {
    virtual ~RewriteFn() = default;
    virtual Result<std::string> rewrite(std::string_view content) = 0;
    virtual Status replacing(std::string_view /*out*/) { return {}; }
};
// Content returned unchanged is not written back (the file keeps its inode).
Status locked_rewrite(std::string_view abs_path, std::size_t max_size, RewriteFn& fn);

// A small fixed-size record overwritten in place: one pwrite at offset 0, no
// fsync, no rename (it is updated on the login path, under the lock of the
// file it describes). Created empty with `mode` when absent; must be a
// regular file owned by a trusted user without any group or other access.
// `name` is relative to `dir_fd` (a directory from open_dir_checked);
// `abs_path` names it in errors.
Result<Fd> open_record_at(int dir_fd, std::string_view name, std::string_view abs_path,
                          mode_t mode);
// The record's content (empty for a new one), at most max_size bytes.
Result<std::string> read_record(const Fd& fd, std::string_view abs_path, std::size_t max_size);
Status write_record(const Fd& fd, std::string_view abs_path, std::string_view data);
Status write_record(std::string_view abs_path, std::string_view data, mode_t mode);

// Read a file given on the command line (e.g. a vendor's public key): no
// symlink, regular, size-capped, any owner — it is input data, not control.
Result<std::string> read_input_file(std::string_view path, std::size_t max_size);

// An exclusive advisory lock on `abs_path` (created 0600 if absent), taken
// with a bounded wait; released on destruction.
class FileLock {
  public:
    static Result<FileLock> acquire(std::string_view abs_path, int timeout_ms = 3000);
    FileLock(FileLock&&) = default;
    FileLock& operator=(FileLock&&) = default;
    ~FileLock() = default;

  private:
    friend class Dir;
    explicit FileLock(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_;
};

// One directory handle (issue 9 §5): opened once with open_dir_checked()'s
// walk (free inside a DirScope that walked it), then every operation is
// relative to its descriptor — openat, fstatat, renameat, fchownat, mkdirat —
// so nothing below it is looked up by path again and no symlink is followed.
// Names are single components (no '/', not "." or "..").
// Inside a DirScope the handle (like open_dir_checked's Fd) borrows the
// scope's descriptor: it must not outlive the scope.
class Dir {
  public:
    static Result<Dir> open(std::string_view abs_path);
    const std::string& path() const noexcept { return path_; }
    int fd() const noexcept { return fd_.get(); }
    // safe_read / safe_read_optional / safe_stat of path()/name.
    Result<std::string> read(std::string_view name, const SafeOpts& opts = {}) const;
    Result<std::string> read_optional(std::string_view name, bool& found,
                                      const SafeOpts& opts = {}) const;
    Result<FileId> stat(std::string_view name, const SafeOpts& opts = {}) const;
    // atomic_write of path()/name.
    Status write(std::string_view name, std::string_view data, mode_t mode,
                 bool durable = true) const;
    // FileLock::acquire of path()/name.
    Result<FileLock> lock(std::string_view name, int timeout_ms = 3000) const;
    // Mode and owner of an entry ("" = the directory itself); a symlink is
    // refused, never followed.
    Status chmod(std::string_view name, mode_t mode) const;
    Status chown(std::string_view name, uid_t uid, gid_t gid) const;
    // A subdirectory, made with `mode` (umask or not) when absent, and
    // checked as open_dir_checked checks the last component.
    Result<Dir> mkdir(std::string_view name, mode_t mode) const;

  private:
    Dir(std::string path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
    std::string full(std::string_view name) const;
    std::string path_;
    Fd fd_;
};

std::string dirname_of(std::string_view path);
std::string basename_of(std::string_view path);

}  // namespace vendor::core
