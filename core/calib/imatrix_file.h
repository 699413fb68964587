// SPDX-License-Identifier: GPL-3.0-or-later
// llama.cpp importance-matrix files ("imatrix"), both formats, read and written; and their mapping to and from
// a CalibrationSet (calibration.h) for a loaded model.
//
// Layouts (llama.cpp tools/imatrix/imatrix.cpp: save_imatrix_legacy / save_imatrix / load_imatrix, and
// tools/quantize: load_legacy_imatrix / load_imatrix, which turn a file into ggml's quant_weights):
//  - Legacy binary (".dat", "imatrix.dat"), little-endian:
//      int32 n_entries (> 0)
//      n_entries x { int32 len; char name[len]; int32 ncall; int32 nval; float32 values[nval] }
//      optional tail: int32 last_chunk; int32 dataset_len; char dataset[dataset_len]
//    values are the per-column mean of x^2 times ncall; llama-quantize's importance is values / ncall
//    (values as stored when ncall <= 0).
//  - GGUF (v3): key general.type = "imatrix", imatrix.datasets (array of string), imatrix.chunk_count (u32),
//    imatrix.chunk_size (u32); per weight two F32 tensors: "<name>.in_sum2" ne = [cols, n_mat] (sum of x^2)
//    and "<name>.counts" ne = [1, n_mat] (activation rows seen), optionally "<name>.in_sum" (sum of x, not
//    used by the quantizer). llama-quantize's importance is in_sum2 / counts, and 1 for a matrix with count 0.
// Names are llama.cpp's GGUF tensor names (blk.N.attn_q.weight, output.weight). n_mat > 1 (per-expert MoE
// entries) is refused: QuantScope runs no MoE model.
//
// Mapping to TensorCalibration (sumSquares, tokens), so that importance() (importanceOf, calibration.h) equals
// llama-quantize's float quotient exactly: GGUF sumSquares = in_sum2, tokens = counts; legacy sumSquares
// = values, tokens = ncall (1 when ncall <= 0); a GGUF count of 0 becomes sumSquares = 1, tokens = 1 as
// llama-quantize does (with a warning). Writing: GGUF in_sum2 = float(sumSquares) (llama.cpp's own precision),
// counts = tokens; legacy values = importanceOf(sumSquares, tokens) with ncall = 1; either way llama-quantize
// and readImatrix + imatrixToCalibration read back exactly importance().
//
// Hostile files are refused by name (file, offset or tensor, what is wrong): truncation, counts or lengths
// out of range, non-finite or negative values, fractional counts, duplicate or unpaired entries, other
// tensors, missing keys. Pure functions; no thread affinity.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/calib/calibration.h"
#include "core/util/result.h"

namespace qs {

class Checkpoint;
struct ModelInfo;

enum class ImatrixFormat { Gguf, Legacy };

struct ImatrixEntry {
    std::string name;                // llama.cpp's tensor name, e.g. "blk.0.attn_q.weight"
    std::vector<double> sumSquares;  // [cols]
    int64_t tokens = 0;              // > 0
};

struct ImatrixFile {
    ImatrixFormat format = ImatrixFormat::Gguf;
    std::vector<ImatrixEntry> entries;  // sorted by name (llama.cpp writes them sorted)
    std::vector<std::string> datasets;  // calibration text(s) as llama.cpp records them
    int64_t chunkCount = 0;             // chunks (sequences) the statistics were collected on
    int64_t chunkSize = 0;              // tokens per chunk (GGUF only; 0 unknown)
    std::vector<std::string> warnings;  // e.g. a matrix with count 0 read as importance 1
};

// Reads either format (GGUF by its magic, legacy otherwise). Errors name `path`.
Result<ImatrixFile> readImatrix(const std::string& path);
// The legacy format from bytes (`what` names the source in messages).
Result<ImatrixFile> parseLegacyImatrix(std::span<const std::byte> bytes, const std::string& what);
// Writes `file` in file.format, atomically (PartialFile / GgufStreamWriter).
Status writeImatrix(const std::string& path, const ImatrixFile& file);
// The legacy bytes of `file` (what writeImatrix writes for ImatrixFormat::Legacy).
std::vector<std::byte> legacyImatrixBytes(const ImatrixFile& file);

// The entries as calibration of `ckpt`'s tensors: each llama.cpp name is classified ((TensorKind, layer),
// tensor_naming.h) and found with ModelInfo::findKind, so a HF or llama2.c checkpoint gets its own names.
// Refused: an entry with no such tensor, or whose column count differs from the tensor's input width.
Result<CalibrationSet> imatrixToCalibration(const ImatrixFile& file, const Checkpoint& ckpt, const ModelInfo& info,
                                            const std::string& path);
// The importance statistics of `set` under llama.cpp's names (ggufTensorName of each tensor's kind and layer);
// tensors without sumSquares are skipped; a tensor whose kind has no llama.cpp name is refused.
Result<ImatrixFile> calibrationToImatrix(const CalibrationSet& set, const Checkpoint& ckpt, const ModelInfo& info,
                                         ImatrixFormat format);

}  // namespace qs
