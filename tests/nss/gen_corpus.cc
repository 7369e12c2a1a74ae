// Writes the seed corpus of the index fuzz target (tests/nss/corpus): valid
// indexes from build_nss_index, the writer vendorctl uses, and mutations of
// them (some with the checksum made right again, to reach the structural
// checks). Deterministic; `make nss-corpus` regenerates the directory.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "nss_index.h"
#include "nss_writer.h"

using namespace vendor::core;
using vendor::nssidx::Header;

namespace {

std::string g_dir;

void put(const std::string& name, const std::string& bytes) {
    std::string path = g_dir + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
        std::perror(path.c_str());
        std::exit(1);
    }
    ::close(fd);
}

NssUser user(const std::string& name, std::uint32_t uid, std::uint32_t gid,
             const std::string& gecos, std::vector<std::uint32_t> sup = {}) {
    NssUser u;
    u.name = name;
    u.uid = uid;
    u.gid = gid;
    u.gecos = gecos;
    u.dir = "/home/vendors/" + name;
    u.shell = "/bin/bash";
    u.sup = std::move(sup);
    return u;
}

std::string build(std::vector<NssUser> users, std::vector<NssGroup> groups,
                  std::uint32_t lo = 2000300000, std::uint32_t hi = 2000499999) {
    auto r = build_nss_index(std::move(users), std::move(groups), lo, hi);
    if (!r) {
        std::fprintf(stderr, "build_nss_index: %s\n", r.error().detail.c_str());
        std::exit(1);
    }
    return *r;
}

Header header(const std::string& b) {
    Header h;
    std::memcpy(&h, b.data(), sizeof h);
    return h;
}
std::string with_header(std::string b, const Header& h) {
    std::memcpy(b.data(), &h, sizeof h);
    return b;
}
std::string fixed(std::string b) {
    Header h = header(b);
    h.checksum = vendor::nssidx::fnv1a(reinterpret_cast<const unsigned char*>(b.data()) + sizeof h,
                                       b.size() - sizeof h);
    return with_header(std::move(b), h);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    g_dir = argv[1];
    constexpr std::uint32_t G = 2000300000;
    const std::string base = build(
        {user("alice", G + 1, G, "Acme, database", {100, 29}), user("bob", G + 2, G, "Acme"),
         user("carol", G + 3, G, "", {100})},
        {{"vendors", G, {"alice", "bob"}}, {"vdev", G + 10, {}}, {"vops", G + 11, {"carol"}}});
    put("valid-base", base);
    put("valid-empty", build({}, {}));
    put("valid-floor", build({user("floor", 1000, 1000, "at the floor")},
                             {{"floorg", 1000, {"floor"}}}, 1000, 1999));
    std::vector<std::uint32_t> sup64;
    for (std::uint32_t i = 0; i < 64; ++i) sup64.push_back(100 + i);
    put("valid-sup64", build({user("many_groups", G + 5, G, "x", sup64)}, {}));
    put("valid-long",
        build({user("d_very-long-name-of-32-chars_xyz", G + 7, G, std::string(1024, 'g'))},
              {{std::string(32, 'g'), G + 9, {"d_very-long-name-of-32-chars_xyz"}}}));
    std::vector<NssUser> many;
    std::vector<std::string> members;
    for (std::uint32_t i = 0; i < 300; ++i) {
        std::string n = "v" + std::to_string((i * 7919u) % 300);
        many.push_back(
            user(n, G + 100 + i, G, "Vendor " + std::to_string(i), {i % 5 ? 100u : 29u}));
        if (i % 3 == 0) members.push_back(n);
    }
    put("valid-300", build(many, {{"vendors", G, members}, {"third", G + 1, {"v1", "v2"}}}));

    put("bad-empty", "");
    put("bad-short", base.substr(0, 40));
    put("bad-header-only", base.substr(0, sizeof(Header)));
    put("bad-truncated-half", base.substr(0, base.size() / 2));
    put("bad-truncated-1", base.substr(0, base.size() - 1));
    put("bad-trailing", base + "XXXX");
    std::string m = base;
    m[0] = 'X';
    put("bad-magic", m);
    m = base;
    m[m.size() - 3] ^= 0x20;
    put("bad-checksum", m);
    Header h = header(base);
    h.id_min = 999;
    put("bad-id-floor", with_header(base, h));
    h = header(base);
    h.version = 2;
    put("bad-version", with_header(base, h));
    h = header(base);
    h.n_users = 0xFFFFFFFF;
    put("bad-n-users", with_header(base, h));
    h = header(base);
    h.strings_off = 0xFFFFFFF0;
    put("bad-strings-off", with_header(base, h));
    // Body mutations with the checksum fixed: the structural checks decide.
    h = header(base);
    for (std::size_t off :
         {static_cast<std::size_t>(h.users_off), static_cast<std::size_t>(h.users_off) + 4,
          static_cast<std::size_t>(h.users_by_name_off), static_cast<std::size_t>(h.groups_off) + 8,
          static_cast<std::size_t>(h.pool_off), static_cast<std::size_t>(h.strings_off) + 1,
          base.size() - 1}) {
        m = base;
        m[off] = static_cast<char>(m[off] ^ 0x41);
        put("fixed-flip-" + std::to_string(off), fixed(m));
    }
    m = base;
    std::memset(m.data() + sizeof(Header), 0, m.size() - sizeof(Header));
    put("fixed-zero-body", fixed(m));
    // The name hash sections: names that share one home slot (the last of
    // 16, so the chain wraps), and damage to the section with the checksum
    // fixed (slot count, probe bound, a slot's index and tag).
    std::vector<NssUser> chain;
    std::vector<NssGroup> gchain;
    for (std::uint32_t k = 0; chain.size() < 8; ++k) {
        std::string n = "c" + std::to_string(k);
        if ((vendor::nssidx::name_hash(n.c_str()) & 15u) != 15u) continue;
        chain.push_back(user(n, G + 1 + static_cast<std::uint32_t>(chain.size()), G, "c"));
        gchain.push_back({n, G + 1 + static_cast<std::uint32_t>(gchain.size()), {n}});
    }
    const std::string coll = build(chain, gchain);
    put("valid-collisions", coll);
    h = header(coll);
    put("valid-no-hash", [&] {
        Header x = h;
        x.users_hash_off = x.groups_hash_off = 0;
        return with_header(coll, x);
    }());
    for (std::size_t off : {static_cast<std::size_t>(h.users_hash_off),
                            static_cast<std::size_t>(h.users_hash_off) + 4,
                            static_cast<std::size_t>(h.users_hash_off) + 8 + 4,
                            static_cast<std::size_t>(h.users_hash_off) + 8 + 15 * 8,
                            static_cast<std::size_t>(h.groups_hash_off) + 4,
                            static_cast<std::size_t>(h.groups_hash_off) + 8 + 2 * 8 + 4}) {
        m = coll;
        m[off] = static_cast<char>(m[off] ^ 0x01);
        put("fixed-hash-flip-" + std::to_string(off), fixed(m));
    }
    Header x = h;
    x.users_hash_off = x.users_off;
    put("bad-hash-off", with_header(coll, x));
    return 0;
}
