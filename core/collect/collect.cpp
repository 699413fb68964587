// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/collect/collect.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>

#include "core/collect/input_accumulator.h"
#include "core/infer/memory_plan.h"
#include "core/infer/transformer.h"
#include "core/io/fingerprint.h"
#include "core/quant/quantize_parallel.h"
#include "core/util/format.h"

namespace qs {

namespace {

constexpr int kInputs = 5;  // LinearInput values
int inputIndex(LinearInput w) { return int(w); }

// The tensors reading each input, by kind.
std::vector<TensorKind> readersOf(LinearInput w) {
    switch (w) {
    case LinearInput::AttentionIn: return {TensorKind::Wq, TensorKind::Wk, TensorKind::Wv};
    case LinearInput::AttentionOut: return {TensorKind::Wo};
    case LinearInput::MlpIn: return {TensorKind::Gate, TensorKind::Up};
    case LinearInput::MlpDownIn: return {TensorKind::Down};
    case LinearInput::HeadIn: return {TensorKind::Output};
    }
    return {};
}

int64_t colsOf(const ModelConfig& c, LinearInput w) {
    switch (w) {
    case LinearInput::AttentionOut: return c.qDim();
    case LinearInput::MlpDownIn: return c.hidden;
    default: return c.dim;
    }
}

bool hessianFor(const CalibrationSettings& s, int layer) {
    if (!hasAll(s.needs, CalibrationNeeds::Hessian)) return false;
    if (layer < 0) return s.hessianHead;
    return s.hessianLayers.empty() ||
           std::find(s.hessianLayers.begin(), s.hessianLayers.end(), layer) != s.hessianLayers.end();
}

CalibrationNeeds needsFor(const CalibrationSettings& s, int layer) {
    CalibrationNeeds n = s.needs & (CalibrationNeeds::Importance | CalibrationNeeds::MaxAbs |
                                    CalibrationNeeds::MeanAbs | CalibrationNeeds::Samples);
    if (hessianFor(s, layer)) n |= CalibrationNeeds::Hessian;
    return n;
}

// The accumulators, one per (layer, input); the head's at index layers * kInputs + HeadIn.
struct Accumulators {
    std::vector<std::optional<InputAccumulator>> byInput;
    int layers = 0;
    size_t index(int layer, LinearInput w) const {
        return size_t(layer < 0 ? layers : layer) * kInputs + size_t(inputIndex(w));
    }
};

Status finiteOrError(const TensorCalibration& c, int layer, LinearInput w) {
    auto bad = [](const auto& v) {
        return std::any_of(v.begin(), v.end(), [](auto x) { return !std::isfinite(double(x)); });
    };
    if (bad(c.sumSquares) || bad(c.sumAbs) || bad(c.maxAbs) || bad(c.hessian) || bad(c.samples))
        return Error{"calibration: the " + std::string(linearInputName(w)) + " activations of " +
                     (layer < 0 ? std::string("the head") : "block " + std::to_string(layer)) +
                     " are not finite (the model overflows float arithmetic on the calibration text)"};
    return {};
}

constexpr int kAllLayers = -2;

// Moves the statistics of `onlyLayer` (kAllLayers: every input; -1: the head) into `set`, keyed by the tensors
// reading each input.
Status assembleInto(CalibrationSet& set, const Checkpoint& ckpt, const ModelInfo& info, Accumulators& acc,
                    const ModelConfig& config, int onlyLayer) {
    for (int l = -1; l < config.layers; ++l) {
        if (onlyLayer != kAllLayers && l != onlyLayer) continue;
        for (int k = 0; k < kInputs; ++k) {
            const LinearInput w = LinearInput(k);
            if ((l < 0) != (w == LinearInput::HeadIn)) continue;
            auto& a = acc.byInput[acc.index(l, w)];
            if (!a) continue;
            auto shared = std::make_shared<TensorCalibration>(a->take());
            if (auto s = finiteOrError(*shared, l, w); !s) return s;
            for (TensorKind kind : readersOf(w)) {
                const int t = info.findKind(kind, l);
                if (t >= 0) set.tensors[ckpt.tensors[size_t(t)].name] = shared;
            }
        }
    }
    return {};
}

// The whole chunks to run, after the checks every collection makes (sequence length, text, memory).
Result<int64_t> plannedChunks(const ModelConfig& config, std::span<const int> textTokens,
                              const CalibrationSettings& settings, int seqLen) {
    if (seqLen < 2)
        return Error{"calibration: a sequence length of " + std::to_string(settings.sequenceLength) +
                     " tokens is too short (at least 2)"};
    if (textTokens.empty()) return Error{"calibration: the calibration text has no tokens"};
    const uint64_t need = calibrationBytes(config, settings);
    const MachineMemory machine = machineMemory();
    const uint64_t have = std::min(machine.available, machine.addressSpace);
    if (need > have)
        return Error{"calibration: the statistics need " + formatBytesGiB(need) + " (Hessians 8 x cols^2 bytes per " +
                     "input of the asked layers" +
                     (hasAll(settings.needs, CalibrationNeeds::Samples) ? ", samples 4 x rows x cols" : "") +
                     "), more than the " + formatBytesGiB(have) + " available; ask Hessians for fewer layers"};
    // Whole chunks only (as llama.cpp's imatrix): min(text tokens, tokens asked) / seqLen of them.
    int64_t chunks = int64_t(textTokens.size()) / seqLen;
    if (settings.tokens > 0) chunks = std::min<int64_t>(chunks, settings.tokens / seqLen);
    if (chunks < 1)
        return Error{"calibration: " + std::to_string(textTokens.size()) + " text tokens (at most " +
                     std::to_string(settings.tokens) + " asked) do not fill one sequence of " + std::to_string(seqLen) +
                     " tokens; give a longer text or a shorter --calib-ctx"};
    return chunks;
}

// The accumulators of every input, or of `onlyLayer`'s (-1: the head's) in sequential mode.
Accumulators makeAccumulators(const ModelConfig& config, const CalibrationSettings& settings, int onlyLayer) {
    Accumulators acc;
    acc.layers = config.layers;
    acc.byInput.resize(size_t(config.layers + 1) * kInputs);
    for (int l = -1; l < config.layers; ++l)
        for (int k = 0; k < kInputs; ++k) {
            if (onlyLayer != kAllLayers && l != onlyLayer) continue;
            const LinearInput w = LinearInput(k);
            if ((l < 0) != (w == LinearInput::HeadIn)) continue;
            uint64_t seed = settings.seed ^ (uint64_t(l + 1) << 32) ^ uint64_t(k);
            acc.byInput[acc.index(l, w)].emplace(colsOf(config, w), needsFor(settings, l), settings.samplesPerInput,
                                                 splitmix64(seed));
        }
    return acc;
}

// Runs `chunks` sequences of the text through `weights`, feeding the accumulators of `onlyLayer`'s inputs
// (kAllLayers: all). Progress over [f0, f1].
Status runText(std::shared_ptr<const ModelWeights> weights, std::span<const int> textTokens, int64_t chunks,
               int seqLen, int bos, int batch, Accumulators& acc, int onlyLayer, tbb::task_arena* arena,
               ProgressSink& sink, double f0, double f1, const std::string& label) {
    EngineOptions eo;
    eo.batch = std::max(1, batch);
    Transformer engine(std::move(weights), arena, eo);
    engine.setActivationObserver([&](int layer, LinearInput w, const float* x, int n, int cols) {
        if (onlyLayer != kAllLayers && layer != onlyLayer) return;
        auto& a = acc.byInput[acc.index(layer, w)];
        if (a && a->cols() == cols) a->add(x, n, arena);
    });
    std::vector<int> seq(static_cast<size_t>(seqLen));
    for (int64_t c = 0; c < chunks; ++c) {
        std::copy_n(textTokens.begin() + c * seqLen, seqLen, seq.begin());
        if (bos >= 0) seq[0] = bos;
        engine.reset();
        for (int at = 0; at < seqLen; at += eo.batch) {
            const std::string stage = label + "sequence " + std::to_string(c + 1) + "/" + std::to_string(chunks);
            if (!sink.report(f0 + (f1 - f0) * (double(c) * seqLen + at) / (double(chunks) * seqLen), stage))
                return Error{std::string(kCancelledMessage)};
            const int n = std::min(eo.batch, seqLen - at);
            if (auto s = engine.evaluate(std::span<const int>(seq.data() + at, size_t(n)), {}); !s)
                return Error{"calibration: sequence " + std::to_string(c + 1) + ": " + s.message()};
        }
    }
    return {};
}

void setProvenance(CalibrationSet& set, const CalibrationSettings& settings, int64_t chunks, int seqLen) {
    CalibrationProvenance& p = set.provenance;
    p.source = "engine";
    p.tokens = chunks * seqLen;
    p.sequences = chunks;
    p.sequenceLength = seqLen;
    p.collected = settings.needs;
    p.settingsKey = settings.key();
}

}  // namespace

std::string CalibrationSettings::key() const {
    std::string k = "tokens=" + std::to_string(tokens) + ";ctx=" + std::to_string(sequenceLength) +
                    ";needs=" + std::to_string(uint32_t(needs));
    if (hasAll(needs, CalibrationNeeds::Hessian)) {
        std::set<int> layers(hessianLayers.begin(), hessianLayers.end());
        k += ";hessian=";
        for (int l : layers) k += std::to_string(l) + ",";
        k += hessianHead ? "head" : "";
    }
    if (hasAll(needs, CalibrationNeeds::Samples)) k += ";samples=" + std::to_string(samplesPerInput) +
                                                      ";seed=" + std::to_string(seed);
    return k;
}

uint64_t calibrationBytes(const ModelConfig& c, const CalibrationSettings& s) {
    uint64_t total = 0;
    for (int l = -1; l < c.layers; ++l)
        for (int k = 0; k < kInputs; ++k) {
            const LinearInput w = LinearInput(k);
            if ((l < 0) != (w == LinearInput::HeadIn)) continue;
            const uint64_t cols = uint64_t(colsOf(c, w));
            total += 20 * cols;  // sumSquares, sumAbs (double), maxAbs (float)
            if (hessianFor(s, l)) total += 8 * cols * cols;
            if (hasAll(s.needs, CalibrationNeeds::Samples)) total += 4 * uint64_t(std::max(0, s.samplesPerInput)) * cols;
        }
    return total;
}

Result<CalibrationSet> collectCalibration(const Checkpoint& ckpt, const ModelInfo& info,
                                          std::shared_ptr<const ModelWeights> weights,
                                          std::span<const int> textTokens, int bos,
                                          const CalibrationSettings& settings, tbb::task_arena* arena,
                                          const ProgressFn& progress) {
    if (!weights) return Error{"calibration: no model weights"};
    const ModelConfig& config = weights->config;
    const int seqLen = int(std::min<int64_t>(settings.sequenceLength, config.context));
    auto chunks = plannedChunks(config, textTokens, settings, seqLen);
    if (!chunks) return chunks.error();
    Accumulators acc = makeAccumulators(config, settings, kAllLayers);
    ProgressSink sink(progress);
    if (auto s = runText(weights, textTokens, *chunks, seqLen, bos, settings.batch, acc, kAllLayers, arena, sink, 0.0,
                         1.0, "calibrating: ");
        !s)
        return s.error();
    CalibrationSet set;
    if (auto s = assembleInto(set, ckpt, info, acc, config, kAllLayers); !s) return s.error();
    setProvenance(set, settings, *chunks, seqLen);
    sink.report(1.0, "calibrated");
    return set;
}

namespace {

// Quantizes, with their schemes and the statistics in `set`, the tensors of `layer` the map quantizes (-1: the
// embedding), into `quantized`.
Status quantizeLayer(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved, int layer,
                     const CalibrationSet& set, QuantizedWeightMap& quantized, tbb::task_arena* arena) {
    for (size_t i = 0; i < ckpt.tensors.size(); ++i) {
        const TensorPlan& p = resolved.tensors[i];
        if (!p.quantized() || p.tiedTo >= 0 || info.entries[i].layer != layer) continue;
        if (layer < 0 && info.entries[i].kind != TensorKind::TokenEmbedding) continue;
        auto scheme = findScheme(p.scheme);
        if (!scheme) return Error{"calibration: unknown scheme " + p.scheme};
        auto c = calibrationFor(*scheme, &set, ckpt.tensors[i].name, p.cols);
        if (!c) return c.error();
        auto floats = ckpt.toFloat(i);
        if (!floats) return floats.error();
        Result<QuantizedTensor> q =
            quantizeParallel(*scheme, *floats, p.rows, p.cols, ckpt.tensors[i].name, arena, nullptr, *c);
        if (!q) return q.error();
        quantized[int(i)] = {std::make_shared<const QuantizedTensor>(std::move(*q)), scheme};
    }
    return {};
}

}  // namespace

Result<CalibrationSet> collectCalibrationSequential(const Checkpoint& ckpt, const ModelInfo& info,
                                                    const ResolvedMap& resolved, const WeightLoadOptions& weightOptions,
                                                    std::span<const int> textTokens, int bos,
                                                    const CalibrationSettings& settings, const std::string& mapKey,
                                                    tbb::task_arena* arena, const ProgressFn& progress) {
    if (resolved.tensors.size() != ckpt.tensors.size())
        return Error{"calibration: the map was resolved for another checkpoint"};
    CalibrationSet set;
    QuantizedWeightMap quantized;
    if (auto s = quantizeLayer(ckpt, info, resolved, -1, set, quantized, arena); !s) return s.error();
    ProgressSink sink(progress);
    const int layers = int(info.hp.layers);
    const bool head = info.findKind(TensorKind::Output) >= 0;
    const int passes = layers + (head ? 1 : 0);
    int64_t chunks = 0;
    int seqLen = 0;
    for (int pass = 0; pass < passes; ++pass) {
        const int layer = pass < layers ? pass : -1;
        auto weights = loadModelWeights(ckpt, info, &quantized, weightOptions, arena);
        if (!weights) return weights.error();
        const ModelConfig& config = (*weights)->config;
        seqLen = int(std::min<int64_t>(settings.sequenceLength, config.context));
        auto planned = plannedChunks(config, textTokens, settings, seqLen);
        if (!planned) return planned.error();
        chunks = *planned;
        Accumulators acc = makeAccumulators(config, settings, layer);
        const std::string label = "calibrating " + (layer < 0 ? std::string("the head") : "block " + std::to_string(layer)) +
                                  " on the quantized blocks before it: ";
        if (auto s = runText(*weights, textTokens, chunks, seqLen, bos, settings.batch, acc, layer, arena, sink,
                             double(pass) / passes, double(pass + 1) / passes, label);
            !s)
            return s.error();
        if (auto s = assembleInto(set, ckpt, info, acc, config, layer); !s) return s.error();
        if (layer >= 0)
            if (auto s = quantizeLayer(ckpt, info, resolved, layer, set, quantized, arena); !s) return s.error();
    }
    setProvenance(set, settings, chunks, seqLen);
    set.provenance.settingsKey += ";sequential=" + mapKey;
    sink.report(1.0, "calibrated");
    return set;
}

CalibrationCache& CalibrationCache::instance() {
    static CalibrationCache cache;
    return cache;
}

std::shared_ptr<const CalibrationSet> CalibrationCache::find(const std::string& key) const {
    std::lock_guard lock(m_mutex);
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it)
        if (it->first == key) {
            std::rotate(it, it + 1, m_entries.end());  // the most recently used last
            return m_entries.back().second;
        }
    return nullptr;
}

void CalibrationCache::insert(const std::string& key, std::shared_ptr<const CalibrationSet> set) {
    std::lock_guard lock(m_mutex);
    std::erase_if(m_entries, [&](const auto& e) { return e.first == key; });
    m_entries.emplace_back(key, std::move(set));
    if (m_entries.size() > kMaxEntries) m_entries.erase(m_entries.begin());  // the least recently used
}

void CalibrationCache::clear() {
    std::lock_guard lock(m_mutex);
    m_entries.clear();
}

size_t CalibrationCache::size() const {
    std::lock_guard lock(m_mutex);
    return m_entries.size();
}

std::string CalibrationCache::keyOf(const CalibrationProvenance& p) {
    return p.key();
}

Result<CalibrationOutcome> calibrateModel(const InferenceModel& model, const CalibrationRequest& request,
                                          tbb::task_arena* arena, const ProgressFn& progress) {
    if (!model.checkpoint || !model.tokenizer || !model.weights)
        return Error{"calibration needs a loaded model with its tokenizer"};
    return calibrateModel(*model.checkpoint, model.info, *model.tokenizer, model.weights, request, arena, progress);
}

Result<CalibrationOutcome> calibrateModel(const Checkpoint& ckpt, const ModelInfo& info, const Tokenizer& tokenizer,
                                          std::shared_ptr<const ModelWeights> weights,
                                          const CalibrationRequest& request, tbb::task_arena* arena,
                                          const ProgressFn& progress) {
    if (!weights) return Error{"calibration needs the model's weights"};
    ProgressSink sink(progress);
    if (!sink.report(0.0, "fingerprinting the model")) return Error{std::string(kCancelledMessage)};
    auto modelPrint = checkpointFingerprint(ckpt, arena,
                                            [&](double f, std::string_view s) { return sink.report(0.05 * f, s); });
    if (!modelPrint) return modelPrint.error();
    CalibrationProvenance key;
    key.source = "engine";
    key.modelFingerprint = *modelPrint;
    key.textFingerprint = fnv1aHex(request.text);
    key.settingsKey = request.settings.key();
    if (request.sequential) key.settingsKey += ";sequential=" + request.mapKey;
    const std::string cacheKey = CalibrationCache::keyOf(key);
    CalibrationOutcome out;
    if (auto hit = CalibrationCache::instance().find(cacheKey)) {
        out.set = std::move(hit);
        out.cacheHit = true;
        sink.report(1.0, "calibration reused");
        return out;
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (!sink.report(0.05, "tokenizing the calibration text")) return Error{std::string(kCancelledMessage)};
    // With BOS first when the model takes one, as llama-imatrix tokenizes (common_tokenize with add_special):
    // chunk k then starts at the same text token as llama.cpp's (collect.h).
    const std::vector<int> tokens = tokenizer.encode(request.text, tokenizer.addsBos());
    const ProgressFn rest = [&](double f, std::string_view s) { return sink.report(0.1 + 0.9 * f, s); };
    auto set = request.sequential
                   ? collectCalibrationSequential(ckpt, info, *request.sequential, {}, tokens, tokenizer.bos(),
                                                  request.settings, request.mapKey, arena, rest)
                   : collectCalibration(ckpt, info, std::move(weights), tokens, tokenizer.bos(),
                                        request.settings, arena, rest);
    if (!set) return set.error();
    set->provenance.modelFingerprint = key.modelFingerprint;
    set->provenance.textFingerprint = key.textFingerprint;
    set->provenance.textSource = request.textSource;
    const int64_t asked = request.settings.tokens;
    if (asked > 0 && set->provenance.tokens < asked)
        out.warnings.push_back("calibration: " + request.textSource + " gave " + std::to_string(set->provenance.tokens) +
                               " tokens in whole sequences of " + std::to_string(set->provenance.sequenceLength) +
                               ", fewer than the " + std::to_string(asked) + " asked");
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.set = std::make_shared<const CalibrationSet>(std::move(*set));
    CalibrationCache::instance().insert(cacheKey, out.set);
    return out;
}

void addMapNeeds(CalibrationSettings& settings, const ResolvedMap& resolved, const ModelInfo& info) {
    std::set<int> hessianLayers;
    bool hessianHead = false, anyHessian = false;
    for (size_t i = 0; i < resolved.tensors.size() && i < info.entries.size(); ++i) {
        const TensorPlan& p = resolved.tensors[i];
        if (!p.quantized()) continue;
        auto scheme = findScheme(p.scheme);
        if (!scheme) continue;
        const CalibrationNeeds n = scheme->calibrationNeeds();
        settings.needs |= n;
        if (!hasAll(n, CalibrationNeeds::Hessian)) continue;
        anyHessian = true;
        if (info.entries[i].layer >= 0) hessianLayers.insert(info.entries[i].layer);
        else hessianHead = true;
    }
    if (!anyHessian) return;
    settings.hessianLayers.assign(hessianLayers.begin(), hessianLayers.end());
    settings.hessianHead = hessianHead;
    // Only the head: an empty list would mean every block.
    if (hessianLayers.empty()) settings.hessianLayers = {-1};
}

}  // namespace qs
