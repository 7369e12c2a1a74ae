#include "files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include <sodium.h>

#include "util.h"

namespace vendor::core {

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0 && own_) ::close(fd_);
        own_ = o.own_;
        fd_ = o.release();
    }
    return *this;
}

Fd::~Fd() {
    if (fd_ >= 0 && own_) ::close(fd_);
}

namespace {

bool trusted_owner(uid_t uid) noexcept { return uid == 0 || uid == geteuid(); }

Error sys_error(Code c, const std::string& what, std::string_view path, int err) {
    return make_error(c, what + " " + escape(path, 200) + ": " + std::strerror(err));
}

std::vector<std::string_view> components(std::string_view p) {
    std::vector<std::string_view> out;
    while (!p.empty()) {
        auto pos = p.find('/');
        auto c = p.substr(0, pos);
        if (!c.empty()) out.push_back(c);
        if (pos == std::string_view::npos) break;
        p.remove_prefix(pos + 1);
    }
    return out;
}

void sleep_ms(int ms) {
    timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
    nanosleep(&ts, nullptr);
}

// Exclusive flock with a bounded wait (never block a login forever).
Status lock_bounded(int fd, std::string_view path, int timeout_ms) {
    for (int waited = 0;; waited += 5) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return {};
        if (errno != EWOULDBLOCK && errno != EINTR)
            return sys_error(Code::io, "cannot lock", path, errno);
        if (waited >= timeout_ms) return make_error(Code::busy, "lock busy: " + escape(path, 200));
        sleep_ms(5);
    }
}

}  // namespace

std::string dirname_of(std::string_view path) {
    auto pos = path.rfind('/');
    if (pos == std::string_view::npos) return ".";
    if (pos == 0) return "/";
    return std::string(path.substr(0, pos));
}

std::string basename_of(std::string_view path) {
    auto pos = path.rfind('/');
    return std::string(pos == std::string_view::npos ? path : path.substr(pos + 1));
}

namespace {

thread_local DirScope* t_scope = nullptr;  // trivial: a pointer, no static object

constexpr std::size_t kScopeSlots = 32;

bool is_dir_prefix(std::string_view dir, std::string_view path) {
    if (dir == "/") return true;
    return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           (path.size() == dir.size() || path[dir.size()] == '/');
}

}  // namespace

DirScope::DirScope() noexcept : prev_(t_scope) { t_scope = this; }
DirScope::~DirScope() { t_scope = prev_; }
DirScope* DirScope::current() noexcept { return t_scope; }

const DirScope::Slot* DirScope::deepest(std::string_view abs_path) const noexcept {
    const Slot* best = nullptr;
    for (const auto& s : slots_)
        if (is_dir_prefix(s.path, abs_path) && (!best || s.path.size() > best->path.size()))
            best = &s;
    return best;
}

Fd DirScope::keep(std::string path, Fd fd, mode_t mode) {
    if (slots_.size() >= kScopeSlots) return fd;
    int raw = fd.get();
    slots_.push_back(Slot{std::move(path), std::move(fd), mode});
    return Fd::borrowed(raw);
}

Result<Fd> open_dir_checked(std::string_view abs_path) {
    if (abs_path.empty() || abs_path[0] != '/')
        return make_error(Code::invalid, "path is not absolute: " + escape(abs_path, 200));
    if (abs_path.size() > 4000) return make_error(Code::too_large, "path too long");
    for (auto comp : components(abs_path))
        if (comp == "." || comp == "..")
            return make_error(Code::insecure, "path has . or ..: " + escape(abs_path, 200));
    // Start below the deepest directory this scope has already checked: every
    // component above it passed the same checks a moment ago, by descriptor.
    DirScope* scope = DirScope::current();
    std::string walked;
    Fd cur;
    mode_t mode = 0;
    if (const DirScope::Slot* s = scope ? scope->deepest(abs_path) : nullptr) {
        cur = Fd::borrowed(s->fd.get());
        walked = s->path == "/" ? "" : s->path;
        mode = s->mode;
    } else {
        cur = Fd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!cur) return sys_error(Code::io, "cannot open", "/", errno);
        struct stat st {};
        if (fstat(cur.get(), &st) != 0) return sys_error(Code::io, "cannot stat", "/", errno);
        mode = st.st_mode;
        if (scope) cur = scope->keep("/", std::move(cur), mode);
    }
    for (auto comp : components(std::string_view(abs_path).substr(walked.size()))) {
        std::string name(comp);
        walked += "/" + name;
        Fd next(::openat(cur.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next) {
            int e = errno;
            if (e == ENOENT) return sys_error(Code::not_found, "no such directory", walked, e);
            if (e == ENOTDIR || e == ELOOP)
                return make_error(Code::insecure,
                                  "not a directory or a symlink: " + escape(walked, 200));
            return sys_error(Code::io, "cannot open", walked, e);
        }
        struct stat st {};
        if (fstat(next.get(), &st) != 0) return sys_error(Code::io, "cannot stat", walked, errno);
        if (!trusted_owner(st.st_uid))
            return make_error(Code::insecure,
                              "directory not owned by root: " + escape(walked, 200));
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
            return make_error(Code::insecure,
                              "directory writable by group or others: " + escape(walked, 200));
        mode = st.st_mode;
        cur = scope ? scope->keep(walked, std::move(next), mode) : std::move(next);
        if (scope) ++scope->walks;
    }
    // The directory that holds the file itself must not be writable by others
    // even when sticky: anyone could then add files to a registry or state dir.
    if (mode & (S_IWGRP | S_IWOTH))
        return make_error(Code::insecure,
                          "directory writable by group or others: " + escape(abs_path, 200));
    return cur;
}

namespace {

bool bad_name(std::string_view base) {
    return base.empty() || base == "." || base == ".." || base.find('/') != std::string_view::npos;
}

// The checks every control file passes (the file itself; its directories
// are open_dir_checked's): regular, owned by root (or us), not writable by
// others, secret unless group reading is allowed, under the size cap.
Status check_file_stat(const struct stat& st, std::string_view abs_path, const SafeOpts& opts) {
    if (!S_ISREG(st.st_mode))
        return make_error(Code::insecure, "not a regular file: " + escape(abs_path, 200));
    if (!trusted_owner(st.st_uid))
        return make_error(Code::insecure, "file not owned by root: " + escape(abs_path, 200));
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return make_error(Code::insecure,
                          "file writable by group or others: " + escape(abs_path, 200));
    if (!opts.allow_group_read && (st.st_mode & (S_IRWXG | S_IRWXO)))
        return make_error(Code::insecure,
                          "secret file readable by group or others: " + escape(abs_path, 200));
    if (static_cast<std::uint64_t>(st.st_size) > opts.max_size)
        return make_error(Code::too_large, "file too large: " + escape(abs_path, 200));
    return {};
}

Result<Fd> open_checked_at(int dir_fd, const std::string& base, std::string_view abs_path,
                           const SafeOpts& opts, struct stat& st) {
    if (bad_name(base))
        return make_error(Code::invalid, "not a file path: " + escape(abs_path, 200));
    Fd fd(
        ::openat(dir_fd, base.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) {
        int e = errno;
        if (e == ENOENT) return sys_error(Code::not_found, "no such file", abs_path, e);
        if (e == ELOOP)
            return make_error(Code::insecure, "symlink refused: " + escape(abs_path, 200));
        return sys_error(Code::io, "cannot open", abs_path, e);
    }
    if (fstat(fd.get(), &st) != 0) return sys_error(Code::io, "cannot stat", abs_path, errno);
    if (auto ok = check_file_stat(st, abs_path, opts); !ok) return std::move(ok).error();
    return fd;
}

Result<Fd> open_checked_file(std::string_view abs_path, const SafeOpts& opts, struct stat& st) {
    auto dir = open_dir_checked(dirname_of(abs_path));
    if (!dir) return std::move(dir).error();
    return open_checked_at(dir->get(), basename_of(abs_path), abs_path, opts, st);
}

Result<std::string> read_all(int fd, std::string_view abs_path, std::size_t max_size) {
    std::string out;
    char buf[8192];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error(Code::io, "cannot read", abs_path, errno);
        }
        if (n == 0) break;
        if (out.size() + static_cast<std::size_t>(n) > max_size)
            return make_error(Code::too_large, "file too large: " + escape(abs_path, 200));
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

Status write_all(int fd, std::string_view data, std::string_view path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error(Code::io, "cannot write", path, errno);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

}  // namespace

namespace {

FileId id_of(const struct stat& st) {
    FileId id;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mode = st.st_mode;
    id.uid = st.st_uid;
    id.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    id.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    return id;
}

Result<FileId> stat_at(int dir_fd, const std::string& base, std::string_view abs_path,
                       const SafeOpts& opts) {
    if (bad_name(base))
        return make_error(Code::invalid, "not a file path: " + escape(abs_path, 200));
    struct stat st {};
    if (fstatat(dir_fd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        int e = errno;
        if (e == ENOENT) return sys_error(Code::not_found, "no such file", abs_path, e);
        return sys_error(Code::io, "cannot stat", abs_path, e);
    }
    if (S_ISLNK(st.st_mode))
        return make_error(Code::insecure, "symlink refused: " + escape(abs_path, 200));
    if (auto ok = check_file_stat(st, abs_path, opts); !ok) return std::move(ok).error();
    return id_of(st);
}

}  // namespace

Result<FileId> safe_stat(std::string_view abs_path, const SafeOpts& opts) {
    auto dir = open_dir_checked(dirname_of(abs_path));
    if (!dir) return std::move(dir).error();
    return stat_at(dir->get(), basename_of(abs_path), abs_path, opts);
}

Result<std::string> safe_read(std::string_view abs_path, const SafeOpts& opts) {
    struct stat st {};
    auto fd = open_checked_file(abs_path, opts, st);
    if (!fd) return std::move(fd).error();
    return read_all(fd->get(), abs_path, opts.max_size);
}

Result<std::string> safe_read_optional(std::string_view abs_path, bool& found,
                                       const SafeOpts& opts) {
    auto r = safe_read(abs_path, opts);
    if (!r && r.error().code == Code::not_found) {
        // Only the file itself may be absent; a missing directory is too.
        found = false;
        return std::string();
    }
    found = r.ok();
    return r;
}

Result<std::string> safe_read_at(int dir_fd, std::string_view name, std::string_view abs_path,
                                 bool& found, const SafeOpts& opts) {
    struct stat st {};
    found = false;
    auto fd = open_checked_at(dir_fd, std::string(name), abs_path, opts, st);
    if (!fd) {
        if (fd.error().code == Code::not_found) return std::string();
        return std::move(fd).error();
    }
    auto r = read_all(fd->get(), abs_path, opts.max_size);
    found = r.ok();
    return r;
}

namespace {

// atomic_write's body; `before_rename` runs with the directory fd and the
// file's base name just before the new file is renamed over the old one.
template <typename Hook>
Status replace_in(int dir_fd, const std::string& base, std::string_view abs_path,
                  std::string_view data, mode_t mode, bool durable, Hook before_rename) {
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    std::string tmp = "." + base + ".tmp." + to_hex(rnd, sizeof rnd);
    Fd fd(::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   mode & 0777));
    if (!fd) return sys_error(Code::io, "cannot create temporary file for", abs_path, errno);
    auto fail = [&](Error e) -> Status {
        ::unlinkat(dir_fd, tmp.c_str(), 0);
        return e;
    };
    if (fchmod(fd.get(), mode & 0777) != 0)
        return fail(sys_error(Code::io, "cannot chmod", abs_path, errno));
    if (auto st = write_all(fd.get(), data, abs_path); !st) return fail(st.error());
    if (durable && fsync(fd.get()) != 0)
        return fail(sys_error(Code::io, "cannot fsync", abs_path, errno));
    if (auto st = before_rename(); !st) return fail(st.error());
    if (::renameat(dir_fd, tmp.c_str(), dir_fd, base.c_str()) != 0)
        return fail(sys_error(Code::io, "cannot rename into", abs_path, errno));
    if (durable && fsync(dir_fd) != 0)
        return sys_error(Code::io, "cannot fsync directory of", abs_path, errno);
    return {};
}

Status atomic_write_at(int dir_fd, const std::string& base, std::string_view abs_path,
                       std::string_view data, mode_t mode, bool durable) {
    if (bad_name(base))
        return make_error(Code::invalid, "not a file path: " + escape(abs_path, 200));
    Fd dir(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return sys_error(Code::io, "cannot open directory of", abs_path, errno);
    return replace_in(dir.get(), base, abs_path, data, mode, durable, [] { return Status{}; });
}

}  // namespace

Status atomic_write(std::string_view abs_path, std::string_view data, mode_t mode, bool durable) {
    auto pdir = open_dir_checked(dirname_of(abs_path));
    if (!pdir) return std::move(pdir).error();
    return atomic_write_at(pdir->get(), basename_of(abs_path), abs_path, data, mode, durable);
}

Status atomic_write_superseding(std::string_view abs_path, std::string_view data, mode_t mode,
                                std::uint64_t mark_offset, std::string_view mark) {
    auto pdir = open_dir_checked(dirname_of(abs_path));
    if (!pdir) return std::move(pdir).error();
    Fd dir(::openat(pdir->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return sys_error(Code::io, "cannot open directory of", abs_path, errno);
    // Two writers must not interleave: the second could mark the file the
    // first replaced, and rename over the first's new file unmarked.
    if (auto st = lock_bounded(dir.get(), abs_path, 3000); !st) return st;
    std::string base = basename_of(abs_path);
    return replace_in(dir.get(), base, abs_path, data, mode, true, [&]() -> Status {
        // Look before opening: opening a device or a FIFO for writing is
        // itself an action. Only a regular file of a trusted owner can be
        // mapped by a reader; anything else has nothing to mark.
        struct stat pre {};
        if (::fstatat(dir.get(), base.c_str(), &pre, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) return {};  // the first install
            return sys_error(Code::io, "cannot stat", abs_path, errno);
        }
        if (!S_ISREG(pre.st_mode) || !trusted_owner(pre.st_uid) ||
            static_cast<std::uint64_t>(pre.st_size) < mark_offset + mark.size())
            return {};
        // Never O_CREAT, never a truncation: readers map this file, and a
        // page cut from under a mapping is a SIGBUS in their process.
        Fd old(::openat(dir.get(), base.c_str(),
                        O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
        if (!old) {
            if (errno == ENOENT || errno == ELOOP) return {};  // replaced meanwhile by hand
            return sys_error(Code::io, "cannot open", abs_path, errno);
        }
        struct stat st {};
        if (fstat(old.get(), &st) != 0) return sys_error(Code::io, "cannot stat", abs_path, errno);
        if (st.st_dev != pre.st_dev || st.st_ino != pre.st_ino || !S_ISREG(st.st_mode)) return {};
        ssize_t n = ::pwrite(old.get(), mark.data(), mark.size(), static_cast<off_t>(mark_offset));
        if (n != static_cast<ssize_t>(mark.size()))
            return sys_error(Code::io, "cannot mark the superseded", abs_path, n < 0 ? errno : EIO);
        return {};
    });
}

Status remove_file(std::string_view abs_path, bool* removed) {
    if (removed) *removed = false;
    auto dir = open_dir_checked(dirname_of(abs_path));
    if (!dir) {
        if (dir.error().code == Code::not_found) return {};
        return dir.error();
    }
    std::string base = basename_of(abs_path);
    if (::unlinkat(dir->get(), base.c_str(), 0) != 0) {
        if (errno == ENOENT) return {};
        return sys_error(Code::io, "cannot remove", abs_path, errno);
    }
    if (removed) *removed = true;
    return {};
}

Status ensure_dir(std::string_view abs_path, mode_t mode) {
    // The login path finds its directories there: one checked walk (free in
    // a DirScope that walked it already), no mkdir per component and call.
    auto have = open_dir_checked(abs_path);
    if (have) return {};
    if (have.error().code != Code::not_found) return std::move(have).error();
    std::string walked;
    for (auto comp : components(abs_path)) {
        walked += "/";
        walked += comp;
        if (::mkdir(walked.c_str(), mode) == 0) {
            // mkdir applies the umask: vendorctl runs under umask 077, which
            // made a new home_base 0700 and every vendor home unreachable.
            // The mode is set through a descriptor of what was just made.
            Fd made(::open(walked.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!made || fchmod(made.get(), mode) != 0)
                return sys_error(Code::io, "cannot set the mode of", walked, errno);
        } else if (errno != EEXIST) {
            return sys_error(Code::io, "cannot create directory", walked, errno);
        }
    }
    auto fd = open_dir_checked(abs_path);
    if (!fd) return std::move(fd).error();
    return {};
}

Result<std::vector<std::string>> list_dir(std::string_view abs_path, bool include_hidden) {
    auto pdir = open_dir_checked(abs_path);
    if (!pdir) return std::move(pdir).error();
    int fd = ::openat(pdir->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys_error(Code::io, "cannot open", abs_path, errno);
    DIR* d = fdopendir(fd);
    if (!d) {
        ::close(fd);
        return sys_error(Code::io, "cannot read", abs_path, errno);
    }
    std::vector<std::string> out;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.' &&
            (!include_hidden || !std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")))
            continue;
        if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
        out.emplace_back(e->d_name);
        if (out.size() > 100000) break;
    }
    closedir(d);
    return out;
}

namespace {

Result<Fd> lock_at(int dir_fd, const std::string& base, std::string_view abs_path, int timeout_ms) {
    if (bad_name(base))
        return make_error(Code::invalid, "not a file path: " + escape(abs_path, 200));
    Fd fd(::openat(dir_fd, base.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return sys_error(Code::io, "cannot open lock", abs_path, errno);
    if (auto st = lock_bounded(fd.get(), abs_path, timeout_ms); !st) return st.error();
    return fd;
}

}  // namespace

Result<FileLock> FileLock::acquire(std::string_view abs_path, int timeout_ms) {
    auto dir = open_dir_checked(dirname_of(abs_path));
    if (!dir) return std::move(dir).error();
    auto fd = lock_at(dir->get(), basename_of(abs_path), abs_path, timeout_ms);
    if (!fd) return std::move(fd).error();
    return FileLock(std::move(*fd));
}

Result<Dir> Dir::open(std::string_view abs_path) {
    auto fd = open_dir_checked(abs_path);
    if (!fd) return std::move(fd).error();
    std::string p(abs_path);
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return Dir(std::move(p), std::move(*fd));
}

std::string Dir::full(std::string_view name) const {
    std::string out = path_ == "/" ? "" : path_;
    if (!name.empty()) out += "/" + std::string(name);
    return out.empty() ? "/" : out;
}

Result<std::string> Dir::read(std::string_view name, const SafeOpts& opts) const {
    struct stat st {};
    std::string p = full(name);
    auto fd = open_checked_at(fd_.get(), std::string(name), p, opts, st);
    if (!fd) return std::move(fd).error();
    return read_all(fd->get(), p, opts.max_size);
}

Result<std::string> Dir::read_optional(std::string_view name, bool& found,
                                       const SafeOpts& opts) const {
    auto r = read(name, opts);
    if (!r && r.error().code == Code::not_found) {
        found = false;
        return std::string();
    }
    found = r.ok();
    return r;
}

Result<FileId> Dir::stat(std::string_view name, const SafeOpts& opts) const {
    return stat_at(fd_.get(), std::string(name), full(name), opts);
}

Status Dir::write(std::string_view name, std::string_view data, mode_t mode, bool durable) const {
    return atomic_write_at(fd_.get(), std::string(name), full(name), data, mode, durable);
}

Result<FileLock> Dir::lock(std::string_view name, int timeout_ms) const {
    auto fd = lock_at(fd_.get(), std::string(name), full(name), timeout_ms);
    if (!fd) return std::move(fd).error();
    return FileLock(std::move(*fd));
}

Status Dir::chmod(std::string_view name, mode_t mode) const {
    std::string p = full(name);
    if (!name.empty() && bad_name(name))
        return make_error(Code::invalid, "not a file path: " + escape(p, 200));
    // fchmod needs a real descriptor (not O_PATH); O_NOFOLLOW refuses a
    // symlink put in the entry's place.
    Fd f(::openat(fd_.get(), name.empty() ? "." : std::string(name).c_str(),
                  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!f) {
        if (errno == ELOOP) return make_error(Code::insecure, "symlink refused: " + escape(p, 200));
        return sys_error(errno == ENOENT ? Code::not_found : Code::io, "cannot open", p, errno);
    }
    if (fchmod(f.get(), mode & 07777) != 0) return sys_error(Code::io, "cannot chmod", p, errno);
    return {};
}

Status Dir::chown(std::string_view name, uid_t uid, gid_t gid) const {
    std::string p = full(name);
    if (!name.empty() && bad_name(name))
        return make_error(Code::invalid, "not a file path: " + escape(p, 200));
    int rc = name.empty()
                 ? fchownat(fd_.get(), "", uid, gid, AT_EMPTY_PATH)
                 : fchownat(fd_.get(), std::string(name).c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
    if (rc != 0)
        return sys_error(errno == ENOENT ? Code::not_found : Code::io, "cannot chown", p, errno);
    return {};
}

Result<Dir> Dir::mkdir(std::string_view name, mode_t mode) const {
    std::string p = full(name);
    if (bad_name(name)) return make_error(Code::invalid, "not a directory name: " + escape(p, 200));
    std::string n(name);
    bool made = ::mkdirat(fd_.get(), n.c_str(), mode & 07777) == 0;
    if (!made && errno != EEXIST) return sys_error(Code::io, "cannot create directory", p, errno);
    Fd sub(::openat(fd_.get(), n.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) {
        if (errno == ENOTDIR || errno == ELOOP)
            return make_error(Code::insecure, "not a directory or a symlink: " + escape(p, 200));
        return sys_error(Code::io, "cannot open", p, errno);
    }
    if (made) {
        // mkdirat applies the umask (vendorctl runs under 077).
        if (auto st = Dir(p, Fd::borrowed(sub.get())).chmod("", mode); !st) return st.error();
    }
    struct stat st {};
    if (fstat(sub.get(), &st) != 0) return sys_error(Code::io, "cannot stat", p, errno);
    if (!trusted_owner(st.st_uid))
        return make_error(Code::insecure, "directory not owned by root: " + escape(p, 200));
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return make_error(Code::insecure,
                          "directory writable by group or others: " + escape(p, 200));
    return Dir(std::move(p), std::move(sub));
}

namespace {

std::size_t pread_full(int fd, char* buf, std::size_t want, std::size_t at, int& err) {
    std::size_t got = 0;
    while (got < want) {
        ssize_t n = ::pread(fd, buf + got, want - got, static_cast<off_t>(at + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? errno : 0;  // 0: end of file
            return got;
        }
        got += static_cast<std::size_t>(n);
    }
    return got;
}

// The size the file keeps once a torn last line (no final newline) is cut
// off, the cut done; `size` when the file ends with a newline.
Result<std::size_t> cut_torn_tail(int fd, std::string_view abs_path, std::size_t size,
                                  std::size_t tail_max) {
    if (size == 0) return size;
    char last = 0;
    int err = 0;
    if (pread_full(fd, &last, 1, size - 1, err) != 1)
        return sys_error(Code::io, "cannot read", abs_path, err ? err : EIO);
    if (last == '\n') return size;
    std::size_t want = size < tail_max ? size : tail_max;
    std::string tail(want, '\0');
    if (pread_full(fd, tail.data(), want, size - want, err) != want)
        return sys_error(Code::io, "cannot read", abs_path, err ? err : EIO);
    auto nl = tail.rfind('\n');
    if (nl == std::string::npos && want < size)
        return make_error(Code::invalid, "log ends with more than " + std::to_string(tail_max) +
                                             " bytes without a newline: " + escape(abs_path, 200));
    std::size_t keep = nl == std::string::npos ? 0 : size - want + nl + 1;
    if (::ftruncate(fd, static_cast<off_t>(keep)) != 0)
        return sys_error(Code::io, "cannot cut the torn last line of", abs_path, errno);
    return keep;
}

}  // namespace

Status safe_read_lines_backwards(std::string_view abs_path, const SafeOpts& opts, std::size_t cap,
                                 LineSink& sink, bool& found) {
    constexpr std::size_t kBlock = std::size_t{64} << 10;
    struct stat st {};
    auto fd = open_checked_file(abs_path, opts, st);
    found = fd.ok();
    if (!fd) {
        if (fd.error().code == Code::not_found) return {};
        return std::move(fd).error();
    }
    auto pos = static_cast<std::size_t>(st.st_size);
    std::size_t budget = cap;
    // buf holds [pos, end of the lines not yet delivered): its first line
    // may still be the tail of a longer one.
    std::string buf;
    while (true) {
        std::size_t want = std::min({kBlock, pos, budget});
        if (want > 0) {
            std::string block(want, '\0');
            int err = 0;
            if (pread_full(fd->get(), block.data(), want, pos - want, err) != want)
                return sys_error(Code::io, "cannot read", abs_path, err ? err : EIO);
            pos -= want;
            budget -= want;
            buf.insert(0, block);
        }
        // Deliver every line that starts after a newline in buf (or at 0).
        std::size_t end = buf.size();
        while (end > 0) {
            auto nl = end >= 2 ? buf.rfind('\n', end - 2) : std::string::npos;
            if (nl == std::string::npos && pos > 0) break;  // may start further back
            std::size_t start = nl == std::string::npos ? 0 : nl + 1;
            std::size_t len = end - start;
            sink.partial = !(len > 0 && buf[end - 1] == '\n');
            sink.offset = pos + start;
            if (!sink.partial) --len;
            if (!sink.line(std::string_view(buf).substr(start, len))) return {};
            end = start;
        }
        buf.resize(end);
        if (pos == 0 || budget == 0) return {};
    }
}

Status safe_read_lines_forward(std::string_view abs_path, const SafeOpts& opts,
                               std::uint64_t offset, std::size_t cap, LineSink& sink, bool& found) {
    constexpr std::size_t kBlock = std::size_t{64} << 10;
    struct stat st {};
    auto fd = open_checked_file(abs_path, opts, st);
    found = fd.ok();
    if (!fd) {
        if (fd.error().code == Code::not_found) return {};
        return std::move(fd).error();
    }
    auto size = static_cast<std::uint64_t>(st.st_size);
    std::uint64_t pos = offset, buf_at = offset;  // buf[0] is at buf_at in the file
    std::size_t budget = cap;
    std::string buf;
    while (pos < size && budget > 0) {
        auto want = static_cast<std::size_t>(
            std::min<std::uint64_t>({kBlock, size - pos, static_cast<std::uint64_t>(budget)}));
        std::string block(want, '\0');
        int err = 0;
        if (pread_full(fd->get(), block.data(), want, static_cast<std::size_t>(pos), err) != want)
            return sys_error(Code::io, "cannot read", abs_path, err ? err : EIO);
        pos += want;
        budget -= want;
        buf += block;
        std::size_t start = 0;
        for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n', start)) {
            sink.partial = false;
            sink.offset = buf_at + start;
            if (!sink.line(std::string_view(buf).substr(start, nl - start))) return {};
            start = nl + 1;
        }
        buf.erase(0, start);
        buf_at += start;
    }
    if (!buf.empty() && pos >= size) {
        sink.partial = true;
        sink.offset = buf_at;
        (void)sink.line(buf);
    }
    return {};
}

namespace {

// Opens (creating with `mode`) a file that root's writers keep in a checked
// directory: no symlink, a regular file of a trusted owner, none of the
// `bad_bits` in its mode. `st` receives the file's stat.
Result<Fd> open_owned_at(int dir_fd, const std::string& base, std::string_view abs_path, int flags,
                         mode_t mode, mode_t bad_bits, const char* what, struct stat& st) {
    Fd fd(::openat(dir_fd, base.c_str(), flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                   mode & 0777));
    if (!fd) {
        if (errno == ELOOP)
            return make_error(Code::insecure, "symlink refused: " + escape(abs_path, 200));
        return sys_error(Code::io, "cannot open", abs_path, errno);
    }
    if (fstat(fd.get(), &st) != 0) return sys_error(Code::io, "cannot stat", abs_path, errno);
    if (!S_ISREG(st.st_mode) || !trusted_owner(st.st_uid) || (st.st_mode & bad_bits))
        return make_error(Code::insecure, std::string(what) + " has a wrong type, owner or mode: " +
                                              escape(abs_path, 200));
    return fd;
}

}  // namespace

Result<Fd> open_record_at(int dir_fd, std::string_view name, std::string_view abs_path,
                          mode_t mode) {
    struct stat st {};
    return open_owned_at(dir_fd, std::string(name), abs_path, O_RDWR, mode, 077, "record file", st);
}

Result<std::string> read_record(const Fd& fd, std::string_view abs_path, std::size_t max_size) {
    std::string out(max_size + 1, '\0');
    int err = 0;
    std::size_t got = pread_full(fd.get(), out.data(), out.size(), 0, err);
    if (err) return sys_error(Code::io, "cannot read", abs_path, err);
    if (got > max_size)
        return make_error(Code::too_large, "file too large: " + escape(abs_path, 200));
    out.resize(got);
    return out;
}

Status write_record(const Fd& fd, std::string_view abs_path, std::string_view data) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n =
            ::pwrite(fd.get(), data.data() + done, data.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return sys_error(Code::io, "cannot write", abs_path, n < 0 ? errno : EIO);
        done += static_cast<std::size_t>(n);
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) return sys_error(Code::io, "cannot stat", abs_path, errno);
    if (static_cast<std::uint64_t>(st.st_size) > data.size() &&
        ::ftruncate(fd.get(), static_cast<off_t>(data.size())) != 0)
        return sys_error(Code::io, "cannot truncate", abs_path, errno);
    return {};
}

Status write_record(std::string_view abs_path, std::string_view data, mode_t mode) {
    auto dir = open_dir_checked(dirname_of(abs_path));
    if (!dir) return std::move(dir).error();
    auto fd = open_record_at(dir->get(), basename_of(abs_path), abs_path, mode);
    if (!fd) return std::move(fd).error();
    return write_record(*fd, abs_path, data);
}

Status locked_append(std::string_view abs_path, mode_t mode, std::size_t tail_max, AppendFn& fn) {
    auto dir = open_dir_checked(dirname_of(abs_path));
    if (!dir) return std::move(dir).error();
    std::string base = basename_of(abs_path);
    struct stat st {};
    auto open_log = [&]() {
        return open_owned_at(dir->get(), base, abs_path, O_RDWR | O_APPEND, mode, S_IWGRP | S_IWOTH,
                             "log file", st);
    };
    auto opened = open_log();
    if (!opened) return std::move(opened).error();
    Fd fd = std::move(*opened);
    int reopen = 0;
    for (int waited = 0;; waited += 2) {
        if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
            // A prune may have replaced the file while we waited: append to
            // the file now at the path, never to an unlinked inode.
            struct stat now_st {};
            if (fstatat(dir->get(), base.c_str(), &now_st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (now_st.st_ino == st.st_ino && now_st.st_dev == st.st_dev) break;
            } else if (errno != ENOENT) {
                return sys_error(Code::io, "cannot stat", abs_path, errno);
            }
            if (++reopen > 5)
                return make_error(Code::busy, "log keeps being replaced: " + escape(abs_path, 200));
            auto again = open_log();
            if (!again) return std::move(again).error();
            fd = std::move(*again);
            continue;
        }
        if (errno != EWOULDBLOCK && errno != EINTR)
            return sys_error(Code::io, "cannot lock", abs_path, errno);
        if (waited >= 3000) return make_error(Code::busy, "log busy: " + escape(abs_path, 200));
        sleep_ms(2);
    }
    if (fstat(fd.get(), &st) != 0) return sys_error(Code::io, "cannot stat", abs_path, errno);
    auto size = static_cast<std::size_t>(st.st_size);
    if (auto pre = fn.locked(dir->get()); !pre) return pre;
    fn.torn_bytes = 0;
    if (auto cut = cut_torn_tail(fd.get(), abs_path, size, tail_max); !cut) return cut.error();
    else {
        fn.torn_bytes = size - *cut;
        size = *cut;
        fn.size_before = size;
    }
    // Read a small tail first: it almost always holds the whole last line.
    // Only when it does not (a line longer than that) read up to tail_max.
    std::string tail;
    for (std::size_t window : {std::size_t{4096}, tail_max}) {
        if (window > tail_max) window = tail_max;
        std::size_t want = size < window ? size : window;
        tail.assign(want, '\0');
        std::size_t got = 0;
        while (got < want) {
            ssize_t n = ::pread(fd.get(), tail.data() + got, want - got,
                                static_cast<off_t>(size - want + got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return sys_error(Code::io, "cannot read", abs_path, n < 0 ? errno : EIO);
            got += static_cast<std::size_t>(n);
        }
        std::string_view body(tail);
        if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
        if (want == size || body.find('\n') != std::string_view::npos) break;
    }
    auto line = fn.make_line(tail);
    if (!line) return std::move(line).error();
    if (auto w = write_all(fd.get(), *line, abs_path); !w) return w;
    return fn.committed(dir->get(), size + line->size());  // flock released when fd closes
}

Status locked_rewrite(std::string_view abs_path, std::size_t max_size, RewriteFn& fn) {
    auto dir = open_dir_checked(dirname_of(abs_path));
    if (!dir) return std::move(dir).error();
    std::string base = basename_of(abs_path);
    Fd fd(::openat(dir->get(), base.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        if (errno == ENOENT) return sys_error(Code::not_found, "no such file", abs_path, errno);
        return sys_error(Code::io, "cannot open", abs_path, errno);
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) return sys_error(Code::io, "cannot stat", abs_path, errno);
    if (!S_ISREG(st.st_mode) || !trusted_owner(st.st_uid) || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return make_error(Code::insecure,
                          "log file has a wrong type, owner or mode: " + escape(abs_path, 200));
    if (auto locked = lock_bounded(fd.get(), abs_path, 10000); !locked) return locked;
    auto content = read_all(fd.get(), abs_path, max_size);
    if (!content) return std::move(content).error();
    auto out = fn.rewrite(*content);
    if (!out) return std::move(out).error();
    // Nothing to change (prune --dry-run, nothing old enough): the file is
    // left as it is, inode and all; appenders never see a replacement.
    if (*out == *content) return {};
    if (auto pre = fn.replacing(*out); !pre) return pre;
    return atomic_write(abs_path, *out, st.st_mode & 0777);  // lock held until fd closes
}

Result<std::string> read_input_file(std::string_view path, std::size_t max_size) {
    std::string p(path);
    // Look before opening: opening a FIFO, a tty or a tape device is itself
    // an action (it wakes a writer, may rewind). Then the descriptor must be
    // that same regular file.
    struct stat pre {};
    if (::lstat(p.c_str(), &pre) != 0)
        return sys_error(errno == ENOENT ? Code::not_found : Code::io, "cannot stat", path, errno);
    if (S_ISLNK(pre.st_mode))
        return make_error(Code::insecure, "symlink refused: " + escape(path, 200));
    if (!S_ISREG(pre.st_mode))
        return make_error(Code::invalid, "not a regular file: " + escape(path, 200));
    Fd fd(::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) {
        if (errno == ELOOP)
            return make_error(Code::insecure, "symlink refused: " + escape(path, 200));
        return sys_error(errno == ENOENT ? Code::not_found : Code::io, "cannot open", path, errno);
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) return sys_error(Code::io, "cannot stat", path, errno);
    if (!S_ISREG(st.st_mode) || st.st_dev != pre.st_dev || st.st_ino != pre.st_ino)
        return make_error(Code::invalid, "not a regular file: " + escape(path, 200));
    if (static_cast<std::uint64_t>(st.st_size) > max_size)
        return make_error(Code::too_large, "file too large: " + escape(path, 200));
    return read_all(fd.get(), path, max_size);
}

}  // namespace vendor::core
