// Corpus replay for `make check`: runs every file of the given corpus
// directories (or files) through the target's LLVMFuzzerTestOneInput, built
// with the project compiler and sanitizers instead of libFuzzer. A crash,
// sanitizer report or invariant failure ends the process non-zero; a hang is
// cut by an alarm. tests/fuzz/replay.sh turns the exit status into TAP.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz.h"

namespace {

bool read_bytes(const std::string& path, std::vector<std::uint8_t>& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        if (fs::is_directory(argv[i], ec)) {
            for (const auto& e : fs::directory_iterator(argv[i], ec))
                if (e.is_regular_file()) files.push_back(e.path().string());
        } else {
            files.emplace_back(argv[i]);
        }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::fprintf(stderr, "%s: no corpus input\n", argv[0]);
        return 2;
    }
    // The empty input first: every parser must survive it. Like libFuzzer,
    // pass a valid pointer (a zero-length allocation), not nullptr.
    alarm(20);
    auto* empty = new std::uint8_t[1];
    LLVMFuzzerTestOneInput(empty, 0);
    delete[] empty;
    for (const auto& f : files) {
        std::vector<std::uint8_t> bytes;
        if (!read_bytes(f, bytes)) {
            std::fprintf(stderr, "cannot read %s\n", f.c_str());
            return 2;
        }
        // An exact-size heap copy, so that ASan sees any read past the end.
        auto* buf = new std::uint8_t[bytes.size() ? bytes.size() : 1];
        std::copy(bytes.begin(), bytes.end(), buf);
        alarm(20);
        std::fprintf(stderr, "%s\n", f.c_str());  // the last name printed is the culprit
        LLVMFuzzerTestOneInput(buf, bytes.size());
        delete[] buf;
    }
    alarm(0);
    std::printf("%zu inputs\n", files.size() + 1);
    return 0;
}
