// How a phase talks to the person logging in: the PAM conversation in
// pam_vendor.so, a scripted one in the unit tests. The auth flow (the code
// prompt, later an approval wait) speaks only through this interface, so it
// runs without libpam.
#pragma once

#include <string>
#include <string_view>

#include "result.h"

namespace vendor::core {

// A typed answer (a code): wiped when it goes away, never logged. The bytes
// live in a libsodium guarded allocation (sodium_malloc: guard pages,
// mlock'ed, zeroed by sodium_free), never in the object itself: a
// std::string keeps a short code in its in-object buffer, and a move left
// that copy behind in the moved-from object, unwiped.
class SecretString {
  public:
    SecretString() = default;
    // Copies into the guarded buffer; the std::string&& source is wiped.
    // Throws std::bad_alloc when no guarded buffer can be had (the entry
    // guard maps it to PAM_BUF_ERR).
    explicit SecretString(std::string_view s);
    explicit SecretString(std::string&& s);
    SecretString(SecretString&& o) noexcept : p_(o.p_), n_(o.n_) {
        o.p_ = nullptr;
        o.n_ = 0;
    }
    SecretString& operator=(SecretString&& o) noexcept {
        if (this != &o) {
            wipe();
            p_ = o.p_;
            n_ = o.n_;
            o.p_ = nullptr;
            o.n_ = 0;
        }
        return *this;
    }
    SecretString(const SecretString&) = delete;
    SecretString& operator=(const SecretString&) = delete;
    ~SecretString() { wipe(); }
    std::string_view str() const noexcept {
        return p_ ? std::string_view(p_, n_) : std::string_view();
    }

  private:
    void wipe() noexcept;
    char* p_ = nullptr;
    std::size_t n_ = 0;
};

class Conversation {
  public:
    virtual ~Conversation() = default;
    // Asks and waits for one line; echo_off for a secret. An error when the
    // client gave no answer (closed, timed out, conversation failed).
    virtual Result<SecretString> prompt(bool echo_off, std::string_view text) = 0;
    virtual void info(std::string_view text) = 0;
    virtual void error(std::string_view text) = 0;
};

// The code prompt of the auth phase: one echo-off question; the answer is
// cut at 128 characters (no code is longer). An error when none came.
Result<SecretString> ask_code(Conversation& conv);

}  // namespace vendor::core
