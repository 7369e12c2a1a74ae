// Shared bits of the libFuzzer targets (tests/fuzz/fuzz_*.cc). Each target
// also links with replay_main.cc for `make check` (corpus replay under the
// gcc sanitizers) instead of libFuzzer's own main.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// An invariant of the parser under test; a violation is a crash the fuzzer
// records like any sanitizer report.
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__,           \
                         __LINE__);                                                                \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

namespace fuzz {

inline std::string_view view(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// libsodium before any use (base64, SHA-256, randomness).
inline void init() {
    static const bool done = sodium_init() >= 0;
    FUZZ_CHECK(done);
}

}  // namespace fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
