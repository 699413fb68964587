// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/model_info.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/model/declared_values.h"
#include "core/model/kind_index.h"
#include "core/model/tensor_naming.h"

namespace qs {

namespace {

constexpr std::string_view kRoleNames[kRoleCount] = {"embedding", "head", "attention", "mlp", "norm", "other"};

int64_t jsonInt(const nlohmann::json& j, std::string_view key, int64_t fallback = 0) {
    if (!j.is_object()) return fallback;
    auto it = j.find(std::string(key));
    if (it == j.end()) return fallback;
    if (it->is_number_integer() || it->is_number_unsigned()) return it->get<int64_t>();
    if (it->is_number_float()) return int64_t(it->get<double>());
    return fallback;
}

double jsonDouble(const nlohmann::json& j, std::string_view key, double fallback) {
    if (!j.is_object()) return fallback;
    auto it = j.find(std::string(key));
    if (it == j.end() || !it->is_number()) return fallback;
    return it->get<double>();
}

std::string jsonString(const nlohmann::json& j, std::string_view key) {
    if (!j.is_object()) return {};
    auto it = j.find(std::string(key));
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string lowerCopy(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Architectures whose GGUF files use llama.cpp's NEOX (rotate-half) RoPE; llama and mistral use adjacent pairs.
bool ggufArchRotatesHalves(const std::string& arch) {
    static const std::set<std::string> kNeox = {"qwen2", "qwen2moe", "qwen3", "qwen3moe", "gemma", "gemma2",
                                                "gemma3", "phi2", "phi3", "stablelm", "gptneox", "falcon",
                                                "olmo2", "starcoder2", "internlm2", "deepseek2"};
    return kNeox.count(arch) > 0;
}

// config.json tie_word_embeddings; a value that is not a boolean is reported by checkDeclaredValues.
bool declaresTied(const nlohmann::json& cfg) {
    if (!cfg.is_object()) return false;
    auto it = cfg.find("tie_word_embeddings");
    return it != cfg.end() && it->is_boolean() && it->get<bool>();
}

void readLlama2cHeader(const Checkpoint& c, ModelInfo& m) {
    const auto& md = c.metadata;
    m.architecture = "llama";
    m.source = "llama2.c header";
    m.hp.dim = jsonInt(md, "dim");
    m.hp.hidden = jsonInt(md, "hidden_dim");
    m.hp.layers = jsonInt(md, "n_layers");
    m.hp.heads = jsonInt(md, "n_heads");
    m.hp.kvHeads = jsonInt(md, "n_kv_heads", m.hp.heads);
    m.hp.vocab = jsonInt(md, "vocab_size");
    m.hp.context = jsonInt(md, "seq_len");
    m.rope = RopeLayout::AdjacentPairs;  // llama2.c's run.c rotates (x[i], x[i+1]) pairs
}

void readGgufMetadata(const Checkpoint& c, ModelInfo& m) {
    const auto& md = c.metadata;
    std::string arch = jsonString(md, "general.architecture");
    m.architecture = arch.empty() ? "unknown" : arch;
    m.source = "gguf general.architecture";
    auto key = [&](const char* k) { return arch + "." + k; };
    m.hp.dim = jsonInt(md, key("embedding_length"));
    m.hp.hidden = jsonInt(md, key("feed_forward_length"));
    m.hp.layers = jsonInt(md, key("block_count"));
    m.hp.heads = jsonInt(md, key("attention.head_count"));
    m.hp.kvHeads = jsonInt(md, key("attention.head_count_kv"), m.hp.heads);
    m.hp.context = jsonInt(md, key("context_length"));
    m.hp.ropeTheta = jsonDouble(md, key("rope.freq_base"), 10000.0);
    m.hp.normEps = jsonDouble(md, key("attention.layer_norm_rms_epsilon"), 1e-5);
    m.hp.headDim = jsonInt(md, key("attention.key_length"), 0);
    if (auto it = md.find("tokenizer.ggml.tokens"); it != md.end() && it->is_array())
        m.hp.vocab = int64_t(it->size());
    m.hp.vocab = jsonInt(md, key("vocab_size"), m.hp.vocab);
    m.rope = ggufArchRotatesHalves(arch) ? RopeLayout::RotateHalf : RopeLayout::AdjacentPairs;
}

void readHfConfig(const nlohmann::json& cfg, ModelInfo& m) {
    std::string type = lowerCopy(jsonString(cfg, "model_type"));
    std::string cls;
    if (auto it = cfg.find("architectures"); it != cfg.end() && it->is_array() && !it->empty() &&
                                              (*it)[0].is_string())
        cls = (*it)[0].get<std::string>();
    m.architecture = !type.empty() ? type : cls.empty() ? "unknown" : lowerCopy(cls);
    m.source = type.empty() ? "config.json architectures" : "config.json model_type";
    // Gemma 3's text-only checkpoints say gemma3_text; the multimodal ones gemma3 with a text_config.
    if (m.architecture == "gemma3_text") m.architecture = "gemma3";
    const nlohmann::json& tc = cfg.contains("text_config") && cfg["text_config"].is_object() ? cfg["text_config"] : cfg;
    m.hp.dim = jsonInt(tc, "hidden_size");
    m.hp.hidden = jsonInt(tc, "intermediate_size");
    m.hp.layers = jsonInt(tc, "num_hidden_layers");
    m.hp.heads = jsonInt(tc, "num_attention_heads");
    m.hp.kvHeads = jsonInt(tc, "num_key_value_heads", m.hp.heads);
    m.hp.vocab = jsonInt(tc, "vocab_size");
    m.hp.context = jsonInt(tc, "max_position_embeddings");
    m.hp.ropeTheta = jsonDouble(tc, "rope_theta", 10000.0);
    m.hp.normEps = jsonDouble(tc, "rms_norm_eps", 1e-5);
    m.hp.headDim = jsonInt(tc, "head_dim", 0);
    // The config classes' defaults when the key is absent (GemmaConfig and its successors: 256; Qwen3: 128).
    if (!tc.contains("head_dim") && m.architecture.rfind("gemma", 0) == 0) m.hp.headDim = 256;
    if (!tc.contains("head_dim") && m.architecture == "qwen3") m.hp.headDim = 128;
    // Hugging Face Llama-family modelling code applies RoPE with rotate_half.
    m.rope = RopeLayout::RotateHalf;
}

// Fills hyperparameters the file did not state from tensor shapes.
void inferFromShapes(const Checkpoint& c, ModelInfo& m) {
    int emb = m.findKind(TensorKind::TokenEmbedding);
    if (emb >= 0 && c.tensors[emb].shape.size() == 2) {
        if (!m.hp.vocab) m.hp.vocab = c.tensors[emb].shape[0];
        if (!m.hp.dim) m.hp.dim = c.tensors[emb].shape[1];
    }
    int maxLayer = -1;
    for (const auto& e : m.entries) maxLayer = std::max(maxLayer, e.layer);
    if (!m.hp.layers && maxLayer >= 0) m.hp.layers = maxLayer + 1;
    int gate = m.findKind(TensorKind::Gate, 0);
    if (!m.hp.hidden && gate >= 0 && c.tensors[gate].shape.size() == 2) m.hp.hidden = c.tensors[gate].shape[0];
    if (!m.hp.headDim && m.hp.heads > 0 && m.hp.dim % m.hp.heads == 0) m.hp.headDim = m.hp.dim / m.hp.heads;
}

bool sameBytes(const Checkpoint& c, int a, int b, bool& fully) {
    const TensorInfo& ta = c.tensors[a];
    const TensorInfo& tb = c.tensors[b];
    fully = true;
    if (ta.dtype != tb.dtype || ta.shape != tb.shape || ta.bytes != tb.bytes) return false;
    auto da = c.data(size_t(a));
    auto db = c.data(size_t(b));
    if (!da || !db) return false;
    const auto& x = da->bytes;
    const auto& y = db->bytes;
    if (x.size() != y.size()) return false;
    // Up to 64 MiB is compared completely; beyond that 256 spread 4 KiB windows, so that opening a
    // multi-GB checkpoint stays fast. An untied pair differs in the first window in practice.
    constexpr size_t kFullLimit = size_t(64) << 20;
    if (x.size() <= kFullLimit) return std::memcmp(x.data(), y.data(), x.size()) == 0;
    fully = false;
    constexpr size_t kWindow = 4096, kWindows = 256;
    for (size_t w = 0; w < kWindows; ++w) {
        size_t at = (x.size() - kWindow) / (kWindows - 1) * w;
        if (std::memcmp(x.data() + at, y.data() + at, kWindow) != 0) return false;
    }
    return true;
}

void detectTie(const Checkpoint& c, ModelInfo& m) {
    int emb = m.findKind(TensorKind::TokenEmbedding);
    if (emb < 0) return;
    int head = m.findKind(TensorKind::Output);
    TieInfo t;
    t.embedding = emb;
    t.head = head;
    if (c.format == FileFormat::Llama2c) {
        if ((c.metadata.contains("shared_classifier") && c.metadata["shared_classifier"].is_boolean() && c.metadata["shared_classifier"].get<bool>())) {
            t.kind = TieInfo::Kind::Declared;
            m.tie = t;
        }
        return;
    }
    if (head < 0) {
        // A config that says untied but stores no head: transformers would initialise a random head. Not a
        // tie; checkRunnable refuses it by name.
        if (c.config.is_object() && c.config.contains("tie_word_embeddings") &&
            c.config["tie_word_embeddings"].is_boolean() && !c.config["tie_word_embeddings"].get<bool>())
            return;
        // No head stored: every supported runtime (llama.cpp, transformers) then uses the embedding.
        t.kind = c.config.is_object() && declaresTied(c.config) ? TieInfo::Kind::Declared
                                                                                       : TieInfo::Kind::HeadAbsent;
        m.tie = t;
        return;
    }
    bool fully = true;
    if (sameBytes(c, emb, head, fully)) {
        t.kind = TieInfo::Kind::SameBytes;
        t.verifiedFully = fully;
        m.tie = t;
        m.entries[size_t(head)].tiedTo = emb;
        return;
    }
    if (c.config.is_object() && declaresTied(c.config)) {
        // Declared tied, but a head is stored too: transformers ties them on load, so the stored head is unused.
        t.kind = TieInfo::Kind::Declared;
        m.tie = t;
        m.entries[size_t(head)].tiedTo = emb;
        m.warnings.push_back("config.json declares tie_word_embeddings, but " + c.tensors[head].name +
                             " is stored with different values; it is ignored by transformers and counted as tied");
    }
}

// Reads the ArchSpec from the declaration (config.json / GGUF keys) and lists what is not implemented.
void readArchSpec(const Checkpoint& c, ModelInfo& m) {
    const HyperparametersView hv{m.hp.dim, m.hp.layers, m.hp.heads, m.hp.headDim, m.hp.context};
    if (c.format == FileFormat::Gguf) {
        if (!ggufArchitectureImplemented(m.architecture)) {
            m.unsupported.push_back({"architecture '" + m.architecture + "'", "gguf general.architecture"});
            return;
        }
        m.arch = readGgufArchSpec(c.metadata, m.architecture, hv, m.unsupported);
        // llama.cpp declares attention/MLP biases of llama-type GGUFs by their presence (TENSOR_NOT_REQUIRED);
        // qwen2 requires q/k/v biases.
        auto has = [&](TensorKind k) { return m.findKind(k, 0) >= 0; };
        m.arch.qkvBias = m.architecture == "qwen2" || (m.architecture == "llama" && has(TensorKind::BiasQ));
        m.arch.outBias = m.architecture == "llama" && has(TensorKind::BiasO);
        m.arch.mlpBias = m.architecture == "llama" && has(TensorKind::BiasGate);
        m.arch.ropeFreqFactors = m.architecture == "llama" && m.findKind(TensorKind::RopeFreqs) >= 0;
        return;
    }
    if (c.format == FileFormat::Safetensors && m.source.rfind("config.json", 0) == 0) {
        if (!hfArchitectureImplemented(m.architecture)) {
            m.unsupported.push_back({"architecture '" + m.architecture + "'", m.source});
            return;
        }
        const nlohmann::json& cfg = c.config;
        const nlohmann::json& tc =
            cfg.contains("text_config") && cfg["text_config"].is_object() ? cfg["text_config"] : cfg;
        m.arch = readHfArchSpec(cfg, tc, m.architecture, hv, m.unsupported);
        if (m.architecture == "gemma2" || m.architecture == "gemma3") {
            // Gemma 2/3's post_attention_layernorm normalises the attention output; the MLP input norm is
            // pre_feedforward_layernorm (transformers Gemma2DecoderLayer).
            for (size_t i = 0; i < m.entries.size(); ++i) {
                const std::string& n = c.tensors[i].name;
                const std::string suffix = "post_attention_layernorm.weight";
                if (m.entries[i].kind == TensorKind::FfnNorm && n.size() >= suffix.size() &&
                    n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
                    m.entries[i].kind = TensorKind::PostAttnNorm;
            }
        }
        return;
    }
    if (m.architecture != "llama") m.unsupported.push_back({"architecture '" + m.architecture + "'", m.source});
}

bool isBiasKind(TensorKind k) {
    return k == TensorKind::BiasQ || k == TensorKind::BiasK || k == TensorKind::BiasV || k == TensorKind::BiasO ||
           k == TensorKind::BiasGate || k == TensorKind::BiasUp || k == TensorKind::BiasDown;
}

// The tensor kinds each layer needs under the spec.
std::vector<TensorKind> layerKinds(const ArchSpec& a) {
    std::vector<TensorKind> k = {TensorKind::AttnNorm, TensorKind::Wq,   TensorKind::Wk,   TensorKind::Wv, TensorKind::Wo,
                                 TensorKind::FfnNorm,  TensorKind::Gate, TensorKind::Down, TensorKind::Up};
    if (a.qkvBias) k.insert(k.end(), {TensorKind::BiasQ, TensorKind::BiasK, TensorKind::BiasV});
    if (a.outBias) k.push_back(TensorKind::BiasO);
    if (a.mlpBias) k.insert(k.end(), {TensorKind::BiasGate, TensorKind::BiasUp, TensorKind::BiasDown});
    if (a.qkNorm) k.insert(k.end(), {TensorKind::QNorm, TensorKind::KNorm});
    if (a.postNorms) k.insert(k.end(), {TensorKind::PostAttnNorm, TensorKind::PostFfnNorm});
    return k;
}

// The tensors missing from the layers [0, m.hp.layers). Layers without any tensor are named as ranges, so the
// work and the list follow the tensors present, not the count: a declared count of 2^32, or one tensor NAMED
// "layers.999999999" (the count inferred from names), must not become a scan of a billion layers. At most 5
// ranges are named; the layers that have tensors are checked kind by kind: at most 16 absent weights named,
// absent biases counted (they count as zero). Work: O(entries x kinds x log entries).
struct MissingInLayers {
    std::vector<std::string> ranges, weights;
    int absentBiases = 0;
};

MissingInLayers missingLayerTensors(const ModelInfo& m, const std::vector<TensorKind>& kinds, const KindIndex& index) {
    MissingInLayers out;
    std::vector<std::string>& ranges = out.ranges;
    std::vector<std::string>& tensors = out.weights;
    std::vector<int64_t> present;
    for (const TensorEntry& e : m.entries)
        if (e.layer >= 0 && e.layer < m.hp.layers) present.push_back(e.layer);
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    size_t moreRanges = 0;
    auto gap = [&](int64_t from, int64_t to) {
        if (ranges.size() >= 4) return void(++moreRanges);
        ranges.push_back(from == to ? "every tensor of layer " + std::to_string(from)
                                    : "every tensor of layers " + std::to_string(from) + " to " + std::to_string(to));
    };
    int64_t next = 0;  // the first layer not yet accounted for
    for (int64_t l : present) {
        if (l > next) gap(next, l - 1);
        next = l + 1;
        for (TensorKind k : kinds) {
            if (index.find(k, int(l)) >= 0) continue;
            // transformers initialises a declared bias the checkpoint lacks to zero (_init_weights), and
            // llama.cpp's biases are optional: an absent bias adds nothing. Absent weights are missing.
            if (isBiasKind(k)) ++out.absentBiases;
            else if (tensors.size() < 16) tensors.push_back(std::string(tensorKindName(k)) + "[" + std::to_string(l) + "]");
        }
    }
    if (m.hp.layers > next) {
        gap(next, m.hp.layers - 1);
        if (moreRanges == 0)
            ranges.back() += " (" + std::to_string(m.hp.layers) + " declared, tensors for " +
                             std::to_string(present.size()) + ")";
    }
    if (moreRanges) ranges.push_back("every tensor of " + std::to_string(moreRanges) + " more ranges of layers");
    return out;
}

void checkRunnable(const Checkpoint& c, ModelInfo& m) {
    std::vector<std::string> missing;
    if (m.unsupported.empty()) {
        for (TensorKind k : {TensorKind::TokenEmbedding, TensorKind::FinalNorm})
            if (m.findKind(k) < 0) missing.push_back(std::string(tensorKindName(k)));
        const bool untiedNoHead = m.findKind(TensorKind::Output) < 0 && !m.tie;
        if (untiedNoHead && c.config.is_object() && c.config.contains("tie_word_embeddings"))
            m.unsupported.push_back({"an untied output head (tie_word_embeddings is false) but no head tensor "
                                     "(lm_head.weight) in the checkpoint",
                                     "config.json tie_word_embeddings"});
        else if (untiedNoHead)
            missing.push_back("output");
        const std::vector<TensorKind> kinds = layerKinds(m.arch);
        const KindIndex index(m);
        const MissingInLayers gaps = missingLayerTensors(m, kinds, index);
        missing.insert(missing.begin(), gaps.ranges.begin(), gaps.ranges.end());
        missing.insert(missing.end(), gaps.weights.begin(), gaps.weights.end());
        const int absentBiases = gaps.absentBiases;
        if (absentBiases)
            m.warnings.push_back(std::to_string(absentBiases) + " declared bias tensors are absent from the checkpoint "
                                 "and count as zero (as transformers initialises them)");
        // A known tensor the declared architecture does not use would be dropped silently: refuse it.
        for (size_t i = 0; i < m.entries.size(); ++i) {
            const TensorEntry& e = m.entries[i];
            const bool used = e.kind == TensorKind::Unknown || e.kind == TensorKind::RopeTable ||
                              e.layer < 0 || std::find(kinds.begin(), kinds.end(), e.kind) != kinds.end();
            if (!used) {
                m.unsupported.push_back({"tensor '" + c.tensors[i].name + "' (" + std::string(tensorKindName(e.kind)) +
                                             "), which " + m.architecture + " as declared does not use",
                                         m.source});
                break;
            }
        }
        if (m.findKind(TensorKind::RopeFreqs) >= 0 && !m.arch.ropeFreqFactors)
            m.unsupported.push_back({"RoPE frequency factors (rope_freqs.weight) for " + m.architecture, m.source});
    }
    if (m.hp.layers <= 0) missing.push_back("the layer count");
    if (m.hp.dim <= 0) missing.push_back("the hidden size");
    if (m.hp.heads <= 0 || m.hp.kvHeads <= 0)
        missing.push_back("the attention head counts");
    else if (m.hp.heads % m.hp.kvHeads)
        missing.push_back(std::to_string(m.hp.heads) + " query heads as a multiple of the " +
                          std::to_string(m.hp.kvHeads) + " key/value heads");
    if (!m.invalid.empty()) {
        m.runnableReason = "invalid declaration: " + m.invalid.front().describe();
        if (m.invalid.size() > 1) m.runnableReason += " (and " + std::to_string(m.invalid.size() - 1) + " more)";
    } else if (!m.unsupported.empty()) {
        m.runnableReason = "not implemented: " + m.unsupported.front().describe();
        if (m.unsupported.size() > 1)
            m.runnableReason += " (and " + std::to_string(m.unsupported.size() - 1) + " more: " +
                                m.unsupported[1].describe() + (m.unsupported.size() > 2 ? ", ..." : "") + ")";
    } else if (!missing.empty()) {
        std::string list;
        for (size_t i = 0; i < missing.size() && i < 6; ++i) list += (i ? ", " : "") + missing[i];
        if (missing.size() > 6) list += ", ...";
        m.runnableReason = "missing tensors or hyperparameters for " + m.architecture + ": " + list;
    }
    m.runnable = m.runnableReason.empty();
    m.llamaFamily = m.runnable;
    if (!m.runnable) m.warnings.push_back("not runnable: " + m.runnableReason);
}

}  // namespace

std::string_view roleName(Role r) { return kRoleNames[int(r)]; }

std::optional<Role> roleFromName(std::string_view s) {
    for (int i = 0; i < kRoleCount; ++i)
        if (kRoleNames[i] == s) return Role(i);
    return std::nullopt;
}

std::string_view tensorKindName(TensorKind k) {
    switch (k) {
        case TensorKind::Unknown: return "unknown";
        case TensorKind::TokenEmbedding: return "token_embedding";
        case TensorKind::Output: return "output";
        case TensorKind::FinalNorm: return "final_norm";
        case TensorKind::AttnNorm: return "attn_norm";
        case TensorKind::Wq: return "wq";
        case TensorKind::Wk: return "wk";
        case TensorKind::Wv: return "wv";
        case TensorKind::Wo: return "wo";
        case TensorKind::FfnNorm: return "ffn_norm";
        case TensorKind::Gate: return "w1_gate";
        case TensorKind::Down: return "w2_down";
        case TensorKind::Up: return "w3_up";
        case TensorKind::RopeTable: return "rope_table";
        case TensorKind::BiasQ: return "bq";
        case TensorKind::BiasK: return "bk";
        case TensorKind::BiasV: return "bv";
        case TensorKind::BiasO: return "bo";
        case TensorKind::BiasGate: return "b1_gate";
        case TensorKind::BiasUp: return "b3_up";
        case TensorKind::BiasDown: return "b2_down";
        case TensorKind::QNorm: return "q_norm";
        case TensorKind::KNorm: return "k_norm";
        case TensorKind::PostAttnNorm: return "post_attn_norm";
        case TensorKind::PostFfnNorm: return "post_ffn_norm";
        case TensorKind::RopeFreqs: return "rope_freqs";
    }
    return "unknown";
}

std::string TieInfo::describe() const {
    switch (kind) {
        case Kind::Declared: return "declared tied (head shares the embedding)";
        case Kind::HeadAbsent: return "tied: no head stored, the embedding is used as the head";
        case Kind::SameBytes:
            return verifiedFully ? "tied: the head is stored as a byte-identical copy of the embedding"
                                 : "tied: the head is stored as a copy of the embedding (sampled comparison)";
    }
    return {};
}

uint64_t Footprint::body() const { return byRole[int(Role::Attention)] + byRole[int(Role::Mlp)]; }

int ModelInfo::findKind(TensorKind kind, int layer) const {
    for (size_t i = 0; i < entries.size(); ++i)
        if (entries[i].kind == kind && entries[i].layer == layer) return int(i);
    return -1;
}

ModelInfo analyzeModel(const Checkpoint& c) {
    ModelInfo m;
    m.entries.resize(c.tensors.size());
    for (size_t i = 0; i < c.tensors.size(); ++i) {
        const TensorInfo& t = c.tensors[i];
        NameClass nc = classifyTensorName(t.name, int(t.shape.size()));
        TensorEntry& e = m.entries[i];
        e.role = nc.role;
        e.layer = nc.layer;
        e.kind = nc.kind;
        e.isParameter = nc.kind != TensorKind::RopeTable && nc.kind != TensorKind::RopeFreqs;
    }

    switch (c.format) {
        case FileFormat::Llama2c: readLlama2cHeader(c, m); break;
        case FileFormat::Gguf: readGgufMetadata(c, m); break;
        case FileFormat::Safetensors:
        case FileFormat::Hdf5:
            if (c.config.is_object()) {
                readHfConfig(c.config, m);
            } else if (c.metadata.contains("keras_version")) {
                m.architecture = "keras";
                m.source = "HDF5 attributes (keras_version)";
            } else {
                bool anyKind = std::any_of(m.entries.begin(), m.entries.end(),
                                           [](const TensorEntry& e) { return e.kind != TensorKind::Unknown; });
                m.architecture = anyKind ? "llama" : "unknown";
                m.source = "tensor names";
                m.rope = RopeLayout::RotateHalf;
                if (anyKind) m.warnings.push_back("no usable config.json beside the checkpoint: architecture and RoPE "
                                                  "layout guessed from tensor names");
            }
            break;
    }
    for (const char* a : {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3"})
        if (m.architecture == std::string(a) + "forcausallm") m.architecture = a;
    inferFromShapes(c, m);
    detectTie(c, m);
    readArchSpec(c, m);
    {
        std::vector<int> layers;
        layers.reserve(m.entries.size());
        for (const TensorEntry& e : m.entries) layers.push_back(e.layer);
        m.invalid = checkDeclaredValues(c, m.architecture, m.hp.layers, layers, m.unsupported);
        // First: a wrong width makes every derived size (head_dim, RoPE dimensions) wrong too.
        if (auto w = checkDeclaredWidth(c, m.architecture, m.findKind(TensorKind::TokenEmbedding)))
            m.invalid.insert(m.invalid.begin(), *w);
    }
    checkRunnable(c, m);

    for (size_t i = 0; i < c.tensors.size(); ++i) {
        const TensorEntry& e = m.entries[i];
        const TensorInfo& t = c.tensors[i];
        if (e.tiedTo >= 0) {
            m.footprint.tiedHeadBytes += t.bytes;
            continue;
        }
        m.footprint.byRole[int(e.role)] += t.bytes;
        m.footprint.total += t.bytes;
        if (e.isParameter) m.parameters += t.elements();
    }
    if (m.tie && m.tie->head < 0) m.footprint.tiedHeadBytes = c.tensors[size_t(m.tie->embedding)].bytes;

    size_t unknown = 0;
    for (const auto& e : m.entries) unknown += e.role == Role::Other && e.isParameter;
    if (unknown && m.llamaFamily)
        m.warnings.push_back(std::to_string(unknown) + " tensors have no known role and are counted as other");
    return m;
}

}  // namespace qs
