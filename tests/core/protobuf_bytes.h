// SPDX-License-Identifier: GPL-3.0-or-later
// Protocol buffers wire format written by hand (protobuf.dev/programming-guides/encoding), for the SentencePiece
// tests: a tokenizer.model is a serialized ModelProto, and fields appended to one are merged by protobuf's
// parser (the last scalar wins), which is how the tests make damaged models and flag variants.
#pragma once

#include <cstdint>
#include <string>

namespace qstest {

inline std::string varint(uint64_t v) {
    std::string out;
    for (; v >= 0x80; v >>= 7) out += char(uint8_t(v) | 0x80);
    return out + char(v);
}
// A length-delimited field (wire type 2): a string, bytes or a message.
inline std::string bytesField(uint32_t field, const std::string& value) {
    return varint(field << 3 | 2) + varint(value.size()) + value;
}
// A bool or enum field (wire type 0).
inline std::string varintField(uint32_t field, uint64_t v) { return varint(field << 3) + varint(v); }

// Reads a varint at `at` (advancing it); false past the end.
inline bool readVarint(const std::string& b, size_t& at, uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && at < b.size(); shift += 7) {
        const auto c = uint8_t(b[at++]);
        v |= uint64_t(c & 0x7F) << shift;
        if (c < 0x80) return true;
    }
    return false;
}

// `message` with `edit(index, value)` applied to each occurrence of its length-delimited field `field` (index
// counts them from 0); the other fields are copied as they are. Empty when the message cannot be walked.
template <class Edit>
std::string editBytesFields(const std::string& message, uint32_t field, Edit edit) {
    std::string out;
    size_t at = 0, index = 0;
    while (at < message.size()) {
        const size_t start = at;
        uint64_t key = 0, v = 0;
        if (!readVarint(message, at, key)) return {};
        switch (key & 7) {
            case 0: if (!readVarint(message, at, v)) return {}; break;
            case 1: at += 8; break;
            case 5: at += 4; break;
            case 2:
                if (!readVarint(message, at, v) || v > message.size() - at) return {};
                if ((key >> 3) == field) {
                    out += bytesField(field, edit(index++, message.substr(at, size_t(v))));
                    at += size_t(v);
                    continue;
                }
                at += size_t(v);
                break;
            default: return {};
        }
        if (at > message.size()) return {};
        out += message.substr(start, at - start);
    }
    return out;
}

}  // namespace qstest
