// libFuzzer target for the NSS index reader (common/state/nss_index.h), the code
// that every process on the system runs over a file it maps: View::open on
// the bytes and, when they are a valid index, every lookup and every string
// the module would copy out. Invariants of an accepted index abort here:
// no id below the floor, every entry found again by its name and its id,
// the name hash sections agreeing with the binary search.
//   make fuzz-nss            60 s of clang -fsanitize=fuzzer,address,undefined
//   make nss                 replays tests/nss/corpus (fuzz_replay.cc)
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "nss_index.h"

using vendor::nssidx::GroupRec;
using vendor::nssidx::Header;
using vendor::nssidx::UserRec;
using vendor::nssidx::View;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

// Touch every byte of a string as the module's copy would.
std::size_t touch(const char* s) { return std::strlen(s); }

void exercise(const unsigned char* data, std::size_t size) {
    View v;
    if (v.open(data, size) != nullptr) return;
    const Header& h = v.header();
    check(h.id_min >= vendor::nssidx::kIdFloor && h.id_min <= h.id_max);
    std::size_t total = 0;
    for (std::uint32_t i = 0; i < v.n_users(); ++i) {
        UserRec u = v.user(i);
        check(u.uid >= vendor::nssidx::kIdFloor && u.gid >= vendor::nssidx::kIdFloor);
        check(u.uid >= h.id_min && u.uid <= h.id_max);
        total += touch(v.str(u.name)) + touch(v.str(u.gecos)) + touch(v.str(u.dir)) +
                 touch(v.str(u.shell));
        for (std::uint32_t k = 0; k < u.sup_count; ++k) total += v.pool(u.sup_off + k);
        check(v.find_user_by_name(v.str(u.name)) == static_cast<long>(i));
        check(v.find_user_by_uid(u.uid) == static_cast<long>(i));
    }
    for (std::uint32_t i = 0; i < v.n_groups(); ++i) {
        GroupRec g = v.group(i);
        check(g.gid >= h.id_min && g.gid <= h.id_max);
        total += touch(v.str(g.name));
        for (std::uint32_t k = 0; k < g.mem_count; ++k)
            total += touch(v.str(v.pool(g.mem_off + k)));
        check(v.find_group_by_name(v.str(g.name)) == static_cast<long>(i));
        check(v.find_group_by_gid(g.gid) == static_cast<long>(i));
    }
    // Lookups of what is not there, and of names taken from the input.
    check(v.find_user_by_uid(0) < 0 && v.find_group_by_gid(0) < 0);
    check(v.find_user_by_name("") < 0);
    check(v.find_user_by_name("root") == v.by_name_search("root"));
    check(v.find_group_by_name("sudo") == v.by_group_name_search("sudo"));
    (void)v.find_user_by_uid(h.id_max);
    if (size > sizeof(Header) + 8) {
        char name[33];
        std::memcpy(name, data + size - 8, 8);
        name[8] = '\0';
        // The hash section answers exactly what the binary search answers,
        // for any key (the names are unique: the by-name index is sorted).
        check(v.find_user_by_name(name) == v.by_name_search(name));
        check(v.find_group_by_name(name) == v.by_group_name_search(name));
    }
    if (total == 0xFFFFFFFFFFFFFFFFull) std::abort();  // keep the reads
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    exercise(data, size);
    // The same bytes with a correct checksum, so that mutations reach the
    // structural checks instead of stopping at the checksum.
    if (size >= sizeof(Header) && size <= (1u << 20)) {
        std::vector<unsigned char> copy(data, data + size);
        Header h;
        std::memcpy(&h, copy.data(), sizeof h);
        h.checksum = vendor::nssidx::fnv1a(copy.data() + sizeof h, size - sizeof h);
        std::memcpy(copy.data(), &h, sizeof h);
        exercise(copy.data(), copy.size());
    }
    return 0;
}
