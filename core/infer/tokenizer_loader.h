// SPDX-License-Identifier: GPL-3.0-or-later
// Loading a tokenizer: from a file (chosen by content: tokenizer.json, SentencePiece tokenizer.model,
// llama2.c tokenizer.bin), from a GGUF file's embedded vocabulary, or whatever a checkpoint brings.
// Every loader returns an error naming the file and what was wrong; none crashes on bad input.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/infer/tokenizer.h"
#include "core/io/checkpoint.h"
#include "core/util/result.h"

namespace qs {

// llama2.c tokenizer.bin: int32 max_token_length, then {float32 score; int32 len; char[len]} per token until
// the end of the file. BOS 1, EOS 2, byte b is token b + 3, a dummy-prefix space (llama2.c run.c encode()).
Result<std::unique_ptr<Tokenizer>> loadLlama2cTokenizer(const std::string& path);

// SentencePiece tokenizer.model through Debian's libsentencepiece.
Result<std::unique_ptr<Tokenizer>> loadSentencePieceTokenizer(const std::string& path);

// Hugging Face tokenizer.json with a BPE model, run as the `tokenizers` library does (hf_tokenizer.h): added
// tokens, normalizer, pre-tokenizer, BPE, post-processor template and decoder. tokenizer_config.json beside the
// file gives BOS/EOS names (and, for the Llama/Gemma tokenizer classes, add_bos_token / add_eos_token, as
// transformers applies them). Components, models (WordPiece, Unigram) and options that are not implemented
// are refused with a message naming them.
Result<std::unique_ptr<Tokenizer>> loadHfTokenizer(const std::string& path);

// A GGUF vocabulary (tokenizer.ggml.*): model "llama" (SentencePiece-style, score merges, ▁) or "gpt2"
// (byte-level BPE with tokenizer.ggml.merges). `source` names the file in messages.
Result<std::unique_ptr<Tokenizer>> tokenizerFromGgufMetadata(const nlohmann::json& metadata, const std::string& source);

// What a tokenizer file is, by its first bytes: '{' (after white space) a tokenizer.json, "GGUF" a GGUF file, a
// small little-endian int32 (max_token_length) a llama2.c tokenizer.bin, a protobuf field 1 tag (0x0A) a
// SentencePiece ModelProto. When the content is none of them, the extension decides (.json, .gguf, .bin, .model),
// so that the loader of the kind meant names what is wrong with it. Unknown when it cannot be read or neither
// content nor name says; a folder is not looked into.
enum class TokenizerFileKind { Unknown, HfJson, Gguf, Llama2c, SentencePiece };
TokenizerFileKind tokenizerFileKind(const std::string& path);

// Any of the three tokenizer files, or a GGUF file's vocabulary, recognised by content (then by name). A folder
// stands for the first of tokenizer.json, tokenizer.model, tokenizer.bin in it.
Result<std::unique_ptr<Tokenizer>> loadTokenizerFile(const std::string& path);

// The tokenizer for a checkpoint: `overridePath` when given, else a GGUF file's own vocabulary, else the
// tokenizer file the reader found beside the checkpoint.
Result<std::unique_ptr<Tokenizer>> loadTokenizerFor(const Checkpoint& ckpt, const std::string& overridePath = {});

}  // namespace qs
