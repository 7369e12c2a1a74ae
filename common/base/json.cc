#include "json.h"

#include <json-c/json.h>
#include <locale.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "util.h"

namespace vendor::core {

// json-c reports allocation failure as NULL (constructors, serialisation) or
// as a negative return (object/array add, which then leave the value with
// the caller). Each becomes std::bad_alloc, like any other allocation of the
// core: the PAM boundary maps it to PAM_BUF_ERR, a denial. Unchecked, the
// NULL reached json-c's assert()s or a std::string constructor: an abort or
// a crash inside sshd.
namespace {
json_object* made(json_object* o) {
    if (!o) throw std::bad_alloc();
    return o;
}
void add_field(json_object* obj, const char* key, json_object* v) {
    made(v);
    if (json_object_object_add(obj, key, v) != 0) {
        json_object_put(v);
        throw std::bad_alloc();
    }
}
void add_item(json_object* arr, json_object* v) {
    made(v);
    if (json_object_array_add(arr, v) != 0) {
        json_object_put(v);
        throw std::bad_alloc();
    }
}
std::string text_of(const char* s) {
    if (!s) throw std::bad_alloc();
    return s;
}
}  // namespace

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

Json Json::object() { return Json(made(json_object_new_object())); }
Json Json::array() { return Json(made(json_object_new_array())); }

namespace {

// A strict RFC 8259 reader building json-c objects through the checked
// constructors above. It replaces json_tokener: json-c 0.16's tokener
// strdup()s object keys without checking and hashes the NULL on failure (a
// SIGSEGV inside sshd when memory runs out, issue item 10). Depth is capped
// like the tokener was (32); numbers are integers (int64) or doubles.
class Reader {
  public:
    explicit Reader(std::string_view t) : t_(t) {}
    // The value and where it ends; nullptr with err_ set when invalid.
    Json document() {
        Json v = value(0);
        if (!err_.empty()) return Json();
        return v;
    }
    std::size_t end() const { return i_; }
    const std::string& error() const { return err_; }

  private:
    static constexpr int kMaxDepth = 32;
    std::string_view t_;
    std::size_t i_ = 0;
    std::string err_;
    bool null_ = false;  // the last value was JSON null (json-c: nullptr)

    Json bad(const char* why) {
        if (err_.empty()) err_ = std::string(why) + " at offset " + std::to_string(i_);
        return Json();
    }
    void ws() {
        while (i_ < t_.size() &&
               (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
            ++i_;
    }
    bool eat(char c) {
        ws();
        if (i_ < t_.size() && t_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool literal(std::string_view word) {
        if (t_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }

    Json value(int depth) {
        null_ = false;
        ws();
        if (i_ >= t_.size()) return bad("unexpected end");
        char c = t_[i_];
        if (c == '{' || c == '[') {
            if (depth >= kMaxDepth) return bad("nesting too deep");
            ++i_;
            return c == '{' ? object(depth + 1) : array(depth + 1);
        }
        if (c == '"') {
            std::string str;
            if (!string(str)) return Json();
            return Json(made(json_object_new_string_len(str.data(), static_cast<int>(str.size()))));
        }
        if (literal("true")) return Json(made(json_object_new_boolean(1)));
        if (literal("false")) return Json(made(json_object_new_boolean(0)));
        if (literal("null")) {
            null_ = true;
            return Json();
        }
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        return bad("unexpected character");
    }

    Json object(int depth) {
        Json obj(made(json_object_new_object()));
        if (eat('}')) return obj;
        for (;;) {
            ws();
            std::string key;
            if (i_ >= t_.size() || t_[i_] != '"') return bad("expected a field name");
            if (!string(key)) return Json();
            if (key.find('\0') != std::string::npos) return bad("NUL in a field name");
            if (!eat(':')) return bad("expected ':'");
            // A key given twice: tools disagree on which one counts
            // (json-c keeps the last), so the document is refused.
            if (json_object_object_get_ex(obj.get(), key.c_str(), nullptr))
                return bad(("field '" + escape(key, 64) + "' given twice").c_str());
            Json v = value(depth);
            if (!err_.empty()) return Json();
            if (!v.get() && !null_) return bad("expected a value");
            obj.set(key.c_str(), std::move(v));
            if (eat(',')) continue;
            if (eat('}')) return obj;
            return bad("expected ',' or '}'");
        }
    }

    Json array(int depth) {
        Json arr(made(json_object_new_array()));
        if (eat(']')) return arr;
        for (;;) {
            Json v = value(depth);
            if (!err_.empty()) return Json();
            arr.push(std::move(v));
            if (eat(',')) continue;
            if (eat(']')) return arr;
            return bad("expected ',' or ']'");
        }
    }

    static void utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    bool hex4(std::uint32_t& out) {
        if (t_.size() - i_ < 4) return false;
        out = 0;
        for (int k = 0; k < 4; ++k) {
            char h = t_[i_++];
            out <<= 4;
            if (h >= '0' && h <= '9') out |= static_cast<std::uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') out |= static_cast<std::uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') out |= static_cast<std::uint32_t>(h - 'A' + 10);
            else return false;
        }
        return true;
    }
    // At the opening quote.
    bool string(std::string& out) {
        ++i_;
        for (;;) {
            if (i_ >= t_.size()) return bad("unterminated string"), false;
            char c = t_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20)
                return bad("control character in string"), false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= t_.size()) return bad("unterminated string"), false;
            char e = t_[i_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                std::uint32_t cp = 0, lo = 0;
                if (!hex4(cp)) return bad("bad \\u escape"), false;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return bad("lone surrogate (not valid UTF-8)"), false;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (!literal("\\u") || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return bad("lone surrogate (not valid UTF-8)"), false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                utf8(out, cp);
                break;
            }
            default: return bad("bad escape"), false;
            }
        }
    }

    // Not std::from_chars: libstdc++'s floating-point from_chars brings
    // fesetround (libm) and a std::pmr pool with a static initialiser into
    // pam_vendor.so, one more shared object for every login to load
    // (make bench, "load"). strtod_l in the "C" locale, never the
    // application's LC_NUMERIC, gives the same value and the same verdict:
    // overflow, or underflow to zero, is out of range; a subnormal is kept.
    // `text` is a complete number of the grammar above (and NUL-terminated).
    static bool decimal(const std::string& text, double& out) {
        locale_t c = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
        if (c == static_cast<locale_t>(nullptr)) throw std::bad_alloc();
        char* end = nullptr;
        errno = 0;
        out = strtod_l(text.c_str(), &end, c);
        bool range = errno == ERANGE && (std::isinf(out) || out == 0);
        freelocale(c);
        return !range && end == text.c_str() + text.size();
    }

    Json number() {
        std::size_t start = i_;
        if (t_[i_] == '-') ++i_;
        auto digits = [&] {
            std::size_t d = i_;
            while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
            return i_ - d;
        };
        std::size_t lead = i_;
        if (digits() == 0) return bad("bad number");
        if (t_[lead] == '0' && i_ - lead > 1) return bad("leading zero");
        bool integer = true;
        if (i_ < t_.size() && t_[i_] == '.') {
            ++i_;
            integer = false;
            if (digits() == 0) return bad("bad number");
        }
        if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
            ++i_;
            integer = false;
            if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
            if (digits() == 0) return bad("bad number");
        }
        const char* b = t_.data() + start;
        const char* e = t_.data() + i_;
        if (integer) {
            std::int64_t n = 0;
            auto r = std::from_chars(b, e, n);
            if (r.ec != std::errc() || r.ptr != e) return bad("integer out of range");
            return Json(made(json_object_new_int64(n)));
        }
        double d = 0;
        if (!decimal(std::string(b, e), d)) return bad("number out of range");
        return Json(made(json_object_new_double(d)));
    }
};

}  // namespace

Result<Json> Json::parse(std::string_view text, std::string_view what) {
    if (text.size() > (1 << 20))
        return make_error(Code::too_large, std::string(what) + ": too large");
    if (!text.empty() && std::memchr(text.data(), '\0', text.size()))
        return make_error(Code::invalid, std::string(what) + ": NUL byte");
    if (!valid_utf8(text))
        return make_error(Code::invalid, std::string(what) + ": not valid UTF-8");
    Reader r(text);
    Json j = r.document();
    if (!r.error().empty() || !j.get())
        return make_error(Code::invalid, std::string(what) + ": not valid JSON (" +
                                             (r.error().empty() ? "null" : r.error()) + ")");
    // Only whitespace may follow the document.
    if (trim(text.substr(r.end())).size() != 0)
        return make_error(Code::invalid,
                          std::string(what) + ": trailing data after the JSON document");
    return j;
}

namespace {
// Every string written is UTF-8: invalid bytes become \xNN text, so that no
// line of the audit log (or any document) stops being valid JSON.
json_object* new_string(std::string_view v) {
    if (valid_utf8(v)) return json_object_new_string_len(v.data(), static_cast<int>(v.size()));
    std::string clean = utf8_sanitize(v);
    return json_object_new_string_len(clean.data(), static_cast<int>(clean.size()));
}
}  // namespace

Json& Json::set(const char* key, std::string_view v) {
    add_field(o_, key, new_string(v));
    return *this;
}
Json& Json::set_null(const char* key) {
    if (json_object_object_add(o_, key, nullptr) != 0) throw std::bad_alloc();
    return *this;
}
Json& Json::set(const char* key, std::int64_t v) {
    add_field(o_, key, json_object_new_int64(v));
    return *this;
}
Json& Json::set(const char* key, bool v) {
    add_field(o_, key, json_object_new_boolean(v ? 1 : 0));
    return *this;
}
Json& Json::set(const char* key, Json&& v) {
    json_object* o = v.o_;  // ours from here, freed on failure
    v.o_ = nullptr;
    if (json_object_object_add(o_, key, o) != 0) {
        json_object_put(o);
        throw std::bad_alloc();
    }
    return *this;
}
Json& Json::push(std::string_view v) {
    add_item(o_, new_string(v));
    return *this;
}

Json& Json::push(Json&& v) {
    json_object* o = v.o_;
    v.o_ = nullptr;
    if (json_object_array_add(o_, o) != 0) {
        json_object_put(o);
        throw std::bad_alloc();
    }
    return *this;
}

std::string Json::dump() const {
    return text_of(json_object_to_json_string_ext(o_, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
}
std::string Json::dump_pretty() const {
    return text_of(json_object_to_json_string_ext(
        o_, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
}

Status JsonReader::check_keys(std::initializer_list<const char*> allowed) const {
    return check_keys(std::span<const char* const>(allowed.begin(), allowed.size()));
}

Status JsonReader::check_keys(std::span<const char* const> allowed) const {
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
