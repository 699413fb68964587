// SPDX-License-Identifier: GPL-3.0-or-later
// Tokenizer: text <-> token ids for the inference engine. One interface over every vocabulary a Llama-family
// checkpoint can come with: llama2.c tokenizer.bin, SentencePiece tokenizer.model, Hugging Face tokenizer.json
// (BPE with byte fallback, byte-level BPE) and GGUF embedded vocabularies. Loaders: tokenizer_loader.h.
//
// Thread-safety: a loaded tokenizer is immutable; encode/decode may be called from several threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

// SentencePiece / GGUF token types (GGUF tokenizer.ggml.token_type uses these values + 1).
enum class TokenType : uint8_t { Normal, Unknown, Control, UserDefined, Unused, Byte };

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // A short description for logs: "llama2.c tokenizer.bin (512 tokens)", "SentencePiece BPE", ...
    virtual std::string describe() const = 0;
    virtual int vocabSize() const = 0;
    virtual int bos() const = 0;  // -1 when the vocabulary has none
    virtual int eos() const = 0;  // -1 when the vocabulary has none
    // Whether the model expects BOS before a text (SentencePiece Llama: yes; GPT-2: no).
    virtual bool addsBos() const { return bos() >= 0; }

    // Encodes `text`. addBos prepends bos() (when there is one; a tokenizer.json's template prefix). parseSpecial
    // lets the literal text of special (control) tokens ("<|eot_id|>") become those tokens, as Hugging Face does;
    // off, they are plain text, as llama.cpp's tokenizer with parse_special=false and SentencePiece treat them.
    // Non-special added / user-defined tokens ("<mask>") are matched either way, as both libraries do. Never
    // fails: bytes that no piece covers become byte-fallback tokens or the unknown token.
    virtual std::vector<int> encode(std::string_view text, bool addBos, bool parseSpecial = false) const = 0;

    // As Hugging Face's tokenizer(text, add_special_tokens=addSpecialTokens): special tokens written in the text
    // are matched, and addSpecialTokens adds what the tokenizer puts around a text (a tokenizer.json
    // post-processor's whole template, BOS and EOS; elsewhere BOS when addsBos()).
    virtual std::vector<int> encodeWithSpecialTokens(std::string_view text, bool addSpecialTokens) const {
        return encode(text, addSpecialTokens && addsBos(), true);
    }

    // The bytes token `id` stands for when streamed: byte tokens <0xNN> give their byte, the SentencePiece
    // meta space ▁ gives a space, byte-level BPE characters map back to bytes, control tokens (BOS, EOS)
    // give "". No leading space is dropped (llama2.c's run drops it after BOS; we do not). Out-of-range ids
    // give "".
    virtual std::string piece(int id) const = 0;

    // The vocabulary string as stored (for display and debugging); "" for out-of-range ids.
    virtual std::string rawPiece(int id) const = 0;

    virtual TokenType type(int id) const = 0;

    // True when encode() adds a dummy-prefix space before the text (SentencePiece add_dummy_prefix).
    virtual bool addsDummyPrefix() const = 0;

    // What loading found questionable but usable (empty or duplicated vocabulary entries, special ids out of
    // range that were dropped), each naming the file; the front ends show them with the model's warnings.
    const std::vector<std::string>& warnings() const { return m_warnings; }
    void addWarning(std::string w) { m_warnings.push_back(std::move(w)); }

    // Whole-sequence decoding: the concatenated pieces, without the dummy-prefix space that encode() put
    // in front (as SentencePiece's DecodeIds does), so decode(encode(t)) == t for text the vocabulary covers.
    virtual std::string decode(std::span<const int> ids) const;

    // What encode() does with bytes that are not UTF-8, as the end of a warning about such a text. Default
    // (llama2.c, GGUF, tokenizer.json: byte-fallback or byte-level pieces): "the tokenizer is given its bytes
    // as they are". libsentencepiece replaces each such byte with U+FFFD first (SentencePieceTokenizer says so).
    virtual std::string invalidUtf8Handling() const;

private:
    std::vector<std::string> m_warnings;
};

// The warning for a text `source` (a file name, "the text") whose byte `byte` starts the first sequence that
// is not UTF-8, true for `tok`: "<source> is not valid UTF-8 (byte <byte>); <tok.invalidUtf8Handling()>".
std::string invalidUtf8Warning(const std::string& source, size_t byte, const Tokenizer& tok);

}  // namespace qs
