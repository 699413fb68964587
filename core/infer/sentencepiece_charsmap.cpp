// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/sentencepiece_charsmap.h"

#include "core/io/utf8.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace qs {

namespace {

// Protocol buffers wire format (protobuf.dev/programming-guides/encoding): varint keys, field = key >> 3,
// wire type = key & 7 (0 varint, 1 fixed64, 2 length-delimited, 3/4 start/end group, 5 fixed32).
bool readVarint(std::string_view b, size_t& at, uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64 && at < b.size(); shift += 7) {
        const auto c = uint8_t(b[at++]);
        out |= uint64_t(c & 0x7F) << shift;
        if (c < 0x80) return true;
    }
    return false;
}

// Skips the value of a field with wire type `wire` at `at` (groups: up to the end-group key of the same field, at
// most 64 groups deep, as protobuf's parser limits recursion). False when the message cannot be walked.
bool skipValue(std::string_view b, size_t& at, uint64_t key, int depth = 0) {
    uint64_t v = 0;
    switch (key & 7) {
        case 0: return readVarint(b, at, v);
        case 1: if (b.size() - at < 8) return false; at += 8; return true;
        case 5: if (b.size() - at < 4) return false; at += 4; return true;
        case 2:
            if (!readVarint(b, at, v) || v > b.size() - at) return false;
            at += size_t(v);
            return true;
        case 3:
            if (depth >= 64) return false;
            while (at < b.size()) {
                uint64_t inner = 0;
                if (!readVarint(b, at, inner)) return false;
                if ((inner & 7) == 4) return (inner >> 3) == (key >> 3);
                if (!skipValue(b, at, inner, depth + 1)) return false;
            }
            return false;
        default: return false;  // an end-group without its start, or wire types 6 and 7
    }
}

// Every occurrence of the length-delimited field `field` of the message `b`, in order (unknown groups skipped);
// nullopt when the message cannot be walked (left to libsentencepiece's parser).
std::optional<std::vector<std::string_view>> occurrences(std::string_view b, uint32_t field) {
    std::vector<std::string_view> found;
    size_t at = 0;
    while (at < b.size()) {
        uint64_t key = 0;
        if (!readVarint(b, at, key)) return std::nullopt;
        const size_t valueAt = at;
        if (!skipValue(b, at, key)) return std::nullopt;
        if ((key & 7) != 2 || (key >> 3) != field) continue;
        size_t dataAt = valueAt;
        uint64_t len = 0;
        readVarint(b, dataAt, len);
        found.push_back(b.substr(dataAt, size_t(len)));
    }
    return found;
}

// The precompiled_charsmap protobuf's parser ends with: occurrences of a message field merge into one message and
// the last occurrence of a bytes field wins, so it is the last charsmap of the last spec that has one.
std::optional<std::string_view> mergedCharsMap(std::string_view model, uint32_t specField) {
    const auto specs = occurrences(model, specField);
    if (!specs) return std::nullopt;
    std::optional<std::string_view> blob;
    for (std::string_view spec : *specs) {
        const auto blobs = occurrences(spec, 2);
        if (!blobs) return std::nullopt;
        if (!blobs->empty()) blob = blobs->back();
    }
    return blob;
}

// Darts-clone's unit (darts.h, DoubleArrayUnit): has_leaf bit 8, label the low byte (or bit 31 for a value unit,
// which therefore never matches a byte), offset bits 10-31 shifted left by 8 when bit 9 is set, value bits 0-30.
bool hasLeaf(uint32_t u) { return (u >> 8) & 1; }
uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
uint32_t offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }

// The blob: uint32 trie size (little-endian), the trie's units, then NUL-terminated normalized strings that the
// leaves' values index (sentencepiece normalizer.cc, DecodePrecompiledCharsMap). `keyBytes`, when given, gets
// every byte that labels an edge of the trie: the bytes that occur in some rule's key; `outputsUtf8` whether every
// rule's output is well-formed UTF-8.
std::string checkBlob(std::string_view blob, std::array<bool, 256>* keyBytes = nullptr, bool* outputsUtf8 = nullptr) {
    if (blob.empty()) return {};  // no rules: identity normalization
    uint32_t trieBytes = 0;
    if (blob.size() <= 4) return "shorter than its 4-byte header";
    std::memcpy(&trieBytes, blob.data(), 4);
    if (trieBytes > blob.size() - 4)
        return "its trie of " + std::to_string(trieBytes) + " bytes does not fit in the " + std::to_string(blob.size()) +
               "-byte blob";
    const size_t n = trieBytes / 4;
    if (n == 0) return "its trie is empty";
    std::vector<uint32_t> units(n);
    std::memcpy(units.data(), blob.data() + 4, n * 4);
    const std::string_view normalized = blob.substr(4 + size_t(trieBytes));
    // Every read NormalizePrefix's commonPrefixSearch can make: from a node i, units[(i ^ offset) ^ c] for any byte
    // c (so the whole 256-unit block must exist) and, on a leaf, the value unit at i ^ offset.
    std::vector<uint8_t> seen(n, 0);
    std::vector<size_t> stack{0};
    seen[0] = 1;
    while (!stack.empty()) {
        const size_t i = stack.back();
        stack.pop_back();
        const size_t base = i ^ offset(units[i]);
        if ((base | 0xFF) >= n)
            return "trie unit " + std::to_string(i) + " points outside its " + std::to_string(n) + " units";
        if (i != 0 && hasLeaf(units[i])) {
            const uint32_t v = value(units[base]);
            if (v >= normalized.size() || normalized.find('\0', v) == std::string_view::npos)
                return "trie unit " + std::to_string(i) + " names normalized text at " + std::to_string(v) +
                       ", outside the " + std::to_string(normalized.size()) + " bytes (or not NUL-terminated)";
            if (outputsUtf8 && io::firstInvalidUtf8(normalized.substr(v, normalized.find('\0', v) - v)))
                *outputsUtf8 = false;
        }
        // Label 0 too: darts' commonPrefixSearch is given the text's length and follows a NUL byte of the text
        // like any other (a leaf's value unit is never taken for a child: its label has bit 31 set).
        for (uint32_t c = 0; c < 256; ++c) {
            const size_t child = base ^ c;
            if (label(units[child]) == c && !seen[child]) {
                if (keyBytes) (*keyBytes)[c] = true;
                seen[child] = 1;
                stack.push_back(child);
            }
        }
    }
    return {};
}

}  // namespace

namespace {

constexpr const char* kModelFields[] = {"", "pieces", "trainer_spec", "normalizer_spec", "self_test_data",
                                        "denormalizer_spec"};

std::string fieldName(uint64_t field, int depth) {
    if (depth == 0 && field >= 1 && field <= 5) return std::string(kModelFields[field]) + " (field " + std::to_string(field) + ")";
    return "field " + std::to_string(field);
}

// Where the wire framing of message `b` (at file offset `base`) breaks, "" when it does not. The ModelProto's
// own message fields (depth 0, fields 1-5) are walked one level down.
std::string framingBreak(std::string_view b, size_t base, int depth) {
    size_t at = 0;
    while (at < b.size()) {
        const size_t start = at;
        uint64_t key = 0, v = 0;
        auto where = [&] { return " at byte " + std::to_string(base + start); };
        if (!readVarint(b, at, key)) return "a field key" + where() + " runs past its end";
        const std::string name = fieldName(key >> 3, depth);
        const size_t left = b.size() - at;
        switch (key & 7) {
            case 0:
                if (!readVarint(b, at, v)) return name + where() + ": its varint runs past the end";
                break;
            case 1:
            case 5: {
                const size_t need = (key & 7) == 1 ? 8 : 4;
                if (left < need)
                    return name + where() + " needs " + std::to_string(need) + " bytes, " + std::to_string(left) + " remain";
                at += need;
                break;
            }
            case 2: {
                if (!readVarint(b, at, v)) return name + where() + ": its length runs past the end";
                if (v > b.size() - at)
                    return name + where() + " declares " + std::to_string(v) + " bytes, " +
                           std::to_string(b.size() - at) + " remain";
                if (depth == 0 && (key >> 3) >= 1 && (key >> 3) <= 5)
                    if (std::string inner = framingBreak(b.substr(at, size_t(v)), base + at, 1); !inner.empty())
                        return name + where() + ": " + inner;
                at += size_t(v);
                break;
            }
            default: return name + where() + " has wire type " + std::to_string(key & 7) + ", which SentencePiece never writes";
        }
    }
    return {};
}

}  // namespace

std::string sentencePieceFramingBreak(std::string_view model) { return framingBreak(model, 0, 0); }

Status checkSentencePieceCharsMaps(std::string_view model, const std::string& path) {
    // ModelProto: normalizer_spec = 3, denormalizer_spec = 5; NormalizerSpec: precompiled_charsmap = 2
    // (sentencepiece_model.proto).
    for (auto [field, name] : {std::pair<uint32_t, const char*>{3, "normalizer_spec"}, {5, "denormalizer_spec"}}) {
        const auto blob = mergedCharsMap(model, field);
        if (!blob) continue;
        if (std::string why = checkBlob(*blob); !why.empty())
            return Error{path + ": " + name + ".precompiled_charsmap is damaged (" + why + ")"};
    }
    return {};
}

}  // namespace qs

namespace qs {

namespace {

// The last varint value of the scalar field `field` in message `b` (protobuf's parser: the last occurrence wins;
// one with another wire type is an unknown field, and so is a value outside `maxEnum` for an enum field: proto2
// keeps the value before it). False when the message cannot be walked.
bool lastVarint(std::string_view b, uint32_t field, std::optional<uint64_t>& out, uint64_t maxEnum = UINT64_MAX) {
    size_t at = 0;
    while (at < b.size()) {
        uint64_t key = 0;
        if (!readVarint(b, at, key)) return false;
        if (key == (uint64_t(field) << 3)) {
            uint64_t v = 0;
            if (!readVarint(b, at, v)) return false;
            if (maxEnum == UINT64_MAX || (v >= 1 && v <= maxEnum)) out = v;
        } else if (!skipValue(b, at, key)) {
            return false;
        }
    }
    return true;
}

// The merged value of a bool/enum field of the merged sub-message `specField` (each occurrence merges into the
// one before, so the last occurrence of the field in any of them wins).
bool mergedVarint(std::string_view model, uint32_t specField, uint32_t field, uint64_t& value,
                  uint64_t maxEnum = UINT64_MAX) {
    const auto specs = occurrences(model, specField);
    if (!specs) return false;
    std::optional<uint64_t> v;
    for (std::string_view spec : *specs)
        if (!lastVarint(spec, field, v, maxEnum)) return false;
    if (v) value = *v;
    return true;
}

}  // namespace

std::optional<SentencePieceSpec> readSentencePieceSpec(std::string_view model) {
    SentencePieceSpec spec;
    uint64_t type = uint64_t(spec.modelType), suffix = 0, dummy = 1, extra = 1, escape = 1;
    // ModelProto: trainer_spec = 2 (model_type = 3, treat_whitespace_as_suffix = 24), normalizer_spec = 3
    // (add_dummy_prefix = 3, remove_extra_whitespaces = 4, escape_whitespaces = 5; defaults true).
    if (!mergedVarint(model, 2, 3, type, 4) || !mergedVarint(model, 2, 24, suffix) || !mergedVarint(model, 3, 3, dummy) ||
        !mergedVarint(model, 3, 4, extra) || !mergedVarint(model, 3, 5, escape))
        return std::nullopt;
    spec.modelType = int(type);
    spec.treatWhitespaceAsSuffix = suffix != 0;
    spec.addDummyPrefix = dummy != 0;
    spec.removeExtraWhitespaces = extra != 0;
    spec.escapeWhitespaces = escape != 0;
    // ModelProto.pieces = 1, each a SentencePiece message: piece = 1 (the last occurrence wins), type = 3
    // (USER_DEFINED = 4).
    const auto pieces = occurrences(model, 1);
    if (!pieces) return std::nullopt;
    for (std::string_view piece : *pieces) {
        std::optional<uint64_t> type;
        const auto text = occurrences(piece, 1);
        if (!text || !lastVarint(piece, 3, type, 6)) return std::nullopt;  // Type: NORMAL 1 .. BYTE 6
        if (type != 4u || text->empty()) continue;
        const std::string_view p = text->back();
        if (p.find(' ') != std::string_view::npos || p.find("\xE2\x96\x81") != std::string_view::npos)
            spec.userDefinedHoldsSpace = true;
    }
    const auto blob = mergedCharsMap(model, 3);
    if (!blob) return std::nullopt;
    if (!checkBlob(*blob, &spec.charsMapKeyBytes, &spec.charsMapOutputsUtf8).empty()) return std::nullopt;
    return spec;
}

}  // namespace qs
