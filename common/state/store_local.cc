#include <liboath/oath.h>
#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "files.h"
#include "json.h"
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

namespace {

constexpr int kTotpStep = 30;

// A std::string wiped on destruction, for codes and secrets.
struct Secret {
    std::string s;
    ~Secret() {
        if (!s.empty()) sodium_memzero(s.data(), s.size());
    }
};

void init_libs() {
    // Once per process, never torn down (a module must not deinit a library
    // its host application may also use).
    static std::once_flag once;
    std::call_once(once, [] {
        if (sodium_init() < 0) abort();
        oath_init();
    });
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

class LocalStore final : public Store {
  public:
    explicit LocalStore(const Config& c) : c_(c) { init_libs(); }

    Result<std::optional<Grant>> grant(std::string_view account) override {
        bool found = false;
        auto text = safe_read_optional(path("grants", account), found);
        if (!text) return std::move(text).error();
        if (!found) return std::optional<Grant>();
        std::string what = "grant of " + escape(account, 64);
        auto doc = Json::parse(*text, what);
        if (!doc) return std::move(doc).error();
        JsonReader r(doc->get(), what);
        Grant g;
        Status st;
        if (!(st = r.check_keys(
                  {"account", "not_before", "not_after", "operator", "ticket", "reason"})) ||
            !(st = r.str("account", g.account, true, 32)) ||
            !(st = r.int64("not_before", g.not_before, true)) ||
            !(st = r.int64("not_after", g.not_after, true)) ||
            !(st = r.str("operator", g.operator_name, false, 64)) ||
            !(st = r.str("ticket", g.ticket, false, 128)) ||
            !(st = r.str("reason", g.reason, false, 512)))
            return st.error();
        if (g.account != account)
            return make_error(Code::invalid, what + ": account does not match");
        if (g.not_after < g.not_before)
            return make_error(Code::invalid, what + ": ends before it starts");
        return std::optional<Grant>(std::move(g));
    }

    Status put_grant(const Grant& g) override {
        if (auto st = dirs(); !st) return st;
        Json j = Json::object();
        j.set("account", g.account).set("not_before", g.not_before).set("not_after", g.not_after);
        j.set("operator", g.operator_name).set("ticket", g.ticket).set("reason", g.reason);
        auto lock = FileLock::acquire(lock_path(g.account));
        if (!lock) return std::move(lock).error();
        return atomic_write(path("grants", g.account), j.dump() + "\n", 0600);
    }

    Status end_grant(std::string_view account, bool* existed) override {
        auto lock = FileLock::acquire(lock_path(account));
        if (!lock) {
            if (lock.error().code == Code::not_found) {
                if (existed) *existed = false;
                return {};
            }
            return std::move(lock).error();
        }
        return remove_file(path("grants", account), existed);
    }

    Result<Failures> failures(std::string_view account) override {
        bool found = false;
        auto text = safe_read_optional(path("failures", account), found);
        if (!text) return std::move(text).error();
        Failures f;
        if (!found) return f;
        std::string what = "failure counter of " + escape(account, 64);
        auto doc = Json::parse(*text, what);
        if (!doc) return std::move(doc).error();
        JsonReader r(doc->get(), what);
        std::int64_t count = 0;
        Status st;
        if (!(st = r.check_keys({"count", "locked_until"})) ||
            !(st = r.int64("count", count, true)) ||
            !(st = r.int64("locked_until", f.locked_until, true)))
            return st.error();
        if (count < 0 || count > 1000000) return make_error(Code::invalid, what + ": bad count");
        f.count = static_cast<unsigned>(count);
        return f;
    }

    Status unlock(std::string_view account) override {
        auto lock = FileLock::acquire(lock_path(account));
        if (!lock) {
            if (lock.error().code == Code::not_found) return {};
            return std::move(lock).error();
        }
        return remove_file(path("failures", account));
    }

    Result<IssuedCode> issue_code(std::string_view account, unsigned digits, std::int64_t ttl,
                                  std::int64_t now) override {
        if (digits < 8 || digits > 12)
            return make_error(Code::invalid, "code length must be 8 to 12 digits");
        if (auto st = dirs(); !st) return st.error();
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
        auto lock = FileLock::acquire(lock_path(account));
        if (!lock) return std::move(lock).error();
        if (auto st = atomic_write(path("codes", account), j.dump() + "\n", 0600); !st)
            return st.error();
        if (auto st = clear_used_codes(account); !st) return st.error();
        return out;
    }

    Result<bool> has_code(std::string_view account, std::int64_t now) override {
        auto rec = read_code(account);
        if (!rec) return std::move(rec).error();
        return rec->present && rec->expires > now;
    }

    Result<CodeVerdict> consume(std::string_view account, std::string_view input,
                                std::int64_t now) override {
        if (auto st = dirs(); !st) return st.error();
        auto lock = FileLock::acquire(lock_path(account));
        if (!lock) return std::move(lock).error();
        auto f = failures(account);
        if (!f) return std::move(f).error();
        CodeVerdict v;
        v.failures = f->count;
        if (f->locked_until > now) {
            v.outcome = CodeOutcome::locked;
            return v;
        }
        // Count pessimistically: the failure this attempt would be is written
        // (and synced) before the input is compared, and nothing is compared
        // when that write fails. Counting only after a wrong answer let a full
        // or read-only state file system switch the lockout off (every wrong
        // code "counted" into a write that failed, then the right one was
        // accepted). A right code resets the counter below; a crash between
        // the write and the comparison leaves one failure too many, which
        // errs on the safe side.
        Failures nf;
        nf.count = f->count + 1;
        bool locks = nf.count >= c_.lockout_threshold;
        if (locks) {
            nf.locked_until = now + c_.lockout_time;
            nf.count = 0;
        }
        if (auto st = write_failures(account, nf); !st) return st.error();
        Secret code{normalize_code(input)};
        bool accepted = false;
        if (!code.s.empty()) {
            auto rec = read_code(account);
            if (!rec) return std::move(rec).error();
            if (rec->present && rec->expires <= now) {
                if (auto st = remove_file(path("codes", account)); !st) return st.error();
            } else if (rec->present && code.s.size() == rec->digits) {
                std::string h = hash_code(code.s, rec->salt);
                if (h.size() == rec->hash.size() &&
                    sodium_memcmp(h.data(), rec->hash.data(), h.size()) == 0) {
                    // Single use: the code is gone before the login goes on.
                    // It is renamed aside rather than unlinked: freeing the
                    // blocks of a synced file costs a millisecond or more on
                    // a discard-mounted disk, in the login path. issue_code
                    // and forget clear the used ones.
                    bool removed = false;
                    if (auto st = retire_code(account, &removed); !st) return st.error();
                    accepted = removed;
                    if (accepted) v.outcome = CodeOutcome::accepted_code;
                }
            }
            if (!accepted) {
                auto t = try_totp(account, code.s, now);
                if (!t) return std::move(t).error();
                if (*t) {
                    accepted = true;
                    v.outcome = CodeOutcome::accepted_totp;
                }
            }
        }
        if (accepted) {
            // The right code clears the failure just counted (and any lock
            // that count set: the code was compared before it took effect).
            if (auto st = remove_file(path("failures", account)); !st) return st.error();
            v.failures = 0;
            return v;
        }
        v.outcome = CodeOutcome::wrong;
        v.just_locked = locks;
        v.failures = locks ? c_.lockout_threshold : nf.count;
        return v;
    }

    Result<TotpEnrollment> totp_enroll(std::string_view account,
                                       std::string_view issuer_host) override {
        if (auto st = dirs(); !st) return st.error();
        unsigned char secret[20];
        randombytes_buf(secret, sizeof secret);
        char* b32 = nullptr;
        size_t b32len = 0;
        if (oath_base32_encode(reinterpret_cast<const char*>(secret), sizeof secret, &b32,
                               &b32len) != OATH_OK)
            return make_error(Code::internal, "base32 encoding failed");
        TotpEnrollment e;
        e.secret_base32.assign(b32, b32len);
        sodium_memzero(b32, b32len);
        free(b32);
        unsigned digits = c_.otp_digits > 8 ? 8 : c_.otp_digits;
        Json j = Json::object();
        j.set("secret", to_hex(secret, sizeof secret))
            .set("digits", static_cast<std::int64_t>(digits));
        j.set("step", static_cast<std::int64_t>(kTotpStep))
            .set("last_step", static_cast<std::int64_t>(0));
        sodium_memzero(secret, sizeof secret);
        auto lock = FileLock::acquire(lock_path(account));
        if (!lock) return std::move(lock).error();
        Secret text{j.dump() + "\n"};
        if (auto st = atomic_write(path("totp", account), text.s, 0600); !st) return st.error();
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
        auto t = read_totp(account);
        if (!t) return std::move(t).error();
        if (!t->present)
            return make_error(Code::not_found,
                              "no TOTP secret enrolled for " + escape(account, 64));
        return gen_totp(*t, now / kTotpStep);
    }

    Status forget(std::string_view account) override {
        if (auto st = clear_used_codes(account); !st) return st;
        for (const char* kind : {"grants", "codes", "failures", "totp"}) {
            if (auto st = remove_file(path(kind, account)); !st) return st;
        }
        return remove_file(lock_path(account));
    }

  private:
    struct CodeRecord {
        bool present = false;
        unsigned char salt[16] = {};
        std::string hash;
        std::size_t digits = 0;
        std::int64_t expires = 0;
    };
    struct TotpRecord {
        bool present = false;
        Secret secret;  // raw bytes
        unsigned digits = 8;
        std::int64_t last_step = 0;
    };

    std::string path(const char* kind, std::string_view account) const {
        return c_.state_dir + "/" + kind + "/" + std::string(account) + ".json";
    }
    Status retire_code(std::string_view account, bool* moved) {
        *moved = false;
        auto dir = open_dir_checked(c_.state_dir + "/codes");
        if (!dir) return std::move(dir).error();
        unsigned char r[8];
        randombytes_buf(r, sizeof r);
        std::string from = std::string(account) + ".json";
        std::string to = ".used." + std::string(account) + "." + to_hex(r, sizeof r);
        if (::renameat(dir->get(), from.c_str(), dir->get(), to.c_str()) != 0) {
            if (errno == ENOENT) return {};
            return make_error(Code::io, "cannot retire code of " + escape(account, 64));
        }
        *moved = true;
        return {};
    }

    // Remove the codes consumed earlier (outside the login path).
    Status clear_used_codes(std::string_view account) {
        auto names = list_dir(c_.state_dir + "/codes", true);
        if (!names) return names.error().code == Code::not_found ? Status{} : Status(names.error());
        std::string prefix = ".used." + std::string(account) + ".";
        for (const auto& n : *names) {
            if (n.rfind(prefix, 0) != 0 || n.size() != prefix.size() + 16) continue;
            if (auto st = remove_file(c_.state_dir + "/codes/" + n); !st) return st;
        }
        return {};
    }

    // Caller holds the account lock. atomic_write syncs file and directory.
    Status write_failures(std::string_view account, const Failures& nf) {
        Json j = Json::object();
        j.set("count", static_cast<std::int64_t>(nf.count)).set("locked_until", nf.locked_until);
        return atomic_write(path("failures", account), j.dump() + "\n", 0600);
    }

    std::string lock_path(std::string_view account) const {
        return c_.state_dir + "/locks/" + std::string(account) + ".lock";
    }

    Status dirs() {
        if (dirs_ok_) return {};
        // The directories are made together; when the last one is there (and
        // passes the ownership checks) the others are too. The login path
        // then costs one checked open instead of five mkdir walks.
        if (open_dir_checked(c_.state_dir + "/locks")) {
            dirs_ok_ = true;
            return {};
        }
        for (const char* kind : {"grants", "codes", "failures", "totp", "locks"}) {
            if (auto st = ensure_dir(c_.state_dir + "/" + kind, 0700); !st) return st;
        }  // "locks" last: see above
        dirs_ok_ = true;
        return {};
    }

    Result<CodeRecord> read_code(std::string_view account) {
        bool found = false;
        SafeOpts o;
        o.allow_group_read = false;
        auto text = safe_read_optional(path("codes", account), found, o);
        if (!text) return std::move(text).error();
        CodeRecord rec;
        if (!found) return rec;
        std::string what = "code of " + escape(account, 64);
        auto doc = Json::parse(*text, what);
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
        rec.present = true;
        return rec;
    }

    Result<TotpRecord> read_totp(std::string_view account) {
        bool found = false;
        SafeOpts o;
        o.allow_group_read = false;
        auto text = safe_read_optional(path("totp", account), found, o);
        if (!text) return std::move(text).error();
        Secret guard{std::move(*text)};
        TotpRecord rec;
        if (!found) return rec;
        std::string what = "TOTP secret of " + escape(account, 64);
        auto doc = Json::parse(guard.s, what);
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
        return std::string(out);
    }

    // Caller holds the account lock.
    Result<bool> try_totp(std::string_view account, const std::string& code, std::int64_t now) {
        auto t = read_totp(account);
        if (!t) return std::move(t).error();
        if (!t->present || code.size() != t->digits) return false;
        std::int64_t cur = now / kTotpStep;
        auto w = static_cast<std::int64_t>(c_.totp_window);
        for (std::int64_t step = cur - w; step <= cur + w; ++step) {
            if (step <= t->last_step) continue;  // each step at most once
            auto expect = gen_totp(*t, step);
            if (!expect) return std::move(expect).error();
            Secret e{std::move(*expect)};
            if (e.s.size() == code.size() &&
                sodium_memcmp(e.s.data(), code.data(), code.size()) == 0) {
                Json j = Json::object();
                j.set("secret", to_hex(reinterpret_cast<const unsigned char*>(t->secret.s.data()),
                                       t->secret.s.size()));
                j.set("digits", static_cast<std::int64_t>(t->digits))
                    .set("step", static_cast<std::int64_t>(kTotpStep));
                j.set("last_step", step);
                Secret text{j.dump() + "\n"};
                if (auto st = atomic_write(path("totp", account), text.s, 0600); !st)
                    return st.error();
                return true;
            }
        }
        return false;
    }

    Config c_;
    bool dirs_ok_ = false;
};

}  // namespace

std::unique_ptr<Store> make_local_store(const Config& c) { return std::make_unique<LocalStore>(c); }

}  // namespace vendor::core
