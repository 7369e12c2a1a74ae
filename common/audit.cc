#include "audit.h"

#include <json-c/json.h>
#include <sodium.h>

#include "files.h"
#include "json.h"
#include "util.h"

namespace vendor::core {

std::string line_hash(std::string_view line) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(line.data()), line.size());
    return to_hex(h, sizeof h);
}

namespace {

std::string last_line(std::string_view tail) {
    if (!tail.empty() && tail.back() == '\n') tail.remove_suffix(1);
    auto nl = tail.rfind('\n');
    return std::string(nl == std::string_view::npos ? tail : tail.substr(nl + 1));
}

struct ChainAppend : AppendFn {
    Json* doc;
    std::string written;
    Result<std::string> make_line(std::string_view tail) override {
        std::string prev = tail.empty() ? std::string() : line_hash(last_line(tail));
        doc->set("prev", prev);
        written = doc->dump();
        // A torn last line (crash or ENOSPC mid-write) stays a line of its own,
        // which verify reports; glued to it, this event would be lost as well.
        bool torn = !tail.empty() && tail.back() != '\n';
        return (torn ? "\n" : "") + written + "\n";
    }
};

}  // namespace

Result<std::string> audit_append(const Config& c, const std::string& host, const Event& e) {
    Json j = Json::object();
    j.set("ts", format_rfc3339_ms(now_ms())).set("host", host).set("event", e.event);
    auto opt = [&](const char* k, const std::string& v) {
        if (!v.empty()) j.set(k, v);
    };
    opt("account", e.account);
    opt("vendor", e.vendor);
    opt("rhost", e.rhost);
    opt("service", e.service);
    opt("tty", e.tty);
    if (e.pid) j.set("pid", e.pid);
    opt("session", e.session);
    opt("result", e.result);
    opt("reason", e.reason);
    opt("operator", e.operator_name);
    opt("ticket", e.ticket);
    if (e.duration_s) j.set("duration_s", *e.duration_s);
    opt("methods", e.methods);
    opt("key", e.key);
    opt("detail", e.detail);
    ChainAppend fn;
    fn.doc = &j;
    if (auto st = ensure_dir(dirname_of(c.audit_log), 0700); !st) return st.error();
    if (auto st = locked_append(c.audit_log, 0600, 65536, fn); !st) return st.error();
    return fn.written;
}

std::string audit_kv(const Event& e) {
    std::string out = "event=" + e.event;
    auto add = [&](const char* k, const std::string& v) {
        if (v.empty()) return;
        out += " ";
        out += k;
        out += "=";
        bool quote = v.find(' ') != std::string::npos;
        std::string ev = escape(v, 200);
        out += quote ? "\"" + ev + "\"" : ev;
    };
    add("account", e.account);
    add("vendor", e.vendor);
    add("rhost", e.rhost);
    add("service", e.service);
    add("tty", e.tty);
    add("session", e.session);
    add("result", e.result);
    add("reason", e.reason);
    add("operator", e.operator_name);
    add("ticket", e.ticket);
    if (e.duration_s) add("duration_s", std::to_string(*e.duration_s));
    add("methods", e.methods);
    add("key", e.key);
    add("detail", e.detail);
    return out;
}

Result<AuditRecord> parse_audit_line(std::string_view line) {
    auto doc = Json::parse(line, "audit line");
    if (!doc) return std::move(doc).error();
    JsonReader r(doc->get(), "audit line");
    AuditRecord a;
    a.line = std::string(line);
    std::string ts, host, vendor, tty, prev, methods;
    std::int64_t pid = 0, dur = -1;
    Status st;
    if (!(st = r.check_keys({"ts", "host", "event", "account", "vendor", "rhost", "service", "tty",
                             "pid", "session", "result", "reason", "operator", "ticket",
                             "duration_s", "methods", "key", "detail", "prev"})) ||
        !(st = r.str("ts", ts, true, 64)) || !(st = r.str("event", a.event, true, 64)) ||
        !(st = r.str("account", a.account, false)) || !(st = r.str("rhost", a.rhost, false)) ||
        !(st = r.str("result", a.result, false)) || !(st = r.str("reason", a.reason, false)) ||
        !(st = r.str("operator", a.operator_name, false)) ||
        !(st = r.str("ticket", a.ticket, false)) || !(st = r.str("session", a.session, false)) ||
        !(st = r.str("service", a.service, false)) ||
        !(st = r.str("detail", a.detail, false, 4096)) ||
        !(st = r.int64("duration_s", dur, false)) || !(st = r.str("prev", prev, true, 64)) ||
        !(st = r.int64("pid", pid, false)))
        return st.error();
    auto t = parse_rfc3339(ts);
    if (!t) return std::move(t).error();
    // keep the milliseconds
    auto dot = ts.find('.');
    std::int64_t ms = 0;
    if (dot != std::string::npos && dot + 4 <= ts.size()) {
        std::uint64_t v = 0;
        if (parse_uint(std::string_view(ts).substr(dot + 1, 3), 999, v))
            ms = static_cast<std::int64_t>(v);
    }
    a.ts_ms = *t * 1000 + ms;
    if (dur >= 0) a.duration_s = dur;
    return a;
}

VerifyResult audit_verify(std::string_view content, std::string_view anchor) {
    VerifyResult v;
    std::string expect(anchor);
    std::string header_hash;
    while (!content.empty()) {
        auto nl = content.find('\n');
        if (nl == std::string_view::npos) {
            v.first_bad = v.lines + 1;
            v.why = "last line is not terminated (truncated write?)";
            return v;
        }
        auto line = content.substr(0, nl);
        content.remove_prefix(nl + 1);
        ++v.lines;
        auto doc = Json::parse(line, "audit line");
        if (!doc) {
            v.first_bad = v.lines;
            v.why = "not a JSON object";
            return v;
        }
        json_object* prev = nullptr;
        if (!json_object_object_get_ex(doc->get(), "prev", &prev) ||
            !json_object_is_type(prev, json_type_string)) {
            v.first_bad = v.lines;
            v.why = "no prev field";
            return v;
        }
        // `vendorctl prune` starts the kept log with a log_pruned header whose
        // prev is the hash of the last line it dropped. The kept lines are
        // left byte for byte as they were, so the next one still carries
        // that hash; a line appended after a prune that kept nothing chains
        // to the header itself.
        json_object* ev = nullptr;
        if (v.lines == 1 && anchor.empty() && json_object_object_get_ex(doc->get(), "event", &ev) &&
            json_object_is_type(ev, json_type_string) &&
            std::string_view(json_object_get_string(ev)) == "log_pruned") {
            expect = json_object_get_string(prev);
            header_hash = line_hash(line);
            continue;
        }
        std::string got = json_object_get_string(prev);
        bool ok = got == expect || (v.lines == 2 && !header_hash.empty() && got == header_hash);
        if (!ok) {
            v.first_bad = v.lines;
            v.why = "prev does not match the hash of the line before (edited, removed or reordered "
                    "line)";
            return v;
        }
        expect = line_hash(line);
    }
    return v;
}

}  // namespace vendor::core
