// state.cc over an in-memory kv.h backend: the domain rules (single use,
// lockout, TOTP replay, grants' fleet fields, approvals, conflict retries)
// depend on the KV contract only, not on files.
#include <liboath/oath.h>

#include "kv.h"
#include "store.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

constexpr std::int64_t kNow = 1795851540;

// The contract of kv.h, in memory: one revision counter for all keys (as
// etcd's), txn all or nothing.
class MemoryKv final : public Kv {
  public:
    struct Slot {
        std::string value;
        std::uint64_t revision;
    };
    std::map<std::string, Slot> data;
    std::uint64_t counter = 0;
    int txns = 0;
    // Runs once before the next txn's compares: another writer racing in.
    std::function<void(MemoryKv&)> before_next_txn;

    Result<KvEntry> get(std::string_view key) override {
        if (!kv_key_valid(key)) return make_error(Code::invalid, "bad key");
        KvEntry e;
        if (auto it = data.find(std::string(key)); it != data.end()) {
            e.value = it->second.value;
            e.revision = it->second.revision;
        }
        return e;
    }
    Result<std::vector<std::string>> list(std::string_view space) override {
        std::vector<std::string> out;
        std::string prefix = std::string(space) + "/";
        for (const auto& [k, v] : data)
            if (k.rfind(prefix, 0) == 0) out.push_back(k.substr(prefix.size()));
        return out;
    }
    Result<KvTxnResult> txn(const std::vector<KvCompare>& cmp,
                            const std::vector<KvOp>& ops) override {
        ++txns;
        if (before_next_txn) {
            auto fn = std::move(before_next_txn);
            before_next_txn = nullptr;
            fn(*this);
        }
        for (const auto& c : cmp) {
            auto it = data.find(c.key);
            std::uint64_t r = it == data.end() ? 0 : it->second.revision;
            if (r != c.revision) return KvTxnResult{false};
        }
        for (const auto& o : ops) {
            if (o.kind == KvOp::Kind::put) data[o.key] = Slot{o.value, ++counter};
            else data.erase(o.key);
        }
        return KvTxnResult{true};
    }
    Status compact(std::string_view) override { return {}; }
};

struct Fixture {
    Config cfg;
    MemoryKv* kv = nullptr;  // owned by store
    std::unique_ptr<Store> store;
    explicit Fixture(unsigned threshold = 3) {
        // A state directory that does not exist and cannot be made: the
        // domain must never reach for it.
        cfg.state_dir = "/nonexistent/pam_vendor-test-state";
        cfg.lockout_threshold = threshold;
        cfg.lockout_time = 900;
        auto m = std::make_unique<MemoryKv>();
        kv = m.get();
        store = make_store(cfg, std::move(m));
    }
};

std::string issue(Store& s, const char* account, std::int64_t now = kNow) {
    auto c = s.issue_code(account, 8, 600, now);
    if (!c.ok()) fail_msg("issue_code: %s", c.error().detail.c_str());
    return c->code;
}

CodeOutcome consume(Store& s, const char* account, const std::string& code,
                    std::int64_t now = kNow) {
    auto v = s.consume(account, code, now);
    if (!v.ok()) fail_msg("consume: %s", v.error().detail.c_str());
    return v->outcome;
}

std::string other(std::string c) {
    c.back() = c.back() == '0' ? '1' : '0';
    return c;
}

void codes_single_use_and_lockout(void**) {
    Fixture f;
    auto code = issue(*f.store, "acme");
    assert_true(*f.store->has_code("acme", kNow));
    assert_false(contains(f.kv->data.at("codes/acme").value, code));  // a salted hash only
    assert_int_equal(static_cast<int>(consume(*f.store, "acme", code)),
                     static_cast<int>(CodeOutcome::accepted_code));
    assert_int_equal(static_cast<int>(consume(*f.store, "acme", code)),
                     static_cast<int>(CodeOutcome::wrong));
    assert_int_equal(f.store->failures("acme")->count, 1);  // the reuse counted
    code = issue(*f.store, "acme");
    auto v = f.store->consume("acme", other(code), kNow);
    assert_ok(v);
    assert_false(v->just_locked);
    v = f.store->consume("acme", other(code), kNow);
    assert_true(v->just_locked);
    assert_int_equal(f.store->failures("acme")->locked_until, kNow + 900);
    assert_int_equal(static_cast<int>(consume(*f.store, "acme", code, kNow + 1)),
                     static_cast<int>(CodeOutcome::locked));
    assert_ok(f.store->unlock("acme"));
    assert_int_equal(static_cast<int>(consume(*f.store, "acme", code, kNow + 1)),
                     static_cast<int>(CodeOutcome::accepted_code));
    assert_true(f.kv->data.find("failures/acme") == f.kv->data.end());
}

// Another login of the account wins the race between our reads and our txn:
// we re-read and count on top of its failure (no lost update), and a code it
// consumed meanwhile is not accepted a second time.
void conflicts_are_retried(void**) {
    Fixture f(100);
    auto code = issue(*f.store, "acme");
    f.kv->before_next_txn = [](MemoryKv& kv) {
        kv.data["failures/acme"] = MemoryKv::Slot{R"({"count":4,"locked_until":0})", ++kv.counter};
    };
    auto v = f.store->consume("acme", other(code), kNow);
    assert_ok(v);
    assert_int_equal(v->failures, 5);
    // The racing login used the code between our read and our txn.
    f.kv->before_next_txn = [](MemoryKv& kv) { kv.data.erase("codes/acme"); };
    v = f.store->consume("acme", code, kNow);
    assert_ok(v);
    assert_int_equal(static_cast<int>(v->outcome), static_cast<int>(CodeOutcome::wrong));
    assert_int_equal(v->failures, 6);
    // A store that never stops conflicting gives up with an error (a denial).
    code = issue(*f.store, "acme");
    struct Always {
        static void bump(MemoryKv& kv) {
            kv.data["failures/acme"] =
                MemoryKv::Slot{R"({"count":1,"locked_until":0})", ++kv.counter};
            kv.before_next_txn = bump;
        }
    };
    f.kv->before_next_txn = Always::bump;
    auto busy = f.store->consume("acme", code, kNow);
    f.kv->before_next_txn = nullptr;
    assert_err(busy, Code::busy);
    assert_true(*f.store->has_code("acme", kNow));  // never accepted
}

void totp_replay(void**) {
    Fixture f(100);
    auto en = f.store->totp_enroll("acme", "web-01");
    assert_ok(en);
    assert_false(contains(f.kv->data.at("totp/acme").value, en->secret_base32));
    auto now_code = *f.store->totp_code("acme", kNow);
    assert_int_equal(static_cast<int>(consume(*f.store, "acme", now_code, kNow + 5)),
                     static_cast<int>(CodeOutcome::accepted_totp));
    assert_int_equal(static_cast<int>(consume(*f.store, "acme", now_code, kNow + 5)),
                     static_cast<int>(CodeOutcome::wrong));
    // A racing login used the next step between our read and our txn:
    // refused on the re-read (replay), and counted.
    auto next = *f.store->totp_code("acme", kNow + 30);
    f.kv->before_next_txn = [](MemoryKv& kv) {
        auto& v = kv.data.at("totp/acme");
        auto at = v.value.find("\"last_step\":");
        assert_true(at != std::string::npos);
        auto end = v.value.find_first_of(",}", at);
        v.value.replace(at, end - at, "\"last_step\":" + std::to_string((kNow + 30) / 30));
        v.revision = ++kv.counter;
    };
    auto r = f.store->consume("acme", next, kNow + 30);
    assert_ok(r);
    assert_int_equal(static_cast<int>(r->outcome), static_cast<int>(CodeOutcome::wrong));
    assert_int_equal(r->failures, 2);
}

void grants_fleet_fields(void**) {
    Fixture f;
    Grant g{"acme", kNow, kNow + 3600, "alice", "INC-1", "upgrade"};
    assert_ok(f.store->put_grant(g));
    auto r = f.store->grant("acme");
    assert_ok(r);
    assert_int_equal((*r)->seq, 1);  // local: seq per account, no signature
    assert_str_eq((*r)->signer, "");
    assert_str_eq((*r)->signature, "");
    assert_ok(f.store->put_grant(g));
    assert_int_equal((*f.store->grant("acme"))->seq, 2);
    // A signed record round-trips its fields; an older seq is refused.
    Grant s = g;
    s.seq = 10;
    s.signer = "SHA256:0123abcd";
    s.signature = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n";
    assert_ok(f.store->put_grant(s));
    r = f.store->grant("acme");
    assert_int_equal((*r)->seq, 10);
    assert_str_eq((*r)->signer, s.signer);
    assert_str_eq((*r)->signature, s.signature);
    assert_str_eq((*r)->operator_name, "alice");
    s.seq = 10;
    assert_err(f.store->put_grant(s), Code::refused);
    s.seq = 9;
    assert_err(f.store->put_grant(s), Code::refused);
    assert_int_equal((*f.store->grant("acme"))->seq, 10);
    bool existed = false;
    assert_ok(f.store->end_grant("acme", &existed));
    assert_true(existed);
    assert_false(f.store->grant("acme")->has_value());
}

void approvals(void**) {
    Fixture f;
    auto none = f.store->approvals();
    assert_ok(none);
    assert_true(none->empty());
    Approval a{"ap-1", "acme", "pending", "alice", "", kNow, kNow + 600, "PACS"};
    assert_ok(f.store->put_approval(a));
    a.id = "ap-2";
    a.state = "approved";
    a.decided_by = "bob";
    assert_ok(f.store->put_approval(a));
    auto one = f.store->approval("ap-1");
    assert_ok(one);
    assert_true(one->has_value());
    assert_str_eq((*one)->state, "pending");
    assert_str_eq((*one)->requested_by, "alice");
    assert_int_equal((*one)->expires, kNow + 600);
    auto all = f.store->approvals();
    assert_int_equal(all->size(), 2);
    assert_str_eq((*all)[1].decided_by, "bob");
    assert_false(f.store->approval("ap-3")->has_value());
    a.id = "../x";
    assert_err(f.store->put_approval(a), Code::invalid);
    a.id = "ap-4";
    a.state = "maybe";
    assert_err(f.store->put_approval(a), Code::invalid);
    assert_err(f.store->approval(".hidden"), Code::invalid);
}

void forget_and_no_files(void**) {
    Fixture f;
    assert_ok(f.store->put_grant(Grant{"acme", kNow, kNow + 60, "", "", ""}));
    issue(*f.store, "acme");
    assert_ok(f.store->totp_enroll("acme", "h"));
    consume(*f.store, "acme", "00000000");
    assert_ok(f.store->forget("acme"));
    assert_true(f.kv->data.empty());
    struct stat st {};
    assert_int_equal(::stat("/nonexistent", &st), -1);
}

void backend_by_configuration(void**) {
    Config c;
    c.state_backend = "fleet";
    auto s = open_store(c);
    auto g = s->grant("acme");
    assert_err(g, Code::refused);
    assert_true(contains(g.error().detail, "state_backend = fleet is not available in this build"));
    assert_err(s->consume("acme", "12345678", kNow), Code::refused);
    auto cfg = parse_config("state_backend = fleet\n", "t");
    assert_ok(cfg);
    assert_str_eq(cfg->state_backend, "fleet");
    assert_false(parse_config("state_backend = etcd\n", "t").ok());
    assert_str_eq(Config{}.state_backend, "local");
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(codes_single_use_and_lockout),
        cmocka_unit_test(conflicts_are_retried),
        cmocka_unit_test(totp_replay),
        cmocka_unit_test(grants_fleet_fields),
        cmocka_unit_test(approvals),
        cmocka_unit_test(forget_and_no_files),
        cmocka_unit_test(backend_by_configuration),
    };
    return RUN_GROUP("state", tests);
}
