// parse_sshsig and open_grant_record (the fleet's signed records, issue 10):
// hostile blobs and envelopes. First byte 's': the rest is an SSHSIG blob
// (armored or raw); 'e': the rest is an envelope, checked against an
// allowed_signers that trusts one fixed key (the seeds are signed with it).
// Invariants: nothing is accepted that does not verify, and what is
// accepted agrees with its signer.
#include "allowed_signers.h"
#include "signed_record.h"
#include "sshsig.h"

#include "fuzz.h"

using namespace vendor::core;

namespace {

// The seed key's public half (its private half is not kept anywhere).
constexpr const char* kAllowed =
    "alice namespaces=\"grant@pam-vendor\" ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIPi8sjh4MxQBDaNaK8OPApz5EDqP1c+jht4vfWVASJPT fuzz-alice\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::init();
    if (size < 1) return 0;
    auto in = fuzz::view(data + 1, size - 1);
    if (data[0] == 's') {
        auto s = parse_sshsig(in);
        if (!s) return 0;
        FUZZ_CHECK(s->blob.size() <= kMaxSshsigBlob);
        FUZZ_CHECK(s->key_type == kKeyEd25519 || s->key_type == kKeySkEd25519);
        FUZZ_CHECK(s->ed25519_pk.size() == 32 && s->sig.size() == 64);
        FUZZ_CHECK(s->fingerprint.rfind("SHA256:", 0) == 0 && s->fingerprint.size() == 7 + 43);
        auto again = parse_sshsig(s->blob);
        FUZZ_CHECK(again && again->fingerprint == s->fingerprint && again->ns == s->ns);
        (void)verify_sshsig(*s, in, {s->ns});
    } else if (data[0] == 'e') {
        static const AllowedSigners* signers = [] {
            auto a = parse_allowed_signers(kAllowed);
            FUZZ_CHECK(a && a->signers.size() == 1);
            return new AllowedSigners(std::move(*a));  // NOLINT: one per process
        }();
        auto g = open_grant_record(in, {signers, "chu-nord", "", 1796147000});
        if (!g) return 0;
        FUZZ_CHECK(g->fleet == "chu-nord" && g->grant.operator_name == "alice");
        FUZZ_CHECK(g->type == "grant" || g->type == "revoke");
        FUZZ_CHECK(g->grant.signer == signers->signers[0].fingerprint);
        std::string blob;
        FUZZ_CHECK(base64_decode(g->grant.signature, blob, kMaxSshsigBlob));
        auto s = parse_sshsig(blob);
        FUZZ_CHECK(s && verify_sshsig(*s, g->payload, {kNsGrant}).ok());
    }
    return 0;
}
