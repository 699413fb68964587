// SPDX-License-Identifier: GPL-3.0-or-later
// AWQ scales folded into the preceding RMSNorm (Lin et al. 2023, "AWQ", sec. 3.2: "the scaling can be fused
// into the previous operator"; reference mit-han-lab/llm-awq awq/quantize/auto_scale.py: auto_scale_block
// searches ONE scale for q/k/v on their shared input after input_layernorm and one for gate/up after
// post_attention_layernorm, and scale_ln_fcs divides the norm weight by it and multiplies the linears' input
// columns by it).
//
// When every consumer of one RMSNorm has the same AWQ scheme in the map (q, k, v after attn_norm; gate, up
// after ffn_norm), one s [cols] is searched jointly and folded:
//   s_j = max(m_j^alpha, 1e-4) / sqrt(max s * min s), with m_j = mean |x_j| over the calibration tokens
//     (averaged over the consumers' statistics, one shared object when collected by the engine);
//   alpha on llm-awq's grid {0, 0.05, ..., 0.95}; alpha = 0 is plain RTN (s = 1);
//   loss(alpha) = sum over the consumers i of the mean over their sample rows x of
//     ||(Q(W_i diag(s)) diag(1/s) - W_i) x||^2 (the sum of the layers' output errors; llm-awq measures the
//     output of the whole attention / MLP block instead, which needs the block's forward pass);
//   the smallest loss wins, the first on ties.
// Consumers: W_i diag(s) quantized by the AWQ scheme's RTN storage (int<b>[_g<g>]), stored WITHOUT s: their
// packed bytes are exactly that RTN scheme's, run by its native kernels.
// Norm: RMSNorm(h) * w becomes RMSNorm(h) * (w / s), so the consumers receive x / s and compute
// Q(W diag(s)) (x / s). The stored value is w / s for the plain form (Llama, Qwen, Mistral) and
// (1 + w) / s - 1 for Gemma's (1 + w) form (ArchSpec::normOffset == 1), as F32 whatever the checkpoint
// stored. s is not rounded (never stored): the fold is exact up to float rounding.
// Everything else keeps the separate-vector form of awq_scheme.cpp (s as fp16 after the RTN records, counted
// as meta): an AWQ tensor whose norm's other consumers are not the same AWQ scheme; o_proj and down_proj
// (llm-awq's scale_fc_fc into v_proj / up_proj is not implemented); a norm the map itself quantizes; a norm
// form other than the two above. planAwqFolds says which and why.
//
// Thread-safety: pure functions. searchAwqFoldScales runs the grid's points one after another, each parallel
// over rows (oneTBB, in `arena`: not owned, must outlive the call, null = serially on the calling thread; it
// enters the arena itself; row partials summed in row order), and picks the minimum in grid
// order: the result does not depend on the thread count. Memory: one scaled and one dequantized copy of the
// largest consumer plus its packed tensor.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tbb/task_arena.h>

#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/quant_map_resolve.h"
#include "core/util/compact_text.h"
#include "core/util/result.h"

namespace qs {

// llm-awq auto_scale's n_grid: the scale exponent alpha runs over k / 20, k = 0..19 (the fold's search and the
// awq scheme's per-tensor search).
inline constexpr int kAwqGridPoints = 20;

struct AwqFoldGroup {
    int norm = -1;               // the RMSNorm tensor (attn_norm / ffn_norm), index into Checkpoint::tensors
    std::vector<int> consumers;  // the linear weights reading its output: q, k, v or gate, up (in that order)
    std::string scheme;          // the AWQ scheme they all have ("awq4_g32")
    std::string storage;         // its RTN storage ("int4_g32"): the folded consumers' packed scheme
    double normOffset = 0;       // ArchSpec::normOffset: 0 (w) or 1 (Gemma's 1 + w)
};

struct AwqFoldPlan {
    std::vector<AwqFoldGroup> groups;
    std::vector<int> groupOf;  // [tensors] the group a norm or consumer belongs to; -1 for every other tensor
    std::vector<CompactText> kept;  // per tensor: why an AWQ tensor keeps its s as a vector ("" otherwise)
    bool folded(int tensor) const { return size_t(tensor) < groupOf.size() && groupOf[size_t(tensor)] >= 0; }
    bool isNorm(int tensor) const {
        return folded(tensor) && groups[size_t(groupOf[size_t(tensor)])].norm == tensor;
    }
};

// Which AWQ tensors of `resolved` (resolveMap over `tensors` and `info`) are folded. Needs no data: the
// decision depends on the map and the architecture only (AWQ cannot quantize without calibration anyway).
AwqFoldPlan planAwqFolds(const std::vector<TensorInfo>& tensors, const ModelInfo& info,
                         const ResolvedMap& resolved);

struct AwqFoldInput {
    std::string_view name;     // for messages
    std::span<const float> w;  // [rows, cols]
    int64_t rows = 0;
    const TensorCalibration* calibration = nullptr;  // sumAbs and samples, cols == the group's cols
};

struct AwqFoldScales {
    double alpha = 0;      // the chosen grid point
    double loss = 0;       // its summed output error (above)
    std::vector<float> s;  // [cols]
};

// The joint search above with the RTN `storage` scheme on `path` (reference and optimised: the same bytes).
// Fails (naming the tensor) when a consumer's calibration lacks sumAbs or samples or has other cols, or when
// plain RTN (alpha = 0) cannot store a consumer.
Result<AwqFoldScales> searchAwqFoldScales(const ChunkedScheme& storage,
                                          std::span<const AwqFoldInput> consumers, int64_t cols,
                                          QuantPath path, tbb::task_arena* arena);

// W diag(s): w [rows, cols] with column j multiplied by s[j].
std::vector<float> scaleColumns(std::span<const float> w, int64_t rows, int64_t cols,
                                const std::vector<float>& s);

// The stored values of the norm with s folded in: w / s, or (1 + w) / s - 1 for normOffset 1 (in double,
// rounded once to float). w and s have the same length (checked).
std::vector<float> foldedNormValues(std::span<const float> w, const std::vector<float>& s, double normOffset);

}  // namespace qs
