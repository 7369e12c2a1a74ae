#include "audit.h"

#include <json-c/json.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <deque>
#include <type_traits>

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

using E = Event;
// The one field table (audit.h). Line order; the first three rows of a
// log_pruned header and a log_repaired line come out in the order they
// always had (operator, detail, pruned_before, dropped; detail,
// dropped_bytes), and twins_dropped comes last.
constexpr AuditField kFields[] = {
    {"event", &E::event, 64, true, true},
    {"account", &E::account, 1024, false, true},
    {"vendor", &E::vendor, 1024, false, true},
    {"rhost", &E::rhost, 1024, false, true},
    {"service", &E::service, 1024, false, true},
    {"tty", &E::tty, 1024, false, true},
    {"pid", &E::pid, 0, false, false},
    {"session", &E::session, 1024, false, true},
    {"result", &E::result, 1024, false, true},
    {"reason", &E::reason, 1024, false, true},
    {"operator", &E::operator_name, 1024, false, true},
    {"ticket", &E::ticket, 1024, false, true},
    {"duration_s", &E::duration_s, 0, false, true},
    {"methods", &E::methods, 1024, false, true},
    {"key", &E::key, 1024, false, true},
    {"detail", &E::detail, 4096, false, true},
    {"pruned_before", &E::pruned_before, 64, false, true},
    {"dropped", &E::dropped, 0, false, true},
    {"dropped_bytes", &E::dropped_bytes, 0, false, true},
    {"twins_dropped", &E::twins_dropped, 0, false, true},
};
// The frame around the fields, and every key a line may have.
constexpr const char* kFrameHead[] = {"ts", "host"};
constexpr const char* kFrameTail[] = {"seq", "prev"};
constexpr std::size_t kKeyCount =
    std::size(kFields) + std::size(kFrameHead) + std::size(kFrameTail);
constexpr std::array<const char*, kKeyCount> all_keys() {
    std::array<const char*, kKeyCount> k{};
    std::size_t i = 0;
    for (const char* f : kFrameHead) k[i++] = f;
    for (const auto& f : kFields) k[i++] = f.name;
    for (const char* f : kFrameTail) k[i++] = f;
    return k;
}
constexpr auto kAllKeys = all_keys();

// The value of a field as text, "" when it is left out.
std::string field_text(const AuditField& f, const Event& e) {
    return std::visit(
        [&](auto m) -> std::string {
            const auto& v = e.*m;
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::string>) return v;
            else if constexpr (std::is_same_v<V, std::int64_t>) return v ? std::to_string(v) : "";
            else return v ? std::to_string(*v) : "";
        },
        f.member);
}

// The line without its chain fields; the caller adds seq and prev.
Json line_json(const std::string& ts, const std::string& host, const Event& e) {
    Json j = Json::object();
    j.set("ts", ts).set("host", host);
    for (const auto& f : kFields) {
        std::visit(
            [&](auto m) {
                const auto& v = e.*m;
                using V = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<V, std::string>) {
                    if (f.required || !v.empty()) j.set(f.name, v);
                } else if constexpr (std::is_same_v<V, std::int64_t>) {
                    if (f.required || v) j.set(f.name, v);
                } else {
                    if (v) j.set(f.name, *v);
                }
            },
            f.member);
    }
    return j;
}

std::string last_line(std::string_view tail) {
    if (!tail.empty() && tail.back() == '\n') tail.remove_suffix(1);
    auto nl = tail.rfind('\n');
    return std::string(nl == std::string_view::npos ? tail : tail.substr(nl + 1));
}

// A member of a parsed line, or nullptr when absent or of another type.
json_object* member(const Json& doc, const char* key, json_type type) {
    json_object* v = nullptr;
    if (!json_object_object_get_ex(doc.get(), key, &v) || !json_object_is_type(v, type))
        return nullptr;
    return v;
}

// The seq of a line; 0 for a legacy line (no seq) or one that is unreadable.
std::uint64_t seq_of(std::string_view line) {
    auto doc = Json::parse(line, "audit line");
    if (!doc) return 0;
    json_object* s = member(*doc, "seq", json_type_int);
    std::int64_t n = s ? json_object_get_int64(s) : 0;
    return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

std::string twin(const Event& e, std::uint64_t seq, const std::string& hash) {
    return audit_kv(e) + " seq=" + std::to_string(seq) + " hash=" + hash;
}

struct ChainAppend : AppendFn {
    std::string ts, host, head_name, head_file;
    Event event;  // twins_dropped set under the lock
    Fd head_fd;
    std::optional<AuditHead> head;
    TwinSink* sink = nullptr;
    std::string twins_name, twins_file;
    Fd twins_fd;
    std::uint64_t pending = 0;  // the counter read under the lock
    AuditWritten out;
    Status locked(int dir_fd) override {
        auto fd = open_record_at(dir_fd, head_name, head_file, 0600);
        if (!fd) return std::move(fd).error();
        head_fd = std::move(*fd);
        if (sink) {
            // The drop counter is a record of the log like its head: one that
            // cannot be read fails the append (and so the login), it is not
            // silently restarted from 0.
            auto tf = open_record_at(dir_fd, twins_name, twins_file, 0600);
            if (!tf) return std::move(tf).error();
            twins_fd = std::move(*tf);
            auto tt = read_record(twins_fd, twins_file, kTwinsRecordSize);
            if (!tt) return std::move(tt).error();
            if (!tt->empty()) {
                auto n = parse_twins_record(*tt);
                if (!n)
                    return make_error(Code::invalid,
                                      n.error().detail + ": " + escape(twins_file, 200));
                pending = *n;
            }
        }
        auto text = read_record(head_fd, head_file, kHeadSize);
        if (!text) return std::move(text).error();
        if (text->empty()) return {};  // none yet (new log, or the first run after an upgrade)
        auto h = parse_head(*text);
        if (!h) return make_error(Code::invalid, h.error().detail + ": " + escape(head_file, 200));
        head = *h;
        return {};
    }
    Result<std::string> make_line(std::string_view tail) override {
        // The head record names the end of the log: when the log still has
        // the size it gives, the chain goes on from its hash and seq without
        // hashing or parsing the last line (the login path). A last line
        // edited to the same length is then left out of the chain, which
        // verify reports. Otherwise the last line decides, and one the head
        // record does not name means a gap.
        std::string prev;
        std::uint64_t seq = 0;
        out = AuditWritten{};
        out.torn_bytes = torn_bytes;
        if (head && !tail.empty() && size_before == head->size) {
            prev = head->hash;
            seq = head->seq;
        } else if (!tail.empty()) {
            std::string last = last_line(tail);
            prev = line_hash(last);
            seq = head && prev == head->hash ? head->seq : seq_of(last);
        }
        if (head && prev != head->hash && (head->seq || head->size)) {
            // The log does not end where the head record says: its last
            // lines were removed, or it was truncated, deleted or rotated.
            // Chain on from the head so that the gap stays visible to
            // verify instead of being papered over by this line.
            out.warning = "audit log does not end where its head record says (seq " +
                          std::to_string(head->seq) + ", " + std::to_string(head->size) +
                          " bytes; now " + std::to_string(seq) +
                          "): lines removed or the log truncated, deleted or rotated";
            prev = head->hash;
            seq = head->seq;
        }
        std::string text;
        if (torn_bytes) {
            // locked_append cut a torn last line off: say so in the chain
            // itself, before the event that found it.
            Event r;
            r.event = "log_repaired";
            r.detail = "cut off an incomplete last line of " + std::to_string(torn_bytes) +
                       " bytes (interrupted write)";
            r.dropped_bytes = static_cast<std::int64_t>(torn_bytes);
            Json j = line_json(format_rfc3339_ms(now_ms()), host, r);
            j.set("seq", static_cast<std::int64_t>(++seq)).set("prev", prev);
            std::string rl = j.dump();
            prev = line_hash(rl);
            out.twins.push_back(twin(r, seq, prev));
            text = rl + "\n";
        }
        event.twins_dropped = pending > INT64_MAX ? INT64_MAX : static_cast<std::int64_t>(pending);
        Json doc = line_json(ts, host, event);
        doc.set("seq", static_cast<std::int64_t>(++seq)).set("prev", prev);
        out.line = doc.dump();
        out.seq = seq;
        out.hash = line_hash(out.line);
        out.twins.push_back(twin(event, seq, out.hash));
        return text + out.line + "\n";
    }
    Status committed(int, std::uint64_t size) override {
        auto st = write_record(head_fd, head_file, format_head(AuditHead{out.seq, size, out.hash}));
        if (!st || !sink) return st;
        // The line is written: now its twins, still under the lock (a send
        // that cannot go at once is dropped, never waited for). The event's
        // own twin, the last, reports the count read; once it is delivered
        // the collector knows, and the count starts again.
        bool denied = event.result == "denied";
        std::uint64_t now_dropped = 0;
        bool reported = false;
        for (std::size_t i = 0; i < out.twins.size(); ++i) {
            bool last = i + 1 == out.twins.size();
            if (sink->send(out.twins[i], denied && last)) {
                ++out.twins_sent;
                if (last) reported = true;
            } else {
                ++out.twins_dropped;
                ++now_dropped;
            }
        }
        std::uint64_t n = (reported ? 0 : pending) + now_dropped;
        out.twins_pending = n;
        if (n == pending) return {};
        return write_record(twins_fd, twins_file, format_twins_record(n));
    }
};

bool month_start(std::int64_t t) {
    if (t % 86400 != 0) return false;
    std::int64_t y;
    unsigned m, d;
    civil_from_days(t / 86400, y, m, d);
    return d == 1;
}

std::int64_t month_start_of(std::int64_t t) {
    std::int64_t y;
    unsigned m, d;
    civil_from_days(t / 86400, y, m, d);
    return days_from_civil(y, m, 1) * 86400;
}

}  // namespace

std::string head_path(const Config& c) { return c.audit_log + ".head"; }

std::string format_head(const AuditHead& h) {
    char buf[kHeadSize + 1];
    std::snprintf(buf, sizeof buf, "pam_vendor-audit-head 1 seq=%020llu size=%020llu hash=%.64s\n",
                  static_cast<unsigned long long>(h.seq), static_cast<unsigned long long>(h.size),
                  h.hash.c_str());
    return std::string(buf);
}

Result<AuditHead> parse_head(std::string_view text) {
    auto bad = [] { return make_error(Code::invalid, "audit head record is malformed"); };
    constexpr std::string_view kPrefix = "pam_vendor-audit-head 1 seq=";
    if (text.size() != kHeadSize || text.substr(0, kPrefix.size()) != kPrefix ||
        text.back() != '\n')
        return bad();
    AuditHead h;
    auto num = [&](std::size_t at, std::uint64_t& out) {
        auto d = text.substr(at, 20);
        for (char ch : d)
            if (ch < '0' || ch > '9') return false;
        return parse_uint(d, UINT64_MAX, out);
    };
    std::size_t at = kPrefix.size();
    if (!num(at, h.seq) || text.substr(at + 20, 6) != " size=" || !num(at + 26, h.size) ||
        text.substr(at + 46, 6) != " hash=")
        return bad();
    h.hash = std::string(text.substr(at + 52, 64));
    for (char ch : h.hash)
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return bad();
    return h;
}

std::span<const AuditField> audit_fields() { return kFields; }

std::string twins_path(const Config& c) { return c.audit_log + ".twins"; }

std::string format_twins_record(std::uint64_t n) {
    char buf[kTwinsRecordSize + 1];
    std::snprintf(buf, sizeof buf, "pam_vendor-twins-dropped 1 n=%020llu\n",
                  static_cast<unsigned long long>(n));
    return std::string(buf);
}

Result<std::uint64_t> parse_twins_record(std::string_view text) {
    constexpr std::string_view kPrefix = "pam_vendor-twins-dropped 1 n=";
    static_assert(kPrefix.size() + 21 == kTwinsRecordSize);
    std::uint64_t n = 0;
    auto d = text.substr(std::min(text.size(), kPrefix.size()));
    bool digits = d.size() == 21 && d.back() == '\n';
    for (std::size_t i = 0; digits && i < 20; ++i) digits = d[i] >= '0' && d[i] <= '9';
    if (text.size() != kTwinsRecordSize || text.substr(0, kPrefix.size()) != kPrefix || !digits ||
        !parse_uint(d.substr(0, 20), UINT64_MAX, n))
        return make_error(Code::invalid, "audit twins drop counter is malformed");
    return n;
}

Result<AuditWritten> audit_append(const Config& c, const std::string& host, const Event& e,
                                  TwinSink* sink) {
    ChainAppend fn;
    fn.ts = format_rfc3339_ms(now_ms());
    fn.host = host;
    fn.event = e;
    fn.event.twins_dropped = 0;
    fn.head_file = head_path(c);
    fn.head_name = basename_of(fn.head_file);
    fn.sink = sink;
    if (sink) {
        fn.twins_file = twins_path(c);
        fn.twins_name = basename_of(fn.twins_file);
    }
    if (auto st = ensure_dir(dirname_of(c.audit_log), 0700); !st) return st.error();
    if (auto st = locked_append(c.audit_log, 0600, 65536, fn); !st) return st.error();
    return std::move(fn.out);
}

std::string audit_kv(const Event& e) {
    std::string out;
    for (const auto& f : kFields) {
        if (!f.kv) continue;
        std::string v = field_text(f, e);
        if (v.empty() && !f.required) continue;
        if (!out.empty()) out += " ";
        out += f.name;
        out += "=";
        bool quote = v.find(' ') != std::string::npos;
        std::string ev = escape(v, 200);
        out += quote ? "\"" + ev + "\"" : ev;
    }
    return out;
}

Result<AuditRecord> parse_audit_line(std::string_view line) {
    auto doc = Json::parse(line, "audit line");
    if (!doc) return std::move(doc).error();
    JsonReader r(doc->get(), "audit line");
    AuditRecord a;
    a.line = std::string(line);
    std::int64_t seq = -1;
    Status st;
    if (!(st = r.check_keys(std::span<const char* const>(kAllKeys))) ||
        !(st = r.str("ts", a.ts, true, 64)) || !(st = r.str("host", a.host, false)))
        return st.error();
    for (const auto& f : kFields) {
        st = std::visit(
            [&](auto m) -> Status {
                auto& v = a.*m;
                using V = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<V, std::string>) {
                    return r.str(f.name, v, f.required, f.max_len);
                } else if constexpr (std::is_same_v<V, std::int64_t>) {
                    return r.int64(f.name, v, f.required);
                } else {
                    std::int64_t n = 0;
                    bool present = member(*doc, f.name, json_type_int) != nullptr;
                    if (auto s2 = r.int64(f.name, n, f.required); !s2) return s2;
                    if (present) v = n;
                    return {};
                }
            },
            f.member);
        if (!st) return st.error();
    }
    if (!(st = r.int64("seq", seq, false)) || !(st = r.str("prev", a.prev, true, 64)))
        return st.error();
    if (seq == 0 || seq < -1) return make_error(Code::invalid, "audit line: seq must be positive");
    if (seq > 0) a.seq = seq;
    auto t = parse_rfc3339(a.ts);
    if (!t) return std::move(t).error();
    // keep the milliseconds
    auto dot = a.ts.find('.');
    std::int64_t ms = 0;
    if (dot != std::string::npos && dot + 4 <= a.ts.size()) {
        std::uint64_t v = 0;
        if (parse_uint(std::string_view(a.ts).substr(dot + 1, 3), 999, v))
            ms = static_cast<std::int64_t>(v);
    }
    a.ts_ms = *t * 1000 + ms;
    return a;
}

VerifyResult audit_verify(std::string_view content, std::string_view anchor) {
    VerifyOpts o;
    o.anchor = std::string(anchor);
    return audit_verify(content, o);
}

VerifyResult audit_verify(std::string_view content, const VerifyOpts& o) {
    VerifyResult v;
    auto brk = [&](std::size_t line, std::string why) {
        v.breaks.push_back(VerifyBreak{line, std::move(why)});
    };
    std::string expect(o.anchor);
    // After an unreadable line, the next line may chain to it (a torn line
    // written by an earlier version) or to the line before it.
    std::string alt;
    std::optional<std::uint64_t> last_seq;  // set from the first line with a seq
    std::uint64_t end_seq = 0;              // the last complete line's seq (0: none)
    bool have_end_seq = false;
    std::string end_hash;      // and its hash
    std::size_t complete = 0;  // bytes in complete lines
    std::optional<std::int64_t> pruned_before;
    bool torn = false;
    while (!content.empty()) {
        auto nl = content.find('\n');
        if (nl == std::string_view::npos) {
            torn = true;
            brk(v.lines + 1, "last line is not terminated (interrupted write; the next append cuts "
                             "it off)");
            break;
        }
        auto line = content.substr(0, nl);
        content.remove_prefix(nl + 1);
        complete += nl + 1;
        ++v.lines;
        std::string h = line_hash(line);
        end_hash = h;
        end_seq = 0;
        have_end_seq = false;
        auto doc = Json::parse(line, "audit line");
        json_object* prev = doc ? member(*doc, "prev", json_type_string) : nullptr;
        if (!prev) {
            brk(v.lines, doc ? "no prev field" : "not a JSON object");
            alt = h;
            continue;
        }
        std::string got = json_object_get_string(prev);
        json_object* ev = member(*doc, "event", json_type_string);
        json_object* js = nullptr;
        bool has_seq = json_object_object_get_ex(doc->get(), "seq", &js);
        std::int64_t seq =
            has_seq && json_object_is_type(js, json_type_int) ? json_object_get_int64(js) : 0;
        if (seq > 0) {
            end_seq = static_cast<std::uint64_t>(seq);
            have_end_seq = true;
        }
        // `vendorctl prune` starts the kept log with a log_pruned header whose
        // prev is the prev of the first kept line, left byte for byte as it
        // was; a line appended after a prune that kept nothing chains to the
        // header itself. The header carries the seq of the last line dropped.
        if (v.lines == 1 && o.anchor.empty() && ev &&
            std::string_view(json_object_get_string(ev)) == "log_pruned") {
            expect = got;
            alt = h;
            if (seq > 0) last_seq = static_cast<std::uint64_t>(seq);
            json_object* pb = member(*doc, "pruned_before", json_type_string);
            json_object* dropped = member(*doc, "dropped", json_type_int);
            json_object* ts = member(*doc, "ts", json_type_string);
            auto hts = ts ? parse_rfc3339(json_object_get_string(ts)) : Result<std::int64_t>(0);
            if (!pb && !has_seq) {
                v.warnings.push_back("line 1: log_pruned header of an earlier version: what it "
                                     "dropped cannot be checked");
            } else if (!pb || !dropped || json_object_get_int64(dropped) < 1 || !hts) {
                brk(1, "log_pruned header without a valid pruned_before, dropped or ts");
            } else if (auto t = parse_rfc3339(json_object_get_string(pb)); !t || !month_start(*t)) {
                brk(1, "log_pruned header: pruned_before is not the start of a month");
            } else if (o.now_s &&
                       *t > o.now_s - static_cast<std::int64_t>(o.retention_days) * 86400) {
                brk(1,
                    "log_pruned header: pruned_before " + std::string(json_object_get_string(pb)) +
                        " is inside the retention time (log_retention_days " +
                        std::to_string(o.retention_days) + "): lines that must be kept are gone");
            } else if (*hts < *t) {
                brk(1, "log_pruned header is older than its own pruned_before");
            } else {
                pruned_before = *t;
            }
            continue;
        }
        std::string why;
        auto add = [&](const std::string& w) { why += (why.empty() ? "" : "; ") + w; };
        if (got != expect && !(!alt.empty() && got == alt))
            add(v.lines == 1 && expect.empty()
                    ? "the first line continues an earlier log (its prev is not empty): the lines "
                      "before it are gone (log truncated, deleted or rotated)"
                    : "prev does not match the hash of the line before (edited, removed or "
                      "reordered line)");
        if (has_seq && seq <= 0) {
            add("seq is not a positive integer");
        } else if (has_seq) {
            auto s = static_cast<std::uint64_t>(seq);
            if (last_seq && s != *last_seq + 1)
                add("seq " + std::to_string(s) + " follows seq " + std::to_string(*last_seq) +
                    " (lines removed, inserted or replayed)");
            last_seq = s;
        } else if (last_seq) {
            add("no seq after lines that have one");
        }
        if (pruned_before && v.lines == 2) {
            json_object* ts = member(*doc, "ts", json_type_string);
            auto t = ts ? parse_rfc3339(json_object_get_string(ts)) : Result<std::int64_t>(0);
            if (!t || *t < *pruned_before)
                add("older than the pruned_before of the log_pruned header");
        }
        if (!why.empty()) brk(v.lines, why);
        expect = h;
        alt.clear();
    }
    if (o.head) {
        const AuditHead& hd = *o.head;
        std::string said = " its head record says seq " + std::to_string(hd.seq) + ", " +
                           std::to_string(hd.size) + " bytes";
        if (v.lines == 0) {
            if (hd.seq || hd.size)
                brk(1,
                    "the log is empty or missing but" + said + " (truncated, deleted or rotated)");
        } else if (end_hash != hd.hash) {
            std::uint64_t s = end_seq;
            if (have_end_seq && s < hd.seq)
                brk(v.lines + 1, "the log ends at seq " + std::to_string(s) + " but" + said +
                                     ": the last " + std::to_string(hd.seq - s) +
                                     " line(s) were removed (or the log truncated or rotated)");
            else if (s == hd.seq)
                brk(v.lines, "the last line is not the one the head record names (edited)");
            else
                brk(v.lines, "the log goes on past its head record (seq " + std::to_string(s) +
                                 ", head " + std::to_string(hd.seq) +
                                 "): written by another writer, or the head record replaced");
        } else if (!torn && complete != hd.size) {
            brk(v.lines, "the log has " + std::to_string(complete) + " bytes but" + said +
                             " (lines rewritten)");
        }
    }
    std::sort(v.breaks.begin(), v.breaks.end(),
              [](const VerifyBreak& a, const VerifyBreak& b) { return a.line < b.line; });
    if (!v.breaks.empty()) {
        v.first_bad = v.breaks.front().line;
        v.why = v.breaks.front().why;
    }
    v.last_seq = have_end_seq ? end_seq : last_seq.value_or(0);
    return v;
}

Status prune_retention_ok(unsigned retention_days, bool force) {
    if (retention_days >= kMinRetentionDays || force) return {};
    return make_error(Code::refused, "log_retention_days is " + std::to_string(retention_days) +
                                         ", below the 6 months (183 days) the guideline "
                                         "requires; use --force to prune anyway");
}

Result<PrunePlan> audit_prune(std::string_view content, const PruneOpts& o) {
    if (auto st = prune_retention_ok(o.retention_days, o.force); !st) return st.error();
    PrunePlan p;
    std::int64_t cutoff = o.now_ms / 1000 - static_cast<std::int64_t>(o.retention_days) * 86400;
    p.pruned_before = month_start_of(cutoff < 0 ? 0 : cutoff);
    struct Line {
        std::string_view text;
        std::int64_t ts_ms;
        std::optional<std::int64_t> seq;
        bool header;
    };
    std::vector<Line> lines;
    std::int64_t newest = 0;
    std::string_view rest = content;
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        if (nl == std::string_view::npos)
            return make_error(Code::invalid, "audit log ends with a partial line");
        auto line = rest.substr(0, nl);
        rest.remove_prefix(nl + 1);
        auto r = parse_audit_line(line);
        if (!r)
            return make_error(Code::invalid,
                              "audit log has an unreadable line; run vendorctl log --verify");
        if (r->ts_ms > newest) newest = r->ts_ms;
        lines.push_back(Line{line, r->ts_ms, r->seq, lines.empty() && r->event == "log_pruned"});
    }
    // Never launder a tampered log: the chain of exactly the content being
    // rewritten (read under the log's lock) must be intact.
    VerifyOpts vo;
    auto v = audit_verify(content, vo);
    if (!v.breaks.empty())
        return make_error(Code::refused, "audit log chain broken at line " +
                                             std::to_string(v.first_bad) + " (" + v.why +
                                             "); not pruning");
    auto refuse = [&](const std::string& why) {
        return make_error(Code::refused, why + "; not pruning (--force to prune anyway)");
    };
    if (!lines.empty() && o.now_ms < newest && !o.force)
        return refuse("the clock (" + format_rfc3339_ms(o.now_ms) +
                      ") is before the newest line of the log (" + format_rfc3339_ms(newest) + ")");
    // Whole months only, from the start: a month goes when it ended before
    // the cutoff, so the log always holds at least log_retention_days. An
    // earlier log_pruned header goes with the first month dropped.
    std::size_t i = !lines.empty() && lines[0].header ? 1 : 0;
    std::vector<std::int64_t> months;
    const Line* last_dropped = nullptr;
    for (; i < lines.size() && lines[i].ts_ms < p.pruned_before * 1000; ++i) {
        last_dropped = &lines[i];
        ++p.dropped;
        std::int64_t m = month_start_of(lines[i].ts_ms / 1000);
        if (months.empty() || months.back() != m) months.push_back(m);
    }
    p.months = months.size();
    if (p.dropped == 0) {
        p.out = std::string(content);
        p.kept = lines.size();
    } else {
        p.kept = lines.size() - i;
        if (p.kept == 0 && !o.force)
            return refuse("it would drop every line of the log (" + std::to_string(p.dropped) +
                          ", all older than " + format_rfc3339(p.pruned_before) + ")");
        if (p.months > kPruneMaxMonths && !o.force)
            return refuse("it would drop " + std::to_string(p.months) + " months at once (" +
                          std::to_string(p.dropped) + " lines before " +
                          format_rfc3339(p.pruned_before) + "), more than " +
                          std::to_string(kPruneMaxMonths));
        // The header continues the chain at the first kept line: it carries
        // the prev that line already has, or, when nothing is kept, the hash
        // of the last line dropped; and the seq of the last line dropped.
        std::string anchor = line_hash(last_dropped->text);
        if (p.kept) {
            auto doc = Json::parse(lines[i].text, "audit line");
            if (!doc) return std::move(doc).error();
            json_object* pv = member(*doc, "prev", json_type_string);
            anchor = pv ? json_object_get_string(pv) : "";
        }
        Event h;
        h.event = "log_pruned";
        h.operator_name = o.operator_name;
        h.detail = "dropped " + std::to_string(p.dropped) + " lines before " +
                   format_rfc3339(p.pruned_before);
        h.pruned_before = format_rfc3339(p.pruned_before);
        h.dropped = static_cast<std::int64_t>(p.dropped);
        Json j = line_json(format_rfc3339_ms(o.now_ms), o.host, h);
        if (last_dropped->seq) j.set("seq", *last_dropped->seq);
        j.set("prev", anchor);
        p.out = j.dump() + "\n";
        for (; i < lines.size(); ++i) {
            p.out.append(lines[i].text.data(), lines[i].text.size());
            p.out += '\n';
        }
    }
    std::string last = last_line(p.out);
    p.head.size = p.out.size();
    p.head.hash = p.out.empty() ? std::string() : line_hash(last);
    p.head.seq = p.out.empty() ? 0 : seq_of(last);
    return p;
}

namespace {

struct Pruner : RewriteFn {
    PruneOpts opts;
    std::string head_file;
    bool dry_run = false;
    PrunePlan plan;
    Result<std::string> rewrite(std::string_view content) override {
        auto p = audit_prune(content, opts);
        if (!p) return std::move(p).error();
        plan = std::move(*p);
        if (dry_run) return std::string(content);
        return plan.out;
    }
    // Before the rename: an appender that opens the new log writes its head
    // record after this one.
    Status replacing(std::string_view) override {
        if (dry_run || plan.dropped == 0) return {};
        return write_record(head_file, format_head(plan.head), 0600);
    }
};

}  // namespace

Result<PrunePlan> prune_log(const Config& c, const PruneOpts& o, bool dry_run,
                            std::size_t max_size) {
    Pruner p;
    p.opts = o;
    p.head_file = head_path(c);
    p.dry_run = dry_run;
    if (auto st = locked_rewrite(c.audit_log, max_size, p); !st) return st.error();
    return std::move(p.plan);
}

bool valid_cursor_name(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    for (char ch : name)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    return true;
}

std::string cursor_path(const Config& c, std::string_view name) {
    return c.audit_log + ".cursor." + std::string(name);
}

std::string format_cursor(const ShipCursor& cur) {
    char buf[kCursorSize + 1];
    std::snprintf(buf, sizeof buf, "pam_vendor-ship-cursor 1 seq=%020llu off=%020llu hash=%.64s\n",
                  static_cast<unsigned long long>(cur.seq),
                  static_cast<unsigned long long>(cur.offset), cur.hash.c_str());
    return std::string(buf);
}

namespace {

bool hex64(std::string_view h) {
    if (h.size() != 64) return false;
    for (char ch : h)
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
    return true;
}

}  // namespace

Result<ShipCursor> parse_cursor(std::string_view text) {
    auto bad = [] { return make_error(Code::invalid, "ship cursor record is malformed"); };
    constexpr std::string_view kPrefix = "pam_vendor-ship-cursor 1 seq=";
    if (text.size() != kCursorSize || text.substr(0, kPrefix.size()) != kPrefix ||
        text.back() != '\n')
        return bad();
    ShipCursor cur;
    std::size_t at = kPrefix.size();
    auto digits = text.substr(at, 20);
    for (char ch : digits)
        if (ch < '0' || ch > '9') return bad();
    auto off = text.substr(at + 25, 20);
    for (char ch : off)
        if (ch < '0' || ch > '9') return bad();
    if (!parse_uint(digits, UINT64_MAX, cur.seq) || text.substr(at + 20, 5) != " off=" ||
        !parse_uint(off, UINT64_MAX, cur.offset) || text.substr(at + 45, 6) != " hash=")
        return bad();
    cur.hash = std::string(text.substr(at + 51, 64));
    if (!hex64(cur.hash)) return bad();
    return cur;
}

Result<std::optional<ShipCursor>> read_cursor(const Config& c, std::string_view name) {
    if (!valid_cursor_name(name))
        return make_error(Code::invalid, "ship cursor name must be 1-32 of a-z, 0-9, _ and -");
    bool found = false;
    SafeOpts o;
    o.max_size = kCursorSize;
    o.allow_group_read = false;
    auto text = safe_read_optional(cursor_path(c, name), found, o);
    if (!text) return std::move(text).error();
    if (!found) return std::optional<ShipCursor>{};
    auto cur = parse_cursor(*text);
    if (!cur) return std::move(cur).error();
    return std::optional<ShipCursor>{std::move(*cur)};
}

Status write_cursor(const Config& c, std::string_view name, const ShipCursor& cur) {
    if (!valid_cursor_name(name))
        return make_error(Code::invalid, "ship cursor name must be 1-32 of a-z, 0-9, _ and -");
    if (!hex64(cur.hash))
        return make_error(Code::invalid, "a ship cursor names a line by its 64-hex hash");
    return atomic_write(cursor_path(c, name), format_cursor(cur), 0600);
}

namespace {

// What the chain needs of a line: seq (0: none), prev, whether it is a
// log_pruned header. False: not JSON.
bool chain_facts(std::string_view l, std::uint64_t& seq, std::string& prev, bool& header) {
    auto doc = Json::parse(l, "audit line");
    if (!doc) return false;
    if (json_object* s = member(*doc, "seq", json_type_int))
        seq = static_cast<std::uint64_t>(std::max<std::int64_t>(0, json_object_get_int64(s)));
    if (json_object* p = member(*doc, "prev", json_type_string)) prev = json_object_get_string(p);
    json_object* ev = member(*doc, "event", json_type_string);
    header = ev && std::string_view(json_object_get_string(ev)) == "log_pruned";
    return true;
}

// The forward read of audit_after() from the cursor's offset (or from the
// start): `mismatch` when the first line there does not chain to the
// cursor (a stale offset: the backwards walk decides).
struct ForwardWalk : LineSink {
    ShipCursor from;
    ShipLimits lim;
    ShipBatch b;
    std::size_t bytes = 0;
    bool mismatch = false, forked = false;
    std::string last_hash, last_prev;
    bool last_header = false;
    bool line(std::string_view l) override {
        if (partial) return false;
        std::uint64_t seq = 0;
        std::string prev;
        bool header = false;
        bool first = b.lines.empty();
        if (!chain_facts(l, seq, prev, header)) {
            if (first && !from.hash.empty()) {
                mismatch = true;
            } else {
                forked = true;
                b.why = "the line after seq " + std::to_string(b.next.seq) + " is not JSON";
            }
            return false;
        }
        if (first && !from.hash.empty() && prev != from.hash) {
            mismatch = true;
            return false;
        }
        if (!first && !prev.empty() && prev != last_hash && !(last_header && prev == last_prev)) {
            forked = true;
            b.why = "the line " + (seq ? "with seq " + std::to_string(seq) : std::string("after")) +
                    " does not chain to the one before it";
            return false;
        }
        if (!first && (b.lines.size() >= lim.max_lines || bytes + l.size() + 1 > lim.max_bytes)) {
            b.more = true;
            return false;
        }
        last_hash = line_hash(l);
        last_prev = prev;
        last_header = header && first;
        bytes += l.size() + 1;
        b.lines.emplace_back(l);
        b.next = ShipCursor{seq, last_hash, offset + l.size() + 1};
        return true;
    }
};

// The backwards walk of audit_after(): every line after the cursor is seen,
// latest first; only the `max_lines` earliest of them are kept, so memory
// is one batch whatever the distance to the end.
struct AfterWalk : LineSink {
    ShipCursor from;
    ShipLimits lim;
    struct Kept {
        std::string line, hash;
        std::uint64_t seq, end;
    };
    std::deque<Kept> kept;
    std::size_t bytes = 0;
    bool more = false, found = false, stop_forked = false;
    std::string why;
    // The later neighbour of the line being looked at: its prev must be
    // this line's hash (or, for a log_pruned header, the header's own prev).
    bool have_later = false;
    std::string later_prev;
    std::uint64_t later_seq = 0;
    // The log's first line, once the walk reaches it.
    std::uint64_t first_seq = 0;
    bool first_is_header = false;

    void keep(std::string_view l, std::string h, std::uint64_t seq) {
        kept.push_front(Kept{std::string(l), std::move(h), seq, offset + l.size() + 1});
        bytes += l.size() + 1;
        while (kept.size() > 1 && (kept.size() > lim.max_lines || bytes > lim.max_bytes)) {
            bytes -= kept.back().line.size() + 1;
            kept.pop_back();
            more = true;
        }
    }
    bool forked(std::string w) {
        stop_forked = true;
        why = std::move(w);
        return false;
    }
    bool line(std::string_view l) override {
        if (partial) return true;  // not yet (or never) a line of the chain
        std::string h = line_hash(l);
        std::uint64_t seq = 0;
        std::string prev;
        bool header = false;
        if (!chain_facts(l, seq, prev, header)) {
            return forked(later_seq
                              ? "the line before seq " + std::to_string(later_seq) + " is not JSON"
                              : std::string("the last line is not JSON"));
        }
        if (have_later && !later_prev.empty() && later_prev != h && !(header && later_prev == prev))
            return forked("the line " +
                          (later_seq ? "with seq " + std::to_string(later_seq) : "after it") +
                          " does not chain to the one before it");
        first_seq = seq;
        first_is_header = header;
        if (!from.hash.empty()) {
            if (h == from.hash) {
                if (from.seq && seq && seq != from.seq)
                    return forked("the cursor's line has seq " + std::to_string(seq) +
                                  ", the cursor says " + std::to_string(from.seq));
                found = true;
                return false;
            }
            // A prune that dropped the cursor's line as the last one: the
            // header continues the chain from it, and is itself shipped.
            if (header && prev == from.hash) {
                keep(l, std::move(h), seq);
                found = true;
                return false;
            }
            if (from.seq && seq == from.seq && !header)
                return forked("the log has another line at seq " + std::to_string(seq));
            if (from.seq && seq && seq < from.seq)
                return forked("the log has no line with the cursor's hash at seq " +
                              std::to_string(from.seq));
        }
        keep(l, h, seq);
        have_later = true;
        later_prev = prev;
        later_seq = seq;
        return true;
    }
};

}  // namespace

Result<ShipBatch> audit_after(const Config& c, const ShipCursor& from, const ShipLimits& lim) {
    SafeOpts o;
    o.max_size = SIZE_MAX;  // bounded by the batch or the cursor, not by the file
    o.allow_group_read = false;
    bool present = false;
    ShipLimits l = lim;
    if (l.max_lines == 0) l.max_lines = 1;
    if (from.hash.empty() || from.offset > 0) {
        ForwardWalk f;
        f.from = from;
        f.lim = l;
        f.b.next = from;
        if (auto st = safe_read_lines_forward(c.audit_log, o, from.hash.empty() ? 0 : from.offset,
                                              SIZE_MAX, f, present);
            !st)
            return st.error();
        if (f.forked) {
            f.b.kind = ShipBatch::forked;
            f.b.lines.clear();
            f.b.more = false;
            f.b.next = from;
            return std::move(f.b);
        }
        // From the start, or lines that chain to the cursor: done. Nothing
        // after the offset proves nothing (a prune may have made the log
        // shorter): the walk from the end, short when up to date, decides.
        if (from.hash.empty() || (!f.mismatch && !f.b.lines.empty())) return std::move(f.b);
    }
    AfterWalk w;
    w.from = from;
    w.lim = l;
    if (auto st = safe_read_lines_backwards(c.audit_log, o, SIZE_MAX, w, present); !st)
        return st.error();
    ShipBatch b;
    b.next = from;
    if (w.stop_forked) {
        b.kind = ShipBatch::forked;
        b.why = w.why;
        return b;
    }
    if (!w.found && !from.hash.empty()) {
        // The walk reached the log's first line without the cursor's.
        b.first_seq = w.first_is_header ? w.first_seq + 1 : w.first_seq;
        if (w.first_is_header && from.seq && from.seq < w.first_seq) {
            b.kind = ShipBatch::pruned;
            b.missing = w.first_seq - from.seq;
            b.why = "the cursor's line was pruned; " + std::to_string(b.missing) +
                    " lines after it are gone";
        } else {
            b.kind = ShipBatch::unknown;
            b.why = std::string("no line of the log has the cursor's hash") +
                    (w.first_is_header ? " (the log starts after a prune)" : "");
        }
        return b;
    }
    b.more = w.more;
    for (auto& k : w.kept) {
        b.next = ShipCursor{k.seq, k.hash, k.end};
        b.lines.push_back(std::move(k.line));
    }
    return b;
}

}  // namespace vendor::core
