// One error type for the whole core: a code the boundaries map exhaustively
// (PAM return values, NSS status, CLI exit codes) and a detail for the one log
// line the caller writes. Library code never logs.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace vendor::core {

enum class Code {
    invalid,    // malformed input (parse error, bad value)
    not_found,  // file or entry absent
    insecure,   // wrong owner, mode, symlink, not a regular file
    io,         // read/write/rename/fsync failure
    too_large,  // hard cap exceeded
    busy,       // lock not obtained within the bounded wait
    exists,     // refused because something already exists
    refused,    // policy refusal (e.g. above max_grant)
    no_memory,  // allocation failure
    internal,   // should not happen
};

const char* code_name(Code c) noexcept;

struct Error {
    Code code = Code::internal;
    std::string detail;
};

inline Error make_error(Code c, std::string detail) { return Error{c, std::move(detail)}; }

// Shaped like std::expected<T, Error> (not available with g++ 12 in C++20).
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T v)
        : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT(google-explicit-constructor)
    Result(Error e)
        : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT(google-explicit-constructor)
    [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }

  private:
    std::variant<T, Error> v_;
};

struct Unit {};

// Result<void> equivalent.
class [[nodiscard]] Status {
  public:
    Status() = default;
    Status(Error e) : err_(std::move(e)), ok_(false) {}  // NOLINT(google-explicit-constructor)
    [[nodiscard]] bool ok() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    const Error& error() const& { return err_; }

  private:
    Error err_;
    bool ok_ = true;
};

}  // namespace vendor::core
