#include "conversation.h"

#include <sodium.h>

namespace vendor::core {

void SecretString::wipe() noexcept {
    if (!s_.empty()) sodium_memzero(s_.data(), s_.size());
    s_.clear();
}

Result<SecretString> ask_code(Conversation& conv) {
    auto r = conv.prompt(true, "One-time code: ");
    if (!r) return make_error(Code::io, "no answer to the code prompt");
    if (r->str().size() > 128) return SecretString(r->str().substr(0, 128));
    return std::move(*r);
}

}  // namespace vendor::core
