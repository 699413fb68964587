// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/declared_values.h"

#include <cmath>

#include "core/util/format.h"

namespace qs {

namespace {

using json = nlohmann::json;

enum class Expect { PositiveCount, PositiveNumber, Bool, String };

struct KeyRule {
    const char* key;
    Expect expect;
};

// Hugging Face config keys the readers take numbers/flags from (modeling_*.py configs).
constexpr KeyRule kHfRules[] = {
    {"hidden_size", Expect::PositiveCount},         {"intermediate_size", Expect::PositiveCount},
    {"num_hidden_layers", Expect::PositiveCount},   {"num_attention_heads", Expect::PositiveCount},
    {"num_key_value_heads", Expect::PositiveCount}, {"vocab_size", Expect::PositiveCount},
    {"head_dim", Expect::PositiveCount},            {"max_position_embeddings", Expect::PositiveCount},
    {"rope_theta", Expect::PositiveNumber},         {"rms_norm_eps", Expect::PositiveNumber},
    {"rope_local_base_freq", Expect::PositiveNumber}, {"query_pre_attn_scalar", Expect::PositiveNumber},
    {"attn_logit_softcapping", Expect::PositiveNumber}, {"final_logit_softcapping", Expect::PositiveNumber},
    {"tie_word_embeddings", Expect::Bool},          {"attention_bias", Expect::Bool},
    {"mlp_bias", Expect::Bool},                     {"hidden_act", Expect::String},
    {"hidden_activation", Expect::String},
};
// Read from the top level of a multimodal config (beside text_config).
constexpr KeyRule kTopLevelTie = {"tie_word_embeddings", Expect::Bool};

// GGUF keys under `<arch>.` (llama.cpp's LLM_KV names).
constexpr KeyRule kGgufRules[] = {
    {"embedding_length", Expect::PositiveCount},       {"feed_forward_length", Expect::PositiveCount},
    {"block_count", Expect::PositiveCount},            {"attention.head_count", Expect::PositiveCount},
    {"attention.head_count_kv", Expect::PositiveCount}, {"context_length", Expect::PositiveCount},
    {"attention.key_length", Expect::PositiveCount},   {"attention.value_length", Expect::PositiveCount},
    {"rope.dimension_count", Expect::PositiveCount},   {"vocab_size", Expect::PositiveCount},
    {"attention.sliding_window", Expect::PositiveCount},
    {"rope.freq_base", Expect::PositiveNumber},        {"attention.layer_norm_rms_epsilon", Expect::PositiveNumber},
    {"rope.scaling.factor", Expect::PositiveNumber},   {"rope.scaling.type", Expect::String},
    {"attn_logit_softcapping", Expect::PositiveNumber}, {"final_logit_softcapping", Expect::PositiveNumber},
};

std::string shortText(const json& v) {
    // JSON has no NaN or infinity: dump() writes null for them (a GGUF float32 can hold them).
    if (v.is_number_float() && !std::isfinite(v.get<double>())) return std::isnan(v.get<double>()) ? "nan" : v.get<double>() > 0 ? "inf" : "-inf";
    std::string s = v.dump();
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// "" when `v` is acceptable, else what was expected.
std::string violation(const json& v, Expect e) {
    switch (e) {
        case Expect::PositiveCount:
            if (v.is_number_unsigned()) return v.get<uint64_t>() > 0 ? "" : "a positive integer";
            if (v.is_number_integer()) return v.get<int64_t>() > 0 ? "" : "a positive integer";
            if (v.is_number_float()) {
                const double d = v.get<double>();
                return std::isfinite(d) && d >= 1 && d == std::floor(d) ? "" : "a positive integer";
            }
            return "a positive integer";
        case Expect::PositiveNumber:
            if (v.is_number()) {
                const double d = v.get<double>();
                return std::isfinite(d) && d > 0 ? "" : "a positive finite number";
            }
            return "a positive finite number";
        case Expect::Bool: return v.is_boolean() ? "" : "true or false";
        case Expect::String: return v.is_string() ? "" : "a string";
    }
    return "";
}

void checkKeys(const json& obj, const std::string& prefix, const std::string& where, const KeyRule* rules, size_t n,
               std::vector<Unsupported>& out, std::vector<Unsupported>& notImplemented) {
    if (!obj.is_object()) return;
    for (size_t i = 0; i < n; ++i) {
        const std::string key = prefix + rules[i].key;
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) continue;  // absent: the architecture's default applies
        if (rules[i].expect == Expect::PositiveCount && it->is_array()) {  // a value per layer (e.g. OpenELM)
            notImplemented.push_back({"per-layer values", where + key + " = " + shortText(*it)});
            continue;
        }
        if (const std::string want = violation(*it, rules[i].expect); !want.empty())
            out.push_back({"an invalid value (expected " + want + ")", where + key + " = " + shortText(*it)});
    }
}

}  // namespace

std::vector<Unsupported> checkDeclaredValues(const Checkpoint& ckpt, const std::string& architecture,
                                             int64_t declaredLayers, const std::vector<int>& tensorLayers,
                                             std::vector<Unsupported>& notImplemented) {
    std::vector<Unsupported> out;
    std::string layersKey;
    if (ckpt.format == FileFormat::Gguf) {
        checkKeys(ckpt.metadata, architecture + ".", "gguf ", kGgufRules, std::size(kGgufRules), out, notImplemented);
        layersKey = "gguf " + architecture + ".block_count";
    } else if (ckpt.config.is_object()) {
        const json& cfg = ckpt.config;
        const json& tc = cfg.contains("text_config") && cfg["text_config"].is_object() ? cfg["text_config"] : cfg;
        checkKeys(tc, "", "config.json ", kHfRules, std::size(kHfRules), out, notImplemented);
        if (&tc != &cfg) checkKeys(cfg, "", "config.json ", &kTopLevelTie, 1, out, notImplemented);
        layersKey = "config.json num_hidden_layers";
    } else if (ckpt.format == FileFormat::Llama2c) {
        layersKey = "llama2.c header n_layers";
    }
    if (declaredLayers > 0 && !layersKey.empty()) {
        for (size_t i = 0; i < tensorLayers.size() && i < ckpt.tensors.size(); ++i)
            if (tensorLayers[i] >= declaredLayers) {
                out.push_back({"tensor '" + ckpt.tensors[i].name + "' of layer " + std::to_string(tensorLayers[i]) +
                                   " beyond the " + std::to_string(declaredLayers) + " declared layers",
                               layersKey});
                break;
            }
    }
    return out;
}

std::optional<Unsupported> checkDeclaredWidth(const Checkpoint& ckpt, const std::string& architecture, int embedding) {
    if (embedding < 0 || size_t(embedding) >= ckpt.tensors.size()) return std::nullopt;
    const TensorInfo& t = ckpt.tensors[size_t(embedding)];
    if (t.shape.size() != 2) return std::nullopt;
    const json* v = nullptr;
    std::string key;
    if (ckpt.format == FileFormat::Gguf) {
        key = architecture + ".embedding_length";
        if (auto it = ckpt.metadata.find(key); it != ckpt.metadata.end()) v = &*it;
        key = "gguf " + key;
    } else if (ckpt.config.is_object()) {
        const json& cfg = ckpt.config;
        const json& tc = cfg.contains("text_config") && cfg["text_config"].is_object() ? cfg["text_config"] : cfg;
        if (auto it = tc.find("hidden_size"); it != tc.end()) v = &*it;
        key = "config.json hidden_size";
    }
    if (!v || !violation(*v, Expect::PositiveCount).empty()) return std::nullopt;
    const double declared = v->get<double>();
    if (declared == double(t.shape[1])) return std::nullopt;
    const std::string shape = "[" + std::to_string(t.shape[0]) + ", " + std::to_string(t.shape[1]) + "]";
    return Unsupported{"a hidden size its tensors do not have: the token embedding '" + quoteBounded(t.name) +
                           "' has shape " + shape + ", rows of " + std::to_string(t.shape[1]),
                       key + " = " + shortText(*v)};
}

}  // namespace qs
