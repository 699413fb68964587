// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/chat_format.h"
#include "core/io/bounded_text.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace qs {
namespace {

namespace fs = std::filesystem;

Result<std::string> readText(const fs::path& p) {
    return io::readBoundedFile(p.string(), io::kMaxJsonFileBytes, "a tokenizer config");
}

// tokenizer_config.json's chat_template: a string, or a list of named templates ("default" is the chat one).
Result<ChatTemplateText> fromTokenizerConfig(const fs::path& p) {
    auto text = readText(p);
    if (!text) return text.error();
    auto parsed = io::parseBoundedJson(*text, p.string());
    if (!parsed) return parsed.error();
    const nlohmann::json j = std::move(*parsed);
    if (!j.is_object()) return Error{p.string() + ": not a JSON object"};
    const std::string source = p.string() + " chat_template";
    if (!j.contains("chat_template") || j["chat_template"].is_null()) return ChatTemplateText{};
    const nlohmann::json& t = j["chat_template"];
    if (t.is_string()) return ChatTemplateText{t.get<std::string>(), source};
    if (t.is_array()) {
        for (const auto& e : t)
            if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
                return ChatTemplateText{e["template"].get<std::string>(), source + " \"default\""};
        return Error{source + ": a list of templates without a \"default\" one"};
    }
    return Error{source + ": expected a string or a list of {name, template}"};
}

}  // namespace

Result<ChatTemplateText> findChatTemplate(const Checkpoint& ckpt, const std::string& tokenizerOverride) {
    if (tokenizerOverride.empty() && ckpt.metadata.is_object() && ckpt.metadata.contains("tokenizer.chat_template")) {
        const auto& v = ckpt.metadata["tokenizer.chat_template"];
        if (!v.is_string()) return Error{ckpt.path + ": GGUF tokenizer.chat_template is not a string"};
        return ChatTemplateText{v.get<std::string>(), ckpt.path + " tokenizer.chat_template"};
    }
    std::vector<fs::path> dirs;
    const std::string tok = tokenizerOverride.empty() ? ckpt.tokenizerPath : tokenizerOverride;
    std::error_code ec;
    if (!tok.empty()) dirs.push_back(fs::path(tok).parent_path());
    if (tokenizerOverride.empty())
        dirs.push_back(fs::is_directory(ckpt.path, ec) ? fs::path(ckpt.path) : fs::path(ckpt.path).parent_path());
    for (const fs::path& d : dirs) {
        const fs::path config = d / "tokenizer_config.json";
        if (fs::exists(config, ec)) {
            auto t = fromTokenizerConfig(config);
            if (!t || !t->text.empty()) return t;
        }
        const fs::path jinja = d / "chat_template.jinja";
        if (fs::exists(jinja, ec)) {
            auto t = readText(jinja);
            if (!t) return t.error();
            return ChatTemplateText{*t, jinja.string()};
        }
    }
    return ChatTemplateText{};
}

Result<ChatTemplate> chooseChatTemplate(const Checkpoint& ckpt, const std::string& tokenizerOverride,
                                        std::string_view name, std::string* note) {
    if (!name.empty()) return chatTemplateByName(name);
    auto text = findChatTemplate(ckpt, tokenizerOverride);
    if (!text) return text.error();
    if (text->text.empty()) {
        if (note) *note = "the model has no chat template; chatting in plain text (choose one with --template)";
        return chatTemplateByName("plain");
    }
    auto t = recognizeChatTemplate(text->text, text->source);
    if (t && note) *note = "chat template: " + t->description + " (from " + text->source + ")";
    return t;
}

ChatFormat::ChatFormat(ChatTemplate t, const Tokenizer& tokenizer) : m_template(std::move(t)), m_tok(&tokenizer) {
    m_bos = tokenizer.bos() >= 0 ? tokenizer.rawPiece(tokenizer.bos()) : std::string();
    m_eos = tokenizer.eos() >= 0 ? tokenizer.rawPiece(tokenizer.eos()) : std::string();
    if (m_template.family == ChatTemplate::Family::Plain) return;
    std::vector<std::string> texts = chatSpecialTexts(m_template);
    const std::vector<std::string> ends = chatEndOfTurnTexts(m_template);
    texts.insert(texts.end(), ends.begin(), ends.end());
    // Special texts are whole vocabulary entries of a special type (control or user-defined), as Hugging Face
    // matches added tokens; "[INST]" in a vocabulary without such a token stays text.
    const int n = tokenizer.vocabSize();
    for (int id = 0; id < n; ++id) {
        const TokenType type = tokenizer.type(id);
        if (type == TokenType::Normal || type == TokenType::Byte) continue;
        const std::string raw = tokenizer.rawPiece(id);
        if (std::find(texts.begin(), texts.end(), raw) == texts.end()) continue;
        if (std::none_of(m_specials.begin(), m_specials.end(), [&](const auto& s) { return s.first == raw; }))
            m_specials.emplace_back(raw, id);
        if (std::find(ends.begin(), ends.end(), raw) != ends.end() && id != tokenizer.eos()) m_stops.push_back(id);
    }
    if (!m_bos.empty()) m_specials.emplace_back(m_bos, tokenizer.bos());
    if (!m_eos.empty()) m_specials.emplace_back(m_eos, tokenizer.eos());
    std::stable_sort(m_specials.begin(), m_specials.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

Result<std::string> ChatFormat::render(std::span<const ChatMessage> messages) const {
    return renderChat(m_template, messages, m_bos, m_eos, true);
}

std::vector<int> ChatFormat::encode(std::string_view rendered) const {
    if (m_template.family == ChatTemplate::Family::Plain) return m_tok->encode(rendered, m_tok->addsBos());
    std::vector<int> ids;
    size_t textStart = 0;
    auto flush = [&](size_t end) {
        if (end > textStart) {
            const std::vector<int> t = m_tok->encode(rendered.substr(textStart, end - textStart), false);
            ids.insert(ids.end(), t.begin(), t.end());
        }
    };
    for (size_t i = 0; i < rendered.size();) {
        const auto hit = std::find_if(m_specials.begin(), m_specials.end(),
                                      [&](const auto& s) { return rendered.substr(i, s.first.size()) == s.first; });
        if (hit == m_specials.end()) {
            ++i;
            continue;
        }
        flush(i);
        ids.push_back(hit->second);
        i += hit->first.size();
        textStart = i;
    }
    flush(rendered.size());
    return ids;
}

Result<std::vector<int>> ChatFormat::prompt(std::span<const ChatMessage> messages) const {
    auto text = render(messages);
    if (!text) return text.error();
    return encode(*text);
}

Result<ChatTurnPlan> planChatTurn(const ChatFormat& format, const ChatState& state, const std::string& system,
                                  const std::string& user) {
    std::vector<ChatMessage> messages = state.messages;
    if (messages.empty() && !system.empty()) messages.push_back({ChatRole::System, system});
    messages.push_back({ChatRole::User, user});
    auto full = format.prompt(messages);
    if (!full) return full.error();
    ChatTurnPlan plan;
    plan.plain = format.chatTemplate().family == ChatTemplate::Family::Plain;
    plan.full = std::move(*full);
    const auto [a, b] = std::mismatch(state.cached.begin(), state.cached.end(), plan.full.begin(), plan.full.end());
    // At least one token is fed, so the last position has fresh logits.
    plan.keep = int(std::min<size_t>(size_t(a - state.cached.begin()), plan.full.empty() ? 0 : plan.full.size() - 1));
    plan.feed.assign(plan.full.begin() + plan.keep, plan.full.end());
    return plan;
}

void finishChatTurn(ChatState& state, const Tokenizer& tok, const ChatTurnPlan& plan, const std::string& system,
                    const std::string& user, std::span<const int> replyIds, std::span<const int> fedReplyIds) {
    if (state.messages.empty() && !system.empty()) state.messages.push_back({ChatRole::System, system});
    state.messages.push_back({ChatRole::User, user});
    // As Hugging Face's decode of the reply; plain text keeps every piece (a leading space included), since the
    // next turn continues the very text.
    std::string reply;
    if (plan.plain)
        for (int id : replyIds) reply += tok.piece(id);
    else
        reply = tok.decode(replyIds);
    state.messages.push_back({ChatRole::Assistant, std::move(reply)});
    state.cached = plan.full;
    state.cached.insert(state.cached.end(), fedReplyIds.begin(), fedReplyIds.end());
}

}  // namespace qs
