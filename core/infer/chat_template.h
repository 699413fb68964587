// SPDX-License-Identifier: GPL-3.0-or-later
// Chat templates: the prompt formats of instruction-tuned checkpoints, recognised from the Jinja text a
// checkpoint carries (tokenizer_config.json `chat_template`, GGUF `tokenizer.chat_template`) and rendered
// natively, exactly as transformers' apply_chat_template renders that Jinja (jinja2 with trim_blocks and
// lstrip_blocks) for conversations of system, user and assistant messages without tools or images.
//
// Families (recognised by their distinctive markers, never by the model's name):
//   llama3  <|start_header_id|>role<|end_header_id|>\n\n content|trim <|eot_id|>; BOS before the first message
//           (Meta-Llama-3-*-Instruct). Llama 3.1/3.2/3.3 ("llama3.1"): a system header first, always, with
//           "Cutting Knowledge Date: December 2023\nToday Date: <date>\n\n" before the (trimmed) system
//           message; the date is the template's date_string default ("26 Jul 2024"), or today's (local time,
//           "%d %b %Y") when the template takes it from strftime_now as Llama 3.2's does. Tools are not supported.
//   chatml  <|im_start|>role\n content <|im_end|>\n (Qwen 2/2.5/3, OpenHermes); a default system message when
//           the template has one (Qwen 2.5); Qwen 3 drops an earlier assistant turn's <think>...</think>.
//   gemma   <start_of_turn>user|model\n content|trim <end_of_turn>\n; Gemma 3 puts the system message in the
//           first user turn followed by a blank line, Gemma 1/2 refuse a system message.
//   mistral [INST] ... [/INST] answer</s>: v0 (no system message), v1 (' [INST] ', system in the first user
//           turn), v3 ('[INST] ', system in the last user turn, answers trimmed), v3-tekken ('[INST]').
//           The v7 format ([SYSTEM_PROMPT]) is refused.
//   llama2  <s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\n user|strip [/INST] answer|strip </s> (Llama-2-*-chat).
//   plain   no template: the system text and the turns joined by newlines, continued as a base model would.
// Where a reference template raises an exception (roles that do not alternate, a system message it does not
// support) rendering fails with that reason. `trim`/`strip` remove ASCII whitespace (Python's str.strip also
// removes Unicode spaces; a message starting or ending with one renders differently).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/result.h"

namespace qs {

enum class ChatRole { System, User, Assistant };
std::string_view chatRoleName(ChatRole r);  // "system", "user", "assistant"

struct ChatMessage {
    ChatRole role = ChatRole::User;
    std::string content;  // UTF-8
};

struct ChatTemplate {
    enum class Family { Plain, Llama3, ChatML, Gemma, Mistral, Llama2 };
    enum class Mistral { V0, V1, V3, V3Tekken };
    Family family = Family::Plain;
    Mistral mistral = Mistral::V1;
    std::string description;         // "Llama 3", "ChatML (Qwen 3, drops earlier <think> blocks)", ...
    bool emitsBos = true;            // the template writes bos_token
    bool systemSupported = true;     // false: a system message is refused (Gemma 1/2, Mistral v0)
    bool generationPromptAlways = false;  // Llama 3's first template ignores add_generation_prompt
    bool stripThink = false;         // ChatML (Qwen 3): earlier assistant turns lose their reasoning
    std::string defaultSystem;       // ChatML (Qwen 2.5): the system message used when there is none
    bool datedSystemHeader = false;  // Llama 3.1+: the system header with the knowledge and today's date
    std::string dateString;          // Llama 3.1+: the date written ("" = today's, strftime_now)
};

// The names --template accepts: llama3, llama3.1, chatml, gemma, mistral (= mistral-v1), mistral-v0, mistral-v3,
// mistral-v3-tekken, llama2, plain.
std::vector<std::string> chatTemplateNames();
Result<ChatTemplate> chatTemplateByName(std::string_view name);
// The short name of a template's format (one of chatTemplateNames()).
std::string chatTemplateName(const ChatTemplate& t);

// Recognises a Jinja chat template. Fails, naming `source` (e.g. "model/tokenizer_config.json chat_template"),
// for a template of no known family or of a variant that is not implemented.
Result<ChatTemplate> recognizeChatTemplate(std::string_view jinja, const std::string& source);

// Renders `messages` as the reference template does with add_generation_prompt = addGenerationPrompt.
// bos/eos are the tokenizer's bos_token/eos_token strings. Fails with the reference template's reason.
Result<std::string> renderChat(const ChatTemplate& t, std::span<const ChatMessage> messages, const std::string& bos,
                               const std::string& eos, bool addGenerationPrompt = true);

// The special-token texts the family writes (besides BOS/EOS): matched as single tokens when encoding a
// rendering, as Hugging Face matches added tokens.
std::vector<std::string> chatSpecialTexts(const ChatTemplate& t);
// The end-of-turn token texts generation stops at (besides EOS): <|eot_id|>, <|eom_id|>, <|im_end|>, ...
std::vector<std::string> chatEndOfTurnTexts(const ChatTemplate& t);

}  // namespace qs
