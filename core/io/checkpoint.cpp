// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoint accessors and the element decoders shared by every reader.
#include "core/io/checkpoint.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/ggml/ggml_dequant.h"
#include "core/ggml/ggml_type_traits.h"
#include "core/tensor/half.h"

namespace qs {

std::string_view fileFormatName(FileFormat f) {
    switch (f) {
        case FileFormat::Safetensors: return "safetensors";
        case FileFormat::Gguf: return "gguf";
        case FileFormat::Llama2c: return "llama2c";
        case FileFormat::Hdf5: return "hdf5";
    }
    return "unknown";
}

uint64_t TensorInfo::elements() const {
    // Readers validate shapes against byte counts, so this cannot overflow for a tensor they produced;
    // saturate anyway so a hand-built TensorInfo cannot wrap around.
    uint64_t n = 1;
    for (int64_t d : shape) {
        if (d <= 0) return 0;
        if (__builtin_mul_overflow(n, uint64_t(d), &n)) return std::numeric_limits<uint64_t>::max();
    }
    return n;
}

uint64_t Checkpoint::nextCheckpointIdentity() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

int Checkpoint::find(std::string_view name) const {
    for (size_t i = 0; i < tensors.size(); ++i)
        if (tensors[i].name == name) return int(i);
    return -1;
}

Result<TensorData> Checkpoint::data(size_t i) const {
    if (i >= tensors.size())
        return Error{path + ": tensor index " + std::to_string(i) + " out of range (" +
                     std::to_string(tensors.size()) + " tensors)"};
    const TensorInfo& t = tensors[i];
    if (t.file < 0 || size_t(t.file) >= files.size() || !files[size_t(t.file)])
        return Error{path + ": tensor '" + t.name + "' is not memory-mapped and this reader cannot read it"};
    const auto& f = files[size_t(t.file)];
    uint64_t end = 0;
    if (__builtin_add_overflow(t.offset, t.bytes, &end) || end > f->size())
        return Error{f->path() + ": tensor '" + t.name + "' bytes [" + std::to_string(t.offset) + ", " +
                     std::to_string(t.offset) + "+" + std::to_string(t.bytes) + ") lie outside the file (" +
                     std::to_string(f->size()) + " bytes)"};
    TensorData d;
    d.bytes = std::span<const std::byte>(f->data() + t.offset, size_t(t.bytes));
    d.owner = f;
    return d;
}

namespace {

// The bytes of tensor i when its type decodes to float, else the error naming the file and tensor.
Result<TensorData> decodableData(const Checkpoint& c, size_t i) {
    if (i >= c.tensors.size()) return Error{c.path + ": tensor index " + std::to_string(i) + " out of range"};
    const TensorInfo& t = c.tensors[i];
    if (!dtypeConvertibleToFloat(t.dtype))
        return Error{c.path + ": tensor '" + t.name + "' has type " + std::string(dtypeName(t.dtype)) +
                     ", which cannot be decoded to float"};
    return c.data(i);
}

}  // namespace

Status Checkpoint::toFloat(size_t i, uint64_t first, uint64_t count, float* dst) const {
    auto d = decodableData(*this, i);
    if (!d) return d.error();
    const TensorInfo& t = tensors[i];
    Status s = decodeToFloat(t.dtype, d->bytes, t.elements(), t.group, first, count, dst);
    if (!s) return Error{path + ": tensor '" + t.name + "': " + s.message()};
    return {};
}

Result<std::vector<float>> Checkpoint::toFloat(size_t i) const {
    // The bytes first, the floats after: a reader's refusal (a dataset declaring far more than its file holds)
    // must cost nothing, not an allocation of the declared size.
    auto d = decodableData(*this, i);
    if (!d) return d.error();
    const TensorInfo& t = tensors[i];
    std::vector<float> out(size_t(t.elements()));
    Status s = decodeToFloat(t.dtype, d->bytes, t.elements(), t.group, 0, out.size(), out.data());
    if (!s) return Error{path + ": tensor '" + t.name + "': " + s.message()};
    return out;
}

uint64_t Checkpoint::totalBytes() const {
    uint64_t sum = 0;
    for (const auto& t : tensors) sum += t.bytes;
    return sum;
}

namespace {

template <class T>
T load(const std::byte* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

// OCP 8-bit floating point (OFP8) spec v1.0: E4M3 has bias 7, no infinities, and only S.1111.111 is NaN, so
// its largest finite value is 448.
float fp8E4M3ToFloat(uint8_t b) {
    const bool neg = b & 0x80;
    const int e = (b >> 3) & 0xF;
    const int m = b & 7;
    float v;
    if (e == 0xF && m == 7) v = std::numeric_limits<float>::quiet_NaN();
    else if (e == 0) v = std::ldexp(float(m), -9);  // subnormal: m/8 * 2^(1-7)
    else v = std::ldexp(1.0f + float(m) / 8.0f, e - 7);
    return neg ? -v : v;
}

// E5M2 is IEEE-like (bias 15, infinities and NaNs) and is exactly the top byte of a binary16.
float fp8E5M2ToFloat(uint8_t b) { return halfToFloat(uint16_t(uint16_t(b) << 8)); }

// OCP MX spec: E8M0 is an unsigned power of two 2^(e-127); 0xFF is NaN.
float fp8E8M0ToFloat(uint8_t b) {
    if (b == 0xFF) return std::numeric_limits<float>::quiet_NaN();
    return std::ldexp(1.0f, int(b) - 127);
}

// OCP MX FP4 E2M1: sign, 2 exponent bits (bias 1), 1 mantissa bit; no inf/NaN.
float fp4E2M1ToFloat(uint8_t nibble) {
    static constexpr float kValues[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    const float v = kValues[nibble & 7];
    return (nibble & 8) ? -v : v;
}

template <class T>
void decodePlain(const std::byte* src, uint64_t first, uint64_t count, float* dst) {
    for (uint64_t k = 0; k < count; ++k) dst[k] = float(load<T>(src + (first + k) * sizeof(T)));
}

std::string num(uint64_t v) { return std::to_string(v); }

// llama2.c Q8: int8 codes for every value, then one float32 scale per group (llama2.c export.py version2_export).
Status decodeLlama2cQ8(const std::byte* p, size_t srcBytes, uint64_t totalElements, int group, uint64_t first,
                       uint64_t count, float* dst) {
    if (group <= 0 || totalElements % uint64_t(group) != 0)
        return Error{"llama2.c Q8 group size " + std::to_string(group) + " does not divide " + num(totalElements) +
                     " elements"};
    if (srcBytes < llama2cQ8Bytes(totalElements, group))
        return Error{"llama2.c Q8 data is " + num(srcBytes) + " bytes, expected " +
                     num(llama2cQ8Bytes(totalElements, group))};
    const std::byte* scales = p + totalElements;
    for (uint64_t k = 0; k < count; ++k) {
        const uint64_t e = first + k;
        dst[k] = float(int8_t(p[e])) * load<float>(scales + 4 * (e / uint64_t(group)));
    }
    return {};
}

// ggml block types: whole blocks only, through the ggml dequantizers.
Status decodeBlocks(DType t, const DTypeInfo& info, const std::byte* p, size_t srcBytes, uint64_t first,
                    uint64_t count, float* dst) {
    const uint64_t be = uint64_t(info.blockElems), bb = uint64_t(info.blockBits / 8);
    if (first % be != 0 || count % be != 0)
        return Error{"range [" + num(first) + ", +" + num(count) + ") is not whole " + std::string(info.name) +
                     " blocks of " + num(be)};
    const uint64_t off = first / be * bb, len = count / be * bb;
    if (off + len > srcBytes)
        return Error{std::string(info.name) + " data is " + num(srcBytes) + " bytes, need " + num(off + len)};
    if (!ggml::dequantize(t, p + off, dst, int64_t(count))) return Error{"no dequantizer for " + std::string(info.name)};
    return {};
}

// Two values per byte, the first in the low nibble (PyTorch float4_e2m1fn_x2).
Status decodeF4(const std::byte* p, size_t srcBytes, uint64_t first, uint64_t count, float* dst) {
    const uint64_t end = first + count;
    if ((end + 1) / 2 > srcBytes) return Error{"F4 data is " + num(srcBytes) + " bytes, need " + num((end + 1) / 2)};
    for (uint64_t k = 0; k < count; ++k) {
        const uint64_t e = first + k;
        const uint8_t byte = uint8_t(p[e / 2]);
        dst[k] = fp4E2M1ToFloat((e & 1) ? uint8_t(byte >> 4) : uint8_t(byte & 0xF));
    }
    return {};
}

// Whole-byte element types, one value per element; false for a type that is not one of them.
bool decodeElements(DType t, const std::byte* p, uint64_t first, uint64_t count, float* dst) {
    switch (t) {
        case DType::F32: std::memcpy(dst, p + first * 4, size_t(count) * 4); return true;
        case DType::F64: decodePlain<double>(p, first, count, dst); return true;
        case DType::F16:
            for (uint64_t k = 0; k < count; ++k) dst[k] = halfToFloat(load<uint16_t>(p + (first + k) * 2));
            return true;
        case DType::BF16:
            for (uint64_t k = 0; k < count; ++k) dst[k] = bf16ToFloat(load<uint16_t>(p + (first + k) * 2));
            return true;
        case DType::F8_E4M3:
            for (uint64_t k = 0; k < count; ++k) dst[k] = fp8E4M3ToFloat(uint8_t(p[first + k]));
            return true;
        case DType::F8_E5M2:
            for (uint64_t k = 0; k < count; ++k) dst[k] = fp8E5M2ToFloat(uint8_t(p[first + k]));
            return true;
        case DType::F8_E8M0:
            for (uint64_t k = 0; k < count; ++k) dst[k] = fp8E8M0ToFloat(uint8_t(p[first + k]));
            return true;
        case DType::BOOL:
            for (uint64_t k = 0; k < count; ++k) dst[k] = p[first + k] != std::byte{0} ? 1.0f : 0.0f;
            return true;
        case DType::U8: decodePlain<uint8_t>(p, first, count, dst); return true;
        case DType::I8: decodePlain<int8_t>(p, first, count, dst); return true;
        case DType::I16: decodePlain<int16_t>(p, first, count, dst); return true;
        case DType::U16: decodePlain<uint16_t>(p, first, count, dst); return true;
        case DType::I32: decodePlain<int32_t>(p, first, count, dst); return true;
        case DType::U32: decodePlain<uint32_t>(p, first, count, dst); return true;
        case DType::I64: decodePlain<int64_t>(p, first, count, dst); return true;
        case DType::U64: decodePlain<uint64_t>(p, first, count, dst); return true;
        default: return false;
    }
}

}  // namespace

Status decodeToFloat(DType t, std::span<const std::byte> src, uint64_t totalElements, int group, uint64_t first,
                     uint64_t count, float* dst) {
    uint64_t end = 0;
    if (__builtin_add_overflow(first, count, &end) || end > totalElements)
        return Error{"elements [" + num(first) + ", " + num(first) + "+" + num(count) + ") exceed the tensor's " +
                     num(totalElements) + " elements"};
    if (count == 0) return {};
    const std::byte* p = src.data();
    const DTypeInfo& info = dtypeInfo(t);
    if (t == DType::Llama2cQ8) return decodeLlama2cQ8(p, src.size(), totalElements, group, first, count, dst);
    if (info.blockElems > 1) return decodeBlocks(t, info, p, src.size(), first, count, dst);
    if (t == DType::F4_E2M1) return decodeF4(p, src.size(), first, count, dst);
    if (info.blockBits % 8 != 0 || !dtypeConvertibleToFloat(t))
        return Error{"type " + std::string(info.name) + " cannot be decoded to float"};
    const uint64_t eb = uint64_t(info.blockBits / 8);
    if (end > src.size() / eb)
        return Error{std::string(info.name) + " data is " + num(src.size()) + " bytes, need " + num(end * eb)};
    if (!decodeElements(t, p, first, count, dst))
        return Error{"type " + std::string(info.name) + " cannot be decoded to float"};
    return {};
}

bool dtypeConvertibleToFloat(DType t) {
    switch (t) {
        case DType::BOOL: case DType::U8: case DType::I8: case DType::I16: case DType::U16:
        case DType::I32: case DType::U32: case DType::I64: case DType::U64:
        case DType::F64: case DType::F32: case DType::F16: case DType::BF16:
        case DType::F8_E4M3: case DType::F8_E5M2: case DType::F8_E8M0: case DType::F4_E2M1:
        case DType::Llama2cQ8:
            return true;
        // FP6: safetensors defines the size but no bit packing order that tools agree on; we do not guess.
        case DType::F6_E2M3: case DType::F6_E3M2: case DType::C64:
            return false;
        default:
            return ggml::typeTraits(t).toFloat != nullptr;
    }
}

}  // namespace qs
