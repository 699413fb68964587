// SPDX-License-Identifier: GPL-3.0-or-later
// The Hugging Face tokenizer.json loader (core/infer/tokenizer_loader.h loadHfTokenizer), then a short text encoded.
#include "fuzz/harness.h"

#include "core/infer/tokenizer_loader.h"

QS_FUZZ_TARGET(tok_hf) {
    const std::string path = qs::fuzz::writeScratchFile("tokenizer.json", input);
    auto tok = qs::loadHfTokenizer(path);
    if (tok) qs::fuzz::exerciseTokenizer(**tok);
    return qs::fuzz::outcomeOf(tok, path);
}
