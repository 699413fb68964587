// SPDX-License-Identifier: GPL-3.0-or-later
// Small helpers for the reader tests: whole-file read/write and safetensors and GGUF writers for synthetic
// fixtures.
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

struct GgufTensor {
    std::string name;
    uint32_t ggmlType;             // GGUF/ggml type id
    std::vector<uint64_t> dims;    // ne[0] first (the row length), as GGUF stores them
    std::string data;              // raw bytes of the packed tensor
};

// A GGUF v3 file with no metadata keys holding `tensors` (data 32-byte aligned, in order), as gguf.cpp's
// writer lays it out: header, tensor infos, padding, data.
inline std::string makeGguf(const std::vector<GgufTensor>& tensors) {
    auto pad = [](std::string& s) {
        while (s.size() % 32) s += '\0';
    };
    std::string out = "GGUF";
    putLE<uint32_t>(out, 3);
    putLE<uint64_t>(out, tensors.size());
    putLE<uint64_t>(out, 0);
    std::string data;
    for (const auto& t : tensors) {
        putLE<uint64_t>(out, t.name.size());
        out += t.name;
        putLE<uint32_t>(out, uint32_t(t.dims.size()));
        for (uint64_t d : t.dims) putLE<uint64_t>(out, d);
        putLE<uint32_t>(out, t.ggmlType);
        putLE<uint64_t>(out, data.size());
        data += t.data;
        pad(data);
    }
    pad(out);
    return out + data;
}

}  // namespace qstest
