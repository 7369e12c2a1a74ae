#include "session_record.h"

#include "files.h"
#include "json.h"
#include "util.h"

namespace vendor::core {

namespace {

std::string dir_of(const Config& c) { return c.state_dir + "/sessions"; }
std::string path_of(const Config& c, std::string_view id) {
    return dir_of(c) + "/" + std::string(id) + ".json";
}

}  // namespace

bool valid_session_id(std::string_view id) noexcept {
    if (id.size() != 32) return false;
    for (char ch : id)
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
    return true;
}

Status write_session_record(const Config& c, const SessionRecord& r) {
    if (!valid_session_id(r.id)) return make_error(Code::invalid, "bad session id");
    if (!valid_account_name(r.account)) return make_error(Code::invalid, "bad account name");
    if (auto st = ensure_dir(dir_of(c), 0700); !st) return st;
    Json j = Json::object();
    j.set("id", r.id).set("account", r.account).set("start_ms", r.start_ms).set("pid", r.pid);
    // Not synced: a record lost in a crash only makes its close log that it
    // has none (the audit log is not synced either).
    return atomic_write(path_of(c, r.id), j.dump() + "\n", 0600, false);
}

Result<SessionRecord> take_session_record(const Config& c, std::string_view id,
                                          std::string_view account) {
    if (!valid_session_id(id)) return make_error(Code::invalid, "bad session id");
    std::string path = path_of(c, id);
    auto text = safe_read(path, SafeOpts{4096, false});
    if (!text) return std::move(text).error();
    std::string what = "session record " + std::string(id);
    auto doc = Json::parse(*text, what);
    if (!doc) return std::move(doc).error();
    JsonReader rd(doc->get(), what);
    SessionRecord r;
    Status st;
    if (!(st = rd.check_keys({"id", "account", "start_ms", "pid"})) ||
        !(st = rd.str("id", r.id, true, 32)) || !(st = rd.str("account", r.account, true, 32)) ||
        !(st = rd.int64("start_ms", r.start_ms, true)) || !(st = rd.int64("pid", r.pid, true)))
        return st.error();
    if (r.id != id) return make_error(Code::invalid, what + ": id mismatch");
    if (r.account != account)
        return make_error(Code::not_found, what + ": belongs to another account");
    if (auto rm = remove_file(path); !rm) return rm.error();
    return r;
}

Status drop_session_record(const Config& c, std::string_view id) {
    if (!valid_session_id(id)) return make_error(Code::invalid, "bad session id");
    return remove_file(path_of(c, id));
}

}  // namespace vendor::core
