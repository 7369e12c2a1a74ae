#include "conversation.h"

#include <sodium.h>

#include <cstring>
#include <new>

namespace vendor::core {

SecretString::SecretString(std::string_view s) {
    if (s.empty()) return;
    // sodium_malloc needs the library initialised (idempotent, cheap).
    if (sodium_init() < 0) throw std::bad_alloc();
    p_ = static_cast<char*>(sodium_malloc(s.size()));
    if (!p_) throw std::bad_alloc();
    std::memcpy(p_, s.data(), s.size());
    n_ = s.size();
}

SecretString::SecretString(std::string&& s) : SecretString(std::string_view(s)) {
    if (!s.empty()) sodium_memzero(s.data(), s.size());
    s.clear();
}

void SecretString::wipe() noexcept {
    if (p_) sodium_free(p_);  // zeroes the buffer before unmapping it
    p_ = nullptr;
    n_ = 0;
}

Result<SecretString> ask_code(Conversation& conv) {
    auto r = conv.prompt(true, "One-time code: ");
    if (!r) return make_error(Code::io, "no answer to the code prompt");
    if (r->str().size() > 128) return SecretString(r->str().substr(0, 128));
    return std::move(*r);
}

}  // namespace vendor::core
