// SPDX-License-Identifier: GPL-3.0-or-later
// The llama2.c tokenizer.bin loader (core/infer/tokenizer_loader.h), then a short text encoded.
#include "fuzz/harness.h"

#include "core/infer/tokenizer_loader.h"

QS_FUZZ_TARGET(tok_llama2c) {
    const qs::fuzz::InputFile file(input);
    const std::string& path = file.path();
    auto tok = qs::loadLlama2cTokenizer(path);
    if (tok) qs::fuzz::exerciseTokenizer(**tok);
    return qs::fuzz::outcomeOf(tok, path);
}
