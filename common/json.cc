#include "json.h"

#include <json-c/json.h>

#include <cerrno>
#include <cstring>

#include "util.h"

namespace vendor::core {

Json& Json::operator=(Json&& other) noexcept {
    if (this != &other) {
        if (o_) json_object_put(o_);
        o_ = other.o_;
        other.o_ = nullptr;
    }
    return *this;
}

Json::~Json() {
    if (o_) json_object_put(o_);
}

Json Json::object() { return Json(json_object_new_object()); }
Json Json::array() { return Json(json_object_new_array()); }

Result<Json> Json::parse(std::string_view text, std::string_view what) {
    if (text.size() > (1 << 20))
        return make_error(Code::too_large, std::string(what) + ": too large");
    if (!text.empty() && std::memchr(text.data(), '\0', text.size()))
        return make_error(Code::invalid, std::string(what) + ": NUL byte");
    json_tokener* tok = json_tokener_new_ex(32);
    if (!tok) return make_error(Code::no_memory, "json_tokener_new");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object* o = json_tokener_parse_ex(tok, text.data(), static_cast<int>(text.size()));
    json_tokener_error err = json_tokener_get_error(tok);
    std::size_t consumed = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    Json j(o);
    if (!o || err != json_tokener_success)
        return make_error(Code::invalid, std::string(what) + ": not valid JSON (" +
                                             (o ? "trailing data" : json_tokener_error_desc(err)) +
                                             ")");
    // Only whitespace may follow the document.
    if (trim(text.substr(consumed)).size() != 0)
        return make_error(Code::invalid,
                          std::string(what) + ": trailing data after the JSON document");
    return j;
}

Json& Json::set(const char* key, std::string_view v) {
    json_object_object_add(o_, key,
                           json_object_new_string_len(v.data(), static_cast<int>(v.size())));
    return *this;
}
Json& Json::set(const char* key, std::int64_t v) {
    json_object_object_add(o_, key, json_object_new_int64(v));
    return *this;
}
Json& Json::set(const char* key, bool v) {
    json_object_object_add(o_, key, json_object_new_boolean(v ? 1 : 0));
    return *this;
}
Json& Json::set(const char* key, Json&& v) {
    json_object_object_add(o_, key, v.o_);
    v.o_ = nullptr;
    return *this;
}
Json& Json::push(std::string_view v) {
    json_object_array_add(o_, json_object_new_string_len(v.data(), static_cast<int>(v.size())));
    return *this;
}

Json& Json::push(Json&& v) {
    json_object_array_add(o_, v.o_);
    v.o_ = nullptr;
    return *this;
}

std::string Json::dump() const {
    return json_object_to_json_string_ext(o_,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}
std::string Json::dump_pretty() const {
    return json_object_to_json_string_ext(o_, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
}

Status JsonReader::check_keys(std::initializer_list<const char*> allowed) const {
    if (!o_ || !json_object_is_type(o_, json_type_object))
        return make_error(Code::invalid, what_ + ": not a JSON object");
    json_object_object_foreach(o_, key, val) {
        (void)val;
        bool ok = false;
        for (const char* a : allowed)
            if (std::strcmp(a, key) == 0) ok = true;
        if (!ok)
            return make_error(Code::invalid, what_ + ": unknown field '" + escape(key, 64) + "'");
    }
    return {};
}

namespace {
json_object* field(json_object* o, const char* key) {
    json_object* v = nullptr;
    if (!json_object_object_get_ex(o, key, &v)) return nullptr;
    return v;
}
}  // namespace

Status JsonReader::str(const char* key, std::string& out, bool required,
                       std::size_t max_len) const {
    json_object* v = field(o_, key);
    if (!v) {
        if (required) return make_error(Code::invalid, what_ + ": missing field '" + key + "'");
        return {};
    }
    if (!json_object_is_type(v, json_type_string))
        return make_error(Code::invalid, what_ + ": field '" + key + "' must be a string");
    auto len = static_cast<std::size_t>(json_object_get_string_len(v));
    if (len > max_len) return make_error(Code::too_large, what_ + ": field '" + key + "' too long");
    const char* s = json_object_get_string(v);
    if (std::memchr(s, '\0', len))
        return make_error(Code::invalid, what_ + ": NUL in '" + key + "'");
    out.assign(s, len);
    return {};
}

Status JsonReader::int64(const char* key, std::int64_t& out, bool required) const {
    json_object* v = field(o_, key);
    if (!v) {
        if (required) return make_error(Code::invalid, what_ + ": missing field '" + key + "'");
        return {};
    }
    if (!json_object_is_type(v, json_type_int))
        return make_error(Code::invalid, what_ + ": field '" + key + "' must be an integer");
    errno = 0;
    std::int64_t n = json_object_get_int64(v);
    if (errno == ERANGE)
        return make_error(Code::invalid, what_ + ": field '" + key + "' out of range");
    out = n;
    return {};
}

Status JsonReader::boolean(const char* key, bool& out, bool required) const {
    json_object* v = field(o_, key);
    if (!v) {
        if (required) return make_error(Code::invalid, what_ + ": missing field '" + key + "'");
        return {};
    }
    if (!json_object_is_type(v, json_type_boolean))
        return make_error(Code::invalid, what_ + ": field '" + key + "' must be true or false");
    out = json_object_get_boolean(v) != 0;
    return {};
}

Status JsonReader::str_list(const char* key, std::vector<std::string>& out, bool required,
                            std::size_t max_items, std::size_t max_len) const {
    json_object* v = field(o_, key);
    if (!v) {
        if (required) return make_error(Code::invalid, what_ + ": missing field '" + key + "'");
        return {};
    }
    if (!json_object_is_type(v, json_type_array))
        return make_error(Code::invalid, what_ + ": field '" + key + "' must be a list of strings");
    auto n = json_object_array_length(v);
    if (n > max_items)
        return make_error(Code::too_large, what_ + ": too many items in '" + key + "'");
    out.clear();
    for (std::size_t i = 0; i < n; ++i) {
        json_object* e = json_object_array_get_idx(v, i);
        if (!e || !json_object_is_type(e, json_type_string))
            return make_error(Code::invalid,
                              what_ + ": field '" + key + "' must be a list of strings");
        auto len = static_cast<std::size_t>(json_object_get_string_len(e));
        if (len > max_len)
            return make_error(Code::too_large, what_ + ": item too long in '" + key + "'");
        const char* s = json_object_get_string(e);
        if (std::memchr(s, '\0', len))
            return make_error(Code::invalid, what_ + ": NUL in '" + key + "'");
        out.emplace_back(s, len);
    }
    return {};
}

}  // namespace vendor::core
