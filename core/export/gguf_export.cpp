// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF export: the tensor plan and the streaming write. See gguf_export.h; the metadata is in
// gguf_export_kvs.cpp.
#include "core/export/gguf_export.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "core/ggml/ggml_type_traits.h"
#include "core/model/tensor_naming.h"
#include "core/quant/apply_map.h"
#include "core/quant/quant_map_export.h"
#include "core/quant/scheme.h"

namespace qs {

constexpr uint32_t kGgmlQuantizationVersion = 2;  // ggml.h GGML_QNT_VERSION

namespace {

// The ggml type a scheme's bytes are stored as: its own name, or the plain type of an importance-weighted
// "<type>_im" (same blocks; llama.cpp runs them as <type>).
std::optional<DType> dtypeOfGgmlScheme(std::string_view scheme) {
    const ggml::TypeTraits* row = ggml::findSchemeStorage(scheme);
    if (row && row->info().ggmlId >= 0) return row->type;
    return std::nullopt;
}

// A tensor the file holds, parallel to the GgufTensorInfo the writer declares for it (name, type, shape, bytes:
// kept once, by the writer). 24 bytes, so a file of 300,000 tiny tensors costs no second copy of the plan.
struct PlannedTensor {
    int source = -1;           // index into ckpt.tensors
    bool quantized = false;    // false: the stored bytes are copied
    int64_t rows = 0;          // shape[0] (0 for a scalar), for the row permutation
    int64_t permuteHeads = 0;  // > 0: Hugging Face q/k rows permuted for this many heads
};

// Substitutes `fallback` for schemes ggml cannot store; refuses them when there is none.
// Each substitution is added to `fallbacks` (or completes the tensor's resolution fallback already there).
// A scheme ggml cannot store (badScheme) or a stored type that is no ggml type (badStored).
bool needsGgufFallback(const TensorPlan& p, const TensorInfo& t, bool& badScheme) {
    badScheme = p.quantized() && !isGgmlType(p.scheme);
    const bool badStored = p.scheme.empty() && p.tiedTo < 0 && dtypeInfo(t.dtype).ggmlId < 0;
    return badScheme || badStored;
}

bool anyNeedsGgufFallback(const Checkpoint& ckpt, const ResolvedMap& resolved) {
    bool badScheme = false;
    for (size_t i = 0; i < resolved.tensors.size(); ++i)
        if (needsGgufFallback(resolved.tensors[i], ckpt.tensors[i], badScheme)) return true;
    return false;
}

Status applyFallback(const Checkpoint& ckpt, const std::string& fallback, ResolvedMap& resolved,
                     std::vector<std::string>& warnings, std::vector<ExportFallback>& fallbacks) {
    // Where each tensor's resolution fallback is in `fallbacks` (one lookup a tensor, not a scan: issue 13).
    std::vector<int> fallbackOf(resolved.tensors.size(), -1);
    for (size_t k = 0; k < fallbacks.size(); ++k)
        if (fallbacks[k].tensorIndex < fallbackOf.size()) fallbackOf[fallbacks[k].tensorIndex] = int(k);
    for (size_t i = 0; i < resolved.tensors.size(); ++i) {
        TensorPlan& p = resolved.tensors[i];
        const TensorInfo& t = ckpt.tensors[i];
        bool badScheme = false;
        if (!needsGgufFallback(p, t, badScheme)) continue;
        const std::string what =
            badScheme ? "is quantized with " + p.scheme +
                            ", which has no GGUF encoding (GGUF stores "
                            "ggml types only: q8_0, q4_K, ...)"
                      : "is stored as " + std::string(dtypeName(t.dtype)) + ", which is not a ggml type";
        if (fallback.empty())
            return Error{"GGUF export: " + t.name + " " + what +
                         "; give it a ggml type in the map or choose one for "
                         "such tensors with --fallback q8_0"};
        std::string used = fallback;
        if (auto s = findScheme(used); !s->accepts(p.rows, p.cols)) {
            used.clear();
            for (const std::string& f : fallbackChain(fallback, p.cols))
                if (auto fs = findScheme(f); fs && isGgmlType(f) && fs->accepts(p.rows, p.cols)) {
                    used = f;
                    break;
                }
            if (used.empty())
                return Error{"GGUF export: " + t.name + " " + what + ", and no ggml type accepts its shape"};
        }
        warnings.push_back("GGUF export: " + t.name + " " + what + "; stored as " + used + " (--fallback " +
                           fallback + ")");
        const std::string why = what.substr(0, what.find(", which")) + ", no GGUF encoding; --fallback " + fallback;
        if (fallbackOf[i] >= 0) {
            ExportFallback& known = fallbacks[size_t(fallbackOf[i])];
            known.written = used;
            known.reason += "; then " + why;
        } else {
            fallbacks.push_back({t.name, badScheme ? p.scheme : std::string(dtypeName(t.dtype)), used, why, i});
        }
        p.scheme = used;
    }
    return {};
}

bool isTiedHead(const ModelInfo& info, const ResolvedMap& resolved, size_t i) {
    return resolved.tensors[i].tiedTo >= 0 || info.entries[i].tiedTo >= 0 ||
           (info.tie && info.tie->head == int(i));
}

// The tensors the file holds, in order, with their declarations (`infos`, parallel).
Result<std::vector<PlannedTensor>> planTensors(const Checkpoint& ckpt, const ModelInfo& info,
                                               const ResolvedMap& resolved, std::vector<std::string>& warnings,
                                               std::vector<GgufTensorInfo>& infos) {
    const bool gguf = ckpt.format == FileFormat::Gguf;
    const bool hfLlama = ckpt.format == FileFormat::Safetensors && info.rope == RopeLayout::RotateHalf;
    std::vector<PlannedTensor> out;
    out.reserve(ckpt.tensors.size());
    infos.reserve(ckpt.tensors.size());
    for (size_t i = 0; i < ckpt.tensors.size(); ++i) {
        const TensorInfo& t = ckpt.tensors[i];
        const TensorEntry& e = info.entries[i];
        const TensorPlan& p = resolved.tensors[i];
        if (!e.isParameter) {
            warnings.push_back("GGUF export: " + t.name +
                               " left out (a buffer, not a parameter; llama.cpp computes it)");
            continue;
        }
        if (isTiedHead(info, resolved, i)) {
            warnings.push_back("GGUF export: " + t.name +
                               " left out: tied to the embedding, which llama.cpp uses "
                               "for the output when output.weight is absent");
            continue;
        }
        PlannedTensor pt;
        GgufTensorInfo gi;
        pt.source = int(i);
        // A GGUF source's names are written as stored: byte strings, which `name` shows with U+FFFD when not UTF-8.
        gi.name = gguf ? (t.storedName.empty() ? t.name : t.storedName.str()) : ggufTensorName(e.kind, e.layer);
        if (gi.name.empty())
            return Error{"GGUF export: " + ckpt.path + ": tensor '" + t.name + "' has no llama.cpp tensor name (role " +
                         std::string(roleName(e.role)) + ", kind " + std::string(tensorKindName(e.kind)) +
                         ")"};
        gi.shape = t.shape;
        pt.rows = t.shape.empty() ? 0 : t.shape[0];
        pt.quantized = p.quantized();
        if (!pt.quantized) {
            gi.dtype = t.dtype;
            gi.bytes = t.bytes;
        } else {
            const auto dt = dtypeOfGgmlScheme(p.scheme);
            if (!dt)
                return Error{"GGUF export: " + t.name + ": scheme " + p.scheme + " has no ggml type id"};
            gi.dtype = *dt;
            gi.bytes = findScheme(p.scheme)->packedBytes(p.rows, p.cols).total();
        }
        if (hfLlama && (e.kind == TensorKind::Wq || e.kind == TensorKind::Wk)) {
            pt.permuteHeads = e.kind == TensorKind::Wq ? info.hp.heads : info.hp.kvHeads;
            if (pt.permuteHeads <= 0)
                return Error{"GGUF export: " + t.name + ": the model's " +
                             (e.kind == TensorKind::Wq ? "attention" : "key/value") +
                             " head count is unknown (no config.json beside the model declares it), and un-permuting "
                             "Hugging Face q/k rows into llama.cpp's order needs it"};
            if (t.shape.size() != 2 || t.shape[0] % (2 * pt.permuteHeads) != 0)
                return Error{"GGUF export: " + t.name + ": " +
                             std::to_string(t.shape.empty() ? 0 : t.shape[0]) + " rows do not split into " +
                             std::to_string(pt.permuteHeads) + " heads of pairs"};
        }
        out.push_back(pt);
        infos.push_back(std::move(gi));
    }
    return out;
}

// convert_hf_to_gguf.py LlamaModel.permute: rows [heads, 2, half] -> [heads, half, 2], i.e. output row
// h*hd + 2*i + j is input row h*hd + j*half + i. Row-wise blocks move with their rows.
std::vector<std::byte> permuteRows(std::span<const std::byte> src, int64_t rows, int64_t heads) {
    std::vector<std::byte> out(src.size());
    const size_t rowBytes = src.size() / size_t(rows);
    const int64_t hd = rows / heads, half = hd / 2;
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < half; ++i)
            for (int64_t j = 0; j < 2; ++j)
                std::memcpy(out.data() + size_t(h * hd + 2 * i + j) * rowBytes,
                            src.data() + size_t(h * hd + j * half + i) * rowBytes, rowBytes);
    return out;
}

Status appendTensor(GgufStreamWriter& w, const PlannedTensor& pt, std::span<const std::byte> bytes) {
    if (pt.permuteHeads > 0) {
        const auto permuted = permuteRows(bytes, pt.rows, pt.permuteHeads);
        return w.append(permuted);
    }
    return w.append(bytes);
}

}  // namespace

uint32_t llamaFileTypeFor(std::vector<std::pair<std::string_view, DType>> namedTypes) {
    std::sort(namedTypes.begin(), namedTypes.end());
    std::map<DType, uint32_t> count;
    uint32_t best = 0;
    DType top = DType::F32;
    for (const auto& [name, t] : namedTypes)
        if (++count[t] > best) best = count[t], top = t;
    switch (top) {
        case DType::F32:
            return 0;
        case DType::F16:
            return 1;
        case DType::Q4_0:
            return 2;
        case DType::Q4_1:
            return 3;
        case DType::Q8_0:
            return 7;
        case DType::Q5_0:
            return 8;
        case DType::Q5_1:
            return 9;
        case DType::Q2_K:
            return 10;
        case DType::Q3_K:
            return 12;
        case DType::Q4_K:
            return 15;
        case DType::Q5_K:
            return 17;
        case DType::Q6_K:
            return 18;
        case DType::IQ2_XXS:
            return 19;
        case DType::IQ2_XS:
            return 20;
        case DType::IQ3_XXS:
            return 23;
        case DType::IQ1_S:
            return 24;
        case DType::IQ4_NL:
            return 25;
        case DType::IQ3_S:
            return 26;
        case DType::IQ2_S:
            return 28;
        case DType::IQ4_XS:
            return 30;
        case DType::IQ1_M:
            return 31;
        case DType::BF16:
            return 32;
        case DType::TQ1_0:
            return 36;
        case DType::TQ2_0:
            return 37;
        default:
            return 0;
    }
}

Result<GgufExportResult> exportGguf(const Checkpoint& ckpt, const ModelInfo& info,
                                    const ResolvedMap& resolvedIn, const std::string& path,
                                    tbb::task_arena* arena, const GgufExportOptions& options) {
    GgufExportResult result;
    result.warnings = resolvedIn.warnings;
    result.fallbacks = resolutionFallbacks(resolvedIn, ckpt.tensors);
    const std::string& fallback = options.fallback;
    if (!fallback.empty() && (!isGgmlType(fallback) || !findScheme(fallback)))
        return Error{"GGUF export: --fallback " + fallback +
                     " is not a ggml type QuantScope quantizes to (q8_0, q4_K, f16, ...)"};
    // The resolved map is copied only when a tensor's scheme is substituted (a plan a tensor: ~26 MB at 300,000).
    std::optional<ResolvedMap> substituted;
    if (anyNeedsGgufFallback(ckpt, resolvedIn)) {
        substituted = resolvedIn;
        if (auto s = applyFallback(ckpt, fallback, *substituted, result.warnings, result.fallbacks); !s)
            return s.error();
    }
    const ResolvedMap& resolved = substituted ? *substituted : resolvedIn;
    // Only tensors the file holds: a tied head copy and buffers are not written.
    std::erase_if(result.fallbacks, [&](const ExportFallback& f) {
        const size_t i = f.tensorIndex;
        return i < ckpt.tensors.size() && (!info.entries[i].isParameter || isTiedHead(info, resolved, i));
    });
    // The declarations are made once and handed to the writer, which keeps them (its header is written in
    // pieces): a file of 300,000 tiny tensors holds one copy of its names (issue 13).
    std::vector<GgufTensorInfo> infos;
    auto planned = planTensors(ckpt, info, resolved, result.warnings, infos);
    if (!planned) return planned.error();
    auto kvs = ggufExportKvs(ckpt, info, options.tokenizerPath);
    if (!kvs) return kvs.error();
    // A GGUF source written with every tensor as stored keeps its general.file_type (Q4_K_M's mix would be guessed
    // as its most common type, Q5_0); otherwise the type is guessed as llama.cpp does.
    const bool requantized = std::any_of(planned->begin(), planned->end(), [](const PlannedTensor& p) { return p.quantized; });
    const auto sourceType = ckpt.metadata.find("general.file_type");
    if (ckpt.format == FileFormat::Gguf && !requantized && sourceType != ckpt.metadata.end() &&
        sourceType->is_number_integer() && sourceType->get<int64_t>() >= 0 &&
        sourceType->get<int64_t>() <= int64_t(UINT32_MAX)) {
        result.fileType = uint32_t(sourceType->get<int64_t>());
    } else {
        std::vector<std::pair<std::string_view, DType>> named;  // views of the declared names
        named.reserve(infos.size());
        for (const GgufTensorInfo& t : infos) named.emplace_back(t.name, t.dtype);
        result.fileType = llamaFileTypeFor(std::move(named));
    }
    kvs->push_back({"general.file_type", 4, result.fileType, 0});
    // The block layouts' version, as llama-quantize writes it (llama-quant.cpp: general.quantization_version =
    // GGML_QNT_VERSION, 2 since ggml's 2023 change of the q4/q5/q8 block formats; gguf-py constants.py).
    kvs->push_back({"general.quantization_version", 4, kGgmlQuantizationVersion, 0});

    auto writer = GgufStreamWriter::open(path, *kvs, std::move(infos));
    if (!writer) return writer.error();
    GgufStreamWriter& w = **writer;
    // Stored tensors are copied as the quantized ones arrive, so the file is written in plan order.
    size_t next = 0;
    auto copyStoredUpTo = [&](int sourceIndex) -> Status {
        for (; next < planned->size() && (*planned)[next].source < sourceIndex; ++next) {
            const PlannedTensor& pt = (*planned)[next];
            if (pt.quantized)
                return Error{"GGUF export: " + w.tensors()[next].name + ": quantized data missing"};
            auto data = ckpt.data(size_t(pt.source));
            if (!data) return data.error();
            if (auto s = appendTensor(w, pt, data->bytes); !s) return s;
        }
        return {};
    };
    ApplyOptions ao;
    ao.computeStats = false;
    ao.progress = options.progress;
    ao.calibration = options.calibration;
    {  // the apply's per-tensor result is not needed past here (136 bytes a tensor)
        auto applied = applyMap(ckpt, info, resolved, ao, arena,
                                [&](int index, QuantizedTensor&& q, const ErrorReport&) -> Status {
                                    if (auto s = copyStoredUpTo(index); !s) return s;
                                    if (next >= planned->size() || (*planned)[next].source != index)
                                        return Status{};  // a tensor not written
                                    if (auto s = appendTensor(w, (*planned)[next], q.data); !s) return s;
                                    ++next;
                                    return Status{};
                                });
        if (!applied) return applied.error();
    }
    if (auto s = copyStoredUpTo(int(ckpt.tensors.size())); !s) return s.error();
    if (auto s = w.commit(); !s) return s.error();
    std::vector<GgufTensorInfo> written = w.takeTensors();
    result.tensors.reserve(written.size());
    for (size_t k = 0; k < written.size(); ++k) {
        const PlannedTensor& pt = (*planned)[k];
        const TensorPlan& p = resolved.tensors[size_t(pt.source)];
        result.tensors.push_back({size_t(pt.source), std::move(written[k].name), written[k].dtype,
                                  pt.quantized ? p.scheme : std::string(), written[k].bytes});
    }
    std::error_code ec;
    result.fileBytes = std::filesystem::file_size(path, ec);
    return result;
}

}  // namespace qs
