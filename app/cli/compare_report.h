// SPDX-License-Identifier: GPL-3.0-or-later
// What `chat --compare` and `compare` print about an A/B turn (core/infer/chat_session.h): the one-line
// summary and the JSON of `compare --json`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/infer/chat_session.h"
#include "core/infer/tokenizer.h"

namespace qscli {

// A token's text for a terminal line: quoted, newlines and control characters escaped.
std::string quotedPiece(const qs::Tokenizer& tok, int id);

// "40 tokens compared: top-1 agreement 92.5% (3 differ), mean KL 0.0312 nats, max KL 0.41 nats, first top-1
// difference at token 7 (original " the", quantized " a")". Tokens are counted from 1 for people.
std::string comparisonSummary(const qs::ChatTurnResult& r, const qs::Tokenizer& tok);

// One object per position of the original's reply ("tokens": position from 0, id, text, kl, top1_original,
// top1_quantized, p_original = p(top1_original), p_quantized = q(top1_quantized), flip) and the summary keys
// compared, top1_agreement (fraction, 0..1), mean_kl, max_kl (nats), first_flip (position, or null),
// original_text, quantized_text, original_ids, quantized_ids, prompt_ids, stop_original, stop_quantized.
nlohmann::json comparisonJson(const qs::ChatTurnResult& r);

}  // namespace qscli
