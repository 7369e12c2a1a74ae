// parse_entry: any document for account "acme"; an accepted entry serializes
// to a document that parses back to the same entry.
#include "registry.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::init();
    auto e = parse_entry(fuzz::view(data, size), "acme");
    if (!e) return 0;
    FUZZ_CHECK(e->name == "acme");
    FUZZ_CHECK(!e->hosts.empty());
    FUZZ_CHECK(!(e->access & kAccessHours) || e->hours);
    auto out = serialize_entry(*e);
    auto back = parse_entry(out, "acme");
    FUZZ_CHECK(back);
    FUZZ_CHECK(serialize_entry(*back) == out);
    return 0;
}
