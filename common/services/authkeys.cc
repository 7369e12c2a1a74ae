#include "authkeys.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "facts.h"
#include "files.h"
#include "json.h"
#include "util.h"

namespace vendor::core {

namespace {

std::string path_of(const Config& c, const std::string& name) {
    return c.state_dir + "/authkeys/" + name + ".json";
}

// gid of keys_user's primary group; nullopt when the user does not exist,
// an error when NSS cannot say.
Result<std::optional<gid_t>> keys_gid(const Config& c) {
    auto pw = lookup_user(c.keys_user, true);
    if (!pw) return std::move(pw).error();
    if (!*pw) return std::optional<gid_t>();
    return std::optional<gid_t>((*pw)->gid);
}

}  // namespace

Status publish_authkeys(const Config& c, const std::string& name, const Entry* e,
                        const std::optional<Grant>& g) {
    if (!valid_account_name(name)) return make_error(Code::invalid, "bad account name");
    if (!e) return remove_file(path_of(c, name));
    if (auto st = ensure_dir(c.state_dir, 0711); !st) return st;
    auto state = Dir::open(c.state_dir);
    if (!state) return std::move(state).error();
    (void)state->chmod("", 0711);  // best effort, as before
    auto kdir = state->mkdir("authkeys", 0750);
    if (!kdir) return std::move(kdir).error();
    (void)kdir->chmod("", 0750);
    auto gid = keys_gid(c);
    if (!gid) return std::move(gid).error();
    // Group-readable by keys_user only; without that user the view stays
    // root-only and AuthorizedKeysCommand (not root) will see no key.
    if (*gid) {
        if (auto st = kdir->chown("", 0, **gid); !st) return st;
    }
    Json j = Json::object();
    j.set("name", name);
    Json from = Json::array();
    for (const auto& f : e->from) from.push(f.str());
    j.set("from", std::move(from));
    j.set("access", format_access(e->access));
    if (e->hours) j.set("hours", e->hours->text);
    Json keys = Json::array();
    for (const auto& k : e->keys) keys.push(k);
    j.set("keys", std::move(keys));
    j.set("grant_not_before", g ? g->not_before : 0).set("grant_not_after", g ? g->not_after : 0);
    std::string file = name + ".json";
    if (auto st = kdir->write(file, j.dump() + "\n", 0640); !st) return st;
    if (*gid) return kdir->chown(file, 0, **gid);
    return {};
}

Result<PublicView> read_authkeys(const Config& c, const std::string& name) {
    if (!valid_account_name(name)) return make_error(Code::invalid, "bad account name");
    auto text = safe_read(path_of(c, name), SafeOpts{1 << 18, true});
    if (!text) return std::move(text).error();
    std::string what = "public view of " + name;
    auto doc = Json::parse(*text, what);
    if (!doc) return std::move(doc).error();
    JsonReader r(doc->get(), what);
    PublicView v;
    std::string access;
    Status st;
    if (!(st = r.check_keys({"name", "from", "access", "hours", "keys", "grant_not_before",
                             "grant_not_after"})) ||
        !(st = r.str("name", v.name, true, 32)) ||
        !(st = r.str_list("from", v.from, true, 256, 64)) ||
        !(st = r.str("access", access, true, 32)) || !(st = r.str("hours", v.hours, false, 512)) ||
        !(st = r.str_list("keys", v.keys, true, 64)) ||
        !(st = r.int64("grant_not_before", v.grant_not_before, true)) ||
        !(st = r.int64("grant_not_after", v.grant_not_after, true)))
        return st.error();
    if (v.name != name) return make_error(Code::invalid, what + ": name mismatch");
    auto a = parse_access(access);
    if (!a) return std::move(a).error();
    v.access = *a;
    return v;
}

Verdict key_view_verdict(const Config& c, const PublicView& v, std::int64_t now) {
    // The view as an entry and its facts, then the one decision (keys phase).
    Entry e;
    e.name = v.name;
    e.access = v.access;
    e.keys = v.keys;
    for (const auto& f : v.from) {
        auto cidr = parse_cidr(f);
        if (!cidr)
            return Verdict{false, Reason::state_error, "public view: bad block in 'from'", 0};
        e.from.push_back(*cidr);
    }
    Facts f;
    f.now = now;
    if (v.grant_not_after != 0)
        f.grant = Grant{v.name, v.grant_not_before, v.grant_not_after, "", "", ""};
    TimeZone zone = TimeZone::utc();
    if (v.access & kAccessHours) {
        auto s = parse_schedule(v.hours);
        if (!s) return Verdict{false, Reason::state_error, "public view: " + s.error().detail, 0};
        e.hours = std::move(*s);
        // Hours are judged in the configured zone, as the module does; a zone
        // that cannot be read is a configuration error, never "outside hours".
        auto z = load_zone(c);
        if (!z) return Verdict{false, Reason::config_error, z.error().detail, 0};
        zone = std::move(*z);
        f.tz = &zone;
    }
    return decide(Phase::keys, e, f);
}

std::vector<std::string> authorized_keys_lines(const Config& c, const PublicView& v,
                                               std::int64_t now, std::string* why) {
    std::vector<std::string> out;
    Verdict verdict = key_view_verdict(c, v, now);
    if (why) *why = verdict.allow ? "" : reason_name(verdict.reason);
    if (!verdict.allow) return out;
    std::string opts = "from=\"";
    for (std::size_t i = 0; i < v.from.size(); ++i) {
        // sshd's from= takes address/masklen patterns; validate again.
        auto cidr = parse_cidr(v.from[i]);
        if (!cidr) return {};
        opts += (i ? "," : "") + cidr->str();
    }
    opts += "\"";
    if (v.access & kAccessGrant) {
        // The grant's exact second, in UTC ("Z"): sshd reads YYYYMMDDHHMM in
        // the system's zone, which would cut the grant short by up to a
        // minute (and follow whatever /etc/localtime says); with seconds and
        // Z it is the very instant the PAM account phase enforces.
        auto lt = to_local(TimeZone::utc(), v.grant_not_after);
        char buf[64];
        std::snprintf(buf, sizeof buf, ",expiry-time=\"%04lld%02u%02u%02d%02d%02dZ\"",
                      static_cast<long long>(lt.year), lt.month, lt.day, lt.minute_of_day / 60,
                      lt.minute_of_day % 60, lt.second);
        opts += buf;
    }
    if (!c.authorized_keys_options.empty()) opts += "," + c.authorized_keys_options;
    for (const auto& k : v.keys) {
        auto pk = parse_public_key(k);
        if (!pk) continue;  // never print a key the policy would refuse
        out.push_back(opts + " " + pk->type + " " + pk->blob_b64 + " " + v.name + "@pam_vendor");
    }
    return out;
}

}  // namespace vendor::core
