// Durations as written in the config file and on the vendorctl command line:
// "90s", "10m", "2h", "1d", "1h30m". Units in decreasing order, each at most
// once, no sign, no spaces; capped at 366 days.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "result.h"

namespace vendor::core {

inline constexpr std::int64_t kMaxDuration = 366LL * 86400;

Result<std::int64_t> parse_duration(std::string_view s);
// Shortest form that parse_duration reads back: 5400 -> "1h30m", 0 -> "0s".
std::string format_duration(std::int64_t seconds);

}  // namespace vendor::core
