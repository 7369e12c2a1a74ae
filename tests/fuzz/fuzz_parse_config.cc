// parse_config / salvage_identity / dump_config: no crash on any text, and
// the dump of a parsed config reads back to the same dump.
#include "config.h"

#include "fuzz.h"

using namespace vendor::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto s = fuzz::view(data, size);
    (void)salvage_identity(s);
    auto c = parse_config(s, "/fuzz.conf");
    if (!c) return 0;
    auto dump = dump_config(*c);
    for (const auto& k : config_keys()) {
        std::string line = std::string(k.name) + " = ";
        FUZZ_CHECK(dump.rfind(line, 0) == 0 || dump.find("\n" + line) != std::string::npos);
    }
    // Re-read the dump without the placeholder lines ("(gethostname)") and
    // the empty ones: the effective values must come back unchanged.
    std::string text;
    std::size_t at = 0;
    while (at < dump.size()) {
        auto nl = dump.find('\n', at);
        auto line = dump.substr(at, nl - at);
        at = nl + 1;
        auto eq = line.find(" = ");
        auto value = line.substr(eq + 3);
        if (value.empty() || value[0] == '(') continue;
        text += line + "\n";
    }
    auto again = parse_config(text, "/fuzz.conf");
    FUZZ_CHECK(again);
    FUZZ_CHECK(dump_config(*again) == dump);
    return 0;
}
