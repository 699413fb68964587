// SPDX-License-Identifier: GPL-3.0-or-later
// safetensors (huggingface/safetensors, docs "Format"): u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}},
// then the data section; offsets are relative to its start (8 + N). Validated here: N within the file and at
// most 100 MB, offsets in range with begin <= end, end - begin == the byte size of shape x dtype (sub-byte
// dtypes by bits), no two tensors overlapping, known dtypes (an unknown one is named in the error), no name
// given to two entries. The header is read entry by entry with a SAX parser (safetensors_header_sax.h): no JSON
// tree of it is built, so a header of a million empty tensors costs about its TensorInfos; a tensor's shape or
// data_offsets of more than 1024 values, or a __metadata__ of more than 100,000, is refused.
// Sharded checkpoints: model.safetensors.index.json {"metadata": {...}, "weight_map": {tensor: shard file}};
// every shard is mapped once and every weight_map entry must be found in the shard it names.
// Side files: config.json -> Checkpoint::config; tokenizer.json, else tokenizer.model -> tokenizerPath.
#pragma once

#include <memory>

#include "core/io/checkpoint.h"

namespace qs::io {

inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100ull << 20;

Result<std::unique_ptr<Checkpoint>> readSafetensors(std::shared_ptr<const MappedFile> file,
                                                    const OpenOptions& options, ProgressSink& progress);

// `indexPath` names a *.safetensors.index.json file; the shards are looked up in its folder.
Result<std::unique_ptr<Checkpoint>> readSafetensorsIndex(const std::string& indexPath, const OpenOptions& options,
                                                         ProgressSink& progress);

}  // namespace qs::io
