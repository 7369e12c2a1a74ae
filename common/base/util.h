// Small pure helpers shared by every component.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace vendor::core {

// No control file (config, entry, state record) is larger; the parsers
// refuse longer text too, whoever read it.
inline constexpr std::size_t kMaxFileSize = 1 << 20;

// Account names: ^[a-z_][a-z0-9_-]{0,31}$ (vendorctl(8)). Anything else can
// never name a registry file, so it can never be a path component.
bool valid_account_name(std::string_view name) noexcept;

std::string_view trim(std::string_view s) noexcept;
std::vector<std::string> split(std::string_view s, char sep);  // empty fields dropped, trimmed

// Escape a user-controlled string for a log line or a terminal: printable
// ASCII except backslash and double quote is kept, everything else is \xHH.
std::string escape(std::string_view s, std::size_t max_len = 256);

// RFC 3339 UTC with milliseconds from a realtime timestamp in ms.
std::string format_rfc3339_ms(std::int64_t epoch_ms);
// RFC 3339 UTC seconds (for grants), and its parser ("2026-11-28T07:39:07Z",
// also accepts a numeric offset "+01:00").
std::string format_rfc3339(std::int64_t epoch_s);
Result<std::int64_t> parse_rfc3339(std::string_view s);

// Current realtime, in seconds and milliseconds.
std::int64_t now_s() noexcept;
std::int64_t now_ms() noexcept;

// Days since 1970-01-01 for a civil date and back (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept;
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept;

// Parse a non-negative decimal integer with no sign, no leading '+', bounded.
bool parse_uint(std::string_view s, std::uint64_t max, std::uint64_t& out) noexcept;

std::string to_hex(const unsigned char* p, std::size_t n);

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF. JSON text is UTF-8 (RFC 8259): a free-text field that is
// not would make the audit line that carries it invalid JSON.
bool valid_utf8(std::string_view s) noexcept;
// s with every byte that is not part of a well-formed UTF-8 sequence
// replaced by the text "\xHH": what the JSON writer emits, so that no
// document we write is ever invalid UTF-8, whatever slipped past input checks.
std::string utf8_sanitize(std::string_view s);

}  // namespace vendor::core
