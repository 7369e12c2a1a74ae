// conversation.h: the auth flow's prompt, run against a scripted
// conversation instead of libpam.
#include "conversation.h"

#include <deque>
#include <string>
#include <vector>

#include "unit.h"

using namespace vendor::core;
using namespace unit;

namespace {

// Answers from a script; no answer left is a failed conversation.
class Scripted final : public Conversation {
  public:
    std::deque<std::string> answers;
    std::vector<std::string> prompts, infos, errors;
    std::vector<bool> echo_off;
    Result<SecretString> prompt(bool off, std::string_view text) override {
        prompts.emplace_back(text);
        echo_off.push_back(off);
        if (answers.empty()) return make_error(Code::io, "no answer");
        std::string a = answers.front();
        answers.pop_front();
        return SecretString(std::move(a));
    }
    void info(std::string_view text) override { infos.emplace_back(text); }
    void error(std::string_view text) override { errors.emplace_back(text); }
};

void code_prompt(void**) {
    Scripted s;
    s.answers = {"12345678"};
    auto a = ask_code(s);
    assert_true(a.ok());
    assert_str_eq(a->str(), "12345678");
    assert_int_equal(s.prompts.size(), 1);
    assert_str_eq(s.prompts[0], "One-time code: ");
    assert_true(s.echo_off[0]);  // a code is a secret: never echoed
}

void no_answer(void**) {
    Scripted s;
    auto a = ask_code(s);
    assert_false(a.ok());
    assert_int_equal(s.prompts.size(), 1);
}

void long_answer_cut(void**) {
    Scripted s;
    s.answers = {std::string(5000, '7')};
    auto a = ask_code(s);
    assert_true(a.ok());
    assert_int_equal(a->str().size(), 128);
}

void secret_moves(void**) {
    SecretString a(std::string("secret"));
    SecretString b(std::move(a));
    assert_str_eq(b.str(), "secret");
    assert_true(a.str().empty());  // NOLINT(bugprone-use-after-move): the moved-from is wiped
    a = std::move(b);
    assert_str_eq(a.str(), "secret");
    assert_true(b.str().empty());  // NOLINT(bugprone-use-after-move)
}

// Issue 9 §2: a short code is not kept inside the object (a std::string's
// in-object buffer survived a move unwiped); its bytes are in a guarded
// allocation outside it.
void secret_outside_the_object(void**) {
    SecretString a(std::string("12345678"));
    auto* lo = reinterpret_cast<const char*>(&a);
    const char* p = a.str().data();
    assert_true(p < lo || p >= lo + sizeof a);
    SecretString b(std::move(a));
    auto* raw = reinterpret_cast<const unsigned char*>(&a);
    for (std::size_t i = 0; i + 8 <= sizeof a; ++i)
        assert_false(std::memcmp(raw + i, "12345678", 8) == 0);
    assert_str_eq(b.str(), "12345678");
    SecretString c(std::string_view("987654"));
    assert_str_eq(c.str(), "987654");
    SecretString e;
    assert_true(e.str().empty());
}

}  // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(code_prompt),
        cmocka_unit_test(no_answer),
        cmocka_unit_test(long_answer_cut),
        cmocka_unit_test(secret_moves),
        cmocka_unit_test(secret_outside_the_object),
    };
    return RUN_GROUP("conversation", tests);
}
