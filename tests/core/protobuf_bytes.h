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

}  // namespace qstest
