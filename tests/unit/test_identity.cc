// Unit tests of who-is-a-vendor (common/services/identity.cc): the registry's uid
// index, CONF.known, identification of names that resolve nowhere, and the
// sources a configuration that cannot be used still asks. The canonical
// identity against real NSS sources (aliases, case variants, lookup faults)
// is tested through the PAM stack (tests/pam).
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_file.h"
#include "facts.h"
#include "registry.h"
#include "unit.h"  // last: <cmocka.h>

using namespace vendor::core;
using unit::TmpDir;

namespace {

// A name no NSS source on a test machine serves.
constexpr const char* kGhost = "pvtu_ghost";

std::string entry_json(const std::string& name) {
    return "{\"name\":\"" + name +
           "\",\"vendor\":\"ACME\",\"from\":[\"192.0.2.0/24\"],\"uid\":2000300042,"
           "\"home\":\"/nonexistent\",\"shell\":\"/bin/sh\"}\n";
}

Config config_in(const TmpDir& t) {
    Config c;
    c.registry_dir = t / "registry";
    c.state_dir = t / "state";
    c.audit_log = t / "audit.jsonl";
    return c;
}

void uid_index_round_trip(void**) {
    std::vector<std::pair<std::uint32_t, std::string>> uids = {{1234, "acme"}, {2000300001, "bob"}};
    auto text = uid_index_text(uids);
    auto back = parse_uid_index(text);
    assert_ok(back);
    assert_true(*back == uids);
    assert_ok(parse_uid_index(""));
    assert_ok(parse_uid_index("# comment\n\n"));
}

void uid_index_refuses_garbage(void**) {
    for (const char* bad : {"1234 acme", "acme 1234\n", "12x4 acme\n", "1234  acme\n", "-1 acme\n",
                            "99999999999 acme\n", "1234 ACME\n", "1234\n", "1234 acme extra\n"})
        assert_err(parse_uid_index(bad), Code::invalid);
}

void registered_uids_from_index_or_entries(void**) {
    TmpDir t;
    Config c = config_in(t);
    // No registry at all: nobody.
    auto none = registered_uids(c);
    assert_ok(none);
    assert_true(none->empty());
    unit::make_dir(c.registry_dir);
    unit::write_file(c.registry_dir + "/acme.json", entry_json("acme"));
    // No index: rebuilt from the entries.
    auto scanned = registered_uids(c);
    assert_ok(scanned);
    assert_int_equal(scanned->size(), 1);
    assert_int_equal((*scanned)[0].first, 2000300042);
    // An index wins when it parses; a damaged one falls back to the entries.
    unit::write_file(c.registry_dir + "/.uids", "77777 other\n");
    auto idx = registered_uids(c);
    assert_ok(idx);
    assert_int_equal((*idx)[0].first, 77777);
    unit::write_file(c.registry_dir + "/.uids", "garbage");
    auto fallback = registered_uids(c);
    assert_ok(fallback);
    assert_int_equal((*fallback)[0].first, 2000300042);
}

void existing_entry_records_uid(void**) {
    auto e = parse_entry("{\"name\":\"acme\",\"vendor\":\"ACME\",\"from\":[\"192.0.2.0/24\"],"
                         "\"access\":\"otp\",\"existing\":true,\"uid\":5001}",
                         "acme");
    assert_ok(e);
    assert_true(e->uid_recorded);
    assert_int_equal(e->uid, 5001);
    auto back = parse_entry(serialize_entry(*e), "acme");
    assert_ok(back);
    assert_true(back->uid_recorded);
    assert_int_equal(back->uid, 5001);
    auto legacy = parse_entry("{\"name\":\"acme\",\"vendor\":\"ACME\",\"from\":[\"192.0.2.0/"
                              "24\"],\"access\":\"otp\",\"existing\":true}",
                              "acme");
    assert_ok(legacy);
    assert_false(legacy->uid_recorded);
    assert_err(parse_entry("{\"name\":\"acme\",\"vendor\":\"ACME\",\"from\":[\"192.0.2.0/24\"],"
                           "\"access\":\"otp\",\"existing\":true,\"uid\":-5}",
                           "acme"),
               Code::invalid);
}

void identify_by_registry_name(void**) {
    TmpDir t;
    Config c = config_in(t);
    unit::make_dir(c.registry_dir);
    unit::write_file(c.registry_dir + "/" + kGhost + ".json", entry_json(kGhost));
    Identity id = identify(c, kGhost);
    assert_int_equal(id.kind, Identity::vendor);
    assert_true(id.entry.has_value());
    // Not registered and resolving nowhere: not a vendor.
    assert_int_equal(identify(c, "pvtu_other").kind, Identity::not_vendor);
    // root without an entry is never a vendor, whatever the range or group.
    Config wide = c;
    wide.uid_min = 1000;
    wide.uid_max = 2147483646;
    assert_int_equal(identify(wide, "root").kind, Identity::not_vendor);
    // A registry path through a file: no entry can exist there.
    Config through_file = c;
    unit::write_file(t / "plain", "x");
    through_file.registry_dir = t / "plain";
    assert_int_equal(identify(through_file, kGhost).kind, Identity::not_vendor);
    // A corrupt entry denies (registry_error), it does not free the name.
    unit::write_file(c.registry_dir + "/" + kGhost + ".json", "{ not json");
    Identity bad = identify(c, kGhost);
    assert_int_equal(bad.kind, Identity::vendor_error);
    assert_int_equal(static_cast<int>(bad.error_reason), static_cast<int>(Reason::registry_error));
}

void privileged_root_and_ghost(void**) {
    Config c;
    auto r = privileged_group_of(c, "root");
    assert_ok(r);
    assert_str_eq(*r, "uid 0");
    auto g = privileged_group_of(c, kGhost);
    assert_ok(g);
    assert_true(g->empty());
}

void known_list_round_trip(void**) {
    TmpDir t;
    std::string conf = t / "pam_vendor.conf";
    Config a = config_in(t);
    Config b = a;
    b.registry_dir = t / "other";
    auto none = read_known(conf);
    assert_ok(none);
    assert_true(none->empty());
    // The built-in defaults alone are not worth a file.
    assert_ok(remember_config(conf, Config{}));
    assert_int_equal(::access(known_path(conf).c_str(), F_OK), -1);
    assert_ok(remember_config(conf, a));
    assert_ok(remember_config(conf, a));  // once only
    assert_ok(remember_config(conf, b));
    auto two = read_known(conf);
    assert_ok(two);
    assert_int_equal(two->size(), 2);
    assert_str_eq((*two)[0].registry_dir, a.registry_dir);
    assert_str_eq((*two)[1].registry_dir, b.registry_dir);
    struct stat st {};
    assert_int_equal(::stat(known_path(conf).c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    // A damaged list is an error to read and is replaced by the next write.
    unit::write_file(known_path(conf), "{\"registry_dir\":\"/x\"}\n");
    assert_err(read_known(conf), Code::invalid);
    assert_ok(remember_config(conf, a));
    auto fresh = read_known(conf);
    assert_ok(fresh);
    assert_int_equal(fresh->size(), 1);
    // A value the configuration parser refuses is refused here too.
    unit::write_file(known_path(conf),
                     "{\"registry_dir\":\"relative\",\"vendor_group\":\"v\",\"vendor_gid\":"
                     "2000300000,\"uid_min\":2000300000,\"uid_max\":2000499999,\"audit_log\":\"/"
                     "a\",\"host_name\":\"\"}\n");
    assert_err(read_known(conf), Code::invalid);
}

// Every way the file can be unusable still finds the vendor of a
// non-default registry through CONF.known, and leaves root alone.
void unusable_config_asks_known_sources(void**) {
    TmpDir t;
    Config c = config_in(t);
    unit::make_dir(c.registry_dir);
    unit::write_file(c.registry_dir + "/" + kGhost + ".json", entry_json(kGhost));
    std::string conf = t / "pam_vendor.conf";
    std::string good = "registry_dir = " + c.registry_dir + "\nstate_dir = " + c.state_dir +
                       "\naudit_log = " + c.audit_log + "\n";
    unit::write_file(conf, good, 0644);
    auto loaded = load_config(conf, true);
    assert_ok(loaded);
    assert_ok(remember_config(conf, *loaded));
    auto check = [&](const char* what) {
        Identification w = identify_user(conf, true, kGhost);
        if (w.config_problem.empty()) fail_msg("%s: configuration accepted", what);
        if (w.id.kind != Identity::vendor) fail_msg("%s: vendor not recognised", what);
        assert_str_eq(w.cfg.audit_log, c.audit_log);
        Identification r = identify_user(conf, true, "root");
        if (r.id.kind != Identity::not_vendor) fail_msg("%s: root not ignored", what);
        Identification o = identify_user(conf, true, "pvtu_other");
        if (o.id.kind != Identity::not_vendor) fail_msg("%s: non-vendor not ignored", what);
    };
    ::unlink(conf.c_str());
    check("missing");
    assert_int_equal(::mkfifo(conf.c_str(), 0644), 0);
    check("fifo");
    ::unlink(conf.c_str());
    unit::make_dir(conf, 0755);
    check("directory");
    ::rmdir(conf.c_str());
    unit::write_file(conf, good + std::string(2 << 20, '#') + "\n", 0644);
    check("over the size cap");
    unit::write_file(conf, "\xEF\xBB\xBF" + good, 0644);
    check("byte order mark");
    unit::write_file(conf, good + "frobnicate = 1\n", 0644);
    check("unknown key");
    // Without CONF.known, salvage still reads a trusted file...
    ::unlink(known_path(conf).c_str());
    unit::write_file(conf, "\xEF\xBB\xBF" + good, 0644);
    check("byte order mark, salvaged");
    // ...and follows a symbolic link to one.
    ::unlink(conf.c_str());
    unit::write_file(t / "real.conf", good, 0644);
    assert_int_equal(::symlink((t / "real.conf").c_str(), conf.c_str()), 0);
    check("symbolic link");
}

// The default configuration file deleted after vendorctl saw it: its
// vendors are not freed (CONF.known says the file existed).
void missing_default_config_with_known(void**) {
    TmpDir t;
    Config c = config_in(t);
    unit::make_dir(c.registry_dir);
    unit::write_file(c.registry_dir + "/" + kGhost + ".json", entry_json(kGhost));
    std::string conf = t / "pam_vendor.conf";
    // Without CONF.known an absent default file is the built-in defaults.
    Identification none = identify_user(conf, false, kGhost);
    assert_true(none.config_problem.empty());
    assert_int_equal(none.id.kind, Identity::not_vendor);
    assert_ok(remember_config(conf, c));
    Identification w = identify_user(conf, false, kGhost);
    assert_false(w.config_problem.empty());
    assert_int_equal(w.id.kind, Identity::vendor);
    assert_int_equal(identify_user(conf, false, "root").id.kind, Identity::not_vendor);
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(uid_index_round_trip),
        cmocka_unit_test(uid_index_refuses_garbage),
        cmocka_unit_test(registered_uids_from_index_or_entries),
        cmocka_unit_test(existing_entry_records_uid),
        cmocka_unit_test(identify_by_registry_name),
        cmocka_unit_test(privileged_root_and_ghost),
        cmocka_unit_test(known_list_round_trip),
        cmocka_unit_test(unusable_config_asks_known_sources),
        cmocka_unit_test(missing_default_config_with_known),
    };
    return RUN_GROUP("identity", tests);
}
