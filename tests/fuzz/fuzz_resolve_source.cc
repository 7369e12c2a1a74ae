// resolve_source / parse_auth_info: the PAM environment is attacker-adjacent
// text. Input: SSH_CONNECTION, '\n', PAM_RHOST (each cut at a NUL, as C strings).
// A source that is not a literal address inside 'from' is never allowed.
#include "policy.h"

#include "fuzz.h"

using namespace vendor::core;

namespace {

void check(const Source& s) {
    if (s.kind == Source::remote) {
        FUZZ_CHECK(s.addr.has_value());
        auto back = parse_ip(s.addr->str());
        FUZZ_CHECK(back && *back == *s.addr);
        FUZZ_CHECK(s.text == s.addr->str());
    } else {
        FUZZ_CHECK(!s.addr.has_value());
    }
    Entry e;
    e.name = "acme";
    e.vendor = "ACME";
    e.from = {*parse_cidr("192.0.2.0/24"), *parse_cidr("2001:db8::/32")};
    e.access = kAccessOtp;
    Facts f;
    f.source = s;
    f.host = "web-01";
    f.now = 1795851547;
    f.otp_done = true;
    auto v = decide(e, f);
    if (v.allow) FUZZ_CHECK(s.kind == Source::remote && any_contains(e.from, *s.addr));
    e.allow_local = true;
    v = decide(e, f);
    if (v.allow)
        FUZZ_CHECK(s.kind == Source::local ||
                   (s.kind == Source::remote && any_contains(e.from, *s.addr)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto in = std::string(fuzz::view(data, size));
    auto nl = in.find('\n');
    std::string sc = in.substr(0, nl);
    std::string rh = nl == std::string::npos ? std::string() : in.substr(nl + 1);
    check(resolve_source(sc.c_str(), rh.c_str()));
    check(resolve_source(nullptr, rh.c_str()));
    auto alone = resolve_source(sc.c_str(), nullptr);
    check(alone);
    // SSH_CONNECTION without PAM_RHOST is never a remote source.
    FUZZ_CHECK(alone.kind != Source::remote);
    if (auto info = parse_auth_info(in.c_str()))
        for (const auto& k : info->publickeys) FUZZ_CHECK(k.find(' ') != std::string::npos);
    return 0;
}
