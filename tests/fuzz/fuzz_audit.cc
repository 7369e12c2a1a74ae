// parse_audit_line / audit_verify / audit_kv: any bytes.
#include "audit.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::init();
    auto s = fuzz::view(data, size);
    auto a = parse_audit_line(s);
    if (a) FUZZ_CHECK(a->line == s);
    auto v = audit_verify(s, "");
    FUZZ_CHECK(v.first_bad <= v.lines + 1);
    FUZZ_CHECK(v.first_bad == 0 || !v.why.empty());
    if (s.size() >= 64) {
        auto w = audit_verify(s.substr(64), s.substr(0, 64));
        FUZZ_CHECK(w.first_bad <= w.lines + 1);
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
