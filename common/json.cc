#include "json.h"

#include <json-c/json.h>

#include <cerrno>
#include <cstring>
#include <set>

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

namespace {

void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

bool hex4(std::string_view t, std::size_t i, std::uint32_t& v) {
    if (t.size() < i + 4) return false;
    v = 0;
    for (std::size_t k = i; k < i + 4; ++k) {
        char c = t[k];
        unsigned d = c >= '0' && c <= '9'   ? static_cast<unsigned>(c - '0')
                     : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? static_cast<unsigned>(c - 'A' + 10)
                                            : 16u;
        if (d > 15) return false;
        v = v << 4 | d;
    }
    return true;
}

// The string starting at the quote t[i], decoded (so that "a" and "\u0061"
// are the same key); i is left on the closing quote. `lone` is set by a
// \u escape of an unpaired surrogate, which names no character (json-c
// would quietly make it U+FFFD).
std::string decode_string(std::string_view t, std::size_t& i, bool& lone) {
    std::string out;
    for (++i; i < t.size() && t[i] != '"'; ++i) {
        if (t[i] != '\\' || i + 1 >= t.size()) {
            out += t[i];
            continue;
        }
        char e = t[++i];
        std::uint32_t cp = 0, lo = 0;
        switch (e) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u':
            if (!hex4(t, i + 1, cp)) break;
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && i + 2 < t.size() && t[i + 1] == '\\' &&
                t[i + 2] == 'u' && hex4(t, i + 3, lo) && lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            } else if (cp >= 0xd800 && cp <= 0xdfff) {
                lone = true;
            }
            put_utf8(out, cp);
            break;
        default: out += e; break;  // '"', '\\', '/'
        }
    }
    return out;
}

// Over text json-c has already accepted: "" if every object names each key
// once and every escape is a character, else why not.
std::string strict_scan(std::string_view t) {
    struct Level {
        bool object;
        bool expect_key;
        std::set<std::string> keys;
    };
    std::vector<Level> stack;
    for (std::size_t i = 0; i < t.size(); ++i) {
        switch (t[i]) {
        case '{': stack.push_back({true, true, {}}); break;
        case '[': stack.push_back({false, false, {}}); break;
        case '}':
        case ']':
            if (!stack.empty()) stack.pop_back();
            break;
        case ',':
            if (!stack.empty() && stack.back().object) stack.back().expect_key = true;
            break;
        case '"': {
            bool lone = false;
            std::string s = decode_string(t, i, lone);
            if (lone) return "a \\u escape names a lone surrogate (not valid UTF-8)";
            if (stack.empty() || !stack.back().object || !stack.back().expect_key) break;
            stack.back().expect_key = false;
            if (!stack.back().keys.insert(s).second)
                return "field '" + escape(s, 64) + "' given twice";
            break;
        }
        default: break;
        }
    }
    return "";
}

}  // namespace

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
    if (!valid_utf8(text))
        return make_error(Code::invalid, std::string(what) + ": not valid UTF-8");
    if (auto why = strict_scan(text); !why.empty())
        return make_error(Code::invalid, std::string(what) + ": " + why);
    return j;
}

namespace {
json_object* new_string(std::string_view v) {
    if (valid_utf8(v)) return json_object_new_string_len(v.data(), static_cast<int>(v.size()));
    std::string clean = utf8_sanitize(v);
    return json_object_new_string_len(clean.data(), static_cast<int>(clean.size()));
}
}  // namespace

Json& Json::set(const char* key, std::string_view v) {
    json_object_object_add(o_, key, new_string(v));
    return *this;
}
Json& Json::set_null(const char* key) {
    json_object_object_add(o_, key, nullptr);
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
    json_object_array_add(o_, new_string(v));
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
    // Defence in depth: whatever json-c made of an escape must still be UTF-8.
    if (!valid_utf8(std::string_view(s, len)))
        return make_error(Code::invalid, what_ + ": field '" + key + "' is not valid UTF-8");
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
        if (!valid_utf8(std::string_view(s, len)))
            return make_error(Code::invalid, what_ + ": field '" + key + "' is not valid UTF-8");
        out.emplace_back(s, len);
    }
    return {};
}

}  // namespace vendor::core
