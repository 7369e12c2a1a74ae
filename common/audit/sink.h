// The one event sink (R8): emit() appends the chained audit line and then
// sends its syslog twin, for the module and vendorctl alike. The twin goes
// over a socket of our own, never syslog(3): a datagram socket opened
// non-blocking, sent with MSG_DONTWAIT, so a wedged or absent syslog daemon
// costs a dropped twin, never a stalled login. Dropped twins are counted
// under the log's lock (audit.h, `<audit_log>.twins`) and the next line
// carries twins_dropped=N. Library code: nothing is logged here, emit says
// what happened and the caller logs once.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "audit.h"
#include "config.h"
#include "result.h"

namespace vendor::core {

// RFC 3164 as a local syslog daemon reads it from /dev/log (no host name:
// the daemon adds its own): "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG", facility
// authpriv, severity notice for a denial and info otherwise. `now_s` in
// local time; MSG is the key=value form, already printable ASCII.
std::string syslog_datagram(std::string_view tag, bool denied, std::int64_t now_s, std::int64_t pid,
                            std::string_view msg);

// A twin sink on Config::syslog_socket (default /dev/log): AF_UNIX
// SOCK_DGRAM, SOCK_NONBLOCK | SOCK_CLOEXEC, connected once, closed with the
// object. A send that cannot complete at once (EAGAIN, ENOBUFS,
// ECONNREFUSED, no socket at all) is dropped; last_errno says why.
class SyslogTwin : public TwinSink {
  public:
    SyslogTwin(std::string path, std::string tag) : path_(std::move(path)), tag_(std::move(tag)) {}
    ~SyslogTwin() override;
    SyslogTwin(const SyslogTwin&) = delete;
    SyslogTwin& operator=(const SyslogTwin&) = delete;
    bool send(std::string_view kv, bool denied) override;
    int last_errno() const noexcept { return errno_; }

  private:
    std::string path_, tag_;
    int fd_ = -1;
    bool tried_ = false;
    int errno_ = 0;
};

struct Emitted {
    std::optional<Error> error;  // set: the chained line was not written
    AuditWritten written;        // the line, its twins and what became of them
    // Without a line (error set), the bare event still went to syslog, or not.
    bool bare_twin_sent = false;
    int twin_errno = 0;  // why the last twin was dropped (0: none was)
    bool ok() const noexcept { return !error; }
};
// `tag`: "pam_vendor" or "vendorctl". The chained line first, then its twins
// (a log_repaired line's first), each carrying seq= and hash=; when the log
// cannot be written, the bare event still goes out (and the caller denies).
Emitted emit(const Config& c, const std::string& host, const Event& e, std::string_view tag);
// The same on a twin socket the caller keeps for several events (one PAM
// phase: one socket and one connect, not one per event). Its path and tag
// are the caller's; a connect that failed is not retried on that object.
Emitted emit(const Config& c, const std::string& host, const Event& e, SyslogTwin& twin);

}  // namespace vendor::core
