// parse_uid_index (registry_dir/.uids): what parses writes back identically,
// and every name it yields is a valid account name.
#include "facts.h"
#include "util.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto s = fuzz::view(data, size);
    auto idx = parse_uid_index(s);
    if (idx) {
        for (const auto& [uid, name] : *idx) {
            FUZZ_CHECK(valid_account_name(name));
            FUZZ_CHECK(uid <= 4294967294U);
        }
        auto back = parse_uid_index(uid_index_text(*idx));
        FUZZ_CHECK(back && *back == *idx);
    }
    return 0;
}
