// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF v2/v3 (ggml docs/gguf.md): "GGUF", uint32 version, uint64 tensor_count, uint64 kv_count; kv_count
// key/value pairs (string key, uint32 type, value; arrays are {uint32 type, uint64 n, n values}, strings
// {uint64 len, bytes}); tensor_count infos {name, uint32 n_dims <= 4, uint64 ne[n_dims], uint32 ggml type,
// uint64 offset}; padding to general.alignment (default 32); the data section. Offsets are relative to it.
// v1 (32-bit counts) is refused. Every count and length is checked against the bytes left in the file before
// anything is allocated; arrays nest at most 8 deep. Shapes are ne reversed (row-major, outermost first).
// Metadata lands in Checkpoint::metadata keyed by the GGUF key (arrays as JSON arrays; strings that are not
// valid UTF-8 get U+FFFD replacements and a warning). tokenizerPath is the file itself when it carries
// tokenizer.ggml.tokens.
#pragma once

#include <memory>

#include "core/io/checkpoint.h"

namespace qs::io {

inline constexpr int kGgufMaxArrayDepth = 8;

Result<std::unique_ptr<Checkpoint>> readGguf(std::shared_ptr<const MappedFile> file, const OpenOptions& options,
                                             ProgressSink& progress);

}  // namespace qs::io
