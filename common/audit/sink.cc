#include "sink.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "util.h"

namespace vendor::core {

namespace {
// A datagram bigger than this may be refused by the daemon (EMSGSIZE) or cut;
// the key=value form is far below it (each value capped at 200 bytes).
constexpr std::size_t kMaxDatagram = 8192;
}  // namespace

std::string syslog_datagram(std::string_view tag, bool denied, std::int64_t now_s, std::int64_t pid,
                            std::string_view msg) {
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t t = static_cast<std::time_t>(now_s);
    std::tm tm{};
    if (!localtime_r(&t, &tm)) gmtime_r(&t, &tm);
    int pri = LOG_AUTHPRIV | (denied ? LOG_NOTICE : LOG_INFO);
    char head[96];
    // RFC 3164 4.1.2: the day is space-padded.
    std::snprintf(head, sizeof head, "<%d>%s %2d %02d:%02d:%02d ", pri,
                  kMonths[tm.tm_mon >= 0 && tm.tm_mon < 12 ? tm.tm_mon : 0], tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec);
    std::string out = head;
    out.append(tag);
    out += "[" + std::to_string(pid) + "]: ";
    out.append(msg.substr(0, kMaxDatagram - std::min(kMaxDatagram, out.size())));
    return out;
}

SyslogTwin::~SyslogTwin() {
    if (fd_ >= 0) ::close(fd_);
}

bool SyslogTwin::send(std::string_view kv, bool denied) {
    if (!tried_) {
        tried_ = true;
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (path_.empty() || path_.size() >= sizeof sa.sun_path) {
            errno_ = ENAMETOOLONG;
            return false;
        }
        std::memcpy(sa.sun_path, path_.data(), path_.size());
        int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            errno_ = errno;
            return false;
        }
        // connect() on a datagram socket only sets the peer: it does not wait.
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
            errno_ = errno;
            ::close(fd);
            return false;
        }
        fd_ = fd;
    }
    if (fd_ < 0) return false;
    std::string d =
        syslog_datagram(tag_, denied, now_ms() / 1000, static_cast<std::int64_t>(::getpid()), kv);
    ssize_t n;
    do {
        n = ::send(fd_, d.data(), d.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        errno_ = errno;
        return false;
    }
    return true;
}

Emitted emit(const Config& c, const std::string& host, const Event& e, std::string_view tag) {
    SyslogTwin sink(c.syslog_socket, std::string(tag));
    return emit(c, host, e, sink);
}

Emitted emit(const Config& c, const std::string& host, const Event& e, SyslogTwin& sink) {
    Emitted out;
    auto w = audit_append(c, host, e, &sink);
    if (!w) {
        out.error = std::move(w).error();
        // No line to anchor it: the bare event, not counted (no lock held;
        // the caller denies and logs why).
        out.bare_twin_sent = sink.send(audit_kv(e), e.result == "denied");
    } else {
        out.written = std::move(*w);
    }
    if (out.written.twins_dropped || (out.error && !out.bare_twin_sent))
        out.twin_errno = sink.last_errno();
    return out;
}

}  // namespace vendor::core
