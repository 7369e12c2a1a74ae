// config.h: pam_vendor.conf(5), one keyword table, unknown keys rejected.
#include "config.h"
#include "config_file.h"

#include "files.h"
#include "util.h"

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

Config parse_ok(const std::string& text) {
    auto c = parse_config(text, "/etc/security/pam_vendor.conf");
    if (!c.ok()) fail_msg("config refused: %s\n--\n%s--", c.error().detail.c_str(), text.c_str());
    return *c;
}

void expect_refused(const std::string& text, const char* why_contains = nullptr) {
    auto c = parse_config(text, "/etc/security/pam_vendor.conf");
    if (c.ok()) fail_msg("config accepted:\n%s", text.c_str());
    if (c.error().code != Code::invalid)
        fail_msg("expected invalid, got %s", code_name(c.error().code));
    if (why_contains && !contains(c.error().detail, why_contains))
        fail_msg("error '%s' does not mention '%s'", c.error().detail.c_str(), why_contains);
}

void defaults(void**) {
    auto c = parse_ok("");
    assert_str_eq(c.path, "/etc/security/pam_vendor.conf");
    assert_str_eq(c.registry_dir, "/etc/pam_vendor/accounts.d");
    assert_str_eq(c.state_dir, "/var/lib/pam_vendor");
    assert_str_eq(c.nss_dir, "/var/lib/pam_vendor/nss");
    assert_str_eq(c.audit_log, "/var/log/pam_vendor/audit.jsonl");
    assert_str_eq(c.host_name, "");
    assert_str_eq(c.timezone, "");
    assert_str_eq(c.vendor_group, "vendors");
    assert_true(std::find(c.privileged_groups.begin(), c.privileged_groups.end(), "root") !=
                c.privileged_groups.end());
    assert_true(std::find(c.privileged_groups.begin(), c.privileged_groups.end(), "sudo") !=
                c.privileged_groups.end());
    assert_int_equal(c.otp_digits, 8);
    assert_int_equal(c.otp_ttl, 600);
    assert_int_equal(c.totp_window, 1);
    assert_int_equal(c.max_grant, 12 * 3600);
    assert_int_equal(c.lockout_threshold, 5);
    assert_int_equal(c.lockout_time, 900);
    assert_int_equal(c.log_retention_days, 190);
    // Only comments and blank lines: still the defaults.
    auto d = parse_ok("# pam_vendor.conf\n\n   \n\t# indented comment\n");
    assert_str_eq(dump_config(d), dump_config(c));
    assert_str_eq(dump_config(Config{}), dump_config(c));
}

const char* kFull = "# every key, none at its default\n"
                    "registry_dir = /srv/pv/accounts.d\n"
                    "state_dir = /srv/pv/state/\n"
                    "nss_dir = /srv/pv/nss\n"
                    "audit_log = /srv/pv/log/audit.jsonl\n"
                    "host_name = web-01.example.org\n"
                    "timezone = Europe/Paris\n"
                    "vendor_group = prestataires\n"
                    "privileged_groups = root wheel  sudo\n"
                    "otp_digits = 10\n"
                    "otp_ttl = 5m\n"
                    "totp_window = 2\n"
                    "max_grant = 1d\n"
                    "lockout_threshold = 3\n"
                    "lockout_time = 1h30m\n"
                    "log_retention_days = 400\n";

void every_key(void**) {
    auto c = parse_ok(kFull);
    assert_str_eq(c.registry_dir, "/srv/pv/accounts.d");
    assert_str_eq(c.state_dir, "/srv/pv/state");  // trailing slash dropped
    assert_str_eq(c.nss_dir, "/srv/pv/nss");
    assert_str_eq(c.audit_log, "/srv/pv/log/audit.jsonl");
    assert_str_eq(c.host_name, "web-01.example.org");
    assert_str_eq(c.timezone, "Europe/Paris");
    assert_str_eq(c.vendor_group, "prestataires");
    assert_int_equal(c.privileged_groups.size(), 3);
    assert_str_eq(c.privileged_groups[0], "root");
    assert_str_eq(c.privileged_groups[1], "wheel");
    assert_str_eq(c.privileged_groups[2], "sudo");
    assert_int_equal(c.otp_digits, 10);
    assert_int_equal(c.otp_ttl, 300);
    assert_int_equal(c.totp_window, 2);
    assert_int_equal(c.max_grant, 86400);
    assert_int_equal(c.lockout_threshold, 3);
    assert_int_equal(c.lockout_time, 5400);
    assert_int_equal(c.log_retention_days, 400);
    // Spacing around '=' and CRLF line ends do not matter.
    auto d = parse_ok(
        "otp_digits=12\r\n  otp_ttl   =   1h  \r\ntimezone=America/Argentina/Buenos_Aires\r\n");
    assert_int_equal(d.otp_digits, 12);
    assert_int_equal(d.otp_ttl, 3600);
    assert_str_eq(d.timezone, "America/Argentina/Buenos_Aires");
    assert_str_eq(parse_ok("timezone = Etc/GMT+5\n").timezone, "Etc/GMT+5");
    // No trailing newline on the last line.
    assert_int_equal(parse_ok("otp_digits = 9").otp_digits, 9);
}

void structure_errors(void**) {
    expect_refused("no_such_key = 1\n", "unknown key");
    expect_refused("OTP_DIGITS = 8\n", "unknown key");
    expect_refused("otp_digits = 8\notp_digits = 9\n", "twice");
    expect_refused("otp_digits = 8\n# comment\notp_digits = 8\n", "twice");
    expect_refused("otp_digits 8\n", "key = value");
    expect_refused("= 8\n", "key = value");
    expect_refused("otp_digits =\n", "no value");
    expect_refused("otp_digits =    \n", "no value");
    expect_refused("otp_digits = 8 # eight\n");  // no trailing comments
    expect_refused("[pam_vendor]\n");
    // The error names the file and line.
    auto c = parse_config("# x\n\nbogus = 1\n", "/etc/x.conf");
    assert_false(c.ok());
    assert_true(contains(c.error().detail, "/etc/x.conf:3:"));
    // Oversize input is refused before parsing.
    std::string big(kMaxFileSize + 1, '#');
    assert_err(parse_config(big, "/x"), Code::too_large);
}

void value_ranges(void**) {
    expect_refused("otp_digits = 7\n");
    expect_refused("otp_digits = 13\n");
    expect_refused("otp_digits = -8\n");
    expect_refused("otp_digits = 8.0\n");
    expect_refused("otp_digits = eight\n");
    assert_int_equal(parse_ok("otp_digits = 8\n").otp_digits, 8);
    assert_int_equal(parse_ok("otp_digits = 12\n").otp_digits, 12);
    expect_refused("otp_ttl = 2h\n");
    expect_refused("otp_ttl = 29s\n");
    expect_refused("otp_ttl = 10\n");
    expect_refused("otp_ttl = 10 m\n");
    expect_refused("otp_ttl = 1m1h\n");
    assert_int_equal(parse_ok("otp_ttl = 30s\n").otp_ttl, 30);
    assert_int_equal(parse_ok("otp_ttl = 1h\n").otp_ttl, 3600);
    expect_refused("totp_window = 4\n");
    assert_int_equal(parse_ok("totp_window = 0\n").totp_window, 0);
    expect_refused("max_grant = 59s\n");
    expect_refused("max_grant = 8d\n");
    assert_int_equal(parse_ok("max_grant = 7d\n").max_grant, 7 * 86400);
    expect_refused("lockout_threshold = 0\n");
    expect_refused("lockout_threshold = 101\n");
    expect_refused("lockout_time = 9s\n");
    expect_refused("lockout_time = 2d\n");
    expect_refused("log_retention_days = 0\n");
    expect_refused("log_retention_days = 99999999999999999999\n");
    expect_refused("host_name = web 01\n");
    expect_refused("host_name = web/01\n");
    expect_refused("timezone = /etc/localtime\n");
    expect_refused("timezone = ../../etc/shadow\n");
    expect_refused("timezone = Europe/../../x\n");
    expect_refused("vendor_group = ven dors\n");
    expect_refused("vendor_group = a:b\n");
    expect_refused("privileged_groups = root wh:eel\n");
}

void retention_values(void**) {
    // Values under 183 days parse; `vendorctl prune` refuses them without
    // --force (R8: six months), so the parser does not enforce the floor.
    assert_int_equal(parse_ok("log_retention_days = 1\n").log_retention_days, 1);
    assert_int_equal(parse_ok("log_retention_days = 36500\n").log_retention_days, 36500);
    expect_refused("log_retention_days = 36501\n");
}

void paths(void**) {
    for (const char* key : {"registry_dir", "state_dir", "nss_dir", "audit_log"}) {
        std::string k(key);
        expect_refused(k + " = relative/dir\n", "absolute");
        expect_refused(k + " = ./x\n", "absolute");
        expect_refused(k + " = ~root/x\n", "absolute");
        expect_refused(k + " = /var/lib/../etc\n", "absolute");
        expect_refused(k + " = /var/./lib\n", "absolute");
        expect_refused(k + " = /var/lib/..\n", "absolute");
        expect_refused(k + " = /var/lib/.\n", "absolute");
        expect_refused(k + " = /var/lib/../\n", "absolute");
        expect_refused(k + " = /var/my dir\n", "absolute");
        expect_refused(k + " = /var/\x7f"
                           "x\n",
                       "absolute");
        expect_refused(k + " = /" + std::string(1100, 'x') + "\n", "absolute");
    }
    assert_str_eq(parse_ok("registry_dir = /\n").registry_dir, "/");
    assert_str_eq(parse_ok("registry_dir = /srv//x///\n").registry_dir, "/srv//x");
    assert_str_eq(parse_ok("registry_dir = /srv/..x/y.\n").registry_dir, "/srv/..x/y.");
}

void salvage(void**) {
    // A broken file still says who is a vendor, so vendors stay denied.
    auto c = salvage_identity("registry_dir = /srv/reg\n"
                              "this line is broken\n"
                              "vendor_group = acme-vendors\n"
                              "otp_digits = 99\n"
                              "state_dir = relative\n");
    assert_str_eq(c.registry_dir, "/srv/reg");
    assert_str_eq(c.vendor_group, "acme-vendors");
    assert_int_equal(c.otp_digits, 8);
    assert_str_eq(c.state_dir, "/var/lib/pam_vendor");
    // Bad values for the identity keys keep the defaults.
    auto d = salvage_identity("registry_dir = not/absolute\nvendor_group = bad group\n");
    assert_str_eq(d.registry_dir, "/etc/pam_vendor/accounts.d");
    assert_str_eq(d.vendor_group, "vendors");
    const char raw[] = "\0\xff garbage \n registry_dir=/r/\n";
    auto e = salvage_identity(std::string_view(raw, sizeof raw - 1));
    assert_str_eq(e.registry_dir, "/r");
}

void dump_has_every_key(void**) {
    for (const Config& c : {Config{}, parse_ok(kFull)}) {
        auto dump = dump_config(c);
        for (const auto& k : config_keys()) {
            std::string line = std::string(k.name) + " = ";
            if (dump.rfind(line, 0) != 0 && !contains(dump, "\n" + line))
                fail_msg("dump_config has no '%s' line:\n%s", k.name, dump.c_str());
            assert_true(k.help && *k.help);
        }
    }
    // And every key of the table is accepted by the parser (no dead entry).
    std::set<std::string> names;
    for (const auto& k : config_keys()) {
        assert_true(names.insert(k.name).second);  // no duplicate
        auto c = parse_config(std::string(k.name) + " = ?\n", "/x");
        if (!c.ok() && contains(c.error().detail, "unknown key"))
            fail_msg("key '%s' is in the table but unknown", k.name);
    }
    // Effective values are shown in the file's own syntax.
    auto d = dump_config(parse_ok(kFull));
    assert_true(contains(d, "state_dir = /srv/pv/state\n"));
    assert_true(contains(d, "timezone = Europe/Paris\n"));
    assert_true(contains(d, "otp_ttl = 5m\n"));
    assert_true(contains(d, "lockout_time = 1h30m\n"));
    assert_true(contains(d, "privileged_groups = root wheel sudo\n"));
}

// Section 5 of the core reshape: one keyword table drives the parser, the
// dump, salvage and `vendorctl config --keys` (which the man-page lint reads).
void key_listing(void**) {
    auto list = list_config_keys();
    auto keys = config_keys();
    std::size_t at = 0, n = 0;
    while (at < list.size()) {
        auto nl = list.find('\n', at);
        assert_true(nl != std::string::npos);
        auto fields = split(list.substr(at, nl - at), '\t');
        at = nl + 1;
        if (fields.size() != 4) fail_msg("listing line %zu has %zu fields", n, fields.size());
        assert_true(n < keys.size());
        assert_str_eq(fields[0], keys[n].name);
        assert_true(fields[1].rfind(key_kind_name(keys[n].kind), 0) == 0);
        assert_false(fields[2].empty());
        assert_str_eq(fields[3], keys[n].help);
        assert_true(find_config_key(fields[0]) == &keys[n]);
        ++n;
    }
    assert_int_equal(n, keys.size());
    assert_null(find_config_key("no_such_key"));
    // Ranges and defaults come from the same rows the parser uses.
    assert_true(contains(list, "otp_digits\tnumber(8..12)\t8\t"));
    assert_true(contains(list, "otp_ttl\tduration(30s..1h)\t10m\t"));
    assert_true(contains(list, "uid_min\tid(1000..2147483646)\t2000300000\t"));
    assert_true(contains(list, "remove_home\tchoice(archive|delete|keep)\tarchive\t"));
    assert_true(contains(list, "state_backend\tchoice(local|fleet)\tlocal\t"));
    assert_true(contains(list, "host_name\thost\t(gethostname)\t"));
    assert_true(contains(list, "allowed_groups\tgroups\t(none)\t"));
    expect_refused("otp_digits = 7\n", "from 8 to 12");
    expect_refused("otp_ttl = 29s\n", "between 30s and 1h");
    expect_refused("remove_home = shred\n", "must be archive, delete or keep");
    expect_refused("state_backend = etcd\n", "must be local or fleet");
    // salvage_identity() keeps exactly the rows marked for it: a broken file
    // with every key at a non-default value keeps those and nothing else.
    std::string text = "broken line\n";
    for (const auto& k : keys) {
        std::string v = k.kind == KeyKind::path       ? "/salvaged/" + std::string(k.name)
                        : k.kind == KeyKind::id       ? std::string("2000300500")
                        : k.kind == KeyKind::host     ? std::string("salvaged-host")
                        : k.kind == KeyKind::group    ? std::string("salvaged-group")
                        : k.kind == KeyKind::count    ? std::to_string(k.max)
                        : k.kind == KeyKind::duration ? std::to_string(k.max) + "s"
                                                      : std::string();
        if (!v.empty()) text += std::string(k.name) + " = " + v + "\n";
    }
    auto s = salvage_identity(text);
    for (const auto& k : keys) {
        bool changed = format_config_value(k, s) != format_config_value(k, Config{});
        bool fed = contains(text, "\n" + std::string(k.name) + " = ");
        if (changed != (fed && k.salvage != Salvage::no))
            fail_msg("salvage of '%s': changed=%d, salvaged row=%d", k.name, changed,
                     k.salvage != Salvage::no);
    }
}

void load_from_disk(void**) {
    TmpDir dir;
    // Absent file at the default path: built-in defaults; named explicitly: error.
    auto absent = dir / "absent.conf";
    auto d = load_config(absent, false);
    assert_ok(d);
    assert_int_equal(d->otp_digits, 8);
    assert_err(load_config(absent, true), Code::not_found);
    auto path = dir / "pam_vendor.conf";
    write_file(path, "otp_digits = 11\n", 0644);
    auto c = load_config(path, true);
    assert_ok(c);
    assert_int_equal(c->otp_digits, 11);
    assert_str_eq(c->path, path);
    // A broken file is an error, never the defaults.
    write_file(path, "otp_digits = 11\nbogus\n", 0644);
    assert_err(load_config(path, false), Code::invalid);
    // A file others can write is refused (sshd StrictModes).
    write_file(path, "otp_digits = 11\n", 0666);
    assert_err(load_config(path, false), Code::insecure);
    // So is a symlink to a good file.
    write_file(dir / "real.conf", "otp_digits = 11\n", 0644);
    assert_int_equal(::symlink((dir / "real.conf").c_str(), (dir / "link.conf").c_str()), 0);
    assert_err(load_config(dir / "link.conf", true), Code::insecure);
    assert_err(load_config("relative.conf", true), Code::invalid);
}

// Item 11: the guard must be able to name AD groups (sssd, winbind).
void privileged_ad_names(void**) {
    auto c = parse_ok("privileged_groups = root sudo \"domain admins\" admins@corp.example "
                      "CORP\\backup \"Op\xc3\xa9rateurs de compte\"\n");
    assert_int_equal(c.privileged_groups.size(), 6);
    assert_str_eq(c.privileged_groups[2], "domain admins");
    assert_str_eq(c.privileged_groups[3], "admins@corp.example");
    assert_str_eq(c.privileged_groups[4], "CORP\\backup");
    assert_str_eq(c.privileged_groups[5], "Op\xc3\xa9rateurs de compte");
    // The dump reads back to the same list.
    auto d = dump_config(c);
    assert_true(contains(d, "privileged_groups = root sudo \"domain admins\" admins@corp.example "
                            "CORP\\backup \"Op\xc3\xa9rateurs de compte\"\n"));
    auto at = d.find("privileged_groups");
    auto back = parse_ok(d.substr(at, d.find('\n', at) - at + 1));
    assert_true(back.privileged_groups == c.privileged_groups);
    // Quoting is strict: balanced, whole names only, nothing empty.
    expect_refused("privileged_groups = root \"domain admins\n", "quote");
    expect_refused("privileged_groups = root domain\"admins\"\n", "quote");
    expect_refused("privileged_groups = \"domain\"admins\n", "quote");
    expect_refused("privileged_groups = root \"\"\n", "group name");
    expect_refused("privileged_groups = \" domain admins\"\n", "group name");
    expect_refused("privileged_groups = \"a:b\"\n", "group name");
    expect_refused("privileged_groups = root \xff\n", "group name");
}

void group_names_match(void**) {
    assert_true(group_name_matches("domain admins", "domain admins"));
    assert_true(group_name_matches("domain admins", "Domain Admins"));
    assert_true(group_name_matches("Domain Admins", "domain admins@corp.example"));
    assert_true(group_name_matches("domain admins", "CORP\\Domain Admins"));
    assert_true(group_name_matches("admins@corp.example", "Admins@CORP.example"));
    assert_true(group_name_matches("SUDO", "sudo"));
    assert_false(group_name_matches("admins@corp.example", "admins"));
    assert_false(group_name_matches("admins@corp.example", "admins@other.example"));
    assert_false(group_name_matches("domain admins", "domain admins2"));
    assert_false(group_name_matches("admin", "administrators"));
    assert_false(group_name_matches("", ""));
    assert_false(group_name_matches("root", "@root"));
    // Case folding is ASCII only: no locale, no surprises.
    assert_false(group_name_matches("\xc3\xa9quipe", "\xc3\x89quipe"));
}

// Item 3: a vendor_group whose members are the administrators locks them out.
void vendor_group_never_privileged(void**) {
    expect_refused("vendor_group = root\n", "privileged");
    expect_refused("vendor_group = sudo\n", "privileged");
    expect_refused("vendor_group = Sudo\n", "privileged");
    expect_refused("vendor_group = adm\n", "privileged");
    // root and the built-in list count even when privileged_groups replaces it.
    expect_refused("privileged_groups = domain-admins\nvendor_group = root\n", "privileged");
    expect_refused("privileged_groups = domain-admins\nvendor_group = wheel\n", "privileged");
    expect_refused("privileged_groups = pacs-admins\nvendor_group = PACS-Admins\n", "privileged");
    expect_refused("vendor_group = pacs-admins\nprivileged_groups = root pacs-admins\n",
                   "privileged");
    assert_str_eq(parse_ok("vendor_group = prestataires\n").vendor_group, "prestataires");
    // A broken file never makes a privileged group the vendor group either.
    auto c = salvage_identity("vendor_group = root\nbroken line\n");
    assert_str_eq(c.vendor_group, "vendors");
    c = salvage_identity("vendor_group = sudo\nbroken line\n");
    assert_str_eq(c.vendor_group, "vendors");
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(defaults),          cmocka_unit_test(every_key),
        cmocka_unit_test(structure_errors),  cmocka_unit_test(value_ranges),
        cmocka_unit_test(retention_values),  cmocka_unit_test(paths),
        cmocka_unit_test(salvage),           cmocka_unit_test(dump_has_every_key),
        cmocka_unit_test(load_from_disk),    cmocka_unit_test(privileged_ad_names),
        cmocka_unit_test(group_names_match), cmocka_unit_test(vendor_group_never_privileged),
        cmocka_unit_test(key_listing),
    };
    return RUN_GROUP("config", tests);
}
