// json-c behind RAII and strict typed accessors: every document the core
// reads is an object with a fixed set of keys; anything unknown or of the
// wrong type rejects the whole document.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

struct json_object;

namespace vendor::core {

class Json {
  public:
    Json() = default;
    explicit Json(json_object* o) : o_(o) {}  // takes ownership
    Json(Json&& other) noexcept : o_(other.o_) { other.o_ = nullptr; }
    Json& operator=(Json&& other) noexcept;
    Json(const Json&) = delete;
    Json& operator=(const Json&) = delete;
    ~Json();

    static Json object();
    static Json array();
    // Strict: one document, UTF-8, every key of an object at most once
    // (json-c alone would keep the last of two, another tool the first).
    static Result<Json> parse(std::string_view text, std::string_view what);

    json_object* get() const noexcept { return o_; }
    // Builders (on an object). Strings that are not UTF-8 are written with
    // the offending bytes as "\\xHH" text (utf8_sanitize): nothing we write
    // is ever invalid JSON.
    Json& set(const char* key, std::string_view v);
    // Without this a string literal would pick the bool overload.
    Json& set(const char* key, const char* v) { return set(key, std::string_view(v)); }
    Json& set(const char* key, const std::string& v) { return set(key, std::string_view(v)); }
    Json& set(const char* key, std::int64_t v);
    Json& set(const char* key, bool v);
    Json& set(const char* key, Json&& v);
    // A documented field with no value: `null`, never left out (vendorctl(8)).
    Json& set_null(const char* key);
    Json& push(std::string_view v);  // on an array
    Json& push(Json&& v);
    // Compact text, keys in insertion order, '/' not escaped.
    std::string dump() const;
    std::string dump_pretty() const;

  private:
    json_object* o_ = nullptr;
};

// Strict reader over a parsed object.
class JsonReader {
  public:
    JsonReader(json_object* o, std::string what) : o_(o), what_(std::move(what)) {}
    // Fails if the value is not an object or has a key outside `allowed`.
    Status check_keys(std::initializer_list<const char*> allowed) const;
    Status check_keys(std::span<const char* const> allowed) const;
    Status str(const char* key, std::string& out, bool required, std::size_t max_len = 1024) const;
    Status int64(const char* key, std::int64_t& out, bool required) const;
    Status boolean(const char* key, bool& out, bool required) const;
    Status str_list(const char* key, std::vector<std::string>& out, bool required,
                    std::size_t max_items = 256, std::size_t max_len = 16384) const;

  private:
    json_object* o_;
    std::string what_;
};

}  // namespace vendor::core
