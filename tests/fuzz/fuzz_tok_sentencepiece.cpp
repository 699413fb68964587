// SPDX-License-Identifier: GPL-3.0-or-later
// The SentencePiece tokenizer.model loader (libsentencepiece behind core/infer/tokenizer_loader.h), then a short text encoded.
#include "fuzz/harness.h"

#include "core/infer/tokenizer_loader.h"

QS_FUZZ_TARGET(tok_sentencepiece) {
    const qs::fuzz::InputFile file(input);
    const std::string& path = file.path();
    auto tok = qs::loadSentencePieceTokenizer(path);
    if (tok) qs::fuzz::exerciseTokenizer(**tok);
    return qs::fuzz::outcomeOf(tok, path);
}
