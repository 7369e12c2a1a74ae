// OpenSSH signatures (PROTOCOL.sshsig) over exact bytes: what `ssh-keygen -Y
// sign -n NAMESPACE` writes, checked with libsodium alone. The fleet's signed
// records (issue 10, pam_vendor-registry(5) SIGNED RECORDS) are built on it.
//
// libsodium in the logic layer: it is a pure computation library (hashes,
// Ed25519, base64), no I/O, no state beyond sodium_init(), which the
// entry points already call once.
//
// The blob is hostile input (it comes from etcd or an inbox directory):
// every length field is checked against what remains and against a hard cap
// before use; nothing is trusted until verify_sshsig() says so.
//
// Policy, stricter than OpenSSH:
//   - version 1 only; hash "sha512" only (ssh-keygen's default; "sha256" is
//     refused so that one record has one possible signed form);
//   - keys ssh-ed25519 and sk-ssh-ed25519@openssh.com (FIDO) only; RSA, ECDSA
//     and certificates are refused by name;
//   - the namespace must equal the expected one exactly;
//   - FIDO signatures must carry the user-presence flag (and the
//     user-verification flag when the caller requires it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "result.h"

namespace vendor::core {

inline constexpr std::size_t kMaxSshsigBlob = 4096;     // a real ed25519 one is ~ 300 bytes
inline constexpr std::size_t kMaxSshsigArmored = 8192;  // the armored text

inline constexpr std::string_view kKeyEd25519 = "ssh-ed25519";
inline constexpr std::string_view kKeySkEd25519 = "sk-ssh-ed25519@openssh.com";

struct SshSig {
    std::string key_type;     // kKeyEd25519 or kKeySkEd25519
    std::string key_blob;     // the public key in SSH wire format
    std::string key_b64;      // key_blob in base64, as in allowed_signers
    std::string fingerprint;  // "SHA256:..." as ssh-keygen -l prints it
    std::string ed25519_pk;   // the 32 key bytes
    std::string application;  // sk keys: the FIDO application ("ssh:")
    std::string ns;
    std::string reserved;
    std::string hash_alg;
    std::string sig;  // the 64 Ed25519 signature bytes
    // sk keys: what the authenticator reported.
    std::uint8_t sk_flags = 0;
    std::uint32_t sk_counter = 0;
    std::string blob;  // the whole binary SSHSIG blob (what the envelope stores, base64)
};

// Text with "-----BEGIN SSH SIGNATURE-----" armor (as ssh-keygen writes it),
// or the raw binary blob (starting with "SSHSIG"). Code::invalid or
// Code::too_large with a precise detail otherwise.
Result<SshSig> parse_sshsig(std::string_view text);

struct SshsigCheck {
    std::string_view ns;      // the namespace expected, e.g. "grant@pam-vendor"
    bool require_uv = false;  // FIDO: also require user verification (PIN)
};

// Checks namespace and policy, then the signature over `message` (the exact
// bytes signed). Code::refused with a precise detail when it does not hold.
Status verify_sshsig(const SshSig& s, std::string_view message, const SshsigCheck& check);

// "SHA256:..." of an SSH wire-format public key blob.
std::string ssh_fingerprint(std::string_view key_blob);

// Strict standard base64 (with padding) and back; false on any bad byte.
bool base64_decode(std::string_view in, std::string& out, std::size_t max_out);
std::string base64_encode(std::string_view in);

}  // namespace vendor::core
