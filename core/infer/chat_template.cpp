// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/chat_template.h"

#include <cstdint>
#include <ctime>
#include <utility>

#include "core/io/utf8.h"

namespace qs {
namespace {

using Family = ChatTemplate::Family;
using MistralStyle = ChatTemplate::Mistral;

bool has(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

// Jinja's `trim` filter and Python's str.strip() (ASCII whitespace only, see the header).
std::string trim(std::string_view s) {
    constexpr std::string_view ws = " \t\n\r\v\f";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    return std::string(s.substr(b, s.find_last_not_of(ws) - b + 1));
}

std::string lstripNewlines(std::string_view s) {
    const size_t b = s.find_first_not_of('\n');
    return b == std::string_view::npos ? std::string() : std::string(s.substr(b));
}

Error alternateError() { return Error{"chat template: conversation roles must alternate user/assistant/user/assistant/..."}; }

// The user/assistant alternation every [INST] and Gemma template checks: message i (after an optional leading
// system message) must be a user message exactly when i is even.
Status checkAlternation(std::span<const ChatMessage> loop) {
    for (size_t i = 0; i < loop.size(); ++i)
        if ((loop[i].role == ChatRole::User) != (i % 2 == 0)) return alternateError();
    return {};
}

// Llama 3.2's template calls strftime_now("%d %b %Y"), which transformers evaluates in local time.
std::string today() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[32];
    return std::strftime(buf, sizeof buf, "%d %b %Y", &tm) ? std::string(buf) : std::string();
}

std::string renderLlama3(const ChatTemplate& t, std::span<const ChatMessage> m, const std::string& bos, bool gen) {
    std::string out;
    if (t.datedSystemHeader) {
        std::string system;
        if (!m.empty() && m[0].role == ChatRole::System) {
            system = trim(m[0].content);
            m = m.subspan(1);
        }
        out += (t.emitsBos ? bos : std::string()) + "<|start_header_id|>system<|end_header_id|>\n\n" +
               "Cutting Knowledge Date: December 2023\nToday Date: " + (t.dateString.empty() ? today() : t.dateString) +
               "\n\n" + system + "<|eot_id|>";
    }
    for (size_t i = 0; i < m.size(); ++i) {
        if (i == 0 && t.emitsBos && !t.datedSystemHeader) out += bos;
        out += "<|start_header_id|>" + std::string(chatRoleName(m[i].role)) + "<|end_header_id|>\n\n" + trim(m[i].content) +
               "<|eot_id|>";
    }
    if (gen || t.generationPromptAlways) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
}

Result<std::string> renderChatml(const ChatTemplate& t, std::span<const ChatMessage> m, const std::string& bos, bool gen) {
    std::string out = t.emitsBos ? bos : std::string();
    if (!t.defaultSystem.empty() && (m.empty() || m[0].role != ChatRole::System))
        out += "<|im_start|>system\n" + t.defaultSystem + "<|im_end|>\n";
    size_t lastUser = m.size();
    for (size_t i = 0; i < m.size(); ++i)
        if (m[i].role == ChatRole::User) lastUser = i;
    for (size_t i = 0; i < m.size(); ++i) {
        std::string content = m[i].content;
        if (t.stripThink && m[i].role == ChatRole::Assistant) {
            // Qwen 3 writes the reasoning of an assistant turn after the last user message in a <think> block;
            // a rendering that ends with such a turn is not implemented (a chat never renders one).
            if (lastUser == m.size() || i > lastUser)
                return Error{"chat template (Qwen 3): an assistant message after the last user message is not supported"};
            if (const size_t end = content.rfind("</think>"); end != std::string::npos)
                content = lstripNewlines(std::string_view(content).substr(end + 8));
        }
        out += "<|im_start|>" + std::string(chatRoleName(m[i].role)) + "\n" + content + "<|im_end|>\n";
    }
    if (gen) out += "<|im_start|>assistant\n";
    return out;
}

Result<std::string> renderGemma(const ChatTemplate& t, std::span<const ChatMessage> m, const std::string& bos, bool gen) {
    std::string out = t.emitsBos ? bos : std::string();
    std::string prefix;
    if (!m.empty() && m[0].role == ChatRole::System) {
        if (!t.systemSupported) return Error{"chat template (Gemma): System role not supported"};
        prefix = m[0].content + "\n\n";
        m = m.subspan(1);
    }
    if (auto s = checkAlternation(m); !s) return s.error();
    for (size_t i = 0; i < m.size(); ++i) {
        out += "<start_of_turn>" + std::string(m[i].role == ChatRole::Assistant ? "model" : chatRoleName(m[i].role)) + "\n";
        if (i == 0) out += prefix;
        out += trim(m[i].content) + "<end_of_turn>\n";
    }
    if (gen) out += "<start_of_turn>model\n";
    return out;
}

Result<std::string> renderMistral(const ChatTemplate& t, std::span<const ChatMessage> m, const std::string& bos,
                                  const std::string& eos) {
    const bool hasSystem = !m.empty() && m[0].role == ChatRole::System;
    if (hasSystem && t.mistral == MistralStyle::V0)
        return Error{"chat template (Mistral v0): only user and assistant roles are supported (no system message)"};
    const std::string system = hasSystem ? m[0].content : std::string();
    if (hasSystem) m = m.subspan(1);
    if (auto s = checkAlternation(m); !s) return s.error();
    for (const ChatMessage& msg : m)
        if (msg.role == ChatRole::System)
            return Error{"chat template (Mistral): only user and assistant roles are supported after the optional "
                         "first system message"};
    std::string out = t.emitsBos ? bos : std::string();
    for (size_t i = 0; i < m.size(); ++i) {
        const std::string& c = m[i].content;
        if (m[i].role == ChatRole::Assistant) {
            out += t.mistral == MistralStyle::V0 ? c + eos : t.mistral == MistralStyle::V1 ? " " + c + eos : " " + trim(c) + eos;
            continue;
        }
        switch (t.mistral) {
            case MistralStyle::V0: out += "[INST] " + c + " [/INST]"; break;
            case MistralStyle::V1: out += " [INST] " + (i == 0 && hasSystem ? system + "\n\n" : "") + c + " [/INST]"; break;
            case MistralStyle::V3:
            case MistralStyle::V3Tekken:
                out += std::string(t.mistral == MistralStyle::V3 ? "[INST] " : "[INST]") +
                       (i + 1 == m.size() && hasSystem ? system + "\n\n" : "") + c + "[/INST]";
                break;
        }
    }
    return out;
}

Result<std::string> renderLlama2(std::span<const ChatMessage> m, const std::string& bos, const std::string& eos) {
    const bool hasSystem = !m.empty() && m[0].role == ChatRole::System;
    const std::string system = hasSystem ? m[0].content : std::string();
    if (hasSystem) m = m.subspan(1);
    if (auto s = checkAlternation(m); !s) return s.error();
    std::string out;
    for (size_t i = 0; i < m.size(); ++i) {
        const std::string content = i == 0 && hasSystem ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + m[i].content : m[i].content;
        if (m[i].role == ChatRole::User) out += bos + "[INST] " + trim(content) + " [/INST]";
        else if (m[i].role == ChatRole::Assistant) out += " " + trim(content) + " " + eos;
    }
    return out;
}

std::string renderPlain(std::span<const ChatMessage> m) {
    std::string out;
    for (size_t i = 0; i < m.size(); ++i) {
        if (m[i].role == ChatRole::User && i > 0 && m[i - 1].role != ChatRole::System) out += "\n";
        out += m[i].content;
        if (m[i].role == ChatRole::System) out += "\n";
    }
    return out;
}

// The non-empty run of characters outside `stop` that starts at `begin`, when what follows it satisfies `closes`;
// else empty. A linear scan (std::regex recursed once per character and overflowed the stack on a 50 KB template).
template <class Closes>
std::string_view runAt(std::string_view text, size_t begin, std::string_view stop, Closes closes) {
    const size_t end = std::min(text.find_first_of(stop, begin), text.size());
    if (end == begin || !closes(text.substr(end))) return {};
    return text.substr(begin, end - begin);
}

// `n` hex digits at raw[i] as a code point; false when they are not all there.
bool hexDigits(std::string_view raw, size_t i, size_t n, uint32_t& out) {
    if (raw.size() - i < n) return false;
    out = 0;
    for (size_t k = 0; k < n; ++k) {
        const char c = raw[i + k];
        const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return false;
        out = out * 16 + uint32_t(d);
    }
    return true;
}

// The value of a Jinja string literal's body (between its quotes). Jinja's lexer (jinja2/lexer.py, TOKEN_STRING)
// normalizes line ends to \n, then decodes the body as Python's "unicode-escape" codec does: \\ \' \" \a \b \f \n
// \r \t \v, \<newline> (removed), octal \ooo, \xhh, \uXXXX, \UXXXXXXXX; any other backslash stays as written.
// Escapes whose result this does not reproduce (\N{name}, a backslash before a non-ASCII byte, a surrogate or a
// malformed \x/\u/\U, which Python refuses) are an Error naming the escape.
Result<std::string> jinjaStringValue(std::string_view raw) {
    std::string out;
    for (size_t i = 0; i < raw.size();) {
        const char c = raw[i];
        if (c == '\r') {
            out += '\n';
            i += i + 1 < raw.size() && raw[i + 1] == '\n' ? 2 : 1;
            continue;
        }
        if (c != '\\' || i + 1 == raw.size()) {
            out += c;
            ++i;
            continue;
        }
        const char e = raw[i + 1];
        i += 2;
        static constexpr std::string_view kSimple = "\\'\"abfnrtv", kValue = "\\'\"\a\b\f\n\r\t\v";
        if (const size_t k = kSimple.find(e); k != std::string_view::npos) {
            out += kValue[k];
        } else if (e == '\n') {
        } else if (e >= '0' && e <= '7') {
            uint32_t v = uint32_t(e - '0');
            for (int n = 0; n < 2 && i < raw.size() && raw[i] >= '0' && raw[i] <= '7'; ++n) v = v * 8 + uint32_t(raw[i++] - '0');
            io::appendCodePoint(out, v);
        } else if (e == 'x' || e == 'u' || e == 'U') {
            const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t v = 0;
            if (!hexDigits(raw, i, n, v) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return Error{std::string("the escape \\") + e + " is malformed or a surrogate"};
            io::appendCodePoint(out, v);
            i += n;
        } else if (e == 'N' || uint8_t(e) >= 0x80) {
            return Error{e == 'N' ? "the escape \\N{...} is not implemented" : "a backslash before a non-ASCII character is not implemented"};
        } else {
            out += '\\';
            out += e;
        }
    }
    return out;
}

// The string literals of a Jinja template as [begin, end) of their bodies: quoted with ' or " inside {{ }} and
// {% %} blocks (comments {# #} skipped), a backslash escaping the next character (jinja2/lexer.py string_re).
std::vector<std::pair<size_t, size_t>> jinjaStringLiterals(std::string_view j) {
    std::vector<std::pair<size_t, size_t>> out;
    size_t i = 0;
    while (i < j.size()) {
        const size_t open = j.find('{', i);
        if (open == std::string_view::npos || open + 1 >= j.size()) break;
        const char kind = j[open + 1];
        if (kind == '#') {
            const size_t end = j.find("#}", open + 2);
            if (end == std::string_view::npos) break;
            i = end + 2;
            continue;
        }
        if (kind != '{' && kind != '%') {
            i = open + 1;
            continue;
        }
        const std::string_view close = kind == '{' ? "}}" : "%}";
        for (i = open + 2; i < j.size() && j.compare(i, 2, close) != 0;) {
            if (j[i] != '\'' && j[i] != '"') {
                ++i;
                continue;
            }
            const char quote = j[i];
            size_t k = i + 1;
            while (k < j.size() && j[k] != quote) k += j[k] == '\\' ? 2 : 1;
            if (k >= j.size()) return out;  // unterminated: jinja refuses the template
            out.emplace_back(i + 1, k);
            i = k + 1;
        }
        i += 2;
    }
    return out;
}

// Qwen 2.5's templates write a fixed system message when the conversation has none, as one string literal:
// '<|im_start|>system\nYou are Qwen, ...<|im_end|>\n'. The first literal whose value holds
// "<|im_start|>system\n" then, later, "<|im_end|>" gives it (its escapes decoded as Jinja does); "" when none does.
// An escape in that literal which jinjaStringValue does not reproduce is an Error.
Result<std::string> chatmlDefaultSystem(std::string_view jinja) {
    constexpr std::string_view kOpen = "<|im_start|>system\n", kClose = "<|im_end|>";
    for (const auto& [b, e] : jinjaStringLiterals(jinja)) {
        const std::string_view raw = jinja.substr(b, e - b);
        if (!has(raw, "<|im_start|>system") || !has(raw, kClose)) continue;
        auto value = jinjaStringValue(raw);
        if (!value) return Error{"its default system message literal cannot be read: " + value.message()};
        const size_t at = value->find(kOpen);
        if (at == std::string::npos) continue;
        const size_t end = value->find(kClose, at + kOpen.size());
        if (end == std::string::npos) continue;
        if (end > at + kOpen.size()) return value->substr(at + kOpen.size(), end - at - kOpen.size());
    }
    return std::string();
}

// Llama 3.1's `{%- set date_string = "26 Jul 2024" %}`: the first quoted (either quote) non-empty date.
std::string llama31DateString(std::string_view jinja) {
    constexpr std::string_view kSet = "set date_string = ";
    for (size_t at = jinja.find(kSet); at != std::string_view::npos; at = jinja.find(kSet, at + 1)) {
        const size_t quote = at + kSet.size();
        if (quote >= jinja.size() || (jinja[quote] != '"' && jinja[quote] != '\'')) continue;
        auto date = runAt(jinja, quote + 1, "\"'", [](std::string_view rest) { return !rest.empty(); });
        if (!date.empty()) return std::string(date);
    }
    return {};
}

}  // namespace

std::string_view chatRoleName(ChatRole r) {
    switch (r) {
        case ChatRole::System: return "system";
        case ChatRole::User: return "user";
        case ChatRole::Assistant: return "assistant";
    }
    return "user";
}

std::vector<std::string> chatTemplateNames() {
    return {"llama3", "llama3.1", "chatml", "gemma", "mistral", "mistral-v0", "mistral-v3", "mistral-v3-tekken", "llama2", "plain"};
}

Result<ChatTemplate> chatTemplateByName(std::string_view name) {
    ChatTemplate t;
    if (name == "plain") {
        t.description = "plain text (no chat template)";
    } else if (name == "llama3") {
        t.family = Family::Llama3;
        t.description = "Llama 3";
    } else if (name == "llama3.1") {
        t.family = Family::Llama3;
        t.datedSystemHeader = true;
        t.dateString = "26 Jul 2024";
        t.description = "Llama 3.1 (system header with 'Cutting Knowledge Date' and 'Today Date: 26 Jul 2024')";
    } else if (name == "chatml") {
        t.family = Family::ChatML;
        t.emitsBos = false;
        t.description = "ChatML";
    } else if (name == "gemma") {
        t.family = Family::Gemma;
        t.description = "Gemma (system message in the first user turn)";
    } else if (name == "mistral" || name == "mistral-v1" || name == "mistral-v0" || name == "mistral-v3" ||
               name == "mistral-v3-tekken") {
        t.family = Family::Mistral;
        t.mistral = name == "mistral-v0" ? MistralStyle::V0
                    : name == "mistral-v3" ? MistralStyle::V3
                    : name == "mistral-v3-tekken" ? MistralStyle::V3Tekken : MistralStyle::V1;
        t.systemSupported = t.mistral != MistralStyle::V0;
        t.description = t.mistral == MistralStyle::V0 ? "Mistral v0 ([INST] without a system message)"
                        : t.mistral == MistralStyle::V1 ? "Mistral v1 (system message in the first [INST])"
                        : t.mistral == MistralStyle::V3 ? "Mistral v3 (system message in the last [INST])"
                                                         : "Mistral v3-tekken ([INST] without spaces)";
    } else if (name == "llama2") {
        t.family = Family::Llama2;
        t.description = "Llama 2 chat ([INST] with <<SYS>>)";
    } else {
        std::string names;
        for (const auto& n : chatTemplateNames()) names += (names.empty() ? "" : ", ") + n;
        return Error{"unknown chat template '" + std::string(name) + "' (" + names + ")"};
    }
    return t;
}

std::string chatTemplateName(const ChatTemplate& t) {
    switch (t.family) {
        case Family::Plain: return "plain";
        case Family::Llama3: return t.datedSystemHeader ? "llama3.1" : "llama3";
        case Family::ChatML: return "chatml";
        case Family::Gemma: return "gemma";
        case Family::Llama2: return "llama2";
        case Family::Mistral:
            return t.mistral == MistralStyle::V0 ? "mistral-v0" : t.mistral == MistralStyle::V1 ? "mistral"
                   : t.mistral == MistralStyle::V3 ? "mistral-v3" : "mistral-v3-tekken";
    }
    return "plain";
}

Result<ChatTemplate> recognizeChatTemplate(std::string_view j, const std::string& source) {
    const bool bos = has(j, "bos_token");
    const auto refuse = [&](const std::string& what) {
        return Error{source + ": " + what + " is not implemented; pass --template NAME to chat in another format"};
    };
    ChatTemplate t;
    if (has(j, "<|start_header_id|>")) {
        if (has(j, "Cutting Knowledge Date")) {
            if (has(j, "builtin_tools") && !has(j, "Today Date: "))
                return refuse("this Llama 3.1 chat template variant");
            t = *chatTemplateByName("llama3.1");
            if (has(j, "strftime_now")) {
                t.dateString.clear();  // Llama 3.2: today's date
                t.description = "Llama 3.2 (system header with 'Cutting Knowledge Date' and today's date)";
            } else if (std::string date = llama31DateString(j); !date.empty()) {
                t.dateString = date;
                t.description = "Llama 3.1 (system header with 'Cutting Knowledge Date' and 'Today Date: " + t.dateString + "')";
            }
        } else {
            t = *chatTemplateByName("llama3");
            t.generationPromptAlways = !has(j, "add_generation_prompt");
        }
    } else if (has(j, "<|im_start|>")) {
        t = *chatTemplateByName("chatml");
        t.stripThink = has(j, "</think>") && has(j, "reasoning_content");
        auto defaultSystem = chatmlDefaultSystem(j);
        if (!defaultSystem) return Error{source + ": " + defaultSystem.message() + "; pass --template NAME to chat in another format"};
        t.defaultSystem = std::move(*defaultSystem);
        if (t.stripThink) t.description = "ChatML (Qwen 3: earlier assistant turns lose their <think> block)";
        else if (!t.defaultSystem.empty()) t.description = "ChatML (Qwen 2.5: a default system message)";
    } else if (has(j, "<start_of_turn>")) {
        if (has(j, "<start_of_image>") && !has(j, "first_user_prefix"))
            return refuse("this Gemma chat template variant");
        t = *chatTemplateByName("gemma");
        t.systemSupported = !has(j, "System role not supported");
        if (!t.systemSupported) t.description = "Gemma 1/2 (no system message)";
    } else if (has(j, "[INST]") && has(j, "<<SYS>>")) {
        t = *chatTemplateByName("llama2");
    } else if (has(j, "[INST]")) {
        if (has(j, "[SYSTEM_PROMPT]")) return refuse("the Mistral v7 chat template ([SYSTEM_PROMPT])");
        const char* name = has(j, "' [INST] '") || has(j, "\" [INST] \"") ? "mistral-v1"
                           : has(j, "' [/INST]'") || has(j, "\" [/INST]\"") ? "mistral-v0"
                           : has(j, "\"[INST]\" +") || has(j, "'[INST]' +") ? "mistral-v3-tekken"
                           : has(j, "\"[INST] \" +") || has(j, "'[INST] ' +") ? "mistral-v3" : nullptr;
        if (!name) return refuse("this Mistral [INST] chat template variant");
        t = *chatTemplateByName(name);
    } else {
        return Error{source + ": the chat template is not one QuantScope recognises (Llama 3, ChatML/Qwen, Gemma, "
                              "Mistral, Llama 2); pass --template NAME (" + [] {
                         std::string n;
                         for (const auto& s : chatTemplateNames()) n += (n.empty() ? "" : ", ") + s;
                         return n;
                     }() + ")"};
    }
    t.emitsBos = bos;
    return t;
}

Result<std::string> renderChat(const ChatTemplate& t, std::span<const ChatMessage> messages, const std::string& bos,
                               const std::string& eos, bool addGenerationPrompt) {
    switch (t.family) {
        case Family::Plain: return renderPlain(messages);
        case Family::Llama3: return renderLlama3(t, messages, bos, addGenerationPrompt);
        case Family::ChatML: return renderChatml(t, messages, bos, addGenerationPrompt);
        case Family::Gemma: return renderGemma(t, messages, bos, addGenerationPrompt);
        case Family::Mistral: return renderMistral(t, messages, bos, eos);
        case Family::Llama2: return renderLlama2(messages, bos, eos);
    }
    return Error{"chat template: unknown family"};
}

std::vector<std::string> chatSpecialTexts(const ChatTemplate& t) {
    switch (t.family) {
        case Family::Llama3: return {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
        case Family::ChatML: return {"<|im_start|>", "<|im_end|>"};
        case Family::Gemma: return {"<start_of_turn>", "<end_of_turn>"};
        case Family::Mistral: return {"[INST]", "[/INST]"};
        case Family::Llama2:
        case Family::Plain: return {};
    }
    return {};
}

std::vector<std::string> chatEndOfTurnTexts(const ChatTemplate& t) {
    switch (t.family) {
        case Family::Llama3: return {"<|eot_id|>", "<|eom_id|>"};
        case Family::ChatML: return {"<|im_end|>"};
        case Family::Gemma: return {"<end_of_turn>"};
        case Family::Mistral:
        case Family::Llama2:
        case Family::Plain: return {};
    }
    return {};
}

}  // namespace qs
