// store.h's rules, written once over kv.h: single use of codes, lockout
// arithmetic, TOTP window and replay, code hashing, grants with their fleet
// fields, approvals. Every read-modify-write is get + txn with a revision
// compare, retried a bounded number of times on a conflict, so the same code
// runs over the local directory and, later, over the fleet backend.
#include <liboath/oath.h>
#include <sodium.h>

#include <cstring>
#include <mutex>

#include "json.h"
#include "kv.h"
#include "store.h"
#include "util.h"

namespace vendor::core {

std::string normalize_code(std::string_view input) {
    std::string out;
    if (input.size() > 64) return out;
    for (char c : input) {
        if (c == ' ' || c == '-' || c == '\t') continue;
        if (c < '0' || c > '9') return {};
        out += c;
    }
    if (out.size() < 6 || out.size() > 12) return {};
    return out;
}

std::string group_code(std::string_view d) {
    std::string out;
    std::size_t group = d.size() % 4 == 0 ? 4 : 3;
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (i && i % group == 0) out += ' ';
        out += d[i];
    }
    return out;
}

Status Store::put_approval(const Approval&) {
    return make_error(Code::internal, "approvals not supported by this store");
}
Result<std::optional<Approval>> Store::approval(std::string_view) {
    return make_error(Code::internal, "approvals not supported by this store");
}
Result<std::vector<Approval>> Store::approvals() {
    return make_error(Code::internal, "approvals not supported by this store");
}

namespace {

constexpr int kTotpStep = 30;
// Conflicts retried before giving up (Code::busy, a denial). Each retry means
// another writer of the same account won a txn: with N concurrent logins of
// one account a loser retries at most N - 1 times.
constexpr int kMaxAttempts = 32;

// A std::string wiped on destruction, for codes and secrets.
struct Secret {
    std::string s;
    Secret() = default;
    explicit Secret(std::string v) : s(std::move(v)) {}
    Secret(Secret&& o) noexcept : s(std::move(o.s)) { wipe_string(o.s); }
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    ~Secret() { wipe_string(s); }
};

// Once per process, never torn down (a module must not deinit a library its
// host application may also use). A failure is an error for the caller to
// deny with, never an abort() inside sshd.
Status init_libs() {
    if (sodium_init() < 0) return make_error(Code::internal, "libsodium cannot be initialised");
    static std::once_flag once;
    static int oath_rc = OATH_OK;
    std::call_once(once, [] { oath_rc = oath_init(); });
    if (oath_rc != OATH_OK) return make_error(Code::internal, "liboath cannot be initialised");
    return {};
}

std::string hash_code(std::string_view code, const unsigned char salt[16]) {
    unsigned char out[32];
    crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(code.data()),
                       code.size(), salt, 16);
    return to_hex(out, sizeof out);
}

bool from_hex(std::string_view h, unsigned char* out, std::size_t n) {
    std::size_t len = 0;
    return h.size() == 2 * n &&
           sodium_hex2bin(out, n, h.data(), h.size(), nullptr, &len, nullptr) == 0 && len == n;
}

std::string key(const char* space, std::string_view name) {
    std::string k(space);
    k += '/';
    k += name;
    return k;
}

Error conflict_error(std::string_view what, std::string_view account) {
    return make_error(Code::busy, std::string(what) + " of " + escape(account, 64) +
                                      " kept changing meanwhile");
}

struct CodeRecord {
    bool present = false;
    std::uint64_t revision = 0;
    unsigned char salt[16] = {};
    std::string hash;
    std::size_t digits = 0;
    std::int64_t expires = 0;
};

struct TotpRecord {
    bool present = false;
    std::uint64_t revision = 0;
    Secret secret;  // raw bytes
    unsigned digits = 8;
    std::int64_t last_step = 0;
};

Result<Grant> parse_grant(std::string_view text, std::string_view account) {
    std::string what = "grant of " + escape(account, 64);
    auto doc = Json::parse(text, what);
    if (!doc) return std::move(doc).error();
    JsonReader r(doc->get(), what);
    Grant g;
    Status st;
    if (!(st = r.check_keys({"account", "not_before", "not_after", "operator", "ticket", "reason",
                             "seq", "signer", "signature"})) ||
        !(st = r.str("account", g.account, true, 32)) ||
        !(st = r.int64("not_before", g.not_before, true)) ||
        !(st = r.int64("not_after", g.not_after, true)) ||
        !(st = r.str("operator", g.operator_name, false, 64)) ||
        !(st = r.str("ticket", g.ticket, false, 128)) ||
        !(st = r.str("reason", g.reason, false, 512)) || !(st = r.int64("seq", g.seq, false)) ||
        !(st = r.str("signer", g.signer, false, 256)) ||
        !(st = r.str("signature", g.signature, false, 8192)))
        return st.error();
    if (g.account != account) return make_error(Code::invalid, what + ": account does not match");
    if (g.not_after < g.not_before)
        return make_error(Code::invalid, what + ": ends before it starts");
    if (g.seq < 0) return make_error(Code::invalid, what + ": bad seq");
    return g;
}

std::string grant_json(const Grant& g) {
    Json j = Json::object();
    j.set("account", g.account).set("not_before", g.not_before).set("not_after", g.not_after);
    j.set("operator", g.operator_name).set("ticket", g.ticket).set("reason", g.reason);
    j.set("seq", g.seq).set("signer", g.signer).set("signature", g.signature);
    return j.dump();
}

Result<Failures> parse_failures(std::string_view text, std::string_view account) {
    std::string what = "failure counter of " + escape(account, 64);
    auto doc = Json::parse(text, what);
    if (!doc) return std::move(doc).error();
    JsonReader r(doc->get(), what);
    std::int64_t count = 0;
    Failures f;
    Status st;
    if (!(st = r.check_keys({"count", "locked_until"})) || !(st = r.int64("count", count, true)) ||
        !(st = r.int64("locked_until", f.locked_until, true)))
        return st.error();
    if (count < 0 || count > 1000000) return make_error(Code::invalid, what + ": bad count");
    f.count = static_cast<unsigned>(count);
    return f;
}

std::string failures_json(const Failures& f) {
    Json j = Json::object();
    j.set("count", static_cast<std::int64_t>(f.count)).set("locked_until", f.locked_until);
    return j.dump();
}

bool approval_id_valid(std::string_view id) {
    return !id.empty() && id.size() <= 64 && kv_key_valid(key("approvals", id));
}

class State final : public Store {
  public:
    State(const Config& c, std::unique_ptr<Kv> kv) : c_(c), kv_(std::move(kv)) {}

    Result<std::optional<Grant>> grant(std::string_view account) override {
        auto e = kv_->get(key("grants", account));
        if (!e) return std::move(e).error();
        if (e->revision == 0) return std::optional<Grant>();
        auto g = parse_grant(e->value, account);
        if (!g) return std::move(g).error();
        return std::optional<Grant>(std::move(*g));
    }

    Status put_grant(const Grant& in) override {
        std::string k = key("grants", in.account);
        for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
            auto e = kv_->get(k);
            if (!e) return std::move(e).error();
            std::int64_t prev_seq = 0;
            if (e->revision != 0) {
                // A corrupt grant is replaced (the helpdesk's way out), its
                // sequence then restarts.
                if (auto g = parse_grant(e->value, in.account)) prev_seq = g->seq;
            }
            Grant g = in;
            if (g.signer.empty() && g.signature.empty()) {
                g.seq = prev_seq + 1;
            } else if (g.seq <= prev_seq) {
                // The fleet's high-water rule: an older signed record never
                // replaces a newer one.
                return make_error(Code::refused, "grant of " + escape(in.account, 64) + ": seq " +
                                                     std::to_string(g.seq) + " is not above " +
                                                     std::to_string(prev_seq));
            }
            auto r = kv_->txn({KvCompare{k, e->revision}}, {KvOp::put(k, grant_json(g))});
            if (!r) return std::move(r).error();
            if (r->succeeded) return {};
        }
        return conflict_error("grant", in.account);
    }

    Status end_grant(std::string_view account, bool* existed) override {
        return kv_->del(key("grants", account), kAnyRevision, existed);
    }

    Result<Failures> failures(std::string_view account) override {
        auto e = kv_->get(key("failures", account));
        if (!e) return std::move(e).error();
        if (e->revision == 0) return Failures{};
        return parse_failures(e->value, account);
    }

    Status unlock(std::string_view account) override { return kv_->del(key("failures", account)); }

    Result<IssuedCode> issue_code(std::string_view account, unsigned digits, std::int64_t ttl,
                                  std::int64_t now) override {
        if (digits < 8 || digits > 12)
            return make_error(Code::invalid, "code length must be 8 to 12 digits");
        if (auto st = init_libs(); !st) return st.error();
        IssuedCode out;
        for (unsigned i = 0; i < digits; ++i)
            out.code += static_cast<char>('0' + randombytes_uniform(10));
        out.expires = now + ttl;
        unsigned char salt[16];
        randombytes_buf(salt, sizeof salt);
        Json j = Json::object();
        j.set("salt", to_hex(salt, sizeof salt)).set("hash", hash_code(out.code, salt));
        j.set("digits", static_cast<std::int64_t>(digits))
            .set("issued", now)
            .set("expires", out.expires);
        // Replaces any outstanding code: a new one always wins.
        if (auto st = kv_->put(key("codes", account), j.dump()); !st) return st.error();
        if (auto st = kv_->compact(key("codes", account)); !st) return st.error();
        return out;
    }

    Result<bool> has_code(std::string_view account, std::int64_t now) override {
        auto rec = read_code(account);
        if (!rec) return std::move(rec).error();
        return rec->present && rec->expires > now;
    }

    Result<CodeVerdict> consume(std::string_view account, std::string_view input,
                                std::int64_t now) override {
        if (auto st = init_libs(); !st) return st.error();
        Secret code(normalize_code(input));
        const std::string fkey = key("failures", account);
        for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
            auto fe = kv_->get(fkey);
            if (!fe) return std::move(fe).error();
            Failures f;
            if (fe->revision != 0) {
                auto pf = parse_failures(fe->value, account);
                if (!pf) return std::move(pf).error();
                f = *pf;
            }
            CodeVerdict v;
            v.failures = f.count;
            if (f.locked_until > now) {
                v.outcome = CodeOutcome::locked;
                return v;
            }
            // Count pessimistically: the failure this attempt would be is the
            // txn's first op, so nothing is accepted unless that write (and
            // its sync) succeeds. Counting only after a wrong answer let a
            // full or read-only state file system switch the lockout off
            // (every wrong code "counted" into a write that failed, then the
            // right one was accepted). A right code supersedes the count
            // with the counter's removal in the same txn; a crash in between
            // leaves one failure too many, which errs on the safe side.
            Failures nf;
            nf.count = f.count + 1;
            bool locks = nf.count >= c_.lockout_threshold;
            if (locks) {
                nf.locked_until = now + c_.lockout_time;
                nf.count = 0;
            }
            std::vector<KvCompare> cmp{KvCompare{fkey, fe->revision}};
            std::vector<KvOp> ops{KvOp::put(fkey, failures_json(nf))};
            CodeOutcome accepted = CodeOutcome::wrong;
            if (!code.s.empty()) {
                auto rec = read_code(account);
                if (!rec) return std::move(rec).error();
                if (rec->present && rec->expires <= now) {
                    cmp.push_back(KvCompare{key("codes", account), rec->revision});
                    ops.push_back(KvOp::del(key("codes", account)));
                } else if (rec->present && code.s.size() == rec->digits) {
                    std::string h = hash_code(code.s, rec->salt);
                    if (h.size() == rec->hash.size() &&
                        sodium_memcmp(h.data(), rec->hash.data(), h.size()) == 0) {
                        // Single use: the txn removes exactly the code that
                        // matched (its revision), or nothing at all.
                        cmp.push_back(KvCompare{key("codes", account), rec->revision});
                        ops.push_back(KvOp::del(key("codes", account)));
                        accepted = CodeOutcome::accepted_code;
                    }
                }
                if (accepted == CodeOutcome::wrong) {
                    auto t = match_totp(account, code.s, now, cmp, ops);
                    if (!t) return std::move(t).error();
                    if (*t) accepted = CodeOutcome::accepted_totp;
                }
            }
            // The right code clears the failure just counted (and any lock
            // that count set: the code was compared before it took effect).
            if (accepted != CodeOutcome::wrong) ops.push_back(KvOp::del(fkey));
            auto r = kv_->txn(cmp, ops);
            if (!r) return std::move(r).error();
            if (!r->succeeded) continue;  // another login of this account won: re-read
            if (accepted != CodeOutcome::wrong) {
                v.outcome = accepted;
                v.failures = 0;
                return v;
            }
            v.outcome = CodeOutcome::wrong;
            v.just_locked = locks;
            v.failures = locks ? c_.lockout_threshold : nf.count;
            return v;
        }
        return conflict_error("one-time code state", account);
    }

    Result<TotpEnrollment> totp_enroll(std::string_view account,
                                       std::string_view issuer_host) override {
        if (auto st = init_libs(); !st) return st.error();
        unsigned char secret[20];
        randombytes_buf(secret, sizeof secret);
        char* b32 = nullptr;
        size_t b32len = 0;
        if (oath_base32_encode(reinterpret_cast<const char*>(secret), sizeof secret, &b32,
                               &b32len) != OATH_OK) {
            sodium_memzero(secret, sizeof secret);
            return make_error(Code::internal, "base32 encoding failed");
        }
        TotpEnrollment e;
        e.secret_base32.assign(b32, b32len);
        sodium_memzero(b32, b32len);
        free(b32);
        unsigned digits = c_.otp_digits > 8 ? 8 : c_.otp_digits;
        Secret text(totp_json(secret, sizeof secret, digits, 0));
        sodium_memzero(secret, sizeof secret);
        if (auto st = kv_->put(key("totp", account), text.s); !st) return st.error();
        e.uri = "otpauth://totp/pam_vendor:" + std::string(account) + "%40" +
                std::string(issuer_host) + "?secret=" + e.secret_base32 +
                "&issuer=pam_vendor&algorithm=SHA1&digits=" + std::to_string(digits) +
                "&period=" + std::to_string(kTotpStep);
        return e;
    }

    Result<bool> totp_enrolled(std::string_view account) override {
        auto t = read_totp(account);
        if (!t) return std::move(t).error();
        return t->present;
    }

    Result<std::string> totp_code(std::string_view account, std::int64_t now) override {
        if (auto st = init_libs(); !st) return st.error();
        auto t = read_totp(account);
        if (!t) return std::move(t).error();
        if (!t->present)
            return make_error(Code::not_found,
                              "no TOTP secret enrolled for " + escape(account, 64));
        return gen_totp(*t, now / kTotpStep);
    }

    Status forget(std::string_view account) override {
        for (const char* space : {"grants", "codes", "failures", "totp"}) {
            if (auto st = kv_->del(key(space, account)); !st) return st;
        }
        return kv_->compact(key("codes", account));
    }

    Status put_approval(const Approval& a) override {
        if (!approval_id_valid(a.id))
            return make_error(Code::invalid, "bad approval id " + escape(a.id, 64));
        if (a.state != "pending" && a.state != "approved" && a.state != "denied")
            return make_error(Code::invalid, "bad approval state " + escape(a.state, 32));
        Json j = Json::object();
        j.set("id", a.id).set("account", a.account).set("state", a.state);
        j.set("requested_by", a.requested_by).set("decided_by", a.decided_by);
        j.set("created", a.created).set("expires", a.expires).set("reason", a.reason);
        return kv_->put(key("approvals", a.id), j.dump());
    }

    Result<std::optional<Approval>> approval(std::string_view id) override {
        if (!approval_id_valid(id))
            return make_error(Code::invalid, "bad approval id " + escape(id, 64));
        auto e = kv_->get(key("approvals", id));
        if (!e) return std::move(e).error();
        if (e->revision == 0) return std::optional<Approval>();
        std::string what = "approval " + escape(id, 64);
        auto doc = Json::parse(e->value, what);
        if (!doc) return std::move(doc).error();
        JsonReader r(doc->get(), what);
        Approval a;
        Status st;
        if (!(st = r.check_keys({"id", "account", "state", "requested_by", "decided_by", "created",
                                 "expires", "reason"})) ||
            !(st = r.str("id", a.id, true, 64)) || !(st = r.str("account", a.account, true, 32)) ||
            !(st = r.str("state", a.state, true, 16)) ||
            !(st = r.str("requested_by", a.requested_by, false, 64)) ||
            !(st = r.str("decided_by", a.decided_by, false, 64)) ||
            !(st = r.int64("created", a.created, true)) ||
            !(st = r.int64("expires", a.expires, true)) ||
            !(st = r.str("reason", a.reason, false, 512)))
            return st.error();
        if (a.id != id) return make_error(Code::invalid, what + ": id does not match");
        if (a.state != "pending" && a.state != "approved" && a.state != "denied")
            return make_error(Code::invalid, what + ": bad state");
        return std::optional<Approval>(std::move(a));
    }

    Result<std::vector<Approval>> approvals() override {
        auto names = kv_->list("approvals");
        if (!names) return std::move(names).error();
        std::vector<Approval> out;
        for (const auto& n : *names) {
            auto a = approval(n);
            if (!a) return std::move(a).error();
            if (a->has_value()) out.push_back(std::move(**a));
        }
        return out;
    }

  private:
    Result<CodeRecord> read_code(std::string_view account) {
        auto e = kv_->get(key("codes", account));
        if (!e) return std::move(e).error();
        CodeRecord rec;
        if (e->revision == 0) return rec;
        std::string what = "code of " + escape(account, 64);
        auto doc = Json::parse(e->value, what);
        if (!doc) return std::move(doc).error();
        JsonReader r(doc->get(), what);
        std::string salt;
        std::int64_t digits = 0, issued = 0;
        Status st;
        if (!(st = r.check_keys({"salt", "hash", "digits", "issued", "expires"})) ||
            !(st = r.str("salt", salt, true, 64)) || !(st = r.str("hash", rec.hash, true, 128)) ||
            !(st = r.int64("digits", digits, true)) || !(st = r.int64("issued", issued, true)) ||
            !(st = r.int64("expires", rec.expires, true)))
            return st.error();
        if (!from_hex(salt, rec.salt, sizeof rec.salt) || rec.hash.size() != 64 || digits < 6 ||
            digits > 12)
            return make_error(Code::invalid, what + ": malformed");
        rec.digits = static_cast<std::size_t>(digits);
        rec.revision = e->revision;
        rec.present = true;
        return rec;
    }

    static std::string totp_json(const unsigned char* secret, std::size_t n, unsigned digits,
                                 std::int64_t last_step) {
        Secret hex(to_hex(secret, n));
        Json j = Json::object();
        j.set("secret", hex.s).set("digits", static_cast<std::int64_t>(digits));
        j.set("step", static_cast<std::int64_t>(kTotpStep)).set("last_step", last_step);
        return j.dump();
    }

    Result<TotpRecord> read_totp(std::string_view account) {
        auto e = kv_->get(key("totp", account));
        if (!e) return std::move(e).error();
        TotpRecord rec;
        if (e->revision == 0) return rec;
        std::string what = "TOTP secret of " + escape(account, 64);
        auto doc = Json::parse(e->value, what);
        if (!doc) return std::move(doc).error();
        JsonReader r(doc->get(), what);
        Secret hex;
        std::int64_t digits = 0, step = 0;
        Status st;
        if (!(st = r.check_keys({"secret", "digits", "step", "last_step"})) ||
            !(st = r.str("secret", hex.s, true, 128)) || !(st = r.int64("digits", digits, true)) ||
            !(st = r.int64("step", step, true)) ||
            !(st = r.int64("last_step", rec.last_step, true)))
            return st.error();
        rec.secret.s.assign(hex.s.size() / 2, '\0');
        if (hex.s.size() < 32 ||
            !from_hex(hex.s, reinterpret_cast<unsigned char*>(rec.secret.s.data()),
                      rec.secret.s.size()) ||
            digits < 6 || digits > 8 || step != kTotpStep)
            return make_error(Code::invalid, what + ": malformed");
        rec.digits = static_cast<unsigned>(digits);
        rec.revision = e->revision;
        rec.present = true;
        return rec;
    }

    static Result<std::string> gen_totp(const TotpRecord& t, std::int64_t step) {
        char out[16] = {};
        int rc =
            oath_totp_generate(t.secret.s.data(), t.secret.s.size(),
                               static_cast<time_t>(step * kTotpStep), kTotpStep, 0, t.digits, out);
        if (rc != OATH_OK)
            return make_error(Code::internal, std::string("TOTP: ") + oath_strerror(rc));
        std::string s(out);
        sodium_memzero(out, sizeof out);
        return s;
    }

    // On a match, adds the compare and the put that mark the step used: the
    // txn fails when another login used a step meanwhile (replay refused on
    // the re-read).
    Result<bool> match_totp(std::string_view account, const std::string& code, std::int64_t now,
                            std::vector<KvCompare>& cmp, std::vector<KvOp>& ops) {
        auto t = read_totp(account);
        if (!t) return std::move(t).error();
        if (!t->present || code.size() != t->digits) return false;
        std::int64_t cur = now / kTotpStep;
        auto w = static_cast<std::int64_t>(c_.totp_window);
        for (std::int64_t step = cur - w; step <= cur + w; ++step) {
            if (step <= t->last_step) continue;  // each step at most once
            auto expect = gen_totp(*t, step);
            if (!expect) return std::move(expect).error();
            Secret e(std::move(*expect));
            if (e.s.size() == code.size() &&
                sodium_memcmp(e.s.data(), code.data(), code.size()) == 0) {
                cmp.push_back(KvCompare{key("totp", account), t->revision});
                ops.push_back(
                    KvOp::put(key("totp", account),
                              totp_json(reinterpret_cast<const unsigned char*>(t->secret.s.data()),
                                        t->secret.s.size(), t->digits, step)));
                return true;
            }
        }
        return false;
    }

    Config c_;
    std::unique_ptr<Kv> kv_;
};

}  // namespace

std::unique_ptr<Store> make_store(const Config& c, std::unique_ptr<Kv> kv) {
    return std::make_unique<State>(c, std::move(kv));
}

std::unique_ptr<Store> open_store(const Config& c) {
    if (c.state_backend == "local") return make_store(c, make_local_kv(c));
    return make_store(c, make_unavailable_kv("state_backend = " + c.state_backend +
                                             " is not available in this build"));
}

}  // namespace vendor::core
