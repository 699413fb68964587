// SPDX-License-Identifier: GPL-3.0-or-later
// The footprint of a model under a resolved quantization map: per tensor and per role, before and after,
// with the metadata overhead (ByteBreakdown::overhead: scales, zeros, codebooks, outliers...) shown apart.
// Arithmetic only (Scheme::packedBytes): nothing is quantized, so the UI can update it on every edit.
//
// Counting rules (the same as ModelInfo::footprint and `inspect`): a tied head counts 0 bytes before and after
// (its bytes are the embedding's); a tensor that stays as stored keeps its stored bytes, split into payload
// and overhead when the stored type is a registry scheme (a Q8_0 GGUF tensor: 32 payload + 2 scale bytes per
// block), all payload otherwise (F32, F16, llama2.c Q8 groups); RoPE tables and other buffers count as stored.
//
// Bits per weight: the one definition every command and view uses (quantize, sweep, sensitivity, automix and
// its --budget Nbpw, embed-head-study, the footprint and summary views):
//
//     bpw = 8 x bytes / elements, both over the same set of tensors: the weights of the network, i.e. every
//           parameter tensor (TensorEntry::isParameter: matrices, norms, biases; a tied embedding/head pair
//           once), bytes under the map with each scheme's metadata (scales, zero points) included.
//
// Buffers that are not weights of the network (llama2.c's stored RoPE tables freq_cis_real/imag, GGUF
// rope_freqs) are excluded from BOTH sides, so an all-f32 model is exactly 32.00 bpw. Byte totals (`bytes`,
// `before`/`after`) still count them: they are part of the model's size.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/scheme.h"

namespace qs {

struct RoleBytes {
    std::array<uint64_t, kRoleCount> byRole{};
    uint64_t total = 0;
    uint64_t body() const { return byRole[int(Role::Attention)] + byRole[int(Role::Mlp)]; }
    void add(Role r, uint64_t bytes) {
        byRole[int(r)] += bytes;
        total += bytes;
    }
};

// {"embedding", "head", "attention", "mlp", "body", "norm", "other", "total"} in bytes: the role keys of
// `inspect`'s footprint plus attention and mlp.
nlohmann::json roleBytesJson(const RoleBytes& r);

struct TensorFootprint {
    uint64_t before = 0;   // bytes as stored (0 for a tied head)
    ByteBreakdown after;   // bytes under the map (all 0 for a tied head)
    // Non-empty when `after` cannot be known without quantizing (Scheme::bytesDependOnData: LLM.int8 without
    // the tensor's calibration, or on an embedding, sized by its weights): why. `after` is then the smallest
    // size the scheme can have (Scheme::packedBytes), a lower bound.
    CompactText undetermined;  // one pointer while empty, as it is for nearly every tensor
};

struct MapFootprint {
    std::vector<TensorFootprint> tensors;  // parallel to Checkpoint::tensors
    RoleBytes before, after;               // every tensor (buffers included), a tied pair once
    RoleBytes afterOverhead;               // the part of `after` that is not payload
    RoleBytes weightsBefore, weightsAfter; // `before`/`after` over the weights only (the bpw set, see above)
    uint64_t parameterElements = 0;        // parameters counted once (a tied pair once), for bits per weight
    RoleBytes elements;                    // parameterElements per role (a RoleBytes of element counts)
    // "<tensor>: why" for every tensor whose bytes depend on data the footprint does not have (see
    // TensorFootprint::undetermined): when not empty, `after` and the bits per weight are lower bounds, and
    // whoever shows or compares them says so or refuses.
    std::vector<std::string> undetermined;
    // Bits per weight of the whole network under the map (the definition above).
    double bitsPerWeight() const;
};

// One role's (or role group's) part of the model, before and after the map: the answer to "the embedding and
// head are half the model". Shares are percent (0..100) of the whole model's bytes on the same side (before
// of the total before, after of the total after); bits per weight follow the definition above (weights only
// on both sides, metadata included). Both are 0 when their divisor is 0.
struct RoleShare {
    uint64_t before = 0, after = 0;  // bytes
    uint64_t elements = 0;           // parameter elements (a tied pair once)
    double shareBefore = 0, shareAfter = 0;
    double bitsBefore = 0, bitsAfter = 0;
};

// Per role (indexed by Role), for the body (attention + mlp) and the total (shares 100 unless empty).
struct FootprintShares {
    std::array<RoleShare, kRoleCount> byRole{};
    RoleShare body, total;
};

// 100 x part / total (0 when total is 0).
double percentOf(uint64_t part, uint64_t total);
// 8 x bytes / elements (0 when elements is 0); bytes and elements over the same tensors (the weights, above).
double bitsPerWeight(uint64_t bytes, uint64_t elements);
// Byte totals per role before and after (every tensor, for the shares) and the same over the weights only with
// their element counts (for bits per weight).
struct FootprintTotals {
    RoleBytes before, after;
    RoleBytes weightsBefore, weightsAfter, elements;
};
FootprintShares footprintShares(const FootprintTotals& t);
inline FootprintShares footprintShares(const MapFootprint& f) {
    return footprintShares(FootprintTotals{f.before, f.after, f.weightsBefore, f.weightsAfter, f.elements});
}

// `resolved` must come from resolveMap over the same tensors and info (checked: a mismatch is a programming
// error). `calibration` (may be null): the statistics a calibrated apply would use, so a scheme whose size
// depends on them (LLM.int8's kept columns) is counted exactly (Scheme::packedBytesWith). `foldAwqScales`: as
// ApplyOptions::foldAwqScales (awq_fold.h): AWQ tensors whose s is folded into their norm count their RTN storage
// without the s vector, and such a norm counts as F32 (what the apply produces); false: every AWQ tensor counts
// its vector (the per-tensor form, what MapEvaluator runs).
MapFootprint footprintAfter(const ResolvedMap& resolved, const std::vector<TensorInfo>& tensors,
                            const ModelInfo& info, const CalibrationSet* calibration = nullptr,
                            bool foldAwqScales = true);

// Completes `f` (footprintAfter of the same map) where the weights fix a size the shape does not (LLM.int8 on
// an embedding: its kept columns are chosen by weight magnitude): reads those tensors' weights as float
// (Checkpoint::toFloat), sizes them with Scheme::packedBytesOfWeights and updates the tensor, the totals and
// `undetermined`. Tensors that need calibration `calibration` lacks stay undetermined. Fails when a tensor
// cannot be read. Cost: one read of each such tensor, no quantization.
Status sizeFromWeights(MapFootprint& f, const ResolvedMap& resolved, const Checkpoint& ckpt, const ModelInfo& info,
                       const CalibrationSet* calibration = nullptr);

// The byte breakdown of a tensor as stored (see the counting rules above).
ByteBreakdown storedBreakdown(const TensorInfo& t, int64_t rows, int64_t cols);

}  // namespace qs
