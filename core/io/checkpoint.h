// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoint: what a reader found in a file (or folder): tensors as views into memory mappings, plus the
// metadata and side files (config.json, tokenizer) a model needs. Readers live one per file in core/io and are
// chosen by content first (magic bytes, header shape), extension second: see openCheckpoint().
//
// Shapes are row-major, outermost dimension first, as PyTorch and safetensors write them: a linear layer
// mapping `in` to `out` features is [out, in]; an embedding is [vocab, dim]. GGUF lists dimensions innermost
// first (ne[0] is the row length), so its reader reverses them. A "row" is the innermost dimension.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/mapped_file.h"
#include "core/jobs/progress.h"
#include "core/tensor/dtype.h"
#include "core/util/compact_text.h"
#include "core/util/result.h"

namespace qs {

enum class FileFormat { Safetensors, Gguf, Llama2c, Hdf5 };
std::string_view fileFormatName(FileFormat f);  // "safetensors", "gguf", "llama2c", "hdf5"

struct TensorInfo {
    std::string name;            // as the file names it (llama2.c: Meta names, see llama2c_reader.h)
    DType dtype = DType::F32;
    std::vector<int64_t> shape;  // row-major, outermost first; empty for a scalar
    uint64_t bytes = 0;          // exact bytes as stored (blocks, scales and all)
    int group = 0;               // Llama2cQ8 only: values per fp32 scale
    int file = -1;               // index into Checkpoint::files; -1 when not memory-mapped (HDF5 chunked)
    uint64_t offset = 0;         // byte offset of the tensor's data in that file
    // GGUF only, when the name is not UTF-8: its bytes as stored (names are byte strings in GGUF; `name` shows the
    // bad bytes as U+FFFD, so two stored names can show alike). Empty otherwise (a null pointer: issue 13). Exports
    // write these bytes.
    CompactText storedName;

    uint64_t elements() const;   // product of shape (1 for a scalar)
    int64_t rowLength() const { return shape.empty() ? 1 : shape.back(); }
    int64_t rows() const { return rowLength() == 0 ? 0 : int64_t(elements() / uint64_t(rowLength())); }
};

// The bytes of one tensor; `owner` keeps them alive (a mapping, or a buffer read on demand).
struct TensorData {
    std::span<const std::byte> bytes;
    std::shared_ptr<const void> owner;
};

class Checkpoint {
public:
    static uint64_t nextCheckpointIdentity();  // 1, 2, 3, ... (thread-safe)

    virtual ~Checkpoint() = default;

    // A process-unique number of this opened checkpoint (never reused, unlike an address): what caches of
    // results computed from its tensors key on (core/quant/quantized_tensor_cache.h).
    uint64_t identity = nextCheckpointIdentity();
    std::string path;                  // what the user opened (file or folder)
    FileFormat format = FileFormat::Safetensors;
    std::string formatDetail;          // "GGUF v3", "llama2.c v1 (ak42)", "safetensors, 2 shards", ...
    std::vector<TensorInfo> tensors;   // in file order
    std::vector<std::shared_ptr<const MappedFile>> files;
    nlohmann::json metadata = nlohmann::json::object();  // GGUF KV pairs, safetensors __metadata__, HDF5 attrs
    nlohmann::json config;             // config.json beside a safetensors/HDF5 file, or null
    std::string tokenizerPath;         // a tokenizer found beside the checkpoint ("" if none)
    std::vector<std::string> warnings; // non-fatal findings, shown in the log pane
    // GGUF only: every metadata key in file order with its GGUF value type (and, for arrays, the element
    // type), so an export can write `metadata` back with the types it was read with.
    struct GgufKeyType {
        std::string key;        // as in `metadata` (bytes that are not UTF-8 shown as U+FFFD)
        uint32_t type = 0;
        uint32_t arrayType = 0;
        std::string storedKey;  // when `key` is not UTF-8 in the file: its bytes as stored; empty otherwise
        // A string of the value was not UTF-8: `metadata` shows it with U+FFFD, so its bytes are not known here
        // and an export cannot write the value back as it was (gguf_export.h refuses such a source).
        bool valueNotUtf8 = false;
        uint64_t notUtf8At = 0;        // then: the file offset of the first such string's bytes
        int64_t notUtf8Element = -1;   // and, in an array, its element (-1 otherwise)
    };
    std::vector<GgufKeyType> ggufKeys;

    // Index of the tensor named `name`, or -1.
    int find(std::string_view name) const;

    // The stored bytes of tensor i. Mapped tensors return a view; others are read on demand.
    virtual Result<TensorData> data(size_t i) const;

    // Decodes `count` values from element `first` of tensor i into dst (float32); for block types `first`, `count`
    // are multiples of the block (whole rows are). Fails for types dtypeConvertibleToFloat() rejects, naming them.
    // Each call fetches data(i) (all of an HDF5 chunked tensor): decode blocks with decodeToFloat on one data(i).
    Status toFloat(size_t i, uint64_t first, uint64_t count, float* dst) const;
    Result<std::vector<float>> toFloat(size_t i) const;  // data(i) first: a refused tensor allocates nothing

    uint64_t totalBytes() const;  // sum of tensor bytes as stored
};

struct OpenOptions {
    bool readSideFiles = true;  // config.json, tokenizer, index.json
};

// Opens a checkpoint file or a folder holding one (model.safetensors, *.safetensors.index.json, *.gguf,
// *.bin). PyTorch pickles are refused (unpickling runs arbitrary code). Errors name the file and the problem.
Result<std::unique_ptr<Checkpoint>> openCheckpoint(const std::string& path, const OpenOptions& options = {},
                                                   const ProgressFn& progress = {});

// Decodes raw bytes of type t (elements [first, first+count)) to float. `group` is for Llama2cQ8 and is the
// group size; `totalElements` its element count (the scales follow the int8 values).
Status decodeToFloat(DType t, std::span<const std::byte> src, uint64_t totalElements, int group,
                     uint64_t first, uint64_t count, float* dst);

// True when decodeToFloat() can decode type t: the plain types it decodes itself, llama2.c's Q8, and every
// type with a to_float in the type table (core/ggml/ggml_type_traits.h).
bool dtypeConvertibleToFloat(DType t);

}  // namespace qs
