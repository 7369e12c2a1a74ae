// SSHSIG (OpenSSH PROTOCOL.sshsig) parser and Ed25519 verifier; see sshsig.h
// for the policy and pam_vendor-registry(5) SIGNED RECORDS for the promise.
#include "sshsig.h"

#include <sodium.h>

#include <cstring>

#include "util.h"

namespace vendor::core {

namespace {

constexpr std::string_view kMagic = "SSHSIG";
constexpr std::string_view kBegin = "-----BEGIN SSH SIGNATURE-----";
constexpr std::string_view kEnd = "-----END SSH SIGNATURE-----";
constexpr std::uint8_t kSkUserPresent = 0x01;
constexpr std::uint8_t kSkUserVerified = 0x04;

Error bad(const std::string& why) { return make_error(Code::invalid, "SSH signature: " + why); }
Error refused(const std::string& why) { return make_error(Code::refused, "SSH signature: " + why); }

// A bounded reader over SSH wire format: a lying length never reads past the
// end, and a failed read leaves the reader failed for good.
class Wire {
  public:
    explicit Wire(std::string_view b) : p_(b.data()), end_(b.data() + b.size()) {}
    bool u32(std::uint32_t& v) {
        if (!ok_ || end_ - p_ < 4) return ok_ = false;
        auto u = [&](int i) {
            return static_cast<std::uint32_t>(static_cast<unsigned char>(p_[i]));
        };
        v = u(0) << 24 | u(1) << 16 | u(2) << 8 | u(3);
        p_ += 4;
        return true;
    }
    bool u8(std::uint8_t& v) {
        if (!ok_ || end_ == p_) return ok_ = false;
        v = static_cast<std::uint8_t>(*p_++);
        return true;
    }
    bool str(std::string_view& out) {
        std::uint32_t n = 0;
        if (!u32(n)) return false;
        if (static_cast<std::size_t>(end_ - p_) < n) return ok_ = false;
        out = std::string_view(p_, n);
        p_ += n;
        return true;
    }
    bool raw(std::size_t n, std::string_view& out) {
        if (!ok_ || static_cast<std::size_t>(end_ - p_) < n) return ok_ = false;
        out = std::string_view(p_, n);
        p_ += n;
        return true;
    }
    bool done() const { return ok_ && p_ == end_; }

  private:
    const char* p_;
    const char* end_;
    bool ok_ = true;
};

void put_string(std::string& out, std::string_view s) {
    auto n = static_cast<std::uint32_t>(s.size());
    out.push_back(static_cast<char>(n >> 24));
    out.push_back(static_cast<char>(n >> 16 & 0xff));
    out.push_back(static_cast<char>(n >> 8 & 0xff));
    out.push_back(static_cast<char>(n & 0xff));
    out.append(s);
}

const unsigned char* u8p(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

bool refused_key_type(std::string_view t) {
    return t == "ssh-rsa" || t == "rsa-sha2-256" || t == "rsa-sha2-512" || t == "ssh-dss" ||
           t.rfind("ecdsa-sha2-", 0) == 0 || t.rfind("sk-ecdsa-sha2-", 0) == 0 ||
           t.find("-cert-v01@openssh.com") != std::string_view::npos;
}

Status parse_key(std::string_view blob, SshSig& s) {
    Wire w(blob);
    std::string_view type, pk, app;
    if (!w.str(type)) return bad("public key truncated");
    if (type != kKeyEd25519 && type != kKeySkEd25519) {
        if (refused_key_type(type))
            return refused("key type '" + escape(type, 64) +
                           "' is not accepted (ssh-ed25519 or sk-ssh-ed25519@openssh.com only)");
        return bad("unknown key type '" + escape(type, 64) + "'");
    }
    if (!w.str(pk) || pk.size() != crypto_sign_PUBLICKEYBYTES)
        return bad("malformed ed25519 public key");
    if (type == kKeySkEd25519) {
        if (!w.str(app) || app.empty() || app.size() > 256)
            return bad("malformed FIDO application in the public key");
    }
    if (!w.done()) return bad("trailing bytes after the public key");
    s.key_type = type;
    s.ed25519_pk = pk;
    s.application = app;
    return {};
}

Status parse_signature(std::string_view blob, SshSig& s) {
    Wire w(blob);
    std::string_view type, sig;
    if (!w.str(type)) return bad("signature truncated");
    if (type != s.key_type) {
        if (refused_key_type(type))
            return refused("signature type '" + escape(type, 64) + "' is not accepted");
        return bad("signature type '" + escape(type, 64) + "' does not match the key");
    }
    if (!w.str(sig) || sig.size() != crypto_sign_BYTES) return bad("malformed ed25519 signature");
    if (type == kKeySkEd25519 && (!w.u8(s.sk_flags) || !w.u32(s.sk_counter)))
        return bad("FIDO signature lacks its flags and counter");
    if (!w.done()) return bad("trailing bytes after the signature");
    s.sig = sig;
    return {};
}

// The base64 text between the armor lines.
Result<std::string> dearmor(std::string_view text) {
    // Lines of base64 between the two armor lines; CR LF tolerated (a file
    // copied through a Windows host), nothing else around them.
    std::string b64;
    std::size_t at = kBegin.size();
    if (text.substr(at, 1) == "\r") ++at;
    if (text.substr(at, 1) != "\n") return bad("text after the BEGIN line");
    ++at;
    bool ended = false;
    while (at < text.size()) {
        auto nl = text.find('\n', at);
        std::string_view line =
            text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
        at = nl == std::string_view::npos ? text.size() : nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (ended) {
            if (!line.empty()) return bad("text after the END line");
            continue;
        }
        if (line == kEnd) {
            ended = true;
            continue;
        }
        b64.append(line);
    }
    if (!ended) return bad("no END SSH SIGNATURE line");
    return b64;
}

}  // namespace

bool base64_decode(std::string_view in, std::string& out, std::size_t max_out) {
    if (in.size() / 4 * 3 > max_out + 2) return false;
    out.assign(in.size() / 4 * 3 + 3, '\0');
    std::size_t n = 0;
    // No end pointer: libsodium then refuses anything but the whole input.
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                          in.size(), nullptr, &n, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n > max_out)
        return false;
    out.resize(n);
    return true;
}

std::string base64_encode(std::string_view in) {
    std::string out(sodium_base64_ENCODED_LEN(in.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), u8p(in), in.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

std::string ssh_fingerprint(std::string_view key_blob) {
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, u8p(key_blob), key_blob.size());
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, d, sizeof d, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    return std::string("SHA256:") + b64;
}

Result<SshSig> parse_sshsig(std::string_view text) {
    std::string blob;
    if (text.size() >= kMagic.size() && text.substr(0, kMagic.size()) == kMagic) {
        if (text.size() > kMaxSshsigBlob)
            return make_error(Code::too_large, "SSH signature: blob too large");
        blob = text;
    } else if (text.substr(0, kBegin.size()) == kBegin) {
        if (text.size() > kMaxSshsigArmored)
            return make_error(Code::too_large, "SSH signature: armored text too large");
        auto b64 = dearmor(text);
        if (!b64) return std::move(b64).error();
        if (!base64_decode(*b64, blob, kMaxSshsigBlob)) return bad("armored text is not base64");
    } else {
        return bad("neither an armored nor a raw SSHSIG blob");
    }
    SshSig s;
    Wire w(blob);
    std::string_view magic, key, ns, reserved, hash, sig;
    std::uint32_t version = 0;
    if (!w.raw(kMagic.size(), magic) || magic != kMagic) return bad("no SSHSIG magic");
    if (!w.u32(version)) return bad("truncated before the version");
    if (version != 1) return bad("version " + std::to_string(version) + " (only 1 is known)");
    if (!w.str(key) || !w.str(ns) || !w.str(reserved) || !w.str(hash) || !w.str(sig))
        return bad("truncated or a length field beyond the blob");
    if (!w.done()) return bad("trailing bytes after the signature");
    if (auto st = parse_key(key, s); !st) return st.error();
    if (auto st = parse_signature(sig, s); !st) return st.error();
    if (ns.empty() || ns.size() > 128) return bad("empty or oversized namespace");
    if (hash.size() > 32) return bad("oversized hash algorithm name");
    s.key_blob = key;
    s.key_b64 = base64_encode(key);
    s.fingerprint = ssh_fingerprint(key);
    s.ns = ns;
    s.reserved = reserved;
    s.hash_alg = hash;
    s.blob = std::move(blob);
    return s;
}

Status verify_sshsig(const SshSig& s, std::string_view message, const SshsigCheck& check) {
    if (s.ns != check.ns)
        return refused("namespace '" + escape(s.ns, 128) + "', expected '" + std::string(check.ns) +
                       "'");
    if (s.hash_alg != "sha512")
        return refused("hash algorithm '" + escape(s.hash_alg, 32) + "' (only sha512 is accepted)");
    if (!s.reserved.empty()) return refused("non-empty reserved field");
    if (s.sig.size() != crypto_sign_BYTES || s.ed25519_pk.size() != crypto_sign_PUBLICKEYBYTES)
        return refused("not a parsed ed25519 signature");
    unsigned char h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(h, u8p(message), message.size());
    std::string signed_data(kMagic);
    put_string(signed_data, s.ns);
    put_string(signed_data, s.reserved);
    put_string(signed_data, s.hash_alg);
    put_string(signed_data, std::string_view(reinterpret_cast<const char*>(h), sizeof h));
    if (s.key_type == kKeySkEd25519) {
        // What a FIDO authenticator signs (OpenSSH PROTOCOL.u2f):
        // SHA-256(application) || flags || counter || SHA-256(data).
        if (!(s.sk_flags & kSkUserPresent)) return refused("FIDO signature without user presence");
        if (check.require_uv && !(s.sk_flags & kSkUserVerified))
            return refused("FIDO signature without user verification");
        unsigned char a[crypto_hash_sha256_BYTES], d[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(a, u8p(s.application), s.application.size());
        crypto_hash_sha256(d, u8p(signed_data), signed_data.size());
        std::string sk(reinterpret_cast<const char*>(a), sizeof a);
        sk.push_back(static_cast<char>(s.sk_flags));
        sk.push_back(static_cast<char>(s.sk_counter >> 24));
        sk.push_back(static_cast<char>(s.sk_counter >> 16 & 0xff));
        sk.push_back(static_cast<char>(s.sk_counter >> 8 & 0xff));
        sk.push_back(static_cast<char>(s.sk_counter & 0xff));
        sk.append(reinterpret_cast<const char*>(d), sizeof d);
        signed_data = std::move(sk);
    } else if (s.key_type != kKeyEd25519) {
        return refused("key type not accepted");
    }
    if (crypto_sign_verify_detached(u8p(s.sig), u8p(signed_data), signed_data.size(),
                                    u8p(s.ed25519_pk)) != 0)
        return refused("signature does not verify (message or signature altered, or another key)");
    return {};
}

}  // namespace vendor::core
