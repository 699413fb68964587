// SPDX-License-Identifier: GPL-3.0-or-later
// The GGUF vocabulary path: a GGUF file given as a tokenizer (loadTokenizerFile recognises it by content, reads it with the GGUF reader and builds the tokenizer from tokenizer.ggml.*), then a short text encoded.
#include "fuzz/harness.h"

#include "core/infer/tokenizer_loader.h"

QS_FUZZ_TARGET(tok_gguf) {
    const qs::fuzz::InputFile file(input);
    const std::string& path = file.path();
    auto tok = qs::loadTokenizerFile(path);
    if (tok) qs::fuzz::exerciseTokenizer(**tok);
    return qs::fuzz::outcomeOf(tok, path);
}
