// parse_public_key: any line; accepted keys obey the algorithm policy and
// their fingerprint does not depend on the comment.
#include "registry.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::init();
    auto k = parse_public_key(fuzz::view(data, size));
    if (!k) return 0;
    FUZZ_CHECK(k->fingerprint.rfind("SHA256:", 0) == 0 && k->fingerprint.size() == 7 + 43);
    if (k->type == "ssh-rsa") FUZZ_CHECK(k->bits >= 3072);
    if (k->type == "ssh-ed25519") FUZZ_CHECK(k->bits == 256);
    for (unsigned char c : k->comment) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
    auto again = parse_public_key(k->type + " " + k->blob_b64);
    FUZZ_CHECK(again && again->fingerprint == k->fingerprint && again->bits == k->bits);
    return 0;
}
