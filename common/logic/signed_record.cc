// Signed record envelope: decode, verify, and only then parse (see
// signed_record.h and FLEET.md §2.2 for the order).
#include "signed_record.h"

#include "json.h"
#include "registry.h"
#include "sshsig.h"
#include "util.h"

namespace vendor::core {

namespace {

Error bad(const std::string& why) { return make_error(Code::invalid, "signed record: " + why); }
Error refused(const std::string& why) {
    return make_error(Code::refused, "signed record refused: " + why);
}

}  // namespace

Result<std::string> make_envelope(std::string_view payload, std::string_view sshsig) {
    auto s = parse_sshsig(sshsig);
    if (!s) return std::move(s).error();
    Json o = Json::object();
    o.set("v", std::int64_t{1});
    o.set("payload", base64_encode(payload));
    o.set("sshsig", base64_encode(s->blob));
    return o.dump();
}

Result<SignedGrant> open_grant_record(std::string_view envelope, const EnvelopeCheck& check) {
    if (!check.signers || check.fleet.empty())
        return make_error(Code::internal, "signed record: no allowed_signers or no fleet id");
    if (envelope.size() > kMaxEnvelope)
        return make_error(Code::too_large, "signed record too large");
    // 1. The envelope.
    std::string payload, blob;
    {
        auto doc = Json::parse(envelope, "signed record");
        if (!doc) return std::move(doc).error();
        JsonReader r(doc->get(), "signed record");
        if (auto st = r.check_keys({"v", "payload", "sshsig"}); !st) return st.error();
        std::int64_t v = 0;
        std::string p64, s64;
        if (auto st = r.int64("v", v, true); !st) return st.error();
        if (v != 1) return bad("envelope version " + std::to_string(v) + " (only 1 is known)");
        if (auto st = r.str("payload", p64, true, kMaxPayload / 3 * 4 + 4); !st) return st.error();
        if (auto st = r.str("sshsig", s64, true, kMaxSshsigBlob / 3 * 4 + 4); !st)
            return st.error();
        if (!base64_decode(p64, payload, kMaxPayload)) return bad("payload is not base64");
        if (!base64_decode(s64, blob, kMaxSshsigBlob)) return bad("sshsig is not base64");
    }
    // 2. The signature's form, its namespace and the key's trust for it.
    auto sig = parse_sshsig(blob);
    if (!sig) return std::move(sig).error();
    if (sig->ns != kNsGrant)
        return refused("namespace '" + escape(sig->ns, 128) + "', expected '" +
                       std::string(kNsGrant) + "'");
    auto principal = who_signed(*check.signers, sig->key_blob, kNsGrant, check.now);
    if (!principal) return refused(principal.error().detail);
    // 3. The signature over the exact bytes.
    if (auto st = verify_sshsig(*sig, payload, {kNsGrant, check.require_uv}); !st)
        return refused(st.error().detail);
    // 4. Only now the payload.
    auto doc = Json::parse(payload, "signed grant payload");
    if (!doc) return std::move(doc).error();
    JsonReader r(doc->get(), "signed grant payload");
    if (auto st =
            r.check_keys({"v", "type", "fleet", "account", "seq", "issued_at", "not_before",
                          "not_after", "hosts", "operator", "ticket", "reason", "revoked_at"});
        !st)
        return st.error();
    SignedGrant g;
    std::int64_t v = 0;
    if (auto st = r.int64("v", v, true); !st) return st.error();
    if (v != 1) return bad("payload version " + std::to_string(v) + " (only 1 is known)");
    Status st;
    if (!(st = r.str("type", g.type, true, 16)) || !(st = r.str("fleet", g.fleet, true, 64)) ||
        !(st = r.str("account", g.grant.account, true, 64)) ||
        !(st = r.int64("seq", g.grant.seq, true)) ||
        !(st = r.int64("issued_at", g.issued_at, false)) ||
        !(st = r.int64("not_before", g.grant.not_before, true)) ||
        !(st = r.int64("not_after", g.grant.not_after, true)) ||
        !(st = r.str_list("hosts", g.hosts, true, 256, 255)) ||
        !(st = r.str("operator", g.grant.operator_name, true, 128)) ||
        !(st = r.str("ticket", g.grant.ticket, false, 256)) ||
        !(st = r.str("reason", g.grant.reason, false, 1024)) ||
        !(st = r.int64("revoked_at", g.revoked_at, false)))
        return st.error();
    // 5. The payload must agree with what signed it and with where it is.
    if (g.type != "grant" && g.type != "revoke")
        return refused("type '" + escape(g.type, 16) + "' under namespace " +
                       std::string(kNsGrant) + " (grant or revoke expected)");
    if (g.fleet != check.fleet)
        return refused("record of fleet '" + escape(g.fleet, 64) + "', this server is in '" +
                       escape(check.fleet, 64) + "'");
    if (g.grant.operator_name != *principal)
        return refused("operator '" + escape(g.grant.operator_name, 128) +
                       "' but the key belongs to '" + *principal + "'");
    if (!valid_account_name(g.grant.account))
        return bad("account '" + escape(g.grant.account, 64) + "' is not a valid name");
    if (!check.account.empty() && g.grant.account != check.account)
        return refused("record for account '" + g.grant.account + "' filed under '" +
                       escape(check.account, 64) + "'");
    if (g.grant.seq <= 0) return bad("seq must be positive");
    if (g.type == "grant" && g.grant.not_after <= g.grant.not_before)
        return bad("not_after is not after not_before");
    if (g.type == "revoke" && g.revoked_at <= 0) return bad("a revoke record needs revoked_at");
    if (g.hosts.empty()) return bad("'hosts' is empty (\"*\" names every host)");
    for (const auto& h : g.hosts)
        if (!valid_host_pattern(h)) return bad("host pattern '" + escape(h, 64) + "' is not valid");
    g.grant.signer = sig->fingerprint;
    g.grant.signature = base64_encode(sig->blob);
    g.payload = std::move(payload);
    return g;
}

}  // namespace vendor::core
