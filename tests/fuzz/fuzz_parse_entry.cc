// parse_entry: any document for account "acme"; an accepted entry serializes
// to a document that parses back to the same entry.
#include "registry.h"
#include "util.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::init();
    auto e = parse_entry(fuzz::view(data, size), "acme");
    if (!e) return 0;
    FUZZ_CHECK(e->name == "acme");
    FUZZ_CHECK(!e->hosts.empty());
    FUZZ_CHECK(!(e->access & kAccessHours) || e->hours);
    // Free text that reaches JSON logs is UTF-8 (item 13).
    FUZZ_CHECK(valid_utf8(e->vendor) && valid_utf8(e->comment));
    for (const auto& k : e->keys) FUZZ_CHECK(valid_utf8(k));
    auto out = serialize_entry(*e);
    auto back = parse_entry(out, "acme");
    FUZZ_CHECK(back);
    FUZZ_CHECK(serialize_entry(*back) == out);
    return 0;
}
