// How a phase talks to the person logging in: the PAM conversation in
// pam_vendor.so, a scripted one in the unit tests. The auth flow (the code
// prompt, later an approval wait) speaks only through this interface, so it
// runs without libpam.
#pragma once

#include <string>
#include <string_view>

#include "result.h"

namespace vendor::core {

// A typed answer (a code): wiped when it goes away, never logged.
class SecretString {
  public:
    SecretString() = default;
    explicit SecretString(std::string s) : s_(std::move(s)) {}
    SecretString(SecretString&& o) noexcept : s_(std::move(o.s_)) { o.wipe(); }
    SecretString& operator=(SecretString&& o) noexcept {
        if (this != &o) {
            wipe();
            s_ = std::move(o.s_);
            o.wipe();
        }
        return *this;
    }
    SecretString(const SecretString&) = delete;
    SecretString& operator=(const SecretString&) = delete;
    ~SecretString() { wipe(); }
    const std::string& str() const noexcept { return s_; }

  private:
    void wipe() noexcept;
    std::string s_;
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
