// SPDX-License-Identifier: GPL-3.0-or-later
// Chat templates: recognition from the Jinja text, renderings equal to the real templates' (rendered by jinja2,
// stored below), the rendering's token ids (special texts as single tokens) and the end-of-turn stop ids.
#include <QDate>
#include <QFile>
#include <QLocale>
#include <QTest>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/assets.h"
#include "core/infer/bpe_tokenizer.h"
#include "core/infer/chat_format.h"
#include "core/infer/chat_template.h"
#include "core/infer/tokenizer_loader.h"

using namespace qs;

namespace {

#include "core/chat_template_refs.inc"

// Templates not among the shared assets, verbatim: Mistral v0/v1/v3/v3-tekken and the Gemma 2 and ChatML
// (OpenHermes) ones as in llama.cpp tests/test-chat-template.cpp, Llama 2 chat as in meta-llama/Llama-2-7b-chat-hf;
// "qwen25like" is Qwen 2.5's template without its tools branch (its default system message).
// The failure text of a Result (message() is only valid on failure).
template <class R>
std::string why(const R& r) {
    return r ? std::string() : r.message();
}

std::vector<ChatMessage> conversationFor(const std::string& name) {
    using R = ChatRole;
    if (name == "user") return {{R::User, "Hello"}};
    if (name == "multi") return {{R::User, "Hello"}, {R::Assistant, " Hi there "}, {R::User, "Who are you?\n"}};
    if (name == "system")
        return {{R::System, "You are a helpful assistant."}, {R::User, "Hello"}, {R::Assistant, "Hi there"}, {R::User, " Another question"}};
    return {{R::User, "2+2?"}, {R::Assistant, "<think>\nadd them\n</think>\n\n4"}, {R::User, "3+3?"}};
}

// bos_token / eos_token the references were rendered with.
std::pair<std::string, std::string> specialTokens(const std::string& tmpl) {
    if (tmpl == "llama3") return {"<|begin_of_text|>", "<|end_of_text|>"};
    if (tmpl == "llama31") return {"<|begin_of_text|>", "<|eot_id|>"};
    if (tmpl == "qwen3" || tmpl == "chatml" || tmpl == "qwen25like") return {"", "<|im_end|>"};
    if (tmpl == "gemma3" || tmpl == "gemma2") return {"<bos>", "<eos>"};
    return {"<s>", "</s>"};
}

// The real templates of the shared tokenizers come from their tokenizer_config.json.
std::string templateText(const std::string& name) {
    if (auto it = kTemplates.find(name); it != kTemplates.end()) return it->second;
    QFile f(qstest::assetPath(QString::fromStdString("models/tokenizers/" + name + "/tokenizer_config.json")));
    if (!f.open(QIODevice::ReadOnly)) return {};
    return nlohmann::json::parse(f.readAll().toStdString()).value("chat_template", "");
}

}  // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void render_matchesTheReferenceJinja_data() {
        QTest::addColumn<QString>("tmpl");
        QTest::addColumn<QString>("conversation");
        QTest::addColumn<bool>("raises");
        QTest::addColumn<QByteArray>("expected");
        for (const Reference& r : kReferences)
            QTest::newRow((std::string(r.tmpl) + " " + r.conversation).c_str())
                << QString(r.tmpl) << QString(r.conversation) << (r.text == nullptr) << QByteArray(r.text ? r.text : "");
    }
    void render_matchesTheReferenceJinja() {
        QFETCH(QString, tmpl);
        QFETCH(QString, conversation);
        QFETCH(bool, raises);
        QFETCH(QByteArray, expected);
        if (!kTemplates.count(tmpl.toStdString())) {
            QS_REQUIRE_ASSET(config, "models/tokenizers/" + tmpl + "/tokenizer_config.json");
        }
        const std::string text = templateText(tmpl.toStdString());
        QVERIFY(!text.empty());
        auto t = recognizeChatTemplate(text, tmpl.toStdString());
        QVERIFY2(t, why(t).c_str());
        const auto [bos, eos] = specialTokens(tmpl.toStdString());
        const auto messages = conversationFor(conversation.toStdString());
        auto r = renderChat(*t, messages, bos, eos, true);
        if (raises) {
            QVERIFY(!r);
            return;
        }
        QVERIFY2(r, why(r).c_str());
        QCOMPARE(QByteArray::fromStdString(*r), expected);
    }

    void recognize_namesTheFamilyAndVariant_data() {
        QTest::addColumn<QString>("tmpl");
        QTest::addColumn<QString>("name");
        for (auto [t, n] : std::vector<std::pair<const char*, const char*>>{
                 {"llama3", "llama3"}, {"llama31", "llama3.1"}, {"qwen3", "chatml"}, {"gemma3", "gemma"}, {"gemma2", "gemma"}, {"chatml", "chatml"},
                 {"qwen25like", "chatml"}, {"mistral_v0", "mistral-v0"}, {"mistral_v1", "mistral"}, {"mistral_v3", "mistral-v3"},
                 {"mistral_v3_tekken", "mistral-v3-tekken"}, {"llama2", "llama2"}})
            QTest::newRow(t) << QString(t) << QString(n);
    }
    void recognize_namesTheFamilyAndVariant() {
        QFETCH(QString, tmpl);
        QFETCH(QString, name);
        if (!kTemplates.count(tmpl.toStdString())) {
            QS_REQUIRE_ASSET(config, "models/tokenizers/" + tmpl + "/tokenizer_config.json");
        }
        auto t = recognizeChatTemplate(templateText(tmpl.toStdString()), "x");
        QVERIFY2(t, why(t).c_str());
        QCOMPARE(QString::fromStdString(chatTemplateName(*t)), name);
        // Every recognised format is also reachable by its --template name.
        QVERIFY(chatTemplateByName(name.toStdString()));
    }

    void recognize_refusesUnknownTemplatesByName() {
        auto unknown = recognizeChatTemplate("{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
                                             "model/tokenizer_config.json chat_template");
        QVERIFY(!unknown);
        QVERIFY(unknown.message().find("model/tokenizer_config.json chat_template") != std::string::npos);
        QVERIFY(unknown.message().find("--template") != std::string::npos);
        auto v7 = recognizeChatTemplate("{{ bos_token }}[SYSTEM_PROMPT]{{ s }}[/SYSTEM_PROMPT][INST]{{ u }}[/INST]", "t");
        QVERIFY(!v7);
        QVERIFY(v7.message().find("v7") != std::string::npos);
        // Llama 3.2's template takes the date from strftime_now: today's, as transformers renders it.
        std::string l32 = kTemplates.at("llama31");
        const std::string fixed = "{%- set date_string = \"26 Jul 2024\" %}";
        QVERIFY(l32.find(fixed) != std::string::npos);
        l32.replace(l32.find(fixed), fixed.size(), "{%- if strftime_now is defined %}{%- set date_string = strftime_now(\"%d %b %Y\") %}{%- endif %}");
        auto t32 = recognizeChatTemplate(l32, "t");
        QVERIFY2(t32, why(t32).c_str());
        const std::vector<ChatMessage> hello = {{ChatRole::User, "Hello"}};
        const QString today = QLocale::c().toString(QDate::currentDate(), QStringLiteral("dd MMM yyyy"));
        QVERIFY(QString::fromStdString(*renderChat(*t32, hello, "<b>", "<e>")).contains("Today Date: " + today + "\n\n<|eot_id|>"));
        QVERIFY(!chatTemplateByName("vicuna"));
        for (const std::string& n : chatTemplateNames()) QVERIFY2(chatTemplateByName(n), n.c_str());
    }

    // The literals read out of a template (Qwen 2.5's default system message, Llama 3.1's date) are found by a linear
    // scan: std::regex recursed once per character and a 50 KB template overflowed the stack (the CLI and the GUI
    // crashed on opening the model). A 1 MB literal is read whole; an unclosed one is no literal.
    void recognize_longLiteralsInTemplates() {
        const std::string big(1 << 20, 'a');
        std::string qwen = kTemplates.at("qwen25like");
        const std::string sys = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
        QVERIFY(qwen.find(sys) != std::string::npos);
        auto t = recognizeChatTemplate(std::string(qwen).replace(qwen.find(sys), sys.size(), big), "t");
        QVERIFY2(t, why(t).c_str());
        QCOMPARE(t->defaultSystem.size(), big.size());
        auto unclosed = recognizeChatTemplate("{{- '<|im_start|>system\\n" + big + "x' }}{{ '<|im_start|>' }}", "t");
        QVERIFY2(unclosed, why(unclosed).c_str());
        QVERIFY(unclosed->defaultSystem.empty());
        std::string l31 = kTemplates.at("llama31");
        const std::string date = "26 Jul 2024";
        auto d = recognizeChatTemplate(std::string(l31).replace(l31.find(date), date.size(), big), "t");
        QVERIFY2(d, why(d).c_str());
        QCOMPARE(d->dateString.size(), big.size());
        auto single = recognizeChatTemplate(std::string(l31).replace(l31.find("\"" + date + "\""), date.size() + 2, "'1 Jan 2025'"), "t");
        QVERIFY2(single, why(single).c_str());
        QCOMPARE(single->dateString, std::string("1 Jan 2025"));
    }

    // A default system literal is read as Jinja reads a string literal (jinja2/lexer.py: Python's unicode-escape):
    // the escape \n used to stay a backslash and an n in the prompt, and \' ended the literal early so the default
    // system message was dropped silently. Expected renderings are jinja2 3.1's (trim_blocks, lstrip_blocks).
    void recognize_defaultSystemLiteralIsUnescaped_data() {
        QTest::addColumn<QByteArray>("literal");
        QTest::addColumn<QByteArray>("rendered");  // jinja2's rendering of the literal alone
        QTest::newRow("newlines") << QByteArray("'<|im_start|>system\\nYou are Bob.\\nBe brief.<|im_end|>\\n'")
            << QByteArray("<|im_start|>system\nYou are Bob.\nBe brief.<|im_end|>\n");
        QTest::newRow("quote") << QByteArray("'<|im_start|>system\\nYou\\'re Bob.<|im_end|>\\n'")
            << QByteArray("<|im_start|>system\nYou're Bob.<|im_end|>\n");
        QTest::newRow("double") << QByteArray("\"<|im_start|>system\\nSay \\\"hi\\\"\\tand a \\\\ then \\q and \\x41\\u00e9\\101.<|im_end|>\\n\"")
            << QByteArray("<|im_start|>system\nSay \"hi\"\tand a \\ then \\q and A\u00e9A.<|im_end|>\n");
        QTest::newRow("continuation") << QByteArray("'<|im_start|>system\\nOne \\\ntwo<|im_end|>\\n'")
            << QByteArray("<|im_start|>system\nOne two<|im_end|>\n");
    }
    void recognize_defaultSystemLiteralIsUnescaped() {
        QFETCH(QByteArray, literal);
        QFETCH(QByteArray, rendered);
        const std::string jinja = "{%- if messages[0]['role'] != 'system' %}{{- " + literal.toStdString() +
                                  " }}{%- endif %}{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + "
                                  "message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}"
                                  "{{- '<|im_start|>assistant\\n' }}{%- endif %}";
        auto t = recognizeChatTemplate(jinja, "t");
        QVERIFY2(t, why(t).c_str());
        const std::vector<ChatMessage> hi = {{ChatRole::User, "hi"}};
        auto r = renderChat(*t, hi, "", "<|im_end|>", true);
        QVERIFY2(r, why(r).c_str());
        QCOMPARE(QByteArray::fromStdString(*r), rendered + "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    }

    // An escape whose value this reader does not reproduce (\N{name}) refuses the template by name, rather than
    // rendering the default system message differently from the template.
    void recognize_defaultSystemLiteralWithUnknownEscapeIsRefused() {
        auto t = recognizeChatTemplate("{{- '<|im_start|>system\\nCaf\\N{LATIN SMALL LETTER E WITH ACUTE}<|im_end|>\\n' }}",
                                       "m/tokenizer_config.json chat_template");
        QVERIFY(!t);
        QVERIFY2(t.message().find("m/tokenizer_config.json chat_template: its default system message literal cannot be "
                                  "read: the escape \\N{...} is not implemented") == 0,
                 t.message().c_str());
    }

    // Llama 2's SentencePiece vocabulary: "<s>[INST] Hello [/INST]" is [1, 518, 25580, 29962, 15043, 518, 29914,
    // 25580, 29962] with Hugging Face's LlamaTokenizer (legacy), the ids every Llama 2 chat prompt starts with.
    void format_encodesSpecialTextsAsTokens() {
        QS_REQUIRE_ASSET(path, "models/llama2-tokenizer/tokenizer.model");
        auto tok = loadTokenizerFile(path.toStdString());
        QVERIFY2(tok, why(tok).c_str());
        const ChatFormat f(*chatTemplateByName("llama2"), **tok);
        const std::vector<ChatMessage> first = {{ChatRole::User, "Hello"}};
        auto ids = f.prompt(first);
        QVERIFY2(ids, why(ids).c_str());
        QCOMPARE(*ids, (std::vector<int>{1, 518, 25580, 29962, 15043, 518, 29914, 25580, 29962}));
        const std::vector<ChatMessage> two = {{ChatRole::User, "Hello"}, {ChatRole::Assistant, "Hi"}, {ChatRole::User, "Hello"}};
        auto more = f.prompt(two);
        QVERIFY(more);
        // ... [/INST] Hi </s><s>[INST] Hello [/INST]: EOS and BOS inside the text are the tokens 2 and 1.
        const std::vector<int> tail(more->end() - 10, more->end());
        QCOMPARE(tail, (std::vector<int>{2, 1, 518, 25580, 29962, 15043, 518, 29914, 25580, 29962}));
        QVERIFY(f.stopTokens().empty());  // Llama 2 stops at EOS only
    }

    // A vocabulary with Llama 3's special tokens: they are matched whole, <|eot_id|> is the end-of-turn stop, a
    // conversation continued after a reply reuses the cached tokens up to the first difference.
    void format_stopsAtEndOfTurnAndReusesTheCache() {
        BpeSettings s;
        s.spaces = BpeSettings::Spaces::Raw;
        s.dummyPrefix = false;
        s.bos = 1;
        s.eos = 2;
        std::vector<std::string> pieces = {"<unk>", "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                           "<|end_header_id|>", "<|eot_id|>", "\n", "u", "s", "e", "r", "a", "i", "t", "n", "h", "o", "H"};
        std::vector<TokenType> types(pieces.size(), TokenType::Normal);
        for (int i : {0, 1, 2, 3, 4, 5}) types[size_t(i)] = i == 0 ? TokenType::Unknown : TokenType::Control;
        std::vector<float> scores(pieces.size(), 0.f);
        auto tok = BpeTokenizer::create("test", s, pieces, scores, types);
        QVERIFY2(tok, why(tok).c_str());
        const ChatFormat f(*chatTemplateByName("llama3"), **tok);
        QCOMPARE(f.stopTokens(), std::vector<int>{5});
        ChatState state;
        auto plan = planChatTurn(f, state, "", "Hi");
        QVERIFY2(plan, why(plan).c_str());
        // <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant...
        const std::vector<int> head(plan->full.begin(), plan->full.begin() + 11);
        QCOMPARE(head, (std::vector<int>{1, 3, 7, 8, 9, 10, 4, 6, 6, 17, 12}));
        QCOMPARE(plan->full[11], 5);
        QCOMPARE(plan->keep, 0);
        const std::vector<int> reply = {17, 12};  // "Hi", then <|eot_id|> ended it (not fed)
        finishChatTurn(state, **tok, *plan, "", "Hi", reply, reply);
        QCOMPARE(state.messages.size(), size_t(2));
        QCOMPARE(state.messages[1].content, std::string("Hi"));
        auto next = planChatTurn(f, state, "", "Ho");
        QVERIFY(next);
        // Everything up to the reply is reused; <|eot_id|> after it and the new turn are fed.
        QCOMPARE(next->keep, int(plan->full.size() + reply.size()));
        QCOMPARE(next->feed.front(), 5);
        QCOMPARE(int(next->full.size()), next->keep + int(next->feed.size()));
    }
};

QTEST_GUILESS_MAIN(TestChatTemplate)
#include "test_chat_template.moc"
