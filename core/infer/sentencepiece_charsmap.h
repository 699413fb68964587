// SPDX-License-Identifier: GPL-3.0-or-later
// A check of a SentencePiece model's normalization rules before libsentencepiece uses them. The library trusts
// normalizer_spec.precompiled_charsmap (and denormalizer_spec's): a Darts-clone double-array trie whose units it
// follows without bounds checks and normalized strings it reads up to a NUL (sentencepiece normalizer.cc,
// DecodePrecompiledCharsMap / NormalizePrefix; darts-clone darts.h). A damaged blob made every encode read outside it
// (a segfault when opening the model). This walks the model proto for the two blobs as protobuf's parser resolves
// them (repeated specs merged, the last charsmap wins, unknown groups skipped) and follows every trie path the
// library could follow, checking each read is inside the blob. The tokenizer passes it the library's own
// re-serialization of the ModelProto it parsed (SentencePieceProcessor::serialized_model_proto), so the blob
// checked is the blob used. Also: where a model's wire framing breaks (a truncated file), to name it when
// libsentencepiece refuses the model.
// Thread-safe; no state.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace qs {

// `model`: the bytes of a tokenizer.model (a serialized sentencepiece ModelProto). Errors name `path` and the
// field: "<path>: normalizer_spec.precompiled_charsmap is damaged (trie unit 12 points outside its 512 units)".
// A proto this walk cannot follow is left to libsentencepiece's parser (which refuses it), not reported here.
Status checkSentencePieceCharsMaps(std::string_view model, const std::string& path);

// Where the protobuf wire framing of a tokenizer.model breaks, for the message when libsentencepiece refuses
// it (its own says only "ParseFromArray failed"): "" when the framing is whole, otherwise the field, its byte
// offset and what is missing, e.g. "normalizer_spec (field 3) at byte 3850 declares 1200 bytes, 157 remain"
// (a truncated file). The ModelProto's message fields are walked one level down. Never reads outside `model`.
std::string sentencePieceFramingBreak(std::string_view model);

// What a model's encoding depends on besides its pieces and the charsmap's rules, as libsentencepiece's protobuf
// parser resolves the ModelProto (repeated specs merged, the last value of a field wins; defaults from
// sentencepiece_model.proto). Read by SentencePieceTokenizer to decide where a long text can be encoded in parts.
struct SentencePieceSpec {
    int modelType = 1;                      // TrainerSpec.model_type: 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
    bool treatWhitespaceAsSuffix = false;   // TrainerSpec.treat_whitespace_as_suffix
    bool addDummyPrefix = true;             // NormalizerSpec.add_dummy_prefix
    bool removeExtraWhitespaces = true;     // NormalizerSpec.remove_extra_whitespaces
    bool escapeWhitespaces = true;          // NormalizerSpec.escape_whitespaces (' ' -> U+2581)
    // Bytes that occur in the key of some normalizer_spec.precompiled_charsmap rule (all false: no rules, each
    // character is copied as it is). No rule spans an ASCII byte outside them, and it is copied as it is.
    std::array<bool, 256> charsMapKeyBytes{};
    // Every rule's output is well-formed UTF-8 (libsentencepiece's BPE splits the normalized text into characters
    // by their lead byte alone, so a lone lead byte in an output swallows the bytes after it).
    bool charsMapOutputsUtf8 = true;
    // Some USER_DEFINED piece holds a space or U+2581 (the normalizer matches those pieces in the raw text).
    bool userDefinedHoldsSpace = false;
};

// `model`: a serialized ModelProto. nullopt when it cannot be walked or its charsmap is damaged.
std::optional<SentencePieceSpec> readSentencePieceSpec(std::string_view model);

}  // namespace qs
