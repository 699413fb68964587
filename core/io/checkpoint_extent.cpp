// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoint extent: see checkpoint_extent.h. The GGUF walk follows ggml's docs/gguf.md (as gguf_reader.cpp
// does) but skips values instead of building them: a 150,000-token vocabulary costs a pointer bump per string.
#include "core/io/checkpoint_extent.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/io/bounded_text.h"
#include "core/io/byte_cursor.h"
#include "core/io/gguf_reader.h"
#include "core/io/gguf_value_types.h"
#include "core/io/mapped_file.h"
#include "core/io/safetensors_header_sax.h"
#include "core/tensor/dtype.h"

namespace qs::io {

namespace {

using namespace gguf;

struct GgufWalk {
    ByteCursor c;
    std::string error;

    bool fail(const std::string& what) {
        if (error.empty()) error = "GGUF offset " + std::to_string(c.pos()) + ": " + what;
        return false;
    }

    bool skipString(const char* what) {
        uint64_t len = 0;
        if (!c.read(len)) return fail(std::string("truncated ") + what + " length");
        if (!c.skip(len))
            return fail(std::string(what) + " of " + std::to_string(len) + " bytes runs past the end of the file");
        return true;
    }

    bool skipValue(uint32_t type, int depth) {
        if (type == kString) return skipString("string value");
        if (type != kArray) {
            const uint64_t n = fixedValueBytes(type);
            if (n == 0) return fail("unknown value type " + std::to_string(type));
            return c.skip(n) || fail("truncated value");
        }
        if (depth >= kGgufMaxArrayDepth) return fail("arrays nested deeper than " + std::to_string(kGgufMaxArrayDepth));
        uint32_t elemType = 0;
        uint64_t n = 0;
        if (!c.read(elemType) || !c.read(n)) return fail("truncated array header");
        if (elemType >= kTypeCount) return fail("array of unknown value type " + std::to_string(elemType));
        if (const uint64_t each = fixedValueBytes(elemType); each > 0) {
            if (n > c.remaining() / each)
                return fail("array of " + std::to_string(n) + " values runs past the end of the file");
            return c.skip(n * each);
        }
        if (n > c.remaining() / 8)  // a string or an array takes at least its 8-byte length
            return fail("array of " + std::to_string(n) + " values runs past the end of the file");
        for (uint64_t i = 0; i < n; ++i)
            if (!skipValue(elemType, depth + 1)) return false;
        return true;
    }

    // The key/value pairs; returns general.alignment (32 unless set), 0 on failure.
    uint64_t skipMetadata(uint64_t nKv) {
        uint64_t alignment = 32;
        for (uint64_t i = 0; i < nKv; ++i) {
            uint64_t len = 0;
            std::string_view key;
            if (!c.read(len) || !c.view(len, key)) return fail("truncated key of pair " + std::to_string(i)), 0;
            uint32_t type = 0;
            if (!c.read(type)) return fail("truncated value type of key '" + std::string(key) + "'"), 0;
            if (key == "general.alignment") {
                uint32_t a = 0;
                if (type != kU32 || !c.read(a) || a == 0 || (a & (a - 1)) != 0)
                    return fail("general.alignment is not a UINT32 power of two"), 0;
                alignment = a;
            } else if (!skipValue(type, 0)) {
                return 0;
            }
        }
        return alignment;
    }

    // One tensor info; `end` gets its data's end relative to the data section.
    bool tensorEnd(uint64_t& end) {
        if (!skipString("tensor name")) return false;
        uint32_t nDims = 0;
        if (!c.read(nDims)) return fail("truncated tensor info");
        if (nDims > 4) return fail("tensor with " + std::to_string(nDims) + " dimensions (at most 4)");
        uint64_t elements = 1;
        for (uint32_t d = 0; d < nDims; ++d) {
            uint64_t ne = 0;
            if (!c.read(ne)) return fail("truncated tensor dimensions");
            if (__builtin_mul_overflow(elements, ne, &elements)) return fail("tensor dimensions overflow 64 bits");
        }
        uint32_t typeId = 0;
        uint64_t offset = 0;
        if (!c.read(typeId) || !c.read(offset)) return fail("truncated tensor info");
        const auto dtype = dtypeFromGgmlId(typeId);
        if (!dtype) return fail("unknown ggml type id " + std::to_string(typeId));
        const auto bytes = dtypeBytes(*dtype, elements);
        if (!bytes) return fail("tensor of " + std::to_string(elements) + " values is not whole blocks of its type");
        if (__builtin_add_overflow(offset, *bytes, &end)) return fail("tensor data end overflows 64 bits");
        return true;
    }
};

// Keeps the largest data_offsets end of a safetensors header; of each entry only its three tensor members are
// built (SafetensorsHeaderSax), of __metadata__ nothing. The JSON nests at most kMaxJsonDepth deep, as the reader
// allows.
class OffsetsSax : public SafetensorsHeaderSax {
public:
    OffsetsSax() : SafetensorsHeaderSax(kMaxJsonDepth, /*keepMetadata=*/false) {}
    uint64_t maxEnd = 0;

protected:
    void entry(const std::string& name, nlohmann::json& value) override {
        if (name == "__metadata__" || !value.is_object()) return;
        auto off = value.find("data_offsets");
        if (off == value.end() || !off->is_array()) return (void)fail("tensor '" + name + "' has no data_offsets");
        const std::string what = "data_offsets of '" + name + "'";
        uint64_t v[2] = {0, 0};
        size_t count = 0;
        for (const nlohmann::json& x : *off) {
            if (x.is_structured()) return (void)fail(what + " holds a nested value");
            if (x.is_number_float()) return (void)fail("a fractional data offset");
            if (x.is_number_integer() && !x.is_number_unsigned()) return (void)fail("a negative data offset");
            if (!x.is_number_unsigned()) return (void)fail(what + " holds a value that is not an integer");
            if (count == 2) return (void)fail(what + " has more than two values");
            v[count++] = x.get<uint64_t>();
        }
        if (count != 2) return (void)fail(what + " is not [begin, end]");
        if (v[0] > v[1]) return (void)fail(what + " end before they begin");
        maxEnd = std::max(maxEnd, v[1]);
    }
};

}  // namespace

Result<uint64_t> ggufExtent(std::span<const std::byte> bytes) {
    GgufWalk w{ByteCursor(bytes), {}};
    uint32_t magic = 0, version = 0;
    uint64_t nTensors = 0, nKv = 0;
    if (!w.c.read(magic) || magic != 0x46554747u) return Error{"not a GGUF file (no \"GGUF\" magic)"};
    if (!w.c.read(version) || !w.c.read(nTensors) || !w.c.read(nKv))
        return Error{"truncated GGUF header (" + std::to_string(bytes.size()) + " bytes)"};
    if (version != 2 && version != 3) return Error{"GGUF version " + std::to_string(version) + " (expected 2 or 3)"};
    const uint64_t alignment = w.skipMetadata(nKv);
    if (alignment == 0) return Error{w.error};
    uint64_t maxEnd = 0;
    for (uint64_t i = 0; i < nTensors; ++i) {
        uint64_t end = 0;
        if (!w.tensorEnd(end)) return Error{w.error + " (tensor info " + std::to_string(i) + ")"};
        maxEnd = std::max(maxEnd, end);
    }
    if (nTensors == 0) return w.c.pos();
    const uint64_t dataStart = (w.c.pos() + alignment - 1) / alignment * alignment;  // pos < 2^63: no overflow
    uint64_t extent = 0;
    if (__builtin_add_overflow(dataStart, maxEnd, &extent)) return Error{"GGUF tensor data end overflows 64 bits"};
    return extent;
}

Result<uint64_t> safetensorsExtent(std::span<const std::byte> bytes) {
    uint64_t n = 0;
    if (bytes.size() < 8) return Error{"truncated safetensors header length (" + std::to_string(bytes.size()) + " bytes)"};
    std::memcpy(&n, bytes.data(), 8);
    if (n > bytes.size() - 8)
        return Error{"safetensors header of " + std::to_string(n) + " bytes runs past the end of the file (" +
                     std::to_string(bytes.size()) + " bytes)"};
    if (n > (100ull << 20)) return Error{"safetensors header of " + std::to_string(n) + " bytes exceeds 100 MB"};
    const char* text = reinterpret_cast<const char*>(bytes.data()) + 8;
    OffsetsSax sax;
    if (!sax.parse(text, size_t(n))) return Error{"safetensors header: " + sax.error()};
    uint64_t extent = 0;
    if (__builtin_add_overflow(8 + n, sax.maxEnd, &extent)) return Error{"safetensors data end overflows 64 bits"};
    return extent;
}

Status checkCheckpointComplete(const std::string& path, std::string_view format) {
    if (format != "gguf" && format != "safetensors")
        return Error{"no extent check for format '" + std::string(format) + "'"};
    auto file = MappedFile::open(path);
    if (!file) return file.error();
    const auto bytes = (*file)->bytes();
    auto extent = format == "gguf" ? ggufExtent(bytes) : safetensorsExtent(bytes);
    if (!extent) return extent.error();
    if (*extent > bytes.size())
        return Error{"incomplete: " + std::to_string(bytes.size()) + " bytes of the " + std::to_string(*extent) +
                     " its header describes"};
    return {};
}

}  // namespace qs::io
