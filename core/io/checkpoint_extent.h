// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoint extent: how many bytes a GGUF or safetensors file's own header says the file holds, read from the
// header alone, so a partial download (a file cut anywhere after its first bytes) is told from a complete one
// without reading a tensor. The Local models scan (local_models.h) lists a file only when its size reaches this.
//
// GGUF (ggml docs/gguf.md, the layout gguf_reader.h describes): the key/value pairs are skipped value by value
// (general.alignment, a UINT32, is kept; default 32); each tensor info gives its shape, ggml type and offset in
// the data section, which starts at the first multiple of the alignment after the infos. Extent = data start +
// the largest (offset + byte size of shape x type). A file without tensors ends with its infos.
// safetensors (huggingface/safetensors "Format"): u64 header length N, N bytes of JSON; extent = 8 + N + the
// largest data_offsets end of any tensor (__metadata__ is not a tensor). The JSON is read with the safetensors
// reader's SAX parser (safetensors_header_sax.h), which builds one entry's dtype, shape and data_offsets at a
// time and nothing of __metadata__, so a hostile header builds no tree; it nests at most kMaxJsonDepth
// (bounded_text.h) deep, the safetensors reader's limit: the Local models scan and openCheckpoint refuse the
// same headers with the same number.
//
// Errors: a header that cannot be parsed (cut inside the header, a count or length past the end, an unknown
// ggml type, bad JSON) is an Error naming the offset and what was expected; the callers treat it as "cannot be
// opened". These checks are a subset of the readers': a file that passes can still be refused by
// openCheckpoint for other reasons (overlapping tensors, a dtype and shape that disagree).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace qs::io {


// `bytes` is the file from its first byte (a mapping of all of it, or only a prefix: the extent can be larger
// than bytes.size(), which is what a partial file shows). Bytes, not elements.
Result<uint64_t> ggufExtent(std::span<const std::byte> bytes);
Result<uint64_t> safetensorsExtent(std::span<const std::byte> bytes);

// Maps the file at `path` (format "gguf" or "safetensors"; any other format is refused by name) and checks
// that it is at least as long as its extent. The error says "incomplete: N bytes of the M its header
// describes" or why the header cannot be read.
Status checkCheckpointComplete(const std::string& path, std::string_view format);

}  // namespace qs::io
