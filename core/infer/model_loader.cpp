// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/model_weights.h"

#include <algorithm>
#include <cmath>
#include <new>

#include "core/infer/rope.h"

namespace qs {

namespace {

std::string where(const Checkpoint& ckpt, int index) {
    return ckpt.path + ": tensor '" + ckpt.tensors[size_t(index)].name + "'";
}

std::string kindAt(TensorKind kind, int layer) {
    std::string s(tensorKindName(kind));
    if (layer >= 0) s += " of layer " + std::to_string(layer);
    return s;
}

class Loader {
public:
    // shapesOnly: every check on names and shapes runs, nothing is read or converted (matrix() gives null
    // weights, vector() zeros), for checkInferenceShapes.
    Loader(const Checkpoint& ckpt, const ModelInfo& info, const QuantizedWeightMap* q, const WeightLoadOptions& o,
           tbb::task_arena* arena, bool shapesOnly)
        : m_ckpt(ckpt), m_info(info), m_quantized(q), m_options(o), m_arena(arena), m_shapesOnly(shapesOnly) {}

    Result<int> find(TensorKind kind, int layer) const {
        const int i = m_info.findKind(kind, layer);
        if (i < 0 || size_t(i) >= m_ckpt.tensors.size())
            return Error{m_ckpt.path + ": no " + kindAt(kind, layer) + " tensor, which " + m_info.architecture +
                         " as declared needs"};
        return i;
    }

    Result<std::shared_ptr<const LinearWeights>> matrix(TensorKind kind, int layer, int64_t rows, int64_t cols) {
        auto idx = find(kind, layer);
        if (!idx) return idx.error();
        const int i = *idx;
        const TensorInfo& t = m_ckpt.tensors[size_t(i)];
        if (t.shape.size() != 2 || t.shape[0] != rows || t.shape[1] != cols)
            return Error{where(m_ckpt, i) + " (" + kindAt(kind, layer) + ") has shape " + shapeText(t.shape) +
                         ", expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "]"};
        if (m_shapesOnly) return std::shared_ptr<const LinearWeights>();
        if (m_quantized) {
            auto it = m_quantized->find(i);
            if (it != m_quantized->end()) {
                const QuantizedWeight& qw = it->second;
                if (!qw.tensor || !qw.scheme) return Error{where(m_ckpt, i) + ": quantized entry without tensor or scheme"};
                if (qw.tensor->rows != rows || qw.tensor->cols != cols)
                    return Error{where(m_ckpt, i) + ": quantized as [" + std::to_string(qw.tensor->rows) + ", " +
                                 std::to_string(qw.tensor->cols) + "], expected [" + std::to_string(rows) + ", " +
                                 std::to_string(cols) + "]"};
                if (m_options.quantized == WeightLoadOptions::Quantized::Native)
                    if (auto packed = packedWeights(qw.tensor, qw.scheme)) return packed;
                if (perRowBlock())
                    return std::shared_ptr<const LinearWeights>(std::make_shared<QuantizedLinearWeights>(qw.tensor, qw.scheme));
                return dequantizeOnce(*qw.tensor, *qw.scheme, m_arena);
            }
        }
        if (t.dtype == DType::F32 && t.file >= 0) {
            auto data = m_ckpt.data(size_t(i));
            if (!data) return data.error();
            if (data->bytes.size() == uint64_t(rows * cols) * sizeof(float) &&
                reinterpret_cast<uintptr_t>(data->bytes.data()) % alignof(float) == 0)
                return std::shared_ptr<const LinearWeights>(std::make_shared<FloatLinearWeights>(
                    rows, cols, reinterpret_cast<const float*>(data->bytes.data()), data->owner, "f32 (mapped)"));
        }
        if (m_options.quantized == WeightLoadOptions::Quantized::Native && t.dtype == DType::Llama2cQ8 &&
            t.file >= 0 && Llama2cQ8LinearWeights::supports(cols, t.group)) {
            auto data = m_ckpt.data(size_t(i));
            if (!data) return data.error();
            if (data->bytes.size() != llama2cQ8Bytes(uint64_t(rows * cols), t.group))
                return Error{where(m_ckpt, i) + ": " + std::to_string(data->bytes.size()) + " bytes, expected " +
                             std::to_string(llama2cQ8Bytes(uint64_t(rows * cols), t.group)) + " for llama2.c Q8"};
            return std::shared_ptr<const LinearWeights>(
                std::make_shared<Llama2cQ8LinearWeights>(rows, cols, t.group, data->bytes, data->owner));
        }
        if (m_options.quantized == WeightLoadOptions::Quantized::Native && t.dtype != DType::F32 && t.file >= 0 &&
            PackedLinearWeights::supports(t.dtype, cols)) {
            auto data = m_ckpt.data(size_t(i));
            if (!data) return data.error();
            // Block structs hold fp16 fields: the kernels need 2-byte alignment (GGUF general.alignment may be 1).
            if (dtypeBytes(t.dtype, uint64_t(rows * cols)) == data->bytes.size() &&
                reinterpret_cast<uintptr_t>(data->bytes.data()) % 2 == 0) {
                // A repacked copy replaces the stored rows: their file pages leave the resident memory as they
                // are copied. f16/bf16 rows of a GGUF take activations of their type, as llama.cpp runs that
                // file; those of other formats (safetensors) f32 activations, transformers' float32 arithmetic.
                const MappedFile* file = m_ckpt.files[size_t(t.file)].get();
                const auto pairing = m_ckpt.format == FileFormat::Gguf ? ggml::ActivationPairing::Ggml
                                                                       : ggml::ActivationPairing::Float;
                return std::shared_ptr<const LinearWeights>(std::make_shared<PackedLinearWeights>(
                    rows, cols, t.dtype, data->bytes, data->owner, 0, cpu::simdLevel(),
                    [file](std::span<const std::byte> part) { file->dropPages(part); }, pairing));
            }
        }
        if (t.dtype != DType::F32 && perRowBlock() &&
            dtypeConvertibleToFloat(t.dtype)) {
            auto data = m_ckpt.data(size_t(i));
            if (!data) return data.error();
            // Decode one row now, so a tensor that cannot be decoded fails here with its name, not mid-run.
            std::vector<float> probe(static_cast<size_t>(cols));
            if (auto s = decodeToFloat(t.dtype, data->bytes, t.elements(), t.group, 0, uint64_t(cols), probe.data()); !s)
                return Error{where(m_ckpt, i) + ": " + s.message()};
            return std::shared_ptr<const LinearWeights>(
                std::make_shared<StoredLinearWeights>(rows, cols, t.dtype, t.group, data->bytes, data->owner));
        }
        auto values = m_ckpt.toFloat(size_t(i));
        if (!values) return values.error();
        const std::string what = t.dtype == DType::F32 ? "f32 (copied)" : std::string(dtypeName(t.dtype)) + " -> f32";
        return std::shared_ptr<const LinearWeights>(std::make_shared<FloatLinearWeights>(rows, cols, std::move(*values), what));
    }

    Result<std::vector<float>> vector(TensorKind kind, int layer, int64_t n) {
        auto idx = find(kind, layer);
        if (!idx) return idx.error();
        const TensorInfo& t = m_ckpt.tensors[size_t(*idx)];
        if (t.elements() != uint64_t(n))
            return Error{where(m_ckpt, *idx) + " (" + kindAt(kind, layer) + ") has " + std::to_string(t.elements()) +
                         " values, expected " + std::to_string(n)};
        if (m_shapesOnly) return std::vector<float>(size_t(n), 0.0f);
        if (m_quantized) {
            // A map may quantize 1-D tensors too (role norm): the engine then uses their dequantized values.
            auto it = m_quantized->find(*idx);
            if (it != m_quantized->end()) {
                const QuantizedWeight& qw = it->second;
                if (!qw.values.empty()) {
                    if (qw.values.size() != size_t(n))
                        return Error{where(m_ckpt, *idx) + ": replaced values do not hold " + std::to_string(n) + " values"};
                    return qw.values;
                }
                if (!qw.tensor || !qw.scheme || qw.tensor->rows * qw.tensor->cols != n)
                    return Error{where(m_ckpt, *idx) + ": quantized entry does not hold " + std::to_string(n) + " values"};
                std::vector<float> values(static_cast<size_t>(n));
                qw.scheme->dequantize(*qw.tensor, values.data());
                return values;
            }
        }
        return m_ckpt.toFloat(size_t(*idx));
    }

    // Tensors without a native kernel: decoded per row block (the mode, or Native under memory pressure).
    bool perRowBlock() const {
        return m_options.quantized == WeightLoadOptions::Quantized::PerRowBlock ||
               (m_options.quantized == WeightLoadOptions::Quantized::Native && m_options.nonNativePerRowBlock);
    }

    static std::string shapeText(const std::vector<int64_t>& shape) {
        std::string s = "[";
        for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
        return s + "]";
    }

private:
    const Checkpoint& m_ckpt;
    const ModelInfo& m_info;
    const QuantizedWeightMap* m_quantized;
    const WeightLoadOptions& m_options;
    tbb::task_arena* m_arena;
    bool m_shapesOnly = false;
};

Result<ModelConfig> configFrom(const Checkpoint& ckpt, const ModelInfo& info, const WeightLoadOptions& options,
                               std::vector<std::string>& warnings) {
    const Hyperparameters& hp = info.hp;
    ModelConfig c;
    constexpr int64_t kMax = int64_t(1) << 30;
    for (int64_t v : {hp.dim, hp.hidden, hp.layers, hp.heads, hp.kvHeads, hp.vocab})
        if (v <= 0 || v > kMax)
            return Error{ckpt.path + ": hyperparameters incomplete or implausible (dim " + std::to_string(hp.dim) +
                         ", hidden " + std::to_string(hp.hidden) + ", layers " + std::to_string(hp.layers) + ", heads " +
                         std::to_string(hp.heads) + ", kv heads " + std::to_string(hp.kvHeads) + ", vocab " +
                         std::to_string(hp.vocab) + ")"};
    static_cast<Hyperparameters&>(c) = hp;
    if (c.headDim <= 0) c.headDim = hp.dim % hp.heads == 0 ? hp.dim / hp.heads : 0;
    if (c.headDim <= 0 || c.headDim % 2 != 0 || c.headDim > 4096)
        return Error{ckpt.path + ": head dimension " + std::to_string(c.headDim) + " is not a positive even number"};
    if (c.heads % c.kvHeads != 0)
        return Error{ckpt.path + ": " + std::to_string(c.heads) + " query heads are not a multiple of " +
                     std::to_string(c.kvHeads) + " key/value heads"};
    if (hp.context <= 0) warnings.push_back("the checkpoint states no context length; using 2048");
    c.context = engineContext(hp, options.maxContext);
    if (!(c.ropeTheta > 0)) c.ropeTheta = 10000.0;
    if (!(c.normEps > 0)) c.normEps = 1e-5;
    c.rope = info.rope;
    const ArchSpec& a = info.arch;
    c.qkvBias = a.qkvBias;
    c.outBias = a.outBias;
    c.mlpBias = a.mlpBias;
    c.qkNorm = a.qkNorm;
    c.postNorms = a.postNorms;
    c.activation = a.activation;
    c.embedScale = float(a.embedScale);
    c.attnScale = float(a.attnScale);
    c.attnSoftcap = float(a.attnSoftcap);
    c.finalSoftcap = float(a.finalSoftcap);
    if (a.slidingWindow > 0 && !a.slidingLayers.empty()) {
        if (a.slidingLayers.size() != size_t(c.layers))
            return Error{ckpt.path + ": the sliding-window layer pattern lists " + std::to_string(a.slidingLayers.size()) +
                         " layers, the model has " + std::to_string(c.layers)};
        c.window.resize(size_t(c.layers));
        for (int l = 0; l < c.layers; ++l)
            c.window[size_t(l)] = a.slidingLayers[size_t(l)] ? int(std::min<int64_t>(a.slidingWindow, 1 << 30)) : 0;
    }
    if (a.ropeScaling.type == RopeScalingType::Dynamic) {
        // Dynamic NTK changes the frequencies only past the original context (transformers dynamic_rope_update);
        // within it they are the default ones, so the context is capped there instead of approximating.
        const int64_t original = a.ropeScaling.originalContext > 0 ? a.ropeScaling.originalContext : hp.context;
        if (original > 0 && original < c.context) {
            c.context = int(original);
            warnings.push_back("dynamic NTK RoPE scaling: the context is capped at the original " +
                               std::to_string(original) + " positions, where the frequencies are unscaled");
        }
    }
    return c;
}

// Fills the RoPE inverse frequencies of the global (and local) layers: rope_scaling, GGUF rope_freqs factors.
Status ropeTables(const Checkpoint& ckpt, const ModelInfo& info, const std::vector<float>& freqFactors, ModelConfig& c) {
    const ArchSpec& a = info.arch;
    if (a.ropeScaling.type != RopeScalingType::None || !freqFactors.empty()) {
        auto f = ropeFrequencies(info.hp.ropeTheta, c.headDim, a.ropeScaling, 0, freqFactors);
        if (!f) return Error{ckpt.path + ": " + f.error().message};
        c.ropeInvFreq = std::move(f->invFreq);
        c.ropeAttnFactor = f->attentionFactor;
    }
    if (a.ropeThetaLocal > 0 && !a.slidingLayers.empty() && a.slidingWindow > 0) {
        c.ropeInvFreqLocal = defaultInverseFrequencies(a.ropeThetaLocal, c.headDim);
        c.localRope.assign(size_t(c.layers), 0);
        for (int l = 0; l < c.layers; ++l) c.localRope[size_t(l)] = a.slidingLayers[size_t(l)] ? 1 : 0;
    }
    return {};
}

// Adds the declaration's norm offset (Gemma's 1 + w) to a loaded norm vector.
void offsetNorm(std::vector<float>& w, double offset) {
    if (offset == 0.0) return;
    for (float& x : w) x = float(double(x) + offset);
}

// The token embedding, the output head (the embedding itself when tied) and the final norm.
Status loadGlobalWeights(Loader& load, const ModelInfo& info, const ModelConfig& c, ModelWeights& w) {
    auto emb = load.matrix(TensorKind::TokenEmbedding, -1, c.vocab, c.dim);
    if (!emb) return emb.error();
    w.embedding = *emb;
    if (info.tie) {
        w.output = w.embedding;
    } else {
        auto out = load.matrix(TensorKind::Output, -1, c.vocab, c.dim);
        if (!out) return out.error();
        w.output = *out;
    }
    auto fn = load.vector(TensorKind::FinalNorm, -1, c.dim);
    if (!fn) return fn.error();
    w.finalNorm = std::move(*fn);
    offsetNorm(w.finalNorm, info.arch.normOffset);
    return {};
}

// Layer l's matrices, then its norms and biases (those the config wants; a declared bias absent from the
// checkpoint stays empty, read as zero).
Status loadLayer(Loader& load, const ModelInfo& info, const ModelConfig& c, int l, LayerWeights& L) {
    const double normOffset = info.arch.normOffset;
    struct M {
        TensorKind kind;
        int64_t rows, cols;
        std::shared_ptr<const LinearWeights>* dst;
    };
    const M mats[] = {{TensorKind::Wq, c.qDim(), c.dim, &L.wq},     {TensorKind::Wk, c.kvDim(), c.dim, &L.wk},
                      {TensorKind::Wv, c.kvDim(), c.dim, &L.wv},    {TensorKind::Wo, c.dim, c.qDim(), &L.wo},
                      {TensorKind::Gate, c.hidden, c.dim, &L.gate}, {TensorKind::Up, c.hidden, c.dim, &L.up},
                      {TensorKind::Down, c.dim, c.hidden, &L.down}};
    for (const M& m : mats) {
        auto r = load.matrix(m.kind, l, m.rows, m.cols);
        if (!r) return r.error();
        *m.dst = *r;
    }
    struct V {
        TensorKind kind;
        int64_t n;
        std::vector<float>* dst;
        bool wanted, norm;
    };
    const V vecs[] = {{TensorKind::AttnNorm, c.dim, &L.attnNorm, true, true},
                      {TensorKind::FfnNorm, c.dim, &L.ffnNorm, true, true},
                      {TensorKind::BiasQ, c.qDim(), &L.bq, c.qkvBias, false},
                      {TensorKind::BiasK, c.kvDim(), &L.bk, c.qkvBias, false},
                      {TensorKind::BiasV, c.kvDim(), &L.bv, c.qkvBias, false},
                      {TensorKind::BiasO, c.dim, &L.bo, c.outBias, false},
                      {TensorKind::BiasGate, c.hidden, &L.bGate, c.mlpBias, false},
                      {TensorKind::BiasUp, c.hidden, &L.bUp, c.mlpBias, false},
                      {TensorKind::BiasDown, c.dim, &L.bDown, c.mlpBias, false},
                      {TensorKind::QNorm, c.headDim, &L.qNorm, c.qkNorm, true},
                      {TensorKind::KNorm, c.headDim, &L.kNorm, c.qkNorm, true},
                      {TensorKind::PostAttnNorm, c.dim, &L.postAttnNorm, c.postNorms, true},
                      {TensorKind::PostFfnNorm, c.dim, &L.postFfnNorm, c.postNorms, true}};
    for (const V& v : vecs) {
        if (!v.wanted) continue;
        const bool bias = !v.norm && v.kind != TensorKind::AttnNorm;
        if (bias && info.findKind(v.kind, l) < 0) continue;  // declared but absent: zero (see analyzeModel)
        auto r = load.vector(v.kind, l, v.n);
        if (!r) return r.error();
        *v.dst = std::move(*r);
        if (v.norm) offsetNorm(*v.dst, normOffset);
    }
    return {};
}

}  // namespace

namespace {

Result<std::shared_ptr<const ModelWeights>> buildWeights(const Checkpoint& ckpt, const ModelInfo& info,
                                                         const QuantizedWeightMap* quantized,
                                                         const WeightLoadOptions& options, tbb::task_arena* arena,
                                                         const ProgressFn& progress, bool shapesOnly) {
    if (info.entries.size() != ckpt.tensors.size())
        return Error{ckpt.path + ": the model analysis does not belong to this checkpoint"};
    if (!info.runnable)
        return Error{ckpt.path + ": cannot run this model: " +
                     (info.runnableReason.empty() ? std::string("not analysed as runnable") : info.runnableReason)};
    auto w = std::make_shared<ModelWeights>();
    auto cfg = configFrom(ckpt, info, options, w->warnings);
    if (!cfg) return cfg.error();
    ModelConfig& c = *cfg;
    ProgressSink sink(progress);
    Loader load(ckpt, info, quantized, options, arena, shapesOnly);
    std::vector<float> freqFactors;
    if (info.arch.ropeFreqFactors) {
        auto ff = load.vector(TensorKind::RopeFreqs, -1, c.headDim / 2);
        if (!ff) return ff.error();
        freqFactors = std::move(*ff);
    }
    if (!shapesOnly)
        if (auto s = ropeTables(ckpt, info, freqFactors, c); !s) return s.error();
    w->config = c;
    if (auto s = loadGlobalWeights(load, info, c, *w); !s) return s.error();
    w->layers.resize(size_t(c.layers));
    for (int l = 0; l < c.layers; ++l) {
        if (!sink.report(double(l) / c.layers, "loading layer " + std::to_string(l))) return Error{std::string(kCancelledMessage)};
        if (auto s = loadLayer(load, info, c, l, w->layers[size_t(l)]); !s) return s.error();
    }
    sink.report(1.0, "weights loaded");
    return std::shared_ptr<const ModelWeights>(std::move(w));
}

}  // namespace

Result<std::shared_ptr<const ModelWeights>> loadModelWeights(const Checkpoint& ckpt, const ModelInfo& info,
                                                             const QuantizedWeightMap* quantized,
                                                             const WeightLoadOptions& options, tbb::task_arena* arena,
                                                             const ProgressFn& progress) {
    try {
        return buildWeights(ckpt, info, quantized, options, arena, progress, false);
    } catch (const std::bad_alloc&) {  // a converted or repacked tensor, the arena's workers
        return Error{ckpt.path + ": out of memory while loading the weights for running (converted or repacked "
                                 "tensors did not fit; --dequant rows needs the least)"};
    }
}

Status checkInferenceShapes(const Checkpoint& ckpt, ModelInfo& info) {
    if (!info.runnable) return {};
    auto w = buildWeights(ckpt, info, nullptr, WeightLoadOptions{}, nullptr, {}, true);
    if (w) return {};
    info.runnable = false;
    info.runnableReason = w.message();
    return w.error();
}

}  // namespace qs
