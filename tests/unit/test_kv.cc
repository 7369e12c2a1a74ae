// kv.h / kv_local.cc: revisions, conflicts, txn all-or-nothing, restart
// persistence, the on-disk format (and the files of earlier versions),
// corrupt and insecure files as errors, concurrent writers in processes.
#include "kv.h"

#include "files.h"
#include "json.h"
#include "store.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

struct Fixture {
    TmpDir dir;
    Config cfg;
    std::unique_ptr<Kv> kv;
    Fixture() {
        cfg.state_dir = dir / "state";
        kv = make_local_kv(cfg);
    }
    std::string file(const char* rel) const { return cfg.state_dir + "/" + rel; }
};

std::uint64_t rev(Kv& kv, const char* key) {
    auto e = kv.get(key);
    if (!e.ok()) fail_msg("get %s: %s", key, e.error().detail.c_str());
    return e->revision;
}

std::string val(Kv& kv, const char* key) {
    auto e = kv.get(key);
    if (!e.ok()) fail_msg("get %s: %s", key, e.error().detail.c_str());
    return e->value;
}

void revisions(void**) {
    Fixture f;
    assert_int_equal(rev(*f.kv, "grants/acme"), 0);  // absent, no state dir yet
    assert_ok(f.kv->put("grants/acme", R"({"a":1})"));
    auto r1 = rev(*f.kv, "grants/acme");
    assert_true(r1 > 0);
    assert_str_eq(val(*f.kv, "grants/acme"), R"({"a":1})");
    assert_ok(f.kv->put("grants/acme", R"({"a":2})"));
    auto r2 = rev(*f.kv, "grants/acme");
    assert_true(r2 > r1);
    bool existed = false;
    assert_ok(f.kv->del("grants/acme", kAnyRevision, &existed));
    assert_true(existed);
    assert_int_equal(rev(*f.kv, "grants/acme"), 0);
    assert_ok(f.kv->del("grants/acme", kAnyRevision, &existed));
    assert_false(existed);
    // A re-created key never reuses a revision (no ABA for a compare).
    assert_ok(f.kv->put("grants/acme", "{}"));
    auto r3 = rev(*f.kv, "grants/acme");
    assert_true(r3 > r2);
    assert_str_eq(val(*f.kv, "grants/acme"), "{}");
    // The file stays plain JSON, private to root.
    auto doc = Json::parse(slurp(f.file("grants/acme.json")), "file");
    assert_ok(doc);
    struct stat st {};
    assert_int_equal(::stat(f.file("grants/acme.json").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    // Persists across a restart (a new backend object, as a new process has).
    auto again = make_local_kv(f.cfg);
    assert_int_equal(rev(*again, "grants/acme"), r3);
    assert_str_eq(val(*again, "grants/acme"), "{}");
}

void conflicts_and_txn(void**) {
    Fixture f;
    assert_ok(f.kv->put("failures/acme", R"({"n":1})"));
    auto r = rev(*f.kv, "failures/acme");
    // A stale revision is a conflict, distinct from an error, and changes nothing.
    assert_err(f.kv->put("failures/acme", R"({"n":9})", r + 1), Code::exists);
    assert_err(f.kv->put("failures/other", R"({"n":9})", 5), Code::exists);
    assert_err(f.kv->del("failures/acme", r + 1), Code::exists);
    assert_str_eq(val(*f.kv, "failures/acme"), R"({"n":1})");
    assert_ok(f.kv->put("failures/acme", R"({"n":2})", r));
    // All or nothing: one stale compare of two, no op applied.
    auto ra = rev(*f.kv, "failures/acme");
    auto t = f.kv->txn(
        {KvCompare{"failures/acme", ra}, KvCompare{"codes/acme", 7}},
        {KvOp::put("failures/acme", R"({"n":3})"), KvOp::put("grants/acme", R"({"g":1})")});
    assert_ok(t);
    assert_false(t->succeeded);
    assert_str_eq(val(*f.kv, "failures/acme"), R"({"n":2})");
    assert_int_equal(rev(*f.kv, "grants/acme"), 0);
    // Both compares hold (0 = absent): every op, in order; a later op on the
    // same key supersedes an earlier one.
    t = f.kv->txn({KvCompare{"failures/acme", ra}, KvCompare{"codes/acme", 0}},
                  {KvOp::put("failures/acme", R"({"n":3})"), KvOp::put("grants/acme", R"({"g":1})"),
                   KvOp::put("totp/acme", R"({"t":1})"), KvOp::del("totp/acme")});
    assert_ok(t);
    assert_true(t->succeeded);
    assert_str_eq(val(*f.kv, "failures/acme"), R"({"n":3})");
    assert_str_eq(val(*f.kv, "grants/acme"), R"({"g":1})");
    assert_int_equal(rev(*f.kv, "totp/acme"), 0);
    // Keys outside the syntax are refused, never mapped to a path.
    for (const char* bad : {"../x", "grants/../x", "grants/.x", "Grants/x", "grants/a/b", "grants/",
                            "/x", "grants/a b", "nokey"})
        assert_err(f.kv->get(bad), Code::invalid);
    assert_err(f.kv->put("grants/x", "[1]"), Code::invalid);  // local values are JSON objects
    assert_err(f.kv->put("grants/x", R"({"rev":1})"), Code::invalid);
}

// State written before this layer (no "rev" member) reads with revision 1,
// and the domain keeps using it: an upgrade loses no grant and no count.
void files_of_earlier_versions(void**) {
    Fixture f;
    for (const char* d : {"", "/grants", "/codes", "/failures", "/totp", "/locks"})
        make_dir(f.cfg.state_dir + d);
    write_file(f.file("grants/acme.json"),
               R"({"account":"acme","not_before":100,"not_after":200,"operator":"alice",)"
               R"("ticket":"INC-1","reason":"r"})"
               "\n");
    write_file(f.file("failures/acme.json"), R"({"count":2,"locked_until":0})"
                                             "\n");
    assert_int_equal(rev(*f.kv, "grants/acme"), 1);
    auto store = open_store(f.cfg);
    auto g = store->grant("acme");
    assert_ok(g);
    assert_true(g->has_value());
    assert_int_equal((*g)->not_after, 200);
    assert_int_equal((*g)->seq, 0);
    assert_int_equal(store->failures("acme")->count, 2);
    f.cfg.lockout_threshold = 10;
    store = open_store(f.cfg);
    auto v = store->consume("acme", "00000000", 150);
    assert_ok(v);
    assert_int_equal(v->failures, 3);  // counted on from the old file
    assert_true(rev(*f.kv, "failures/acme") > 1);
    // The new grant continues the record (seq 1 after the legacy one).
    Grant ng = **g;
    assert_ok(store->put_grant(ng));
    assert_int_equal((*store->grant("acme"))->seq, 1);
}

void corrupt_and_insecure_are_errors(void**) {
    Fixture f;
    assert_ok(f.kv->put("grants/acme", R"({"a":1})"));
    assert_ok(f.kv->put("codes/acme", R"({"a":1})"));
    for (const char* text :
         {R"({"rev":abc,"a":1})", R"({"rev":0,"a":1})", R"({"rev":01,"a":1})", R"({"rev":12)",
          R"({"rev":99999999999999999,"a":1})", R"({"rev":5x})"}) {
        write_file(f.file("grants/bad.json"), text);
        assert_err(f.kv->get("grants/bad"), Code::invalid);
    }
    // Others may write it: not trusted (an error, never "absent").
    assert_int_equal(::chmod(f.file("grants/acme.json").c_str(), 0666), 0);
    assert_err(f.kv->get("grants/acme"), Code::insecure);
    assert_int_equal(::chmod(f.file("grants/acme.json").c_str(), 0600), 0);
    // A code hash readable by a group is refused.
    assert_int_equal(::chmod(f.file("codes/acme.json").c_str(), 0640), 0);
    assert_err(f.kv->get("codes/acme"), Code::insecure);
    // A symlink in place of a value.
    assert_int_equal(
        ::symlink(f.file("grants/acme.json").c_str(), f.file("grants/ln.json").c_str()), 0);
    assert_false(f.kv->get("grants/ln").ok());
    // A directory others can write.
    assert_int_equal(::chmod(f.file("grants").c_str(), 0777), 0);
    assert_err(f.kv->get("grants/acme"), Code::insecure);
    assert_int_equal(::chmod(f.file("grants").c_str(), 0700), 0);
}

void list_and_retired_codes(void**) {
    Fixture f;
    auto none = f.kv->list("approvals");
    assert_ok(none);
    assert_true(none->empty());
    assert_ok(f.kv->put("approvals/b2", "{}"));
    assert_ok(f.kv->put("approvals/a1", "{}"));
    write_file(f.file("approvals/.a1.json.tmp.0011223344556677"), "{}");
    auto names = f.kv->list("approvals");
    assert_ok(names);
    assert_int_equal(names->size(), 2);
    assert_str_eq((*names)[0], "a1");
    assert_str_eq((*names)[1], "b2");
    // A deleted code is renamed aside (no block freeing in the login path)
    // and released by compact(). The name's lock file stays: compact() runs
    // while other processes may wait on or hold that lock, and unlinking it
    // under a holder let the next writer lock a fresh inode beside it.
    assert_ok(f.kv->put("codes/acme", R"({"c":1})"));
    assert_ok(f.kv->del("codes/acme"));
    assert_int_equal(rev(*f.kv, "codes/acme"), 0);
    auto used = [&] {
        int n = 0;
        for (const auto& e : dir_entries(f.file("codes")))
            if (e.rfind(".used.acme.", 0) == 0) ++n;
        return n;
    };
    assert_int_equal(used(), 1);
    struct stat before {};
    assert_int_equal(::stat(f.file("locks/acme.lock").c_str(), &before), 0);
    {
        auto held = FileLock::acquire(f.file("locks/acme.lock"));
        assert_ok(held);
        assert_ok(f.kv->compact("codes/acme"));
    }
    assert_int_equal(used(), 0);
    struct stat after {};
    assert_int_equal(::stat(f.file("locks/acme.lock").c_str(), &after), 0);
    assert_true(after.st_ino == before.st_ino);
}

void unavailable_backend(void**) {
    auto kv = make_unavailable_kv("state_backend = fleet is not available in this build");
    auto e = kv->get("grants/acme");
    assert_err(e, Code::refused);
    assert_true(contains(e.error().detail, "not available in this build"));
    assert_err(kv->put("grants/acme", "{}"), Code::refused);
    assert_err(kv->list("grants"), Code::refused);
}

// Writers in separate processes, each a get + txn loop with a revision
// compare: no increment is lost.
void concurrent_writers(void**) {
    constexpr int kProcs = 6, kEach = 25;
    Fixture f;
    assert_ok(f.kv->put("failures/ctr", R"({"n":0})"));
    std::vector<pid_t> kids;
    for (int i = 0; i < kProcs; ++i) {
        pid_t pid = ::fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            auto kv = make_local_kv(f.cfg);
            int conflicts = 0;
            for (int done = 0; done < kEach;) {
                auto e = kv->get("failures/ctr");
                if (!e.ok()) ::_exit(3);
                auto n = std::stol(e->value.substr(5));
                auto t =
                    kv->txn({KvCompare{"failures/ctr", e->revision}},
                            {KvOp::put("failures/ctr", "{\"n\":" + std::to_string(n + 1) + "}")});
                if (!t.ok()) ::_exit(4);
                if (t->succeeded) ++done;
                else if (++conflicts > 100000) ::_exit(5);
            }
            ::_exit(0);
        }
        kids.push_back(pid);
    }
    for (pid_t pid : kids) {
        int status = 0;
        assert_int_equal(::waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_str_eq(val(*f.kv, "failures/ctr"), "{\"n\":" + std::to_string(kProcs * kEach) + "}");
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(revisions),
        cmocka_unit_test(conflicts_and_txn),
        cmocka_unit_test(files_of_earlier_versions),
        cmocka_unit_test(corrupt_and_insecure_are_errors),
        cmocka_unit_test(list_and_retired_codes),
        cmocka_unit_test(unavailable_backend),
        cmocka_unit_test(concurrent_writers),
    };
    return RUN_GROUP("kv", tests);
}
