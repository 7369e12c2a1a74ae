// parse_audit_line / audit_verify / audit_prune / parse_head / audit_kv: any
// bytes. The classes of the audit-log issue (torn tail, lines lost at the
// end, forged log_pruned header, seq gaps, prune with a wrong clock) have
// seeds in tests/fuzz/corpus/audit.
#include "audit.h"
#include "util.h"

#include "fuzz.h"

using namespace vendor::core;

namespace {

void check_breaks(const VerifyResult& v) {
    FUZZ_CHECK(v.first_bad <= v.lines + 1);
    FUZZ_CHECK(v.first_bad == 0 || !v.why.empty());
    FUZZ_CHECK(v.breaks.empty() == (v.first_bad == 0));
    for (std::size_t i = 0; i < v.breaks.size(); ++i) {
        FUZZ_CHECK(v.breaks[i].line >= 1 && v.breaks[i].line <= v.lines + 1);
        FUZZ_CHECK(!v.breaks[i].why.empty());
        if (i) FUZZ_CHECK(v.breaks[i - 1].line <= v.breaks[i].line);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::init();
    auto s = fuzz::view(data, size);
    auto a = parse_audit_line(s);
    if (a) FUZZ_CHECK(a->line == s);
    auto v = audit_verify(s, "");
    check_breaks(v);
    if (s.size() >= 64) {
        auto w = audit_verify(s.substr(64), s.substr(0, 64));
        check_breaks(w);
    }
    // A head record in front (when the input starts with one), and the clock
    // checks with a retention taken from the input.
    VerifyOpts o;
    o.now_s = 1796083200 + (size ? data[0] : 0) * 86400;  // 2026-12-01 + up to 255 days
    o.retention_days = 30 + (size > 1 ? data[1] : 0);
    std::string_view body = s;
    if (auto h = parse_head(s.substr(0, kHeadSize)); h) {
        FUZZ_CHECK(format_head(*h) == s.substr(0, kHeadSize));
        o.head = *h;
        body.remove_prefix(kHeadSize);
    }
    auto vh = audit_verify(body, o);
    check_breaks(vh);
    // A prune of an intact log gives an intact log, whatever it dropped.
    PruneOpts p;
    p.now_ms = o.now_s * 1000;
    p.retention_days = o.retention_days;
    p.host = "web-01";
    p.operator_name = "fuzz";
    p.force = size > 2 && (data[2] & 1);
    o.head.reset();
    if (auto plan = audit_prune(body, p); plan && audit_verify(body, o).breaks.empty()) {
        FUZZ_CHECK(plan->dropped + plan->kept <= v.lines + 1);
        o.head = plan->head;
        auto after = audit_verify(plan->out, o);
        FUZZ_CHECK(after.breaks.empty());
        if (plan->dropped == 0) FUZZ_CHECK(plan->out == body);
    }
    // The syslog form never carries a raw control character.
    Event e;
    e.event = "auth";
    auto half = s.size() / 2;
    e.account = std::string(s.substr(0, half));
    e.detail = std::string(s.substr(half));
    e.rhost = e.detail;
    for (char c : audit_kv(e)) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    return 0;
}
