// SPDX-License-Identifier: GPL-3.0-or-later
// Streaming checkpoint writers: safetensors, GGUF v3 and raw concatenations (llama2.c), for tensors whose
// values a callback produces on demand. A tensor is never held in memory whole: values are generated into a
// bounded buffer (kWriteChunkElements floats) in parallel, converted to the stored type and appended. Every
// writer writes to an unnamed temporary file in the destination's folder (PartialFile) and renames it to `path`
// only when the file is complete, so a failure, a cancel or a kill never leaves a half-written file under the
// final name, and the old destination stays whole until then.
//
// Layouts:
//   safetensors  u64 header length, JSON header {name: {dtype, shape, data_offsets}} (+ "__metadata__"),
//                padded with spaces to 8 bytes, then the tensors back to back (huggingface/safetensors
//                README).
//   GGUF v3      "GGUF", u32 version 3, u64 tensor count, u64 KV count, KVs, tensor infos (name, n_dims,
//                ne innermost first, ggml type, offset), padding to general.alignment (32), data with every
//                tensor aligned to 32 (ggml docs/gguf.md).
//   raw          a caller-made header, then each tensor's values (llama2.c's version1_export).
//
// Stored types: F32 and BF16 (round to nearest even, as torch and ggml convert).
// Thread affinity: any thread; the writers' parallel work runs in `arena` (not owned, must outlive the call;
// null = serially on the calling thread), which they enter themselves.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <tbb/task_arena.h>
#include <nlohmann/json.hpp>

#include "core/jobs/progress.h"
#include "core/tensor/dtype.h"
#include "core/util/result.h"

namespace qs {

inline constexpr uint64_t kWriteChunkElements = uint64_t(1) << 22;  // 16 MiB of float per buffer

struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;    // F32 or BF16
    std::vector<int64_t> shape;  // row-major, outermost first (GGUF writes it reversed)
    // Writes the values of elements [first, first + count) (row-major) to dst. Called concurrently on
    // disjoint ranges; must be deterministic in (first, count) alone.
    std::function<void(uint64_t first, uint64_t count, float* dst)> fill;

    uint64_t elements() const;
    uint64_t bytes() const;  // elements x 4 (F32) or x 2 (BF16)
};

// A GGUF metadata value. `type` is the GGUF value type (0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool,
// 8 string, 9 array, 10 u64, 11 i64, 12 f64); for arrays `arrayType` is the element type (not an array) and
// `value` a JSON array.
struct GgufKv {
    std::string key;
    uint32_t type = 8;
    nlohmann::json value;
    uint32_t arrayType = 0;
};

// One atomic file write. open() creates the file unnamed (Linux O_TMPFILE in the destination's folder; where
// the filesystem lacks it, a named "<path>.partial"); commit() links it as "<path>.partial" and renames it
// over `path`. Destroyed without commit() it removes what it wrote; a process killed before commit() leaves
// no file (with O_TMPFILE) and the old destination untouched either way. open() refuses a path that names a
// file of a model being read (inputRefusal). Not thread-safe.
class PartialFile {
public:
    explicit PartialFile(std::string path);
    ~PartialFile();
    PartialFile(const PartialFile&) = delete;
    PartialFile& operator=(const PartialFile&) = delete;
    Status open();
    Status write(const void* data, size_t n);
    Status pad(uint64_t alignment);  // zeros up to the next multiple of `alignment` (from the file start)
    uint64_t written() const { return m_written; }
    Status commit();
    const std::string& path() const { return m_path; }

private:
    std::string m_path, m_temp;
    std::FILE* m_file = nullptr;
    uint64_t m_written = 0;
    bool m_named = false;  // the temporary has a name (fallback, or after commit's link)
    bool m_committed = false;
};

// A GGUF tensor whose stored bytes the caller supplies: any ggml type (blocks as ggml lays them out).
struct GgufTensorInfo {
    std::string name;
    DType dtype = DType::F32;    // a type with a GGUF id
    std::vector<int64_t> shape;  // row-major, outermost first (written reversed as ne)
    uint64_t bytes = 0;          // exact stored bytes
};

// GGUF v3 written from stored bytes, tensor by tensor in the declared order: open() writes the header (KVs,
// infos with 32-byte aligned offsets; in pieces, never as one string), append() each tensor's bytes (checked
// against the declared size) plus padding, commit() renames the file into place. Failures name the file and
// tensor. The writer keeps the declarations (the only copy: tensors() reads them, takeTensors() hands them
// back once written, leaving the writer empty).
class GgufStreamWriter {
public:
    static Result<std::unique_ptr<GgufStreamWriter>> open(const std::string& path, const std::vector<GgufKv>& kvs,
                                                          std::vector<GgufTensorInfo> tensors);
    Status append(std::span<const std::byte> data);
    Status commit();
    size_t nextTensor() const { return m_next; }
    const std::vector<GgufTensorInfo>& tensors() const { return m_tensors; }
    std::vector<GgufTensorInfo> takeTensors();

private:
    explicit GgufStreamWriter(const std::string& path);
    PartialFile m_file;
    std::vector<GgufTensorInfo> m_tensors;
    size_t m_next = 0;
};

Status writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const nlohmann::json& metadata, tbb::task_arena* arena, ProgressSink& progress);

Status writeGguf(const std::string& path, const std::vector<GgufKv>& kvs,
                 const std::vector<TensorToWrite>& tensors, tbb::task_arena* arena, ProgressSink& progress);

// `header` bytes, then every tensor in order with no padding.
Status writeRawTensors(const std::string& path, const std::string& header,
                       const std::vector<TensorToWrite>& tensors, tbb::task_arena* arena,
                       ProgressSink& progress);

// Writes `text` to "<path>.partial" and renames it to `path`.
Status writeTextFile(const std::string& path, const std::string& text);

// The refusal of an output path that names a file of a model being read (MappedFile::isOpenInput), which
// PartialFile::open and checkOutputPath give.
std::string inputRefusal(const std::string& path);

// Whether a file can later be written at `path` the way PartialFile writes it: the folder exists, is a folder
// and is writable, `path` is not itself a folder, a FIFO, a device or a socket (the rename would replace it;
// PartialFile::open refuses those too) and not a file of a model being read. Commands that write their output only after minutes of
// work call it before starting. Fails with "<path>: <what is wrong>"; the file itself is not created.
Status checkOutputPath(const std::string& path);

}  // namespace qs
