// files.h: the only way the core touches the file system. Runs in a private
// directory under /tmp (0700, owned by the effective uid: trusted as root,
// and as a normal user whose own files are "trusted" for himself).
#include "files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

struct LineCollect : LineSink {
    std::vector<std::string> lines;
    std::size_t stop_after = SIZE_MAX;
    bool line(std::string_view l) override {
        lines.emplace_back(l);
        return lines.size() < stop_after;
    }
};

// status reads the audit log from its end (accounts.h): every line once,
// last first, across block boundaries, a torn last line included; stops when
// told, and reads no more than the cap.
void reads_lines_backwards(void**) {
    TmpDir t;
    bool found = true;
    LineCollect none;
    assert_ok(safe_read_lines_backwards(t / "absent", SafeOpts{}, 1 << 20, none, found));
    assert_false(found);
    assert_true(none.lines.empty());
    write_file(t / "small", "a\nbb\n\nccc", 0600);
    LineCollect c;
    assert_ok(safe_read_lines_backwards(t / "small", SafeOpts{}, 1 << 20, c, found));
    assert_true(found);
    assert_true((c.lines == std::vector<std::string>{"ccc", "", "bb", "a"}));
    // Lines longer than nothing, shorter than a block, across many blocks.
    std::string big;
    std::vector<std::string> want;
    for (int i = 0; i < 40000; ++i) {
        want.push_back("line " + std::to_string(i) +
                       std::string(static_cast<std::size_t>(i % 97), 'x'));
        big += want.back() + "\n";
    }
    write_file(t / "big", big, 0600);
    LineCollect all;
    SafeOpts o;
    o.max_size = big.size();
    assert_ok(safe_read_lines_backwards(t / "big", o, big.size(), all, found));
    std::reverse(want.begin(), want.end());
    assert_int_equal(all.lines.size(), want.size());
    assert_true(all.lines == want);
    LineCollect three;
    three.stop_after = 3;
    assert_ok(safe_read_lines_backwards(t / "big", o, big.size(), three, found));
    assert_true((three.lines == std::vector<std::string>(want.begin(), want.begin() + 3)));
    // The cap: only lines wholly inside the last `cap` bytes.
    write_file(t / "capped", "aaaa\nbbbb\ncccc\n", 0600);
    LineCollect capped;
    assert_ok(safe_read_lines_backwards(t / "capped", SafeOpts{}, 10, capped, found));
    assert_true((capped.lines == std::vector<std::string>{"cccc"}));
    // The file checks of safe_read still apply.
    write_file(t / "ww", "x\n", 0666);
    ::chmod((t / "ww").c_str(), 0666);
    LineCollect ww;
    assert_err(safe_read_lines_backwards(t / "ww", SafeOpts{}, 10, ww, found), Code::insecure);
}

void reads_good_file(void**) {
    TmpDir t;
    write_file(t / "a.conf", "hello\n", 0644);
    auto r = safe_read(t / "a.conf");
    assert_ok(r);
    assert_str_eq(*r, "hello\n");
    write_file(t / "empty", "", 0600);
    assert_ok(safe_read(t / "empty"));
    // Absent file: not_found; the optional reader says "not found" without error.
    assert_err(safe_read(t / "absent"), Code::not_found);
    bool found = true;
    auto o = safe_read_optional(t / "absent", found);
    assert_ok(o);
    assert_false(found);
    o = safe_read_optional(t / "no-such-dir/absent", found);
    assert_ok(o);
    assert_false(found);
    o = safe_read_optional(t / "a.conf", found);
    assert_ok(o);
    assert_true(found);
    assert_str_eq(*o, "hello\n");
}

void refuses_bad_paths(void**) {
    TmpDir t;
    write_file(t / "a.conf", "x", 0600);
    assert_err(safe_read("a.conf"), Code::invalid);
    assert_err(safe_read(""), Code::invalid);
    assert_err(safe_read(t.path() + "/../" + basename_of(t.path()) + "/a.conf"), Code::insecure);
    assert_err(safe_read(t.path() + "/./a.conf"), Code::insecure);
    assert_err(safe_read(t.path() + "/"), Code::invalid);   // no file name
    assert_err(safe_read(t / "a.conf/x"), Code::insecure);  // a file used as a directory
    assert_err(safe_read(std::string(5000, '/') + "x"), Code::too_large);
}

void refuses_symlinks(void**) {
    TmpDir t;
    write_file(t / "real.conf", "x", 0600);
    make_dir(t / "realdir");
    write_file(t / "realdir/f", "x", 0600);
    assert_int_equal(::symlink((t / "real.conf").c_str(), (t / "link.conf").c_str()), 0);
    assert_int_equal(::symlink((t / "realdir").c_str(), (t / "linkdir").c_str()), 0);
    assert_int_equal(::symlink("absent", (t / "dangling").c_str()), 0);
    assert_ok(safe_read(t / "real.conf"));
    assert_ok(safe_read(t / "realdir/f"));
    assert_err(safe_read(t / "link.conf"), Code::insecure);  // final component
    assert_err(safe_read(t / "linkdir/f"), Code::insecure);  // intermediate component
    assert_err(safe_read(t / "dangling"), Code::insecure);
    bool found = true;
    assert_err(safe_read_optional(t / "link.conf", found), Code::insecure);
    assert_err(open_dir_checked(t / "linkdir"), Code::insecure);
    assert_err(list_dir(t / "linkdir"), Code::insecure);
    assert_err(atomic_write(t / "linkdir/new", "x", 0600), Code::insecure);
    // The link itself is untouched and the target not replaced through it.
    assert_str_eq(slurp(t / "real.conf"), "x");
}

void refuses_writable(void**) {
    TmpDir t;
    write_file(t / "g.conf", "x", 0620);
    write_file(t / "o.conf", "x", 0602);
    write_file(t / "ok.conf", "x", 0644);
    assert_err(safe_read(t / "g.conf"), Code::insecure);
    assert_err(safe_read(t / "o.conf"), Code::insecure);
    assert_ok(safe_read(t / "ok.conf"));
    // Secrets: no group/other access at all when asked.
    SafeOpts secret;
    secret.allow_group_read = false;
    assert_err(safe_read(t / "ok.conf", secret), Code::insecure);
    write_file(t / "s", "x", 0600);
    assert_ok(safe_read(t / "s", secret));
    // A group-writable directory anywhere on the path.
    make_dir(t / "gdir", 0770);
    write_file(t / "gdir/f", "x", 0600);
    assert_err(safe_read(t / "gdir/f"), Code::insecure);
    make_dir(t / "gdir/sub", 0700);
    write_file(t / "gdir/sub/f", "x", 0600);
    assert_err(safe_read(t / "gdir/sub/f"), Code::insecure);
    // A sticky world-writable directory is fine above, never as the parent.
    make_dir(t / "sticky", 01777);
    make_dir(t / "sticky/own", 0700);
    write_file(t / "sticky/own/f", "x", 0600);
    write_file(t / "sticky/f", "x", 0600);
    assert_ok(safe_read(t / "sticky/own/f"));
    assert_err(safe_read(t / "sticky/f"), Code::insecure);
    make_dir(t / "wdir", 0777);  // world-writable, not sticky
    make_dir(t / "wdir/own", 0700);
    write_file(t / "wdir/own/f", "x", 0600);
    assert_err(safe_read(t / "wdir/own/f"), Code::insecure);
}

void refuses_other_owner(void**) {
    // Only root can give a file to another owner. Skip before allocating
    // anything: skip() longjmps past destructors.
    if (geteuid() != 0) skip();
    TmpDir t;
    write_file(t / "f", "x", 0600);
    make_dir(t / "d", 0755);
    write_file(t / "d/f", "x", 0600);
    assert_ok(safe_read(t / "f"));
    assert_int_equal(::chown((t / "f").c_str(), 65534, 65534), 0);
    assert_err(safe_read(t / "f"), Code::insecure);
    assert_int_equal(::chown((t / "d").c_str(), 65534, 65534), 0);
    assert_err(safe_read(t / "d/f"), Code::insecure);
    assert_err(open_dir_checked(t / "d"), Code::insecure);
}

void refuses_special_files(void**) {
    TmpDir t;
    assert_int_equal(::mkfifo((t / "fifo").c_str(), 0600), 0);
    assert_err(safe_read(t / "fifo"), Code::insecure);  // and does not block on open
    make_dir(t / "dir");
    assert_err(safe_read(t / "dir"), Code::insecure);
    assert_err(safe_read("/dev/null"), Code::insecure);
}

void refuses_oversize(void**) {
    TmpDir t;
    write_file(t / "big", std::string(kMaxFileSize + 1, 'x'), 0600);
    assert_err(safe_read(t / "big"), Code::too_large);
    write_file(t / "max", std::string(kMaxFileSize, 'x'), 0600);
    assert_ok(safe_read(t / "max"));
    SafeOpts small;
    small.max_size = 10;
    write_file(t / "ten", "0123456789", 0600);
    write_file(t / "eleven", "0123456789A", 0600);
    assert_ok(safe_read(t / "ten", small));
    assert_err(safe_read(t / "eleven", small), Code::too_large);
}

void atomic_writes(void**) {
    TmpDir t;
    assert_ok(atomic_write(t / "f.json", "first\n", 0640));
    assert_str_eq(slurp(t / "f.json"), "first\n");
    struct stat st {};
    assert_int_equal(::stat((t / "f.json").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    for (int i = 0; i < 20; ++i)
        assert_ok(atomic_write(t / "f.json", "round " + std::to_string(i), 0600));
    assert_str_eq(slurp(t / "f.json"), "round 19");
    assert_int_equal(::stat((t / "f.json").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    // No temporary file left behind.
    auto names = dir_entries(t.path());
    assert_int_equal(names.size(), 1);
    assert_str_eq(names[0], "f.json");
    // The mode is the requested one whatever the umask.
    mode_t old = ::umask(0);
    assert_ok(atomic_write(t / "g", "x", 0600));
    ::umask(old);
    assert_int_equal(::stat((t / "g").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    // Into a missing or insecure directory: refused, nothing created.
    assert_err(atomic_write(t / "absent/f", "x", 0600), Code::not_found);
    make_dir(t / "gdir", 0770);
    assert_err(atomic_write(t / "gdir/f", "x", 0600), Code::insecure);
    assert_int_equal(dir_entries(t / "gdir").size(), 0);
    // Replacing a symlink replaces the link, never writes through it.
    write_file(t / "target", "keep", 0600);
    assert_int_equal(::symlink((t / "target").c_str(), (t / "lnk").c_str()), 0);
    assert_ok(atomic_write(t / "lnk", "new", 0600));
    assert_str_eq(slurp(t / "target"), "keep");
    assert_int_equal(::lstat((t / "lnk").c_str(), &st), 0);
    assert_true(S_ISREG(st.st_mode));
}

void dirs_and_removal(void**) {
    TmpDir t;
    assert_ok(ensure_dir(t / "a/b/c", 0700));
    struct stat st {};
    assert_int_equal(::stat((t / "a/b/c").c_str(), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_ok(ensure_dir(t / "a/b/c", 0700));  // existing: fine
    make_dir(t / "open", 0777);
    assert_err(ensure_dir(t / "open", 0700), Code::insecure);
    assert_err(ensure_dir("rel/dir", 0700), Code::invalid);
    write_file(t / "a/f1", "x", 0600);
    write_file(t / "a/f2", "x", 0600);
    write_file(t / "a/.hidden", "x", 0600);
    auto l = list_dir(t / "a");
    assert_ok(l);
    auto names = *l;
    std::sort(names.begin(), names.end());
    assert_int_equal(names.size(), 2);  // no dot files, no directories
    assert_str_eq(names[0], "f1");
    assert_str_eq(names[1], "f2");
    assert_err(list_dir(t / "absent"), Code::not_found);
    bool removed = false;
    assert_ok(remove_file(t / "a/f1", &removed));
    assert_true(removed);
    assert_ok(remove_file(t / "a/f1", &removed));
    assert_false(removed);
    assert_ok(remove_file(t / "absent/f", &removed));
    assert_false(removed);
    assert_str_eq(dirname_of("/a/b"), "/a");
    assert_str_eq(dirname_of("/a"), "/");
    assert_str_eq(dirname_of("a"), ".");
    assert_str_eq(basename_of("/a/b"), "b");
    assert_str_eq(basename_of("b"), "b");
    assert_str_eq(basename_of("/a/"), "");
}

void lock_bounded_wait(void**) {
    TmpDir t;
    auto a = FileLock::acquire(t / "x.lock", 100);
    assert_ok(a);
    struct stat st {};
    assert_int_equal(::stat((t / "x.lock").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    // A second holder (another open file description) waits, then gives up.
    auto b = FileLock::acquire(t / "x.lock", 50);
    assert_err(b, Code::busy);
    {
        auto moved = std::move(*a);  // released at the end of this scope
    }
    auto c = FileLock::acquire(t / "x.lock", 50);
    assert_ok(c);
    assert_err(FileLock::acquire(t / "absent/x.lock", 50), Code::not_found);
}

struct Collect : AppendFn {
    std::vector<std::string> tails;
    Result<std::string> make_line(std::string_view tail) override {
        tails.emplace_back(tail);
        return "line " + std::to_string(tails.size()) + "\n";
    }
};

void appends(void**) {
    TmpDir t;
    Collect fn;
    assert_ok(locked_append(t / "log", 0600, 8, fn));
    assert_ok(locked_append(t / "log", 0600, 8, fn));
    assert_ok(locked_append(t / "log", 0600, 8, fn));
    assert_str_eq(slurp(t / "log"), "line 1\nline 2\nline 3\n");
    assert_str_eq(fn.tails[0], "");
    assert_str_eq(fn.tails[1], "line 1\n");
    assert_str_eq(fn.tails[2], "\nline 2\n");  // at most tail_max bytes
    chmod((t / "log").c_str(), 0622);
    assert_err(locked_append(t / "log", 0600, 8, fn), Code::insecure);
    write_file(t / "target", "", 0600);
    assert_int_equal(::symlink((t / "target").c_str(), (t / "lnk").c_str()), 0);
    assert_err(locked_append(t / "lnk", 0600, 8, fn), Code::insecure);
    assert_str_eq(slurp(t / "target"), "");
}

// --key FILE: any owner, but a regular file, reached without a symlink, and
// a FIFO or device is refused without being opened (no blocking, no side
// effect on the device).
void input_files(void**) {
    TmpDir t;
    write_file(t / "k.pub", "ssh-ed25519 AAAA\n", 0644);
    auto r = read_input_file(t / "k.pub", 1024);
    assert_ok(r);
    assert_err(read_input_file(t / "k.pub", 4), Code::too_large);
    assert_err(read_input_file(t / "absent", 1024), Code::not_found);
    assert_int_equal(::symlink((t / "k.pub").c_str(), (t / "link").c_str()), 0);
    assert_err(read_input_file(t / "link", 1024), Code::insecure);
    assert_int_equal(::mkfifo((t / "fifo").c_str(), 0600), 0);
    // A writer waiting on the FIFO would be woken by any open for reading.
    std::string fifo = t / "fifo";
    pid_t w = fork();
    if (w == 0) {
        int fd = ::open(fifo.c_str(), O_WRONLY);  // blocks until a reader opens
        if (fd >= 0) (void)!::write(fd, "x", 1);
        _exit(fd >= 0 ? 0 : 1);
    }
    auto f = read_input_file(fifo, 1024);
    assert_err(f, Code::invalid);
    usleep(200 * 1000);
    int status = 0;
    pid_t done = waitpid(w, &status, WNOHANG);
    if (done != 0) fail_msg("the FIFO was opened (its writer went on)");
    kill(w, SIGKILL);
    waitpid(w, &status, 0);
    ::mkdir((t / "dir").c_str(), 0700);
    assert_err(read_input_file(t / "dir", 1024), Code::invalid);
    assert_err(read_input_file("/dev/null", 1024), Code::invalid);
    assert_err(read_input_file("/dev/zero", 1024), Code::invalid);
}

struct Hooks : AppendFn {
    std::vector<std::size_t> torn;
    std::vector<std::uint64_t> sizes;
    int locked_calls = 0;
    Status locked(int dir_fd) override {
        assert_true(dir_fd >= 0);
        ++locked_calls;
        return {};
    }
    Result<std::string> make_line(std::string_view) override {
        torn.push_back(torn_bytes);
        return std::string("line\n");
    }
    Status committed(int, std::uint64_t size) override {
        sizes.push_back(size);
        return {};
    }
};

// A torn last line (no final newline) is cut back to the last newline under
// the lock before the append; a file of nothing but a fragment, to empty.
void append_cuts_torn_tail(void**) {
    TmpDir t;
    Hooks fn;
    write_file(t / "log", "one\ntwo\nthr", 0600);
    assert_ok(locked_append(t / "log", 0600, 64, fn));
    assert_str_eq(slurp(t / "log"), "one\ntwo\nline\n");
    write_file(t / "log", "fragment", 0600);
    assert_ok(locked_append(t / "log", 0600, 64, fn));
    assert_str_eq(slurp(t / "log"), "line\n");
    assert_ok(locked_append(t / "log", 0600, 64, fn));
    assert_int_equal(fn.torn.size(), 3);
    assert_int_equal(fn.torn[0], 3);
    assert_int_equal(fn.torn[1], 8);
    assert_int_equal(fn.torn[2], 0);
    assert_int_equal(fn.sizes[2], 10);
    assert_int_equal(fn.locked_calls, 3);
    // A fragment longer than tail_max is not cut blindly.
    write_file(t / "log", "a\n" + std::string(100, 'x'), 0600);
    assert_err(locked_append(t / "log", 0600, 64, fn), Code::invalid);
    assert_int_equal(slurp(t / "log").size(), 102);
}

void records(void**) {
    TmpDir t;
    assert_ok(write_record(t / "rec", "0123456789", 0600));
    assert_ok(write_record(t / "rec", "abc", 0600));  // shorter: the rest goes
    assert_str_eq(slurp(t / "rec"), "abc");
    struct stat st {};
    assert_int_equal(::stat((t / "rec").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(::chmod((t / "rec").c_str(), 0644), 0);
    assert_err(write_record(t / "rec", "abc", 0600), Code::insecure);
    assert_int_equal(::symlink((t / "rec").c_str(), (t / "lnk").c_str()), 0);
    assert_err(write_record(t / "lnk", "abc", 0600), Code::insecure);
}

}  // namespace

// A rewrite that changes nothing (prune --dry-run) leaves the file alone:
// same inode, same bytes; a real change replaces it.
void rewrite_unchanged_keeps_file(void**) {
    TmpDir t;
    std::string p = t / "log";
    unit::write_file(p, "one\ntwo\n", 0600);
    struct stat before {
    }, after{};
    assert_int_equal(::stat(p.c_str(), &before), 0);
    struct Same : RewriteFn {
        Result<std::string> rewrite(std::string_view c) override { return std::string(c); }
    } same;
    assert_ok(locked_rewrite(p, 1 << 20, same));
    assert_int_equal(::stat(p.c_str(), &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    struct Drop : RewriteFn {
        Result<std::string> rewrite(std::string_view) override { return std::string("two\n"); }
    } drop;
    assert_ok(locked_rewrite(p, 1 << 20, drop));
    assert_int_equal(::stat(p.c_str(), &after), 0);
    assert_true(before.st_ino != after.st_ino);
    assert_str_eq(slurp(p), "two\n");
}

// A DirScope walks each directory once (issue 9 §7: no directory walk per
// file or event) and keeps every check: a symlinked or insecure component
// below a kept directory is refused, and a new scope (the next PAM phase)
// sees a directory made insecure since.
void dir_scope_walks_once(void**) {
    TmpDir t;
    make_dir(t / "a");
    make_dir(t / "a/b");
    make_dir(t / "a/c");
    make_dir(t / "a/open");
    ::chmod((t / "a/open").c_str(), 0777);
    write_file(t / "a/b/f", "x", 0600);
    make_dir(t / "real");
    assert_int_equal(::symlink((t / "real").c_str(), (t / "a/link").c_str()), 0);
    {
        DirScope scope;
        assert_ok(open_dir_checked(t / "a/b"));
        std::size_t first = scope.walks;
        assert_true(first >= 3);  // /tmp, the test dir, a, b at least
        assert_ok(open_dir_checked(t / "a/b"));
        assert_ok(safe_read(t / "a/b/f"));
        assert_int_equal(scope.walks, first);  // no second walk
        assert_ok(open_dir_checked(t / "a/c"));
        assert_int_equal(scope.walks, first + 1);  // only the new component
        assert_err(open_dir_checked(t / "a/link"), Code::insecure);
        assert_err(safe_read(t / "a/link/x"), Code::insecure);
        assert_err(open_dir_checked(t / "a/open"), Code::insecure);
        assert_err(atomic_write(t / "a/open/f", "x", 0600), Code::insecure);
        assert_err(open_dir_checked(t / "a/b/../c"), Code::insecure);
        // The file's own checks are not kept: a symlink there is refused.
        assert_int_equal(::symlink((t / "a/b/f").c_str(), (t / "a/b/l").c_str()), 0);
        assert_err(safe_read(t / "a/b/l"), Code::insecure);
        assert_ok(atomic_write(t / "a/b/g", "y", 0600));
        assert_str_eq(slurp(t / "a/b/g"), "y");
    }
    ::chmod((t / "a/b").c_str(), 0777);
    {
        DirScope next;
        assert_err(open_dir_checked(t / "a/b"), Code::insecure);
        assert_err(safe_read(t / "a/b/f"), Code::insecure);
    }
    ::chmod((t / "a/b").c_str(), 0700);
    assert_ok(safe_read(t / "a/b/f"));  // no scope: a full walk, as before
    // A scope opened inside another (the auth phase after its code prompt,
    // which may have lasted minutes) checks again what the outer one kept.
    {
        DirScope outer;
        assert_ok(open_dir_checked(t / "a/b"));
        ::chmod((t / "a/b").c_str(), 0777);
        assert_ok(open_dir_checked(t / "a/b"));  // the outer scope's old check
        {
            DirScope after_prompt;
            assert_err(open_dir_checked(t / "a/b"), Code::insecure);
            assert_err(atomic_write(t / "a/b/g", "z", 0600), Code::insecure);
        }
        ::chmod((t / "a/b").c_str(), 0700);
    }
}

// The directory handle (issue 9 §5): opened with the walk's checks, every
// operation relative to its descriptor, no symlink followed.
void dir_handle_ops(void**) {
    TmpDir t;
    make_dir(t / "d");
    make_dir(t / "real");
    assert_int_equal(::symlink((t / "real").c_str(), (t / "link").c_str()), 0);
    make_dir(t / "open");
    ::chmod((t / "open").c_str(), 0777);
    assert_err(Dir::open(t / "link"), Code::insecure);
    assert_err(Dir::open(t / "link/x"), Code::insecure);
    assert_err(Dir::open(t / "open"), Code::insecure);
    assert_err(Dir::open("rel"), Code::invalid);
    auto d = Dir::open(t / "d/");
    assert_ok(d);
    assert_str_eq(d->path(), t / "d");
    // write + read + stat
    assert_ok(d->write("f", "hello", 0600));
    assert_str_eq(slurp(t / "d/f"), "hello");
    auto r = d->read("f");
    assert_ok(r);
    assert_str_eq(*r, "hello");
    auto id = d->stat("f");
    assert_ok(id);
    assert_int_equal(id->size, 5);
    assert_ok(d->write("f", "hello!", 0600, false));
    auto id2 = d->stat("f");
    assert_ok(id2);
    assert_false(*id == *id2);
    bool found = true;
    assert_ok(d->read_optional("absent", found));
    assert_false(found);
    assert_err(d->read("absent"), Code::not_found);
    assert_err(d->read("../d/f"), Code::invalid);
    assert_err(d->write("a/b", "x", 0600), Code::invalid);
    assert_int_equal(::symlink((t / "d/f").c_str(), (t / "d/lf").c_str()), 0);
    assert_err(d->read("lf"), Code::insecure);
    assert_err(d->stat("lf"), Code::insecure);
    // chmod: the entry, the directory itself; a symlink is refused
    assert_ok(d->chmod("f", 0640));
    struct stat st {};
    assert_int_equal(::stat((t / "d/f").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_err(d->chmod("lf", 0600), Code::insecure);
    assert_int_equal(::stat((t / "d/f").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);  // not changed through the link
    assert_ok(d->chmod("", 0750));
    assert_int_equal(::stat((t / "d").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_err(d->chmod("absent", 0600), Code::not_found);
    // chown: to ourselves (root may give it away: then the link is not followed)
    assert_ok(d->chown("f", geteuid(), getegid()));
    assert_ok(d->chown("", geteuid(), getegid()));
    if (geteuid() == 0) {
        assert_ok(d->chown("lf", 65534, 65534));
        assert_int_equal(::stat((t / "d/f").c_str(), &st), 0);
        assert_int_equal(st.st_uid, 0);  // the link itself changed owner, not its target
    }
    // mkdir: the exact mode whatever the umask; an existing one is checked
    mode_t old = ::umask(077);
    auto sub = d->mkdir("sub", 0755);
    ::umask(old);
    assert_ok(sub);
    assert_int_equal(::stat((t / "d/sub").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_ok(sub->write("g", "x", 0600));
    assert_str_eq(slurp(t / "d/sub/g"), "x");
    assert_ok(d->mkdir("sub", 0700));  // there: fine, mode kept
    assert_int_equal(::stat((t / "d/sub").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(::symlink((t / "real").c_str(), (t / "d/lsub").c_str()), 0);
    assert_err(d->mkdir("lsub", 0700), Code::insecure);
    make_dir(t / "d/wide");
    ::chmod((t / "d/wide").c_str(), 0777);
    assert_err(d->mkdir("wide", 0700), Code::insecure);
    // lock: exclusive, bounded wait
    {
        auto l = d->lock("x.lock");
        assert_ok(l);
        assert_err(d->lock("x.lock", 20), Code::busy);
    }
    assert_ok(d->lock("x.lock", 20));
}

// ensure_dir of a directory that is there creates nothing and still checks.
void ensure_dir_existing(void**) {
    TmpDir t;
    DirScope scope;
    assert_ok(ensure_dir(t / "x/y", 0750));
    struct stat st {};
    assert_int_equal(::stat((t / "x/y").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    std::size_t walks = scope.walks;
    assert_ok(ensure_dir(t / "x/y", 0700));  // there: kept as it is
    assert_int_equal(scope.walks, walks);
    assert_int_equal(::stat((t / "x/y").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    make_dir(t / "w");
    ::chmod((t / "w").c_str(), 0777);
    assert_err(ensure_dir(t / "w", 0700), Code::insecure);
}

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(dir_scope_walks_once),
        cmocka_unit_test(ensure_dir_existing),
        cmocka_unit_test(dir_handle_ops),
        cmocka_unit_test(reads_good_file),
        cmocka_unit_test(refuses_bad_paths),
        cmocka_unit_test(refuses_symlinks),
        cmocka_unit_test(input_files),
        cmocka_unit_test(refuses_writable),
        cmocka_unit_test(refuses_other_owner),
        cmocka_unit_test(refuses_special_files),
        cmocka_unit_test(refuses_oversize),
        cmocka_unit_test(atomic_writes),
        cmocka_unit_test(dirs_and_removal),
        cmocka_unit_test(lock_bounded_wait),
        cmocka_unit_test(appends),
        cmocka_unit_test(append_cuts_torn_tail),
        cmocka_unit_test(records),
        cmocka_unit_test(rewrite_unchanged_keeps_file),
        cmocka_unit_test(reads_lines_backwards),
    };
    return RUN_GROUP("files", tests);
}
