// SPDX-License-Identifier: GPL-3.0-or-later
// Small helpers for the reader tests: whole-file read/write and safetensors / GGUF writers for synthetic fixtures.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qstest {

inline std::string readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void writeBytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

template <class T>
void putLE(std::string& s, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    s.append(b, sizeof(T));
}

template <class T>
void pokeLE(std::string& s, size_t at, T v) {
    std::memcpy(s.data() + at, &v, sizeof(T));
}

struct StEntry {
    std::string name, dtype;
    std::vector<int64_t> shape;
    std::string data;  // raw bytes
};

// A safetensors file: u64 header length, JSON header (space-padded to 8 bytes as the reference writer does),
// data in entry order.
inline std::string makeSafetensors(const std::vector<StEntry>& entries,
                                   const nlohmann::json& metadata = nlohmann::json()) {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    if (!metadata.is_null()) h["__metadata__"] = metadata;
    uint64_t off = 0;
    std::string data;
    for (const auto& e : entries) {
        h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {off, off + e.data.size()}}};
        off += e.data.size();
        data += e.data;
    }
    std::string text = h.dump();
    while (text.size() % 8) text += ' ';
    std::string out;
    putLE<uint64_t>(out, text.size());
    return out + text + data;
}

// A safetensors file from a raw header text (for malformed headers) followed by `dataBytes` zero bytes.
inline std::string rawSafetensors(const std::string& headerText, size_t dataBytes) {
    std::string out;
    putLE<uint64_t>(out, headerText.size());
    return out + headerText + std::string(dataBytes, '\0');
}

// A GGUF v3 file (GGUF spec, ggml docs/gguf.md) from metadata and tensors. Metadata value types follow the
// JSON: string -> STRING, integer -> INT32 (UINT32 above 2^31 - 1), float -> FLOAT32, bool -> BOOL, array of
// one of those -> ARRAY of it (an empty array is an INT32 array). Tensors are {name, dims in ggml order
// (innermost first), ggml type, raw bytes}; data is 32-byte aligned.
struct GgufTensor {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type = 0;  // GGML_TYPE_F32
    std::string data;
};

inline uint32_t ggufTypeOf(const nlohmann::json& v) {
    if (v.is_string()) return 8;
    if (v.is_boolean()) return 7;
    if (v.is_number_float()) return 6;
    if (v.is_number_unsigned() && v.get<uint64_t>() > 0x7FFFFFFFull) return 4;
    if (v.is_number_integer()) return 5;
    return 9;
}

inline void putGgufString(std::string& s, const std::string& v) {
    putLE<uint64_t>(s, v.size());
    s += v;
}

inline void putGgufValue(std::string& s, uint32_t type, const nlohmann::json& v) {
    switch (type) {
        case 8: putGgufString(s, v.get<std::string>()); break;
        case 7: s += char(v.get<bool>() ? 1 : 0); break;
        case 6: putLE<float>(s, v.get<float>()); break;
        case 4: putLE<uint32_t>(s, v.get<uint32_t>()); break;
        case 5: putLE<int32_t>(s, v.get<int32_t>()); break;
        default: {
            const uint32_t et = v.empty() ? 5 : ggufTypeOf(v.front());
            putLE<uint32_t>(s, et);
            putLE<uint64_t>(s, v.size());
            for (const auto& e : v) putGgufValue(s, et, e);
        }
    }
}

inline std::string makeGguf(const nlohmann::ordered_json& metadata, const std::vector<GgufTensor>& tensors) {
    std::string s = "GGUF";
    putLE<uint32_t>(s, 3);
    putLE<uint64_t>(s, tensors.size());
    putLE<uint64_t>(s, metadata.size());
    for (auto it = metadata.begin(); it != metadata.end(); ++it) {
        putGgufString(s, it.key());
        const uint32_t type = ggufTypeOf(it.value());
        putLE<uint32_t>(s, type);
        putGgufValue(s, type, it.value());
    }
    std::string data;
    for (const auto& t : tensors) {
        putGgufString(s, t.name);
        putLE<uint32_t>(s, uint32_t(t.ne.size()));
        for (uint64_t d : t.ne) putLE<uint64_t>(s, d);
        putLE<uint32_t>(s, t.type);
        putLE<uint64_t>(s, data.size());
        data += t.data;
        while (data.size() % 32) data += '\0';
    }
    while (s.size() % 32) s += '\0';
    return s + data;
}

}  // namespace qstest
