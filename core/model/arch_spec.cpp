// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/arch_spec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

namespace qs {

namespace {

using nlohmann::json;

// A declared value that changes nothing: absent, null, false, 0, "" or an empty container.
bool trivial(const json& v) {
    if (v.is_null()) return true;
    if (v.is_boolean()) return !v.get<bool>();
    if (v.is_number()) return v.get<double>() == 0.0;
    if (v.is_string()) return v.get<std::string>().empty();
    return v.empty();
}

const json* find(const json& j, const std::string& key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

std::optional<double> number(const json& j, const std::string& key) {
    const json* v = find(j, key);
    if (!v || !v->is_number()) return std::nullopt;
    return v->get<double>();
}

std::string text(const json& j, const std::string& key) {
    const json* v = find(j, key);
    return v && v->is_string() ? v->get<std::string>() : std::string{};
}

// A count read from a double, clamped so that the conversion is always defined (absurd values then fail the
// plausibility checks downstream instead of overflowing).
int64_t toCount(double x) {
    if (!(x > 0)) return 0;
    return x >= 1e15 ? int64_t(1e15) : int64_t(x);
}

std::string valueText(const json& v) {
    std::string s = v.dump();
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// Keys of a Hugging Face config that do not change the forward pass (bookkeeping, training, generation).
const std::set<std::string>& benignHfKeys() {
    static const std::set<std::string> k = {
        "architectures", "model_type", "_name_or_path", "auto_map", "torch_dtype", "dtype", "transformers_version",
        "bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id", "sep_token_id", "decoder_start_token_id",
        "initializer_range", "initializer_factor", "use_cache", "attention_dropout", "hidden_dropout",
        "embd_pdrop", "resid_pdrop", "pretraining_tp", "vocab_size", "hidden_size", "intermediate_size",
        "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
        "rms_norm_eps", "rope_theta", "tie_word_embeddings", "cache_implementation", "output_attentions",
        "output_hidden_states", "return_dict", "torchscript", "id2label", "label2id", "problem_type",
        "finetuning_task", "tokenizer_class", "prefix", "task_specific_params", "max_length", "min_length",
        "do_sample", "early_stopping", "num_beams", "temperature", "top_k", "top_p", "repetition_penalty",
        "length_penalty", "no_repeat_ngram_size", "bad_words_ids", "num_return_sequences", "chunk_size_feed_forward",
        "is_decoder", "is_encoder_decoder", "add_cross_attention", "tie_encoder_decoder", "pruned_heads",
        "_attn_implementation_autoset", "attn_implementation", "_attn_implementation", "head_dim",
        "vision_config", "text_config", "mm_tokens_per_image", "boi_token_index", "eoi_token_index",
        "image_token_index", "image_token_id", "boi_token_id", "eoi_token_id", "use_return_dict",
        "gradient_checkpointing", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
        "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
        "begin_suppress_tokens", "typical_p", "diversity_penalty", "num_beam_groups", "encoder_no_repeat_ngram_size",
        "tf_legacy_loss", "use_bfloat16", "cross_attention_hidden_size", "max_new_tokens"};
    return k;
}

struct HfReader {
    const json& tc;
    const std::string& arch;
    const HyperparametersView& hp;
    std::vector<Unsupported>& out;
    std::set<std::string> handled;

    void refuse(std::string feature, std::string key) { out.push_back({std::move(feature), std::move(key)}); }
    const json* get(const std::string& key) {
        handled.insert(key);
        return find(tc, key);
    }
    bool flag(const std::string& key) {
        const json* v = get(key);
        return v && v->is_boolean() && v->get<bool>();
    }
};

void readRopeScalingHf(HfReader& r, RopeScaling& s) {
    s.maxPositionEmbeddings = r.hp.context;
    const json* rs = r.get("rope_scaling");
    r.handled.insert("rope_parameters");
    if (const json* rp = find(r.tc, "rope_parameters"); rp && !rp->is_null())
        r.refuse("rope_parameters (the transformers v5 form of rope_scaling)", "config.json rope_parameters");
    if (!rs || rs->is_null()) return;
    s.source = "config.json rope_scaling";
    if (!rs->is_object()) {
        r.refuse("rope_scaling that is not an object", "config.json rope_scaling = " + valueText(*rs));
        return;
    }
    std::string type = text(*rs, "rope_type");
    if (type.empty()) type = text(*rs, "type");
    static const std::map<std::string, std::pair<RopeScalingType, std::set<std::string>>> kTypes = {
        {"default", {RopeScalingType::None, {}}},
        {"linear", {RopeScalingType::Linear, {"factor"}}},
        {"dynamic", {RopeScalingType::Dynamic, {"factor", "original_max_position_embeddings"}}},
        {"llama3", {RopeScalingType::Llama3,
                    {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}}},
        {"yarn", {RopeScalingType::Yarn, {"factor", "attention_factor", "beta_fast", "beta_slow", "mscale",
                                          "mscale_all_dim", "original_max_position_embeddings", "truncate"}}},
    };
    auto t = kTypes.find(type);
    if (t == kTypes.end()) {
        r.refuse("RoPE scaling type '" + type + "'", "config.json rope_scaling.rope_type");
        return;
    }
    s.type = t->second.first;
    for (const auto& [k, v] : rs->items()) {
        if (k == "rope_type" || k == "type" || t->second.second.count(k)) continue;
        if (!trivial(v)) r.refuse("rope_scaling parameter '" + k + "' for type " + type, "config.json rope_scaling." + k);
    }
    if (s.type == RopeScalingType::None) return;
    auto f = number(*rs, "factor");
    if (!f || *f < 1.0) {
        r.refuse("rope_scaling without a factor >= 1", "config.json rope_scaling.factor");
        return;
    }
    s.factor = *f;
    s.lowFreqFactor = number(*rs, "low_freq_factor").value_or(1.0);
    s.highFreqFactor = number(*rs, "high_freq_factor").value_or(4.0);
    s.originalContext = toCount(number(*rs, "original_max_position_embeddings").value_or(0.0));
    s.attentionFactor = number(*rs, "attention_factor");
    s.mscale = number(*rs, "mscale");
    s.mscaleAllDim = number(*rs, "mscale_all_dim");
    if (auto b = number(*rs, "beta_fast"); b && *b != 0) s.betaFast = *b;
    if (auto b = number(*rs, "beta_slow"); b && *b != 0) s.betaSlow = *b;
    if (const json* tr = find(*rs, "truncate"); tr && tr->is_boolean()) s.truncate = tr->get<bool>();
    if (s.type == RopeScalingType::Llama3 &&
        (s.originalContext <= 0 || s.highFreqFactor <= s.lowFreqFactor || s.lowFreqFactor <= 0))
        r.refuse("llama3 RoPE scaling with inconsistent parameters (original_max_position_embeddings, "
                 "low/high_freq_factor)",
                 "config.json rope_scaling");
}


// Features no implemented architecture has, refused by name whatever the model_type.
void refuseForeignFeatures(HfReader& r) {
    for (const char* k : {"num_experts", "num_local_experts", "n_routed_experts", "num_experts_per_tok",
                          "moe_intermediate_size", "n_shared_experts", "shared_expert_intermediate_size"})
        if (const json* v = r.get(k); v && !trivial(*v))
            r.refuse("mixture-of-experts layers", std::string("config.json ") + k + " = " + valueText(*v));
    for (const char* k : {"hidden_size_per_layer_input", "vocab_size_per_layer_input"})
        if (const json* v = r.get(k); v && !trivial(*v))
            r.refuse("per-layer embeddings (Gemma 3n style)", std::string("config.json ") + k + " = " + valueText(*v));
    if (const json* v = r.get("partial_rotary_factor"); v && v->is_number() && v->get<double>() != 1.0)
        r.refuse("partial rotary embeddings", "config.json partial_rotary_factor = " + valueText(*v));
    if (const json* v = r.get("quantization_config"); v && !trivial(*v))
        r.refuse("pre-quantized weights", "config.json quantization_config");
    if (const json* v = r.get("use_bidirectional_attention"); v && !trivial(*v))
        r.refuse("bidirectional (non-causal) attention", "config.json use_bidirectional_attention");
}

// The activation of the gated MLP: transformers' ACT2FN names.
void readActivation(HfReader& r, ArchSpec& s, bool gemma) {
    if (!gemma) {
        const json* v = r.get("hidden_act");
        std::string act = v && v->is_string() ? v->get<std::string>() : "silu";
        if (act == "silu" || act == "swish") s.activation = Activation::Silu;
        else r.refuse("MLP activation '" + act + "'", "config.json hidden_act");
        return;
    }
    // Gemma's modelling code reads hidden_activation; Gemma 1 falls back to the tanh GELU when it is null,
    // whatever hidden_act says (transformers GemmaMLP).
    r.get("hidden_act");
    const json* v = r.get("hidden_activation");
    std::string act = v && v->is_string() ? v->get<std::string>() : "gelu_pytorch_tanh";
    if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast") s.activation = Activation::GeluTanh;
    else r.refuse("MLP activation '" + act + "'", "config.json hidden_activation");
}

// Per-layer attention types from layer_types ("sliding_attention" / "full_attention").
bool readLayerTypes(HfReader& r, ArchSpec& s) {
    const json* lt = r.get("layer_types");
    if (!lt || lt->is_null()) return false;
    if (!lt->is_array() || int64_t(lt->size()) != r.hp.layers) {
        r.refuse("layer_types that do not list every layer", "config.json layer_types");
        return true;
    }
    s.slidingLayers.assign(size_t(r.hp.layers), false);
    for (size_t i = 0; i < lt->size(); ++i) {
        std::string t = (*lt)[i].is_string() ? (*lt)[i].get<std::string>() : "";
        if (t == "sliding_attention") s.slidingLayers[i] = true;
        else if (t != "full_attention") r.refuse("attention layer type '" + t + "'", "config.json layer_types");
    }
    return true;
}

int64_t positiveInt(HfReader& r, const std::string& key, int64_t fallback) {
    const json* v = r.get(key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_number() || v->get<double>() <= 0) {
        r.refuse(key + " that is not a positive number", "config.json " + key + " = " + valueText(*v));
        return 0;
    }
    return toCount(v->get<double>());
}

void readSlidingHf(HfReader& r, ArchSpec& s) {
    const std::string& a = r.arch;
    if (r.hp.layers <= 0 || r.hp.layers > (int64_t(1) << 20)) return;  // implausible: refused by the loader
    if (a == "mistral") {
        int64_t w = positiveInt(r, "sliding_window", 0);
        if (w > 0) {
            s.slidingWindow = w;
            s.slidingLayers.assign(size_t(r.hp.layers), true);
        }
    } else if (a == "qwen2" || a == "qwen3") {
        // transformers Qwen2Config: sliding_window applies only with use_sliding_window, to the layers from
        // max_window_layers on (or as layer_types says).
        const bool use = r.flag("use_sliding_window");
        const int64_t w = positiveInt(r, "sliding_window", 0);
        const int64_t from = positiveInt(r, "max_window_layers", r.hp.layers);
        if (!readLayerTypes(r, s) && use && w > 0) {
            s.slidingLayers.assign(size_t(r.hp.layers), false);
            for (int64_t i = from; i < r.hp.layers; ++i) s.slidingLayers[size_t(i)] = true;
        }
        if (!use) s.slidingLayers.clear();
        s.slidingWindow = use ? w : 0;
    } else if (a == "gemma2" || a == "gemma3") {
        s.slidingWindow = positiveInt(r, "sliding_window", 4096);
        if (!readLayerTypes(r, s)) {
            // Gemma 2 alternates, local first; Gemma 3 has one global layer every sliding_window_pattern.
            const int64_t pattern = a == "gemma2" ? 2 : positiveInt(r, "sliding_window_pattern", 6);
            s.slidingLayers.assign(size_t(r.hp.layers), false);
            for (int64_t i = 0; i < r.hp.layers && pattern > 0; ++i) s.slidingLayers[size_t(i)] = (i + 1) % pattern != 0;
        }
        r.handled.insert("sliding_window_pattern");
        // Stray duplicates real configs carry and transformers ignores (gemma-2 sliding_window_size, gemma-3
        // _sliding_window_pattern): refused only when they disagree with what is used.
        if (const json* v = r.get("sliding_window_size"); v && v->is_number() && toCount(v->get<double>()) != s.slidingWindow)
            r.refuse("sliding_window_size different from sliding_window", "config.json sliding_window_size");
        if (const json* v = r.get("_sliding_window_pattern"); v && v->is_number() && a == "gemma3") {
            const int64_t p = toCount(v->get<double>());
            const bool listed = s.slidingLayers.size() == size_t(std::max<int64_t>(r.hp.layers, 0));
            for (int64_t i = 0; listed && i < r.hp.layers && p > 0; ++i)
                if (s.slidingLayers[size_t(i)] != ((i + 1) % p != 0)) {
                    r.refuse("_sliding_window_pattern that disagrees with layer_types", "config.json _sliding_window_pattern");
                    break;
                }
        }
    }
    if (s.slidingWindow <= 0) s.slidingLayers.clear();
}

void readGemmaHf(HfReader& r, ArchSpec& s) {
    const std::string& a = r.arch;
    s.normOffset = 1.0;
    s.embedScale = roundToDtype(std::sqrt(double(r.hp.dim)), s.dtype);
    readActivation(r, s, true);
    s.qkvBias = s.outBias = r.flag("attention_bias");
    if (a == "gemma") return;
    s.postNorms = true;
    s.attnScale = 1.0 / std::sqrt(double(positiveInt(r, "query_pre_attn_scalar", 256)));
    // Gemma2Config defaults the caps to 50 and 30; Gemma3TextConfig to none.
    auto cap = [&](const char* key, double fallback) {
        const json* v = r.get(key);
        if (!v) return fallback;
        if (v->is_null()) return 0.0;
        if (!v->is_number() || v->get<double>() < 0) {
            r.refuse(std::string(key) + " that is not a positive number", std::string("config.json ") + key);
            return 0.0;
        }
        return v->get<double>();
    };
    s.attnSoftcap = cap("attn_logit_softcapping", a == "gemma2" ? 50.0 : 0.0);
    s.finalSoftcap = cap("final_logit_softcapping", a == "gemma2" ? 30.0 : 0.0);
    if (a == "gemma3") {
        s.qkNorm = true;
        s.ropeThetaLocal = number(r.tc, "rope_local_base_freq").value_or(10000.0);
        r.handled.insert("rope_local_base_freq");
    }
}

}  // namespace

std::string_view ropeScalingTypeName(RopeScalingType t) {
    switch (t) {
        case RopeScalingType::None: return "none";
        case RopeScalingType::Linear: return "linear";
        case RopeScalingType::Dynamic: return "dynamic";
        case RopeScalingType::Llama3: return "llama3";
        case RopeScalingType::Yarn: return "yarn";
    }
    return "none";
}

bool hfArchitectureImplemented(const std::string& a) {
    static const std::set<std::string> k = {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3"};
    return k.count(a) > 0;
}

bool ggufArchitectureImplemented(const std::string& a) {
    static const std::set<std::string> k = {"llama", "qwen2", "qwen3", "gemma", "gemma2", "gemma3"};
    return k.count(a) > 0;
}

double roundToDtype(double x, const std::string& dtype) {
    const float f = float(x);
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    if (dtype == "bfloat16") {
        bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest even (finite x only)
        bits &= 0xFFFF0000u;
        float r;
        std::memcpy(&r, &bits, sizeof r);
        return r;
    }
    if (dtype == "float16") {
        // Round the float to 11 significant bits (normal half range; Gemma's scales are far from its limits).
        int e;
        const double m = std::frexp(double(f), &e);
        return std::ldexp(std::nearbyint(std::ldexp(m, 11)), e - 11);
    }
    return f;
}

ArchSpec readHfArchSpec(const json& cfg, const json& tc, const std::string& arch, const HyperparametersView& hp,
                        std::vector<Unsupported>& unsupported) {
    ArchSpec s;
    s.dtype = text(cfg, "torch_dtype");
    if (s.dtype.empty()) s.dtype = text(cfg, "dtype");
    if (s.dtype.empty()) s.dtype = text(tc, "torch_dtype");
    HfReader r{tc, arch, hp, unsupported, {}};
    refuseForeignFeatures(r);
    readRopeScalingHf(r, s.ropeScaling);
    readSlidingHf(r, s);
    const bool gemma = arch.rfind("gemma", 0) == 0;
    if (gemma) {
        readGemmaHf(r, s);
    } else {
        readActivation(r, s, false);
        if (arch == "qwen2") {
            s.qkvBias = true;  // Qwen2Attention: q/k/v with bias, o without
        } else if (arch == "llama" || arch == "qwen3") {
            s.qkvBias = s.outBias = r.flag("attention_bias");
        }
        if (arch == "llama") s.mlpBias = r.flag("mlp_bias");
        if (arch == "qwen3") s.qkNorm = true;
    }
    if (s.slidingWindow > 0 && s.ropeScaling.type != RopeScalingType::None && arch == "gemma3")
        s.ropeScaling.source += " (global layers only)";
    // Every other key that carries a value may change the math: refused by name rather than ignored.
    for (const auto& [k, v] : tc.items()) {
        if (r.handled.count(k) || benignHfKeys().count(k) || trivial(v)) continue;
        unsupported.push_back({"config key '" + k + "' (not implemented for " + arch + ")",
                               "config.json " + k + " = " + valueText(v)});
    }
    return s;
}

namespace {

// The GGUF counterpart of HfReader: keys are "<arch>.<k>"; every key read is marked handled, and what is left
// over with a value is refused by name.
struct GgufReader {
    const json& md;
    const std::string& arch;
    const HyperparametersView& hp;
    std::vector<Unsupported>& out;
    std::string prefix = arch + ".";
    std::set<std::string> handled = {"context_length", "embedding_length", "feed_forward_length", "block_count",
                                     "attention.head_count", "attention.head_count_kv", "rope.freq_base",
                                     "attention.layer_norm_rms_epsilon", "attention.key_length",
                                     "attention.value_length", "vocab_size", "rope.dimension_count",
                                     "rope.scaling.type", "rope.scaling.factor", "rope.scaling.original_context_length",
                                     "rope.scaling.finetuned", "rope.scale_linear", "expert_count",
                                     "expert_used_count", "attention.sliding_window"};

    std::string key(const char* k) const { return prefix + k; }
    std::optional<double> num(const char* k) {
        handled.insert(k);
        return number(md, key(k));
    }
    void refuse(std::string feature, const char* k) { out.push_back({std::move(feature), "gguf " + key(k)}); }
};

void refuseGgufFeatures(GgufReader& r) {
    if (auto e = r.num("expert_count"); e && *e > 0) r.refuse("mixture-of-experts layers", "expert_count");
    if (auto rd = r.num("rope.dimension_count"); rd && r.hp.headDim > 0 && toCount(*rd) != r.hp.headDim)
        r.refuse("partial rotary embeddings (" + std::to_string(toCount(*rd)) + " of " + std::to_string(r.hp.headDim) +
                     " dimensions)",
                 "rope.dimension_count");
    auto kl = r.num("attention.key_length"), vl = r.num("attention.value_length");
    if (kl && vl && *kl != *vl) r.refuse("key and value heads of different sizes", "attention.value_length");
}

void readRopeScalingGguf(GgufReader& r, RopeScaling& rs) {
    rs.maxPositionEmbeddings = r.hp.context;
    std::string type = text(r.md, r.key("rope.scaling.type"));
    if (auto lin = r.num("rope.scale_linear"); lin && *lin != 1.0 && type.empty()) {
        type = "linear";
        rs.factor = *lin;
        rs.source = "gguf " + r.key("rope.scale_linear");
    }
    if (type.empty() || type == "none") return;
    if (rs.source.empty()) rs.source = "gguf " + r.key("rope.scaling.type");
    if (auto f = r.num("rope.scaling.factor")) rs.factor = *f;
    rs.originalContext = toCount(r.num("rope.scaling.original_context_length").value_or(0.0));
    if (type == "linear") {
        rs.type = RopeScalingType::Linear;
    } else if (type == "yarn") {
        rs.type = RopeScalingType::Yarn;
        if (rs.originalContext <= 0)
            r.refuse("YaRN without an original context length", "rope.scaling.original_context_length");
    } else {
        r.refuse("RoPE scaling type '" + type + "'", "rope.scaling.type");
    }
    if (rs.factor < 1.0) r.refuse("RoPE scaling factor below 1", "rope.scaling.factor");
}

// llama.cpp applies attention.sliding_window only where the architecture uses it (Gemma 2 and 3 here); for
// the others it ignores the key, as transformers' Llama/Qwen ignore a sliding_window. A window shorter than
// the context would then be silently dropped from a model that may need it: refused, as for config.json.
void readSlidingGguf(GgufReader& r, ArchSpec& s) {
    const bool swaArch = r.arch == "gemma2" || r.arch == "gemma3";
    const auto w = r.num("attention.sliding_window");
    if (w && *w > 0 && !swaArch && *w < double(r.hp.context))
        r.refuse("sliding-window attention on a " + r.arch + " model (llama.cpp ignores the key for this architecture)",
                 "attention.sliding_window");
    if (!swaArch || !w || *w <= 0 || r.hp.layers > (int64_t(1) << 20)) return;
    s.slidingWindow = toCount(*w);
    // llama.cpp: Gemma 2 alternates (pattern 2), Gemma 3 has a global layer every 6 (set_swa_pattern).
    int64_t pattern = r.arch == "gemma2" ? 2 : 6;
    if (auto pk = r.num("attention.sliding_window_pattern"); pk && r.arch == "gemma3") pattern = toCount(*pk);
    s.slidingLayers.assign(size_t(std::max<int64_t>(r.hp.layers, 0)), false);
    for (int64_t i = 0; i < r.hp.layers; ++i) s.slidingLayers[size_t(i)] = pattern <= 1 || (i % pattern) < pattern - 1;
}

void readGemmaGguf(GgufReader& r, ArchSpec& s) {
    const std::string& arch = r.arch;
    s.embedScale = std::sqrt(float(r.hp.dim));  // llama.cpp: ggml_scale(inpL, sqrtf(n_embd))
    s.activation = Activation::GeluTanh;
    if (arch != "gemma") {
        s.postNorms = true;
        // llama.cpp scales queries by 1/sqrt(head_dim), except for the 27B models (46 / 62 layers), which it
        // scales by 1/sqrt(n_embd / n_head) (= their query_pre_attn_scalar).
        const bool is27B = (arch == "gemma2" && r.hp.layers == 46) || (arch == "gemma3" && r.hp.layers == 62);
        s.attnScale = is27B ? 1.0 / std::sqrt(double(r.hp.dim / r.hp.heads)) : 1.0 / std::sqrt(double(r.hp.headDim));
        s.attnSoftcap = r.num("attn_logit_softcapping").value_or(arch == "gemma2" ? 50.0 : 0.0);
        s.finalSoftcap = r.num("final_logit_softcapping").value_or(arch == "gemma2" ? 30.0 : 0.0);
    }
    if (arch == "gemma3") {
        s.qkNorm = true;
        s.ropeThetaLocal = r.num("rope.freq_base_swa").value_or(10000.0);
    }
}

}  // namespace

ArchSpec readGgufArchSpec(const json& md, const std::string& arch, const HyperparametersView& hp,
                          std::vector<Unsupported>& unsupported) {
    ArchSpec s;
    GgufReader r{md, arch, hp, unsupported};
    refuseGgufFeatures(r);
    readRopeScalingGguf(r, s.ropeScaling);
    readSlidingGguf(r, s);
    if (arch.rfind("gemma", 0) == 0) readGemmaGguf(r, s);
    if (arch == "qwen3") s.qkNorm = true;
    for (const auto& [k, v] : md.items()) {
        if (k.rfind(r.prefix, 0) != 0 || r.handled.count(k.substr(r.prefix.size())) || trivial(v)) continue;
        unsupported.push_back({"GGUF key '" + k + "' (not implemented for " + arch + ")",
                               "gguf " + k + " = " + valueText(v)});
    }
    return s;
}

}  // namespace qs
