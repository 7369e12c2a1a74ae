// parse_ip / parse_cidr: strict literals; str() reads back to the same value.
#include "net.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto s = fuzz::view(data, size);
    auto ip = parse_ip(s);
    if (ip) {
        auto text = ip->str();
        auto back = parse_ip(text);
        FUZZ_CHECK(back && *back == *ip);
        FUZZ_CHECK(ip->is_v4() == (text.find(':') == std::string::npos));
    }
    auto c = parse_cidr(s);
    if (c) {
        FUZZ_CHECK(c->prefix <= 128);
        FUZZ_CHECK(c->contains(c->base));
        auto back = parse_cidr(c->str());
        FUZZ_CHECK(back && *back == *c);
        if (ip) FUZZ_CHECK(c->prefix == 128 && c->base == *ip);  // a bare address is a host route
        // The block holds exactly the addresses that share its prefix bits.
        IpAddr probe = c->base;
        if (c->prefix < 128) {
            unsigned bit = 127;  // flip the last host bit: still inside
            probe.b[bit / 8] = static_cast<std::uint8_t>(probe.b[bit / 8] ^ (0x80 >> (bit % 8)));
            FUZZ_CHECK(c->contains(probe));
        }
        if (c->prefix > 0) {
            probe = c->base;
            unsigned bit = c->prefix - 1;  // flip the last prefix bit: outside
            probe.b[bit / 8] = static_cast<std::uint8_t>(probe.b[bit / 8] ^ (0x80 >> (bit % 8)));
            FUZZ_CHECK(!c->contains(probe));
        }
    }
    return 0;
}
