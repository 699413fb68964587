// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/checkpoint_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <tbb/parallel_for.h>

#include "core/tensor/half.h"

namespace qs {

uint64_t TensorToWrite::elements() const {
    uint64_t n = 1;
    for (int64_t d : shape) n *= uint64_t(d);
    return n;
}

uint64_t TensorToWrite::bytes() const {
    return elements() * uint64_t(dtypeInfo(dtype).blockBits / 8);  // F32 or BF16 (checkTypes)
}

namespace {

constexpr uint64_t kGgufAlignment = 32;

// The temp file of one write: removed unless commit() renamed it to the final name.
class PartialFile {
public:
    explicit PartialFile(std::string path) : m_path(std::move(path)), m_temp(m_path + ".partial") {}
    ~PartialFile() {
        if (m_file) std::fclose(m_file);
        if (!m_committed) std::remove(m_temp.c_str());
    }
    Status open() {
        m_file = std::fopen(m_temp.c_str(), "wb");
        if (!m_file) return Error{m_temp + ": cannot create: " + std::strerror(errno)};
        return {};
    }
    Status write(const void* data, size_t n) {
        if (n && std::fwrite(data, 1, n, m_file) != n)
            return Error{m_temp + ": write failed: " + std::strerror(errno)};
        m_written += n;
        return {};
    }
    Status pad(uint64_t alignment) {
        static const char zeros[64] = {};
        return write(zeros, size_t((alignment - m_written % alignment) % alignment));
    }
    uint64_t written() const { return m_written; }
    Status commit() {
        const bool ok = std::fflush(m_file) == 0 && std::fclose(m_file) == 0;
        m_file = nullptr;
        if (!ok) return Error{m_temp + ": write failed: " + std::strerror(errno)};
        std::error_code ec;
        std::filesystem::rename(m_temp, m_path, ec);
        if (ec) return Error{m_path + ": cannot rename " + m_temp + ": " + ec.message()};
        m_committed = true;
        return {};
    }
    const std::string& path() const { return m_path; }

private:
    std::string m_path, m_temp;
    std::FILE* m_file = nullptr;
    uint64_t m_written = 0;
    bool m_committed = false;
};

template <class F>
void runIn(tbb::task_arena* arena, F&& f) {
    if (arena)
        arena->execute(f);
    else
        f();
}

// Generates and appends every tensor, chunk by chunk; values are produced in parallel over fixed 64
// Ki-element pieces (the values do not depend on the split), converted, and written in order.
Status streamTensors(PartialFile& out, const std::vector<TensorToWrite>& tensors, uint64_t alignment,
                     tbb::task_arena* arena, ProgressSink& progress) {
    uint64_t total = 0, done = 0;
    for (const auto& t : tensors) total += t.bytes();
    std::vector<float> values;
    std::vector<uint16_t> half;
    for (const TensorToWrite& t : tensors) {
        if (alignment > 1)
            if (auto s = out.pad(alignment); !s) return s;
        const uint64_t n = t.elements();
        for (uint64_t first = 0; first < n; first += kWriteChunkElements) {
            const uint64_t count = std::min(kWriteChunkElements, n - first);
            values.resize(size_t(count));
            if (t.dtype == DType::BF16) half.resize(size_t(count));
            runIn(arena, [&] {
                constexpr uint64_t kPiece = 65536;
                tbb::parallel_for(uint64_t(0), (count + kPiece - 1) / kPiece, [&](uint64_t p) {
                    const uint64_t b = p * kPiece, e = std::min(count, b + kPiece);
                    t.fill(first + b, e - b, values.data() + b);
                    if (t.dtype == DType::BF16)
                        for (uint64_t i = b; i < e; ++i) half[i] = floatToBf16(values[i]);
                });
            });
            Status s = t.dtype == DType::BF16 ? out.write(half.data(), size_t(count) * 2)
                                              : out.write(values.data(), size_t(count) * 4);
            if (!s) return s;
            done += count * (t.dtype == DType::BF16 ? 2 : 4);
            if (!progress.report(total ? double(done) / double(total) : 1.0, t.name))
                return Error{std::string(kCancelledMessage)};
        }
    }
    return {};
}

Status checkTypes(const std::string& path, const std::vector<TensorToWrite>& tensors) {
    for (const auto& t : tensors)
        if (t.dtype != DType::F32 && t.dtype != DType::BF16)
            return Error{path + ": tensor '" + t.name + "': only F32 and BF16 can be written"};
    return {};
}

struct Bytes {
    std::string b;
    template <class T>
    void pod(T v) {
        b.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void str(const std::string& s) { pod(uint64_t(s.size())), b += s; }
};

Status ggufValue(Bytes& out, uint32_t type, const nlohmann::json& v, const std::string& key) {
    try {
        switch (type) {
            case 4:
                out.pod(v.get<uint32_t>());
                return {};
            case 5:
                out.pod(v.get<int32_t>());
                return {};
            case 6:
                out.pod(v.get<float>());
                return {};
            case 7:
                out.pod(uint8_t(v.get<bool>() ? 1 : 0));
                return {};
            case 8:
                out.str(v.get<std::string>());
                return {};
            case 10:
                out.pod(v.get<uint64_t>());
                return {};
            case 12:
                out.pod(v.get<double>());
                return {};
            default:
                break;
        }
    } catch (const nlohmann::json::exception& e) {
        return Error{"GGUF key " + key + ": value does not fit type " + std::to_string(type) + ": " +
                     e.what()};
    }
    return Error{"GGUF key " + key + ": cannot write value type " + std::to_string(type)};
}

}  // namespace

Status writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const nlohmann::json& metadata, tbb::task_arena* arena, ProgressSink& progress) {
    if (auto s = checkTypes(path, tensors); !s) return s;
    nlohmann::ordered_json header;
    if (metadata.is_object() && !metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        header[t.name] = {{"dtype", std::string(dtypeName(t.dtype))},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + t.bytes()}}};
        offset += t.bytes();
    }
    std::string text = header.dump();
    while (text.size() % 8) text += ' ';
    PartialFile out(path);
    if (auto s = out.open(); !s) return s;
    const uint64_t n = text.size();
    if (auto s = out.write(&n, 8); !s) return s;
    if (auto s = out.write(text.data(), text.size()); !s) return s;
    if (auto s = streamTensors(out, tensors, 1, arena, progress); !s) return s;
    return out.commit();
}

Status writeGguf(const std::string& path, const std::vector<GgufKv>& kvs,
                 const std::vector<TensorToWrite>& tensors, tbb::task_arena* arena, ProgressSink& progress) {
    if (auto s = checkTypes(path, tensors); !s) return s;
    Bytes h;
    h.b = "GGUF";
    h.pod(uint32_t(3)), h.pod(uint64_t(tensors.size())), h.pod(uint64_t(kvs.size()));
    for (const GgufKv& kv : kvs) {
        h.str(kv.key);
        h.pod(kv.type);
        if (kv.type == 9) {
            if (!kv.value.is_array()) return Error{path + ": GGUF key " + kv.key + " is not an array"};
            h.pod(kv.arrayType), h.pod(uint64_t(kv.value.size()));
            for (const auto& e : kv.value)
                if (auto s = ggufValue(h, kv.arrayType, e, kv.key); !s)
                    return Error{path + ": " + s.message()};
        } else if (auto s = ggufValue(h, kv.type, kv.value, kv.key); !s) {
            return Error{path + ": " + s.message()};
        }
    }
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        h.str(t.name);
        h.pod(uint32_t(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
            h.pod(uint64_t(*it));                          // ne: innermost first
        h.pod(uint32_t(dtypeInfo(t.dtype).ggmlId));  // GGML_TYPE_BF16 / F32 (checkTypes)
        h.pod(offset);
        offset += (t.bytes() + kGgufAlignment - 1) / kGgufAlignment * kGgufAlignment;
    }
    PartialFile out(path);
    if (auto s = out.open(); !s) return s;
    if (auto s = out.write(h.b.data(), h.b.size()); !s) return s;
    // Data starts at the next multiple of the alignment; each tensor then starts on one (streamTensors pads
    // relative to the file start, which is the same thing because the data section starts aligned).
    if (auto s = streamTensors(out, tensors, kGgufAlignment, arena, progress); !s) return s;
    if (auto s = out.pad(kGgufAlignment); !s) return s;
    return out.commit();
}

Status writeRawTensors(const std::string& path, const std::string& header,
                       const std::vector<TensorToWrite>& tensors, tbb::task_arena* arena,
                       ProgressSink& progress) {
    if (auto s = checkTypes(path, tensors); !s) return s;
    PartialFile out(path);
    if (auto s = out.open(); !s) return s;
    if (auto s = out.write(header.data(), header.size()); !s) return s;
    if (auto s = streamTensors(out, tensors, 1, arena, progress); !s) return s;
    return out.commit();
}

Status writeTextFile(const std::string& path, const std::string& text) {
    PartialFile out(path);
    if (auto s = out.open(); !s) return s;
    if (auto s = out.write(text.data(), text.size()); !s) return s;
    return out.commit();
}

}  // namespace qs
