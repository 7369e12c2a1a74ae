// Literal IP addresses and CIDR blocks, parsed strictly and never through
// DNS: the source gate of pam_vendor(8) must not be steerable by a resolver.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace vendor::core {

struct IpAddr {
    // IPv4 is kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d) so that a
    // v4 rule matches a mapped source and the other way round.
    std::array<std::uint8_t, 16> b{};
    bool is_v4() const noexcept;
    std::string str() const;
    bool operator==(const IpAddr&) const = default;
};

struct Cidr {
    IpAddr base;
    unsigned prefix = 0;  // over the 128-bit form (IPv4 /n is stored as /96+n)
    // An IPv4 source is only inside an IPv4 block (or its ::ffff:0:0/96
    // spelling): the mapped form must not make ::/0 or 2000::/3 admit IPv4.
    bool contains(const IpAddr& a) const noexcept;
    bool is_v4() const noexcept { return prefix >= 96 && base.is_v4(); }
    // Shorter than /8 (IPv4) or /16 (IPv6): (nearly) every address. Such a
    // block in 'from' needs the entry's explicit any_source flag.
    bool is_wide() const noexcept { return is_v4() ? prefix < 96 + 8 : prefix < 16; }
    std::string str() const;
    bool operator==(const Cidr&) const = default;
};

// Dotted quad: exactly four decimal parts 0..255, no leading zeros (so no
// octal ambiguity), nothing else. IPv6: RFC 4291 text forms, optional
// embedded IPv4 tail; no zone index, no brackets.
std::optional<IpAddr> parse_ip(std::string_view s) noexcept;
// "a.b.c.d/n", "x::/n", or a bare address (= a host route). Host bits set
// beyond the prefix are a configuration error, not silently masked.
Result<Cidr> parse_cidr(std::string_view s);

bool any_contains(const std::vector<Cidr>& list, const IpAddr& a) noexcept;

}  // namespace vendor::core
