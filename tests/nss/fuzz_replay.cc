// Replays a corpus through LLVMFuzzerTestOneInput without libFuzzer, one TAP
// line per input (make nss, under ASan/UBSan). A crash ends the program and
// run_tap.sh records it as a failure. Arguments: files or directories.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool read_whole(const std::string& path, std::vector<std::uint8_t>& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    std::uint8_t buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
    ::close(fd);
    return n == 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        struct stat st {};
        if (::stat(argv[i], &st) != 0) continue;
        if (!S_ISDIR(st.st_mode)) {
            files.emplace_back(argv[i]);
            continue;
        }
        if (DIR* d = ::opendir(argv[i])) {
            while (dirent* e = ::readdir(d))
                if (e->d_name[0] != '.') files.push_back(std::string(argv[i]) + "/" + e->d_name);
            ::closedir(d);
        }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::printf("1..1\nnot ok 1 - no corpus input\n");
        return 1;
    }
    std::printf("1..%zu\n", files.size());
    int failed = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
        std::vector<std::uint8_t> data;
        if (!read_whole(files[i], data)) {
            std::printf("not ok %zu - %s (unreadable)\n", i + 1, files[i].c_str());
            ++failed;
            continue;
        }
        // An exact-size heap copy: ASan sees a read one byte past the input.
        std::uint8_t* exact =
            static_cast<std::uint8_t*>(std::malloc(data.size() ? data.size() : 1));
        std::copy(data.begin(), data.end(), exact);
        std::fflush(stdout);
        LLVMFuzzerTestOneInput(exact, data.size());
        std::free(exact);
        std::printf("ok %zu - %s\n", i + 1, files[i].c_str());
    }
    return failed ? 1 : 0;
}
