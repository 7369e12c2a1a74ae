#include <syslog.h>

#include <cstdio>

#include "ctl.h"
#include "facts.h"
#include "files.h"
#include "sink.h"
#include "util.h"

namespace vendor::cli {

using namespace vendor::core;

std::vector<std::string> Args::all(const std::string& k) const {
    std::vector<std::string> out;
    auto range = opt.equal_range(k);
    for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
    return out;
}

int fail(const std::string& msg) {
    std::fprintf(stderr, "vendorctl: %s\n", msg.c_str());
    return kExitRefused;
}

int fail(const Error& e) { return fail(e.detail.empty() ? code_name(e.code) : e.detail); }

bool audit_ok(Ctl& c, Event e) {
    if (e.operator_name.empty()) e.operator_name = operator_name();
    e.service = "vendorctl";
    e.pid = static_cast<std::int64_t>(getpid());
    // The chained line first, then its syslog twin with seq= and hash=
    // (emit(), sink.h); the event still reaches syslog (without them) when
    // the log cannot be written. A twin that syslog does not take at once is
    // dropped and counted in the next line, as in the module.
    auto r = emit(c.cfg, c.host, e, "vendorctl");
    if (!r.ok()) {
        std::fprintf(stderr, "vendorctl: warning: cannot write audit log: %s\n",
                     r.error->detail.c_str());
        return false;
    }
    if (!r.written.warning.empty()) {
        syslog(LOG_AUTHPRIV | LOG_ERR, "%s", r.written.warning.c_str());
        std::fprintf(stderr, "vendorctl: warning: %s\n", r.written.warning.c_str());
    }
    return true;
}

void audit(Ctl& c, Event e) { (void)audit_ok(c, std::move(e)); }

std::string local_time(const Ctl& c, std::int64_t t, bool with_date) {
    auto z = load_zone(c.cfg);
    TimeZone tz = z ? std::move(*z) : TimeZone::utc();
    auto lt = to_local(tz, t);
    char buf[64];
    if (with_date)
        std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d",
                      static_cast<long long>(lt.year), lt.month, lt.day, lt.minute_of_day / 60,
                      lt.minute_of_day % 60);
    else std::snprintf(buf, sizeof buf, "%02d:%02d", lt.minute_of_day / 60, lt.minute_of_day % 60);
    return buf;
}

void require_name(const std::string& name) {
    if (!valid_account_name(name))
        throw UsageError{"invalid account name '" + escape(name, 64) +
                         "' (^[a-z_][a-z0-9_-]{0,31}$)"};
}

std::string need_pos(const Ctl& c, std::size_t i, const char* what) {
    if (c.args.pos.size() <= i) throw UsageError{std::string("missing ") + what};
    return c.args.pos[i];
}

std::string check_free_text(const char* option, std::string_view v, std::size_t max_len) {
    std::string o(option);
    if (v.size() > max_len) return o + " too long (at most " + std::to_string(max_len) + " bytes)";
    for (unsigned char ch : v)
        if (ch < 0x20 || ch == 0x7f) return o + " has a control character";
    if (!valid_utf8(v)) return o + " is not valid UTF-8";
    return "";
}

Result<Entry> load_entry(const Ctl& c, const std::string& name) {
    return Accounts(c.cfg).load(name);
}

std::string account_arg(const Ctl& c, std::size_t i) {
    std::string name = need_pos(c, i, "account NAME");
    require_name(name);
    return name;
}

bool report_views(const ViewReport& r) {
    for (const auto& p : r.nss_problems)
        std::fprintf(stderr, "vendorctl: warning: %s (run vendorctl reindex)\n", p.c_str());
    if (r.nss_error)
        std::fprintf(stderr, "vendorctl: NSS index not updated: %s\n", r.nss_error->detail.c_str());
    for (const auto& [name, err] : r.key_view_errors)
        std::fprintf(stderr, "vendorctl: public key view of %s not updated: %s\n", name.c_str(),
                     err.detail.c_str());
    return r.ok();
}

}  // namespace vendor::cli
