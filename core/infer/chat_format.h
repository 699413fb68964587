// SPDX-License-Identifier: GPL-3.0-or-later
// Chatting with a checkpoint: where its chat template comes from, the template bound to a tokenizer
// (rendering -> token ids, end-of-turn ids), and the per-turn bookkeeping of a conversation kept in a KV cache.
//
// A turn renders the whole conversation (history + the new user message + the generation prompt) with the
// reference template and tokenizes it, so the model always sees exactly the tokens of the reference rendering;
// the tokens already in the KV cache are reused up to the first difference (an earlier reply is stored as its
// text, which the template may trim or re-tokenize differently), the rest is fed.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/infer/chat_template.h"
#include "core/infer/tokenizer.h"
#include "core/io/checkpoint.h"
#include "core/util/result.h"

namespace qs {

struct ChatTemplateText {
    std::string text;    // the Jinja text; empty when the checkpoint has none
    std::string source;  // "<dir>/tokenizer_config.json chat_template", "<file> tokenizer.chat_template"
};

// The checkpoint's chat template: GGUF `tokenizer.chat_template`; else tokenizer_config.json `chat_template`
// (a string, or a list of {name, template} of which "default" is used) or chat_template.jinja beside the
// tokenizer (`tokenizerOverride` when given, else the one found with the checkpoint) or the checkpoint.
// Fails only on an unreadable or malformed file.
Result<ChatTemplateText> findChatTemplate(const Checkpoint& ckpt, const std::string& tokenizerOverride = {});

// The template a chat uses: `name` (--template) when not empty; else the checkpoint's, recognised (an
// unknown one fails with a message naming its source); else plain, with `note` saying so.
Result<ChatTemplate> chooseChatTemplate(const Checkpoint& ckpt, const std::string& tokenizerOverride,
                                        std::string_view name, std::string* note = nullptr);

// A template bound to a tokenizer (which must outlive it). Immutable after construction; thread-safe to read.
class ChatFormat {
public:
    ChatFormat(ChatTemplate t, const Tokenizer& tokenizer);

    const ChatTemplate& chatTemplate() const { return m_template; }
    // The rendering of `messages` with the generation prompt, BOS/EOS spelled as the vocabulary spells them.
    Result<std::string> render(std::span<const ChatMessage> messages) const;
    // Token ids of a rendering: the family's special texts (and BOS/EOS) that are single special tokens of the
    // vocabulary become those ids, the text between them is encoded without BOS. Plain: encode(text, BOS).
    std::vector<int> encode(std::string_view rendered) const;
    Result<std::vector<int>> prompt(std::span<const ChatMessage> messages) const;
    // End-of-turn ids to stop at besides EOS (those of chatEndOfTurnTexts() the vocabulary has).
    const std::vector<int>& stopTokens() const { return m_stops; }

private:
    ChatTemplate m_template;
    const Tokenizer* m_tok;
    std::string m_bos, m_eos;
    std::vector<std::pair<std::string, int>> m_specials;  // longest first
    std::vector<int> m_stops;
};

// One model's side of a conversation.
struct ChatState {
    std::vector<ChatMessage> messages;  // the conversation so far (replies as their decoded text)
    std::vector<int> cached;            // the tokens in the model's KV cache, in order
};

// What a turn feeds: rewind the KV cache to `keep` tokens, then evaluate `feed`. `full` is the whole prompt.
struct ChatTurnPlan {
    int keep = 0;
    std::vector<int> full, feed;
    bool plain = false;  // the plain template (no chat format)
};

// Plans the turn that adds `user` to `state` (a system message `system`, when not empty, opens a new
// conversation). Fails when the template refuses the conversation.
Result<ChatTurnPlan> planChatTurn(const ChatFormat& format, const ChatState& state, const std::string& system,
                                  const std::string& user);

// Records a finished turn: the user message, the reply (`replyIds`: the sampled ids, a stop token excluded)
// and the KV cache contents (`plan.full` + `fedReplyIds`, the reply ids that were fed).
void finishChatTurn(ChatState& state, const Tokenizer& tok, const ChatTurnPlan& plan, const std::string& system,
                    const std::string& user, std::span<const int> replyIds, std::span<const int> fedReplyIds);

}  // namespace qs
