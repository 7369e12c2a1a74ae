// The audit log (R8): one JSON object per line, each carrying a sequence
// number (`seq`) and the hash of the line before it (`prev`), so that
// `vendorctl log --verify` detects an edited, removed or reordered line. Every event is also
// rendered as one key=value line for syslog (authpriv): emit() in sink.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config.h"
#include "result.h"

namespace vendor::core {

struct Event {
    std::string event;  // auth, account, session_open, ...
    std::string account;
    std::string vendor;
    std::string rhost;
    std::string service;
    std::string tty;
    std::int64_t pid = 0;
    std::string session;  // session id
    std::string result;   // ok / denied ("" for admin events)
    std::string reason;
    std::string operator_name;
    std::string ticket;
    std::optional<std::int64_t> duration_s;
    std::string detail;   // free text (escaped), e.g. the error behind a denial
    std::string methods;  // auth methods seen (SSH_AUTH_INFO_0 types)
    std::string key;      // fingerprint of the public key used, "SHA256:.."
    // Chain bookkeeping, set by the core: a log_pruned header's month
    // boundary and line count, a log_repaired line's cut-off bytes.
    std::string pruned_before;
    std::int64_t dropped = 0;
    std::int64_t dropped_bytes = 0;
    // Syslog twins not delivered since the last one that was (emit()); set
    // under the log's lock on the line written, 0 (absent) when none.
    std::int64_t twins_dropped = 0;
};

// The one table of audit fields, in line order: it drives the JSON line
// (between the frame "ts", "host" and the chain's "seq", "prev"), the syslog
// key=value form and parse_audit_line, so a parsed record keeps every field.
// A string is left out when empty, an int64 when 0, an optional when unset;
// `required` ones are always written and must be present. `kv`: in the
// syslog form (pid is not: the syslog header carries it).
using AuditMember =
    std::variant<std::string Event::*, std::int64_t Event::*, std::optional<std::int64_t> Event::*>;
struct AuditField {
    const char* name;
    AuditMember member;
    std::size_t max_len;  // strings
    bool required;
    bool kv;
};
std::span<const AuditField> audit_fields();

// The head record, `<audit_log>.head` (0600): where the log ended after the
// last append or prune, rewritten in place under the log's lock (no fsync,
// like the log line itself). It lets verify see what the chain cannot: the
// last lines removed, the last line edited, the log truncated, emptied,
// deleted or rotated away. One fixed-size text line:
//   "pam_vendor-audit-head 1 seq=%020llu size=%020llu hash=<64 hex>\n"
// seq: the last line's seq (0 for a log of legacy lines only), size: the
// log's size in bytes, hash: line_hash of the last line.
inline constexpr std::size_t kHeadSize = 145;
struct AuditHead {
    std::uint64_t seq = 0;
    std::uint64_t size = 0;
    std::string hash;
};
std::string head_path(const Config& c);
std::string format_head(const AuditHead& h);
Result<AuditHead> parse_head(std::string_view text);

// What one append wrote: the event's line, its seq and hash, and the syslog
// twins of every line written (a log_repaired line first when a torn last
// line was cut off), each carrying seq= and hash= so that any collector
// anchors the chain. The caller sends the twins to syslog after the append.
struct AuditWritten {
    std::string line;
    std::uint64_t seq = 0;
    std::string hash;
    std::size_t torn_bytes = 0;
    std::vector<std::string> twins;
    // Set when the log did not end where the head record said: the line was
    // chained to the head record (verify reports the gap); log it once.
    std::string warning;
    // With a sink: the twins it took and dropped, and the counter now.
    std::size_t twins_sent = 0, twins_dropped = 0;
    std::uint64_t twins_pending = 0;
};
// Where the twins go when the append sends them itself (emit(), sink.h):
// under the log's lock, right after the line is written, so that the twins
// keep the chain's order and a drop is counted under the same lock. `send`
// must not block; false: the twin was dropped.
struct TwinSink {
    virtual ~TwinSink() = default;
    virtual bool send(std::string_view kv, bool denied) = 0;
};
// The drop counter, `<audit_log>.twins` (0600, beside the head record): the
// twins not delivered since the last one that was, carried by the next line
// as twins_dropped=N. One fixed-size text line, rewritten in place under the
// log's lock: "pam_vendor-twins-dropped 1 n=%020llu\n".
inline constexpr std::size_t kTwinsRecordSize = 50;
std::string twins_path(const Config& c);
std::string format_twins_record(std::uint64_t n);
Result<std::uint64_t> parse_twins_record(std::string_view text);

// Appends the event (ts, host, seq filled here) and updates the head record.
// With a sink, the twins are sent through it (AuditWritten::twins_sent,
// twins_dropped) and the drop counter is kept; without, the caller gets them.
Result<AuditWritten> audit_append(const Config& c, const std::string& host, const Event& e,
                                  TwinSink* sink = nullptr);
// The syslog form: "event=auth account=acme rhost=... result=denied reason=..."
// (the twin of a written line adds " seq=N hash=H").
std::string audit_kv(const Event& e);

// A parsed line: every field of the table (the Event) and the frame.
struct AuditRecord : Event {
    std::string line;
    std::string ts, host, prev;
    std::int64_t ts_ms = 0;
    std::optional<std::int64_t> seq;
};
Result<AuditRecord> parse_audit_line(std::string_view line);

// Verify the chain, reporting every break and carrying on past it.
// `anchor` is the hash the first line's prev must equal; with an empty
// anchor, a first line that is a `log_pruned` event (written by vendorctl
// prune) supplies it, and its claims are checked (pruned_before a month
// boundary at least retention_days before now_s, no kept line older). Lines
// without seq are legacy until the first line with one; from there seq must
// go up by one per line. With a head record, the log must end where it says.
struct VerifyOpts {
    std::string anchor;
    std::int64_t now_s = 0;  // 0: skip the checks against the clock
    unsigned retention_days = 0;
    std::optional<AuditHead> head;
};
struct VerifyBreak {
    std::size_t line = 0;  // 1-based; lines + 1 for "lines missing at the end"
    std::string why;
};
struct VerifyResult {
    std::size_t lines = 0;
    std::size_t first_bad = 0;  // breaks[0].line, 0 when intact
    std::string why;            // breaks[0].why
    std::vector<VerifyBreak> breaks;
    std::vector<std::string> warnings;
    std::uint64_t last_seq = 0;
};
VerifyResult audit_verify(std::string_view content, const VerifyOpts& opts);
VerifyResult audit_verify(std::string_view content, std::string_view anchor);
std::string line_hash(std::string_view line);

// vendorctl prune, decided here: drop the whole calendar months that ended
// before now - retention_days, keep the rest byte for byte behind a new
// log_pruned header. Refused (Code::refused) unless `force` when the clock
// is behind the newest line, when every line would go, or when more than
// kPruneMaxMonths months would go at once: a clock set wrong must not let
// the daily timer empty the log.
inline constexpr unsigned kPruneMaxMonths = 3;
// The guideline's six months: prune refuses a shorter retention unless
// forced (PruneOpts::force), whoever calls it.
inline constexpr unsigned kMinRetentionDays = 183;
Status prune_retention_ok(unsigned retention_days, bool force);
struct PruneOpts {
    std::int64_t now_ms = 0;
    unsigned retention_days = 0;
    std::string host, operator_name;
    bool force = false;
};
struct PrunePlan {
    std::string out;  // the new content (== input when nothing goes)
    std::size_t dropped = 0, kept = 0, months = 0;
    std::int64_t pruned_before = 0;  // month boundary, epoch seconds
    AuditHead head;                  // of `out`
};
Result<PrunePlan> audit_prune(std::string_view content, const PruneOpts& o);
// The prune applied to the log: the plan made under the log's lock
// (locked_rewrite, so no append is lost), the head record rewritten just
// before the new log replaces the old one. dry_run: the plan only, the log
// is left as it is (same inode, same bytes).
Result<PrunePlan> prune_log(const Config& c, const PruneOpts& o, bool dry_run,
                            std::size_t max_size);

// A shipper's cursor (issue 11's RELP shipper, any collector): the last line
// it has had acknowledged, named by its hash and, when it has one, its seq,
// with the byte offset just after that line as a hint. audit_after()
// returns the lines after it, oldest first, in bounded batches: read forward
// from the offset when the line found there chains to the cursor's hash
// (its prev), else by walking the log backwards from its end to the
// cursor's line (after a prune moved the offsets), stopping there or, by
// seq, as soon as the walk is past it; one batch in memory either way. An
// unterminated last line (an append in progress, or a torn line the next
// append cuts off) is never shipped. Every line returned is checked to
// chain to the one before it (prev), the first to the cursor.
//
// The persisted cursor, `<audit_log>.cursor.NAME` (NAME: 1-32 of [a-z0-9_-];
// 0600, beside the head record), written with atomic_write() after the
// collector acknowledged a batch. One fixed-size text line:
//   "pam_vendor-ship-cursor 1 seq=%020llu off=%020llu hash=<64 hex>\n"
// seq 0: the line had no seq (a legacy line); off 0: no hint. No file: ship
// from the start.
inline constexpr std::size_t kCursorSize = 145;
struct ShipCursor {
    std::uint64_t seq = 0;     // 0: unknown (legacy line, or a caller that only has the hash)
    std::string hash;          // line_hash of the last line acknowledged; "": from the start
    std::uint64_t offset = 0;  // just after that line's newline; 0: no hint
};
bool valid_cursor_name(std::string_view name);
std::string cursor_path(const Config& c, std::string_view name);
std::string format_cursor(const ShipCursor& cur);
Result<ShipCursor> parse_cursor(std::string_view text);
// nullopt when the shipper has no cursor yet (ship from the start).
Result<std::optional<ShipCursor>> read_cursor(const Config& c, std::string_view name);
Status write_cursor(const Config& c, std::string_view name, const ShipCursor& cur);

struct ShipLimits {
    std::size_t max_lines = 1000;
    std::size_t max_bytes = std::size_t{1} << 20;  // a batch holds at least one line
};
struct ShipBatch {
    enum Kind {
        ok,       // `lines` follow the cursor (none: the shipper is up to date)
        pruned,   // the cursor's line was pruned away: `missing` lines are gone for good
        unknown,  // the hash is in the log nowhere and no prune explains it
        forked,   // the log has another line at the cursor's seq, or a break in the chain
    } kind = ok;
    std::vector<std::string> lines;  // without their newlines, oldest first
    ShipCursor next;                 // the cursor after the last line returned
    bool more = false;               // lines remain after this batch
    // pruned/unknown: the first seq the log has (its log_pruned header's seq
    // + 1, else its first line's seq; 0 when unknown); pruned: how many lines
    // between the cursor and it are lost. The caller resumes from the start
    // (an empty cursor), whose first line is the log_pruned header.
    std::uint64_t first_seq = 0;
    std::uint64_t missing = 0;
    std::string why;  // unknown/forked: what did not match, for the log
};
// An absent log is an empty one. Errors: the log unreadable or insecure.
Result<ShipBatch> audit_after(const Config& c, const ShipCursor& from, const ShipLimits& lim = {});

}  // namespace vendor::core
