#include "home.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "files.h"
#include "util.h"

namespace vendor::core {

namespace {

Error sys(const std::string& what, int err) {
    return make_error(Code::io, what + ": " + std::strerror(err));
}

// Remove everything under dirfd (not dirfd itself), never following links.
Status clear_dir(int dirfd, int depth) {
    if (depth > 64) return make_error(Code::too_large, "directory tree too deep");
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys("cannot open directory", errno);
    DIR* d = fdopendir(fd);
    if (!d) {
        ::close(fd);
        return sys("cannot read directory", errno);
    }
    Status result;
    while (dirent* e = readdir(d)) {
        if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
        struct stat st {};
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            Fd sub(::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) {
                result = sys("cannot open subdirectory", errno);
                break;
            }
            if (auto s = clear_dir(sub.get(), depth + 1); !s) {
                result = s;
                break;
            }
            if (::unlinkat(dirfd, e->d_name, AT_REMOVEDIR) != 0) {
                result = sys("cannot remove directory", errno);
                break;
            }
        } else if (::unlinkat(dirfd, e->d_name, 0) != 0) {
            result = sys("cannot remove file", errno);
            break;
        }
    }
    closedir(d);
    return result;
}

}  // namespace

Status create_home(const std::string& home_base, const std::string& name, uid_t uid, gid_t gid,
                   const std::string& skel_dir) {
    if (!valid_account_name(name)) return make_error(Code::invalid, "bad account name");
    if (auto st = ensure_dir(home_base, 0755); !st) return st;
    auto base = open_dir_checked(home_base);
    if (!base) return std::move(base).error();
    Fd basefd(::openat(base->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!basefd) return sys("cannot open " + home_base, errno);
    if (::mkdirat(basefd.get(), name.c_str(), 0700) != 0) {
        if (errno == EEXIST)
            return make_error(
                Code::exists,
                "home " + home_base + "/" + name +
                    " already exists; archive or remove it first (never reuse another's files)");
        return sys("cannot create home " + home_base + "/" + name, errno);
    }
    Fd home(::openat(basefd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!home) return sys("cannot open new home", errno);
    // Skeleton files first, as root, then hand the tree over.
    auto skel = open_dir_checked(skel_dir);
    int sfd = skel ? ::openat(skel->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (sfd >= 0) {
        DIR* d = fdopendir(sfd);
        Status copy;
        if (d) {
            while (dirent* e = readdir(d)) {
                if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
                struct stat st {};
                if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                    !S_ISREG(st.st_mode) || st.st_size > (1 << 20))
                    continue;  // top-level regular files only (.bashrc, .profile, ...)
                Fd in(::openat(sfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
                Fd out(::openat(home.get(), e->d_name,
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
                if (!in || !out) continue;
                char buf[8192];
                ssize_t n;
                while ((n = ::read(in.get(), buf, sizeof buf)) > 0)
                    if (::write(out.get(), buf, static_cast<std::size_t>(n)) != n) break;
                if (fchmod(out.get(), st.st_mode & 0755) != 0 || fchown(out.get(), uid, gid) != 0) {
                    copy = sys("cannot hand over skeleton file", errno);
                    break;
                }
            }
            closedir(d);
        } else {
            ::close(sfd);
        }
        if (!copy) return copy;
    }
    if (fchown(home.get(), uid, gid) != 0) return sys("cannot chown home", errno);
    if (fchmod(home.get(), 0700) != 0) return sys("cannot chmod home", errno);
    return {};
}

Status retire_home(const std::string& home_base, const std::string& name, const std::string& mode,
                   std::string& where) {
    where.clear();
    if (mode == "keep") {
        where = "kept " + home_base + "/" + name;
        return {};
    }
    if (!valid_account_name(name)) return make_error(Code::invalid, "bad account name");
    auto base = open_dir_checked(home_base);
    if (!base) {
        if (base.error().code == Code::not_found) return {};
        return std::move(base).error();
    }
    Fd basefd(::openat(base->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!basefd) return sys("cannot open " + home_base, errno);
    struct stat st {};
    if (fstatat(basefd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return {};
        return sys("cannot stat home", errno);
    }
    if (!S_ISDIR(st.st_mode))
        return make_error(Code::insecure, "home of " + name + " is not a directory");
    if (mode == "delete") {
        Fd home(
            ::openat(basefd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!home) return sys("cannot open home", errno);
        if (auto s = clear_dir(home.get(), 0); !s) return s;
        if (::unlinkat(basefd.get(), name.c_str(), AT_REMOVEDIR) != 0)
            return sys("cannot remove home", errno);
        where = "deleted " + home_base + "/" + name;
        return {};
    }
    // archive: root-only directory beside the homes; the archived tree keeps
    // its owner ids but nobody but root can reach it.
    if (::mkdirat(basefd.get(), ".removed", 0700) != 0 && errno != EEXIST)
        return sys("cannot create .removed", errno);
    struct stat ast {};
    if (fstatat(basefd.get(), ".removed", &ast, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(ast.st_mode) || ast.st_uid != 0 || (ast.st_mode & 0077))
        return make_error(Code::insecure, home_base + "/.removed must be a root-only directory");
    std::string stamp = format_rfc3339(now_s());
    for (auto& ch : stamp)
        if (ch == ':') ch = '-';
    std::string target = ".removed/" + name + "-" + stamp;
    if (::renameat(basefd.get(), name.c_str(), basefd.get(), target.c_str()) != 0)
        return sys("cannot archive home", errno);
    where = "archived to " + home_base + "/" + target;
    return {};
}

}  // namespace vendor::core
