// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF reader. Layout per ggml's docs/gguf.md and gguf.cpp; see gguf_reader.h.
#include "core/io/gguf_reader.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "core/io/byte_cursor.h"
#include "core/io/checkpoint_limits.h"
#include "core/io/gguf_value_types.h"
#include "core/io/utf8.h"

namespace qs::io {

namespace {

using nlohmann::json;

using namespace gguf;

// Smallest encoding of one value of each type; used to reject counts the remaining bytes cannot hold.
uint64_t minValueBytes(uint32_t type) {
    switch (type) {
        case kString: return 8;     // length only
        case kArray: return 4 + 8;  // element type + count
        default: return fixedValueBytes(type) > 0 ? fixedValueBytes(type) : 1;
    }
}

const char* typeName(uint32_t type) {
    static const char* kNames[kTypeCount] = {"uint8", "int8",  "uint16", "int16",  "uint32", "int32", "float32",
                                             "bool",  "string", "array", "uint64", "int64", "float64"};
    return type < kTypeCount ? kNames[type] : "unknown";
}

struct Parser {
    ByteCursor c;
    const std::string& path;
    std::string error;
    // Strings that are not UTF-8 are kept with U+FFFD; the first one is named in a warning by its offset and by
    // the key or tensor it belongs to (`badUtf8Where`, filled in by the caller that knows it).
    uint64_t badUtf8 = 0, firstBadUtf8At = 0;
    std::string badUtf8Where;
    // The first string of the current value that is not UTF-8: the offset of its bytes and, in an array, the
    // element holding it (-1: none; reset before each value).
    uint64_t valueBadUtf8At = 0;
    int64_t valueBadUtf8Element = -1;

    // `what` 'name': built only for the first bad string (this runs for every key and tensor of the file).
    void noteBadUtf8Owner(const char* what, const std::string& name) {
        if (badUtf8 && badUtf8Where.empty()) badUtf8Where = std::string(what) + " '" + name + "'";
    }

    bool fail(const std::string& what) {
        if (error.empty()) error = path + ": offset " + std::to_string(c.pos()) + ": " + what;
        return false;
    }

    // `stored`, when given, receives the bytes as stored if they are not UTF-8 (else it is cleared).
    bool readString(std::string& out, const char* what, std::string* stored = nullptr) {
        uint64_t len = 0;
        if (!c.read(len)) return fail(std::string("truncated ") + what + " length");
        if (len > c.remaining())
            return fail(std::string(what) + " length " + std::to_string(len) + " exceeds the " +
                        std::to_string(c.remaining()) + " bytes left in the file");
        const uint64_t at = c.pos() - sizeof(len);
        std::string_view v;
        (void)c.view(len, v);
        out.clear();
        out.reserve(size_t(len));
        const bool utf8 = appendUtf8(v, out);
        if (!utf8 && valueBadUtf8At == 0) valueBadUtf8At = at + sizeof(len);
        if (!utf8 && badUtf8++ == 0) firstBadUtf8At = at;
        if (stored) stored->assign(utf8 ? std::string_view() : v);
        return true;
    }

    template <class T>
    bool scalar(json& out, const char* what) {
        T v{};
        if (!c.read(v)) return fail(std::string("truncated ") + what);
        out = v;
        return true;
    }

    bool value(uint32_t type, int depth, json& out) {
        switch (type) {
            case kU8: return scalar<uint8_t>(out, "uint8 value");
            case kI8: return scalar<int8_t>(out, "int8 value");
            case kU16: return scalar<uint16_t>(out, "uint16 value");
            case kI16: return scalar<int16_t>(out, "int16 value");
            case kU32: return scalar<uint32_t>(out, "uint32 value");
            case kI32: return scalar<int32_t>(out, "int32 value");
            case kF32: return scalar<float>(out, "float32 value");
            case kU64: return scalar<uint64_t>(out, "uint64 value");
            case kI64: return scalar<int64_t>(out, "int64 value");
            case kF64: return scalar<double>(out, "float64 value");
            case kBool: {
                uint8_t b = 0;
                if (!c.read(b)) return fail("truncated bool value");
                if (b > 1) return fail("bool value " + std::to_string(b) + " (expected 0 or 1)");
                out = b == 1;
                return true;
            }
            case kString: {
                std::string s;
                if (!readString(s, "string value")) return false;
                out = std::move(s);
                return true;
            }
            case kArray: {
                if (depth >= kGgufMaxArrayDepth)
                    return fail("arrays nested deeper than " + std::to_string(kGgufMaxArrayDepth) + " levels");
                uint32_t elemType = 0;
                uint64_t n = 0;
                if (!c.read(elemType) || !c.read(n)) return fail("truncated array header");
                if (elemType >= kTypeCount) return fail("array of unknown value type " + std::to_string(elemType));
                if (n > c.remaining() / minValueBytes(elemType))
                    return fail("array of " + std::to_string(n) + " " + typeName(elemType) + " values cannot fit in the " +
                                std::to_string(c.remaining()) + " bytes left in the file");
                out = json::array();
                auto& arr = out.get_ref<json::array_t&>();
                arr.reserve(size_t(n));
                for (uint64_t i = 0; i < n; ++i) {
                    arr.emplace_back();
                    const uint64_t badBefore = badUtf8;
                    if (!value(elemType, depth + 1, arr.back())) return false;
                    if (depth == 0 && badUtf8 != badBefore && valueBadUtf8Element < 0) valueBadUtf8Element = int64_t(i);
                }
                return true;
            }
            default: return fail("unknown value type " + std::to_string(type));
        }
    }
};

// GGUF ids of ggml types that no longer exist, for a clearer error than "unknown".
std::string ggmlIdName(uint32_t id) {
    switch (id) {
        case 4: return " (Q4_2, removed from ggml)";
        case 5: return " (Q4_3, removed from ggml)";
        case 31: case 32: case 33: return " (Q4_0_4_4/4_8/8_8, repacked layouts removed from GGUF)";
        case 36: case 37: case 38: return " (IQ4_NL_4_4/4_8/8_8, repacked layouts removed from GGUF)";
        default: return "";
    }
}

}  // namespace

namespace {

// The header after the magic: version and the two counts, each checked against what the file can hold.
struct GgufHeader {
    uint32_t version = 0;
    uint64_t nTensors = 0, nKv = 0;
};

Result<GgufHeader> readHeader(Parser& p, const MappedFile& file) {
    const std::string& path = file.path();
    GgufHeader h;
    uint32_t magic = 0;
    if (!p.c.read(magic) || !p.c.read(h.version))
        return Error{path + ": truncated GGUF header (" + std::to_string(file.size()) + " bytes)"};
    if (magic != 0x46554747u) return Error{path + ": bad magic: not a GGUF file (expected \"GGUF\")"};
    if (h.version == 1)
        return Error{path + ": GGUF version 1 is not supported (it predates 64-bit counts, 2023); re-convert the "
                            "model with a current llama.cpp"};
    if ((h.version & 0xFFFFu) == 0 && h.version != 0)
        return Error{path + ": GGUF version field " + std::to_string(h.version) +
                     " looks byte-swapped: big-endian GGUF files are not supported"};
    if (h.version != 2 && h.version != 3)
        return Error{path + ": unsupported GGUF version " + std::to_string(h.version) + " (expected 2 or 3)"};
    if (!p.c.read(h.nTensors) || !p.c.read(h.nKv)) return Error{path + ": truncated GGUF header counts"};
    // Each KV pair takes at least 13 bytes (key length, type, 1-byte value); each tensor info at least 24.
    if (h.nKv > p.c.remaining() / 13)
        return Error{path + ": KV count " + std::to_string(h.nKv) + " cannot fit in a file of " +
                     std::to_string(file.size()) + " bytes"};
    if (h.nTensors > p.c.remaining() / 24)
        return Error{path + ": tensor count " + std::to_string(h.nTensors) + " cannot fit in a file of " +
                     std::to_string(file.size()) + " bytes"};
    if (h.nTensors > kMaxCheckpointTensors)
        return Error{path + ": " + std::to_string(h.nTensors) + " tensors, more than the " +
                     std::to_string(kMaxCheckpointTensors) + " one checkpoint may hold"};
    return h;
}

// general.alignment: the GGUF spec types it as UINT32 (llama.cpp's gguf reader refuses other types too); a
// signed or wider integer is named as found rather than called a bad value.
Result<uint64_t> alignmentValue(const std::string& path, uint32_t type, const json& v) {
    if (type != kU32)
        return Error{path + ": bad alignment: general.alignment is stored as " + typeName(type) + " " + v.dump() +
                     "; the GGUF specification says UINT32"};
    if (!v.is_number_unsigned() || v.get<uint64_t>() == 0 || (v.get<uint64_t>() & (v.get<uint64_t>() - 1)))
        return Error{path + ": bad alignment: general.alignment is " + v.dump() + " (must be a nonzero power of two)"};
    return v.get<uint64_t>();
}

// The nKv key/value pairs into ck->metadata and ck->ggufKeys; returns the data alignment (32 unless set).
Result<uint64_t> readMetadata(Parser& p, const MappedFile& file, uint64_t nKv, Checkpoint& ck,
                              ProgressSink& progress) {
    const std::string& path = file.path();
    uint64_t alignment = 32;
    auto& md = ck.metadata.get_ref<json::object_t&>();
    std::string key, storedKey;
    std::unordered_set<std::string> badKeys, badShown;  // keys that are not UTF-8: stored bytes, and as shown
    for (uint64_t i = 0; i < nKv; ++i) {
        if ((i & 63) == 0 && !progress.report(0.5 * double(i) / double(nKv), "reading GGUF metadata"))
            return Error{std::string(kCancelledMessage)};
        if (!p.readString(key, "key", &storedKey)) return Error{p.error};
        uint32_t type = 0;
        if (!p.c.read(type)) return Error{path + ": truncated value type of key '" + key + "'"};
        // Keys are byte strings: a duplicate has the same bytes. Two keys that differ only in bytes that are not
        // UTF-8 show alike and cannot both be metadata entries (JSON keys are UTF-8): refused as such.
        const bool sameBytesSeen = storedKey.empty() ? md.count(key) && !badShown.count(key) : badKeys.count(storedKey);
        if (sameBytesSeen) return Error{path + ": duplicate metadata key '" + key + "'"};
        if (md.count(key))
            return Error{path + ": metadata keys shown as '" + key + "' differ only in bytes that are not UTF-8; two "
                         "such keys in one file are not supported"};
        if (!storedKey.empty()) {
            badKeys.insert(storedKey);
            badShown.insert(key);
        }
        json v;
        const uint64_t arrayTypeAt = p.c.pos();  // an array's element type is its first field
        const uint64_t badBefore = p.badUtf8;
        p.valueBadUtf8At = 0;
        p.valueBadUtf8Element = -1;
        if (!p.value(type, 0, v)) return Error{p.error + " (key '" + key + "')"};
        const bool valueNotUtf8 = p.badUtf8 != badBefore;
        p.noteBadUtf8Owner("key", key);
        if (key == "general.alignment") {
            auto a = alignmentValue(path, type, v);
            if (!a) return a.error();
            alignment = *a;
        }
        uint32_t arrayType = 0;
        if (type == kArray) std::memcpy(&arrayType, file.bytes().data() + arrayTypeAt, 4);
        ck.ggufKeys.push_back({key, type, arrayType, storedKey, valueNotUtf8, valueNotUtf8 ? p.valueBadUtf8At : 0,
                               valueNotUtf8 ? p.valueBadUtf8Element : -1});
        md.emplace(key, std::move(v));
    }
    return alignment;
}

// One tensor info: name, dimensions (innermost first in the file, stored outermost first), type and offset
// relative to the data section.
Result<TensorInfo> readTensorInfo(Parser& p, uint64_t alignment) {
    const std::string& path = p.path;
    TensorInfo t;
    t.file = 0;
    std::string stored;
    if (!p.readString(t.name, "tensor name", &stored)) return Error{p.error};
    if (!stored.empty()) t.storedName = std::move(stored);
    p.noteBadUtf8Owner("tensor name", t.name);
    uint32_t nDims = 0;
    if (!p.c.read(nDims)) return Error{path + ": truncated tensor info of '" + t.name + "'"};
    if (nDims > 4) return Error{path + ": tensor '" + t.name + "' has " + std::to_string(nDims) + " dimensions (at most 4)"};
    uint64_t ne[4] = {1, 1, 1, 1};
    uint64_t elements = 1;
    for (uint32_t d = 0; d < nDims; ++d) {
        if (!p.c.read(ne[d])) return Error{path + ": truncated dimensions of tensor '" + t.name + "'"};
        if (ne[d] > uint64_t(INT64_MAX) || __builtin_mul_overflow(elements, ne[d], &elements))
            return Error{path + ": tensor '" + t.name + "' dimensions overflow 64 bits"};
    }
    t.shape.reserve(nDims);  // one allocation, not two as push_back grows it
    for (uint32_t d = nDims; d-- > 0;) t.shape.push_back(int64_t(ne[d]));
    uint32_t typeId = 0;
    if (!p.c.read(typeId) || !p.c.read(t.offset)) return Error{path + ": truncated tensor info of '" + t.name + "'"};
    const auto dtype = dtypeFromGgmlId(typeId);
    if (!dtype)
        return Error{path + ": tensor '" + t.name + "' has unknown ggml type id " + std::to_string(typeId) +
                     ggmlIdName(typeId)};
    t.dtype = *dtype;
    const DTypeInfo& info = dtypeInfo(t.dtype);
    if (nDims > 0 && ne[0] % uint64_t(info.blockElems) != 0)
        return Error{path + ": tensor '" + t.name + "' rows of " + std::to_string(ne[0]) + " values are not whole " +
                     std::string(info.name) + " blocks of " + std::to_string(info.blockElems)};
    const auto bytes = dtypeBytes(t.dtype, elements);
    if (!bytes) return Error{path + ": tensor '" + t.name + "' size overflows 64 bits"};
    t.bytes = *bytes;
    if (t.offset % alignment != 0)
        return Error{path + ": tensor '" + t.name + "' offset " + std::to_string(t.offset) +
                     " is not a multiple of the alignment " + std::to_string(alignment)};
    return t;
}

// Makes the offsets absolute (the data section starts at dataStart) and checks that every tensor lies inside
// the file, that none overlap, and that they follow each other as ggml writes them.
Status placeTensorData(const std::string& path, std::vector<TensorInfo>& tensors, uint64_t fileSize,
                       uint64_t dataStart, uint64_t alignment) {
    // A file cut inside the padding before the data section would place even a zero-byte tensor past its end.
    if (dataStart > fileSize && !tensors.empty())
        return Error{path + ": the data section would start at offset " + std::to_string(dataStart) +
                     ", past the end of the file (" + std::to_string(fileSize) + " bytes): truncated"};
    const uint64_t dataSize = fileSize - std::min(dataStart, fileSize);
    std::vector<size_t> order(tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (TensorInfo& t : tensors) {
        if (t.offset > dataSize || t.bytes > dataSize - t.offset)
            return Error{path + ": tensor '" + t.name + "' data [" + std::to_string(t.offset) + ", +" +
                         std::to_string(t.bytes) + ") runs past the end of the file (data section of " +
                         std::to_string(dataSize) + " bytes at offset " + std::to_string(dataStart) + ")"};
        t.offset += dataStart;
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
        const TensorInfo& a = tensors[order[k - 1]];
        const TensorInfo& b = tensors[order[k]];
        if (a.bytes > 0 && b.bytes > 0 && b.offset < a.offset + a.bytes)
            return Error{path + ": tensors '" + a.name + "' and '" + b.name + "' overlap"};
    }
    // ggml's gguf reader (gguf_init_from_file) requires the tensors back to back in the order of their infos,
    // each padded to the alignment: a type id or shape changed in a file otherwise reads the wrong bytes.
    uint64_t expected = 0;
    for (const TensorInfo& t : tensors) {
        if (t.offset - dataStart != expected)
            return Error{path + ": tensor '" + t.name + "' has data offset " + std::to_string(t.offset - dataStart) +
                         ", expected " + std::to_string(expected) + " (GGUF tensors follow each other, each " +
                         std::to_string(alignment) + "-byte aligned): its type or shape, or an earlier tensor's, does "
                         "not match the data"};
        const uint64_t padded = t.bytes + (alignment - t.bytes % alignment) % alignment;
        if (__builtin_add_overflow(expected, padded, &expected))
            return Error{path + ": tensor '" + t.name + "' data offsets overflow 64 bits"};
    }
    return {};
}

}  // namespace

// A tensor whose name another tensor also has, or null. Names are byte strings (ggml's gguf reader compares bytes):
// a duplicate has the same stored bytes; names that differ only in bytes that are not UTF-8 are distinct tensors
// that show alike (a warning, below). Sorted indices (4 bytes a tensor) rather than a hash set of the names (about
// 40 bytes a tensor): a hostile header of many tensors must not cost much more than its size (issue 13).
static const TensorInfo* firstDuplicateName(const std::vector<TensorInfo>& tensors) {
    const auto key = [&](uint32_t i) -> std::string_view {
        const TensorInfo& t = tensors[i];
        return t.storedName.empty() ? std::string_view(t.name) : std::string_view(t.storedName.str());
    };
    std::vector<uint32_t> order(tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = uint32_t(i);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return key(a) < key(b); });
    for (size_t i = 1; i < order.size(); ++i)
        if (key(order[i - 1]) == key(order[i])) return &tensors[order[i]];
    return nullptr;
}

Result<std::unique_ptr<Checkpoint>> readGguf(std::shared_ptr<const MappedFile> file, const OpenOptions& options,
                                             ProgressSink& progress) {
    (void)options;  // a GGUF file carries its own tokenizer and config; there are no side files to read
    const std::string& path = file->path();
    if (!progress.report(0.0, "reading GGUF header")) return Error{std::string(kCancelledMessage)};
    Parser p{ByteCursor(file->bytes()), path, {}, 0, 0, {}};
    auto header = readHeader(p, *file);
    if (!header) return header.error();

    auto ck = std::make_unique<Checkpoint>();
    ck->path = path;
    ck->format = FileFormat::Gguf;
    ck->formatDetail = "GGUF v" + std::to_string(header->version);
    ck->files.push_back(file);
    auto alignment = readMetadata(p, *file, header->nKv, *ck, progress);
    if (!alignment) return alignment.error();

    // nTensors is bounded by the file size (readHeader), and reserving it keeps the vector from doubling.
    ck->tensors.reserve(size_t(header->nTensors));
    bool anyStored = false;
    for (uint64_t i = 0; i < header->nTensors; ++i) {
        auto t = readTensorInfo(p, *alignment);
        if (!t) return t.error();
        ck->tensors.push_back(std::move(*t));
        anyStored |= !ck->tensors.back().storedName.empty();
    }
    if (const TensorInfo* d = firstDuplicateName(ck->tensors)) return Error{path + ": duplicate tensor name '" + d->name + "'"};
    if (anyStored) {
        std::unordered_set<std::string_view> shown;
        for (const TensorInfo& t : ck->tensors)
            if (!shown.insert(t.name).second) {
                ck->warnings.push_back(path + ": tensor names that differ only in bytes that are not UTF-8 show alike, as '" +
                                       t.name + "'; they are distinct tensors (an export keeps their bytes)");
                break;
            }
    }
    if (p.badUtf8)
        ck->warnings.push_back(path + ": " + std::to_string(p.badUtf8) + " metadata string" + (p.badUtf8 > 1 ? "s are" : " is") +
                               " not valid UTF-8 (shown with U+FFFD); the first at offset " +
                               std::to_string(p.firstBadUtf8At) + ", in " + p.badUtf8Where);

    // The data section starts at the next multiple of the alignment after the tensor infos.
    const uint64_t dataStart = (p.c.pos() + *alignment - 1) / *alignment * *alignment;  // alignment <= 2^63
    if (auto st = placeTensorData(path, ck->tensors, file->size(), dataStart, *alignment); !st) return st.error();
    if (ck->metadata.count("tokenizer.ggml.tokens")) ck->tokenizerPath = path;
    progress.report(1.0, "GGUF header read");
    return ck;
}

}  // namespace qs::io
