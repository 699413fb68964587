// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/checkpoint_writer.h"

#include "core/io/mapped_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "core/jobs/arena.h"
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

}  // namespace

// The file is created unnamed (O_TMPFILE in the destination's folder) and linked under a temporary name only
// when complete, then renamed over the destination: a process killed mid-write leaves no file at all, and the
// old destination stays whole until the atomic rename. Filesystems without O_TMPFILE get a named temporary
// "<path>.partial" from the start (removed on every failure this process survives).
std::string inputRefusal(const std::string& path) {
    return path + ": is a file of the model being read; writing the output there would destroy the model "
                  "(choose another output path)";
}

PartialFile::PartialFile(std::string path) : m_path(std::move(path)), m_temp(m_path + ".partial") {}

PartialFile::~PartialFile() {
    if (m_file) std::fclose(m_file);
    if (!m_committed && m_named) std::remove(m_temp.c_str());
}

namespace {

// An output path that exists and is not a regular file (a FIFO, a device such as /dev/null, a socket, a folder):
// the rename into place would replace it (as root, /dev/null itself). Refused, naming what it is.
Status checkReplaceable(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return {};
    const char* kind = S_ISDIR(st.st_mode)                           ? "a folder"
                       : S_ISFIFO(st.st_mode)                        ? "a FIFO"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)  ? "a device"
                       : S_ISSOCK(st.st_mode)                        ? "a socket"
                                                                     : "not a regular file";
    return Error{path + ": exists and is " + kind +
                 "; outputs are written to a new file renamed into place, which would replace it: give a file name"};
}

}  // namespace

Status PartialFile::open() {
    namespace fs = std::filesystem;
    if (MappedFile::isOpenInput(m_path)) return Error{inputRefusal(m_path)};
    if (auto s = checkReplaceable(m_path); !s) return s;
    fs::path dir = fs::path(m_path).parent_path();
    if (dir.empty()) dir = ".";
    int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    m_named = fd < 0;
    if (m_named) fd = ::open(m_temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) return Error{m_temp + ": cannot create: " + std::strerror(errno)};
    m_file = ::fdopen(fd, "wb");
    if (!m_file) {
        ::close(fd);
        return Error{m_temp + ": cannot create: " + std::strerror(errno)};
    }
    return {};
}

Status PartialFile::write(const void* data, size_t n) {
    if (n && std::fwrite(data, 1, n, m_file) != n) return Error{m_temp + ": write failed: " + std::strerror(errno)};
    m_written += n;
    return {};
}

Status PartialFile::pad(uint64_t alignment) {
    static const char zeros[64] = {};
    uint64_t left = (alignment - m_written % alignment) % alignment;
    while (left > 0) {
        const size_t n = size_t(std::min<uint64_t>(left, sizeof zeros));
        if (auto s = write(zeros, n); !s) return s;
        left -= n;
    }
    return {};
}

Status PartialFile::commit() {
    if (std::fflush(m_file) != 0) return Error{m_temp + ": write failed: " + std::strerror(errno)};
    if (!m_named) {
        // Give the unnamed file its temporary name (linkat through /proc needs no privilege, unlike
        // AT_EMPTY_PATH), then rename it over the destination.
        const std::string proc = "/proc/self/fd/" + std::to_string(::fileno(m_file));
        std::remove(m_temp.c_str());
        if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, m_temp.c_str(), AT_SYMLINK_FOLLOW) != 0)
            return Error{m_temp + ": cannot link the finished file: " + std::strerror(errno)};
        m_named = true;
    }
    const bool ok = std::fclose(m_file) == 0;
    m_file = nullptr;
    if (!ok) return Error{m_temp + ": write failed: " + std::strerror(errno)};
    std::error_code ec;
    std::filesystem::rename(m_temp, m_path, ec);
    if (ec) return Error{m_path + ": cannot rename " + m_temp + ": " + ec.message()};
    m_committed = true;
    return {};
}

namespace {

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
            constexpr uint64_t kPiece = 65536;
            parallelFor(arena, uint64_t(0), (count + kPiece - 1) / kPiece, uint64_t(1),
                        [&](const tbb::blocked_range<uint64_t>& pieces) {
                            for (uint64_t p = pieces.begin(); p != pieces.end(); ++p) {
                                const uint64_t b = p * kPiece, e = std::min(count, b + kPiece);
                                t.fill(first + b, e - b, values.data() + b);
                                if (t.dtype == DType::BF16)
                                    for (uint64_t i = b; i < e; ++i) half[i] = floatToBf16(values[i]);
                            }
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
            case 0:
                out.pod(v.get<uint8_t>());
                return {};
            case 1:
                out.pod(v.get<int8_t>());
                return {};
            case 2:
                out.pod(v.get<uint16_t>());
                return {};
            case 3:
                out.pod(v.get<int16_t>());
                return {};
            case 11:
                out.pod(v.get<int64_t>());
                return {};
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

namespace {

// The header of a GGUF v3 file (KVs, tensor infos with offsets padded to the alignment, padding to the data
// section) written to `out` in pieces of about a MiB: the header of 300,000 tensor infos is 30 MB, which one
// string would hold twice while growing (issue 13). A failure leaves `out` uncommitted (its temporary is removed).
Status writeGgufHeader(PartialFile& out, const std::string& path, const std::vector<GgufKv>& kvs,
                       const std::vector<GgufTensorInfo>& tensors) {
    constexpr size_t kPiece = size_t(1) << 20;
    Bytes h;
    auto flushFull = [&](size_t atLeast) -> Status {
        if (h.b.size() < atLeast) return {};
        Status s = out.write(h.b.data(), h.b.size());
        h.b.clear();
        return s;
    };
    h.b = "GGUF";
    h.pod(uint32_t(3)), h.pod(uint64_t(tensors.size())), h.pod(uint64_t(kvs.size()));
    for (const GgufKv& kv : kvs) {
        h.str(kv.key);
        h.pod(kv.type);
        if (kv.type == 9) {
            if (!kv.value.is_array()) return Error{path + ": GGUF key " + kv.key + " is not an array"};
            h.pod(kv.arrayType), h.pod(uint64_t(kv.value.size()));
            for (const auto& e : kv.value) {
                if (auto s = ggufValue(h, kv.arrayType, e, kv.key); !s) return Error{path + ": " + s.message()};
                if (auto s = flushFull(kPiece); !s) return s;
            }
        } else if (auto s = ggufValue(h, kv.type, kv.value, kv.key); !s) {
            return Error{path + ": " + s.message()};
        }
        if (auto s = flushFull(kPiece); !s) return s;
    }
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        const int id = dtypeInfo(t.dtype).ggmlId;
        if (id < 0) return Error{path + ": tensor '" + t.name + "': " + std::string(dtypeName(t.dtype)) + " is not a ggml type"};
        h.str(t.name);
        h.pod(uint32_t(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) h.pod(uint64_t(*it));  // ne: innermost first
        h.pod(uint32_t(id));
        h.pod(offset);
        offset += (t.bytes + kGgufAlignment - 1) / kGgufAlignment * kGgufAlignment;
        if (auto s = flushFull(kPiece); !s) return s;
    }
    if (auto s = flushFull(0); !s) return s;
    return out.pad(kGgufAlignment);  // the data section starts aligned (the header starts at byte 0)
}

}  // namespace

Status writeGguf(const std::string& path, const std::vector<GgufKv>& kvs,
                 const std::vector<TensorToWrite>& tensors, tbb::task_arena* arena, ProgressSink& progress) {
    if (auto s = checkTypes(path, tensors); !s) return s;
    std::vector<GgufTensorInfo> infos;
    infos.reserve(tensors.size());
    for (const auto& t : tensors) infos.push_back({t.name, t.dtype, t.shape, t.bytes()});
    PartialFile out(path);
    if (auto s = out.open(); !s) return s;
    if (auto s = writeGgufHeader(out, path, kvs, infos); !s) return s;
    // Each tensor starts on a multiple of the alignment (streamTensors pads relative to the file start, which is
    // the same thing because the data section starts aligned).
    if (auto s = streamTensors(out, tensors, kGgufAlignment, arena, progress); !s) return s;
    if (auto s = out.pad(kGgufAlignment); !s) return s;
    return out.commit();
}

GgufStreamWriter::GgufStreamWriter(const std::string& path) : m_file(path) {}

Result<std::unique_ptr<GgufStreamWriter>> GgufStreamWriter::open(const std::string& path,
                                                                  const std::vector<GgufKv>& kvs,
                                                                  std::vector<GgufTensorInfo> tensors) {
    std::unique_ptr<GgufStreamWriter> w(new GgufStreamWriter(path));
    if (auto s = w->m_file.open(); !s) return s.error();
    if (auto s = writeGgufHeader(w->m_file, path, kvs, tensors); !s) return s.error();
    w->m_tensors = std::move(tensors);
    return w;
}

Status GgufStreamWriter::append(std::span<const std::byte> data) {
    if (m_next >= m_tensors.size())
        return Error{m_file.path() + ": more tensor data than the " + std::to_string(m_tensors.size()) + " tensors declared"};
    const GgufTensorInfo& t = m_tensors[m_next];
    if (data.size() != t.bytes)
        return Error{m_file.path() + ": tensor '" + t.name + "' got " + std::to_string(data.size()) + " bytes, declared " +
                     std::to_string(t.bytes)};
    if (auto s = m_file.write(data.data(), data.size()); !s) return s;
    ++m_next;
    return m_file.pad(kGgufAlignment);
}

Status GgufStreamWriter::commit() {
    if (m_next != m_tensors.size())
        return Error{m_file.path() + ": only " + std::to_string(m_next) + " of " + std::to_string(m_tensors.size()) +
                     " tensors written"};
    return m_file.commit();
}

std::vector<GgufTensorInfo> GgufStreamWriter::takeTensors() {
    m_next = 0;
    return std::exchange(m_tensors, {});
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

Status checkOutputPath(const std::string& path) {
    namespace fs = std::filesystem;
    if (path.empty()) return Error{"the output path is empty"};
    std::error_code ec;
    if (fs::is_directory(path, ec)) return Error{path + ": is a folder, not a file name"};
    if (MappedFile::isOpenInput(path)) return Error{inputRefusal(path)};
    if (auto s = checkReplaceable(path); !s) return s;
    fs::path folder = fs::path(path).parent_path();
    if (folder.empty()) folder = ".";
    if (!fs::exists(folder, ec)) return Error{path + ": the folder " + folder.string() + " does not exist"};
    if (!fs::is_directory(folder, ec)) return Error{path + ": " + folder.string() + " is not a folder"};
    if (::access(folder.c_str(), W_OK | X_OK) != 0)
        return Error{path + ": the folder " + folder.string() + " is not writable (" + std::strerror(errno) + ")"};
    return {};
}

}  // namespace qs
