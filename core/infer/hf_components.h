// SPDX-License-Identifier: GPL-3.0-or-later
// The pipeline stages of a Hugging Face tokenizer.json (the `tokenizers` library, tokenizers/src/normalizers,
// pre_tokenizers, processors, decoders), parsed from their JSON and applied to text:
//   normalizer     NFC / NFKC / NFD / NFKD (ICU), Replace (string or regex), Prepend, Lowercase, Strip, Sequence
//   pre_tokenizer  Split (string or regex, every `behavior`, `invert`), ByteLevel (add_prefix_space, use_regex),
//                  Metaspace (replacement, prepend_scheme, split), Sequence
//   post_processor TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence (single sequence)
//   decoder        ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence
// Any other component, or an option these do not implement, is refused at parse time with a message naming
// it and the file: a tokenizer is never run with a stage silently skipped.
//
// Only the normalized text matters here (no offset tracking). Texts are UTF-8; a normalizer given invalid
// UTF-8 replaces the bad bytes with U+FFFD (the `tokenizers` library cannot take such text at all).
// Thread-safety: parsed stages are immutable; apply functions may be called from several threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/result.h"

namespace qs {

class PreTokenizerRegex;

// A `pattern` of Split / Replace: {"String": "x"} (literal) or {"Regex": "..."} (PCRE2, Unicode properties).
struct HfPattern {
    std::string literal;
    std::shared_ptr<const PreTokenizerRegex> regex;  // null for a literal
    // Non-empty, non-overlapping matches as [begin, end) byte offsets, handed to `visit` left to right (throws as
    // PreTokenizerRegex::forEachMatch does).
    void forEachMatch(std::string_view text, const std::function<void(size_t, size_t)>& visit) const;
};

struct HfNormalizerStep {
    enum class Kind { Nfc, Nfkc, Nfd, Nfkd, Replace, Prepend, Lowercase, Strip };
    Kind kind = Kind::Nfc;
    HfPattern pattern;     // Replace
    std::string content;   // Replace: the replacement; Prepend: the prefix
    bool left = false, right = false;  // Strip
};

// The most a chain of Replace steps may multiply a text's length (content bytes over the shortest match, multiplied
// over the steps); a normalizer above it is refused when parsed.
inline constexpr double kMaxNormalizerGrowth = 256.0;

class HfNormalizer {
public:
    // `j` is the "normalizer" value (null = identity). `path` names the file in messages. Errors: an unsupported
    // step by name; Replace steps that could grow a text more than kMaxNormalizerGrowth times.
    static Result<HfNormalizer> parse(const nlohmann::json& j, const std::string& path);
    // The normalized text. Throws InputLimitError (util/input_limit_error.h), naming the file and the step, when
    // it would be more than kMaxNormalizerGrowth times longer than `text` (plus the Prepend steps' bytes): NFKC
    // and NFKD expand a character up to 18 times, which a Replace between them can compound without bound.
    std::string apply(std::string_view text) const;
    bool empty() const { return m_steps.empty(); }

private:
    std::vector<HfNormalizerStep> m_steps;
    std::string m_path;
    size_t m_prependBytes = 0;
};

// One piece of pre-tokenized text. `atStart`: the piece begins at offset 0 of the original text (Metaspace
// prepend_scheme "first" prepends only there).
struct HfSplit {
    std::string text;
    bool atStart = false;
};

struct HfPreTokenizerStep {
    enum class Kind { Split, ByteLevel, Metaspace };
    enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
    enum class Prepend { Always, First, Never };
    Kind kind = Kind::Split;
    HfPattern pattern;                        // Split
    Behavior behavior = Behavior::Isolated;   // Split
    bool invert = false;                      // Split
    bool addPrefixSpace = false;              // ByteLevel
    bool useRegex = true;                     // ByteLevel: GPT-2's word regex
    std::string replacement;                  // Metaspace (U+2581 ▁ in practice)
    Prepend prepend = Prepend::Always;        // Metaspace
    bool split = true;                        // Metaspace
};

class HfPreTokenizer {
public:
    static Result<HfPreTokenizer> parse(const nlohmann::json& j, const std::string& path);
    // The words of one split handed to `emit` in order as they are made, each through every step before the next
    // is made: a whole corpus is pre-tokenized without a list of its words. Empty words are dropped, as
    // `tokenizers` does. Throws as the steps' regexes do (InputLimitError), possibly after some words were emitted.
    void apply(HfSplit in, const std::function<void(HfSplit&&)>& emit) const;
    bool byteLevel() const;  // whether a ByteLevel stage maps bytes to GPT-2's printable characters

private:
    void applyFrom(size_t first, HfSplit in, const std::function<void(HfSplit&&)>& emit) const;
    std::vector<HfPreTokenizerStep> m_steps;
};

// The single-sequence template of the post-processor: ids before and after the encoded text.
struct HfPostProcessor {
    std::vector<int> prefix, suffix;
    // TemplateProcessing takes the ids from its special_tokens map; Roberta/Bert from their [name, id] pairs;
    // a Sequence wraps the earlier processors' output. Fails on an unknown type or a template token that
    // special_tokens does not define, naming `path`.
    static Result<HfPostProcessor> parse(const nlohmann::json& j, const std::string& path);
};

// The decoder, reduced to what QuantScope needs: the text one token stands for (piece), and whether the
// whole-sequence decode drops leading spaces (Metaspace with a prepend scheme, Strip).
class HfDecoder {
public:
    static Result<HfDecoder> parse(const nlohmann::json& j, const std::string& path);
    // The bytes of one model-vocabulary token string as the decoder renders it, before sequence-level steps.
    std::string piece(std::string_view token) const;
    // How many leading characters `content` the whole-sequence decode strips (Strip start / Metaspace).
    int stripStart() const { return m_stripStart; }
    bool present() const { return m_present; }

private:
    struct Step {
        enum class Kind { ByteLevel, Replace, ByteFallback, Metaspace } kind;
        std::string from, to;
    };
    std::vector<Step> m_steps;
    int m_stripStart = 0;
    bool m_present = false;
};

}  // namespace qs
