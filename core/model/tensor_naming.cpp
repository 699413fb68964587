// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/tensor_naming.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace qs {

namespace {

struct KindName {
    std::string_view suffix;  // after the layer prefix (or the whole name for non-layer tensors)
    TensorKind kind;
};

// Per-layer suffixes, one table per convention. Suffixes are matched exactly after "<prefix>.<N>.".
constexpr std::array kMetaLayer = {
    KindName{"attention_norm.weight", TensorKind::AttnNorm}, KindName{"attention.wq.weight", TensorKind::Wq},
    KindName{"attention.wk.weight", TensorKind::Wk},         KindName{"attention.wv.weight", TensorKind::Wv},
    KindName{"attention.wo.weight", TensorKind::Wo},         KindName{"ffn_norm.weight", TensorKind::FfnNorm},
    KindName{"feed_forward.w1.weight", TensorKind::Gate},    KindName{"feed_forward.w2.weight", TensorKind::Down},
    KindName{"feed_forward.w3.weight", TensorKind::Up},
};
constexpr std::array kHfLayer = {
    KindName{"input_layernorm.weight", TensorKind::AttnNorm},
    KindName{"self_attn.q_proj.weight", TensorKind::Wq},
    KindName{"self_attn.k_proj.weight", TensorKind::Wk},
    KindName{"self_attn.v_proj.weight", TensorKind::Wv},
    KindName{"self_attn.o_proj.weight", TensorKind::Wo},
    KindName{"post_attention_layernorm.weight", TensorKind::FfnNorm},
    KindName{"mlp.gate_proj.weight", TensorKind::Gate},
    KindName{"mlp.down_proj.weight", TensorKind::Down},
    KindName{"mlp.up_proj.weight", TensorKind::Up},
    KindName{"self_attn.q_proj.bias", TensorKind::BiasQ},
    KindName{"self_attn.k_proj.bias", TensorKind::BiasK},
    KindName{"self_attn.v_proj.bias", TensorKind::BiasV},
    KindName{"self_attn.o_proj.bias", TensorKind::BiasO},
    KindName{"mlp.gate_proj.bias", TensorKind::BiasGate},
    KindName{"mlp.up_proj.bias", TensorKind::BiasUp},
    KindName{"mlp.down_proj.bias", TensorKind::BiasDown},
    KindName{"self_attn.q_norm.weight", TensorKind::QNorm},
    KindName{"self_attn.k_norm.weight", TensorKind::KNorm},
    // Gemma 2/3 only (their post_attention_layernorm is the post-attention norm; model_info remaps it).
    KindName{"pre_feedforward_layernorm.weight", TensorKind::FfnNorm},
    KindName{"post_feedforward_layernorm.weight", TensorKind::PostFfnNorm},
};
constexpr std::array kGgufLayer = {
    KindName{"attn_norm.weight", TensorKind::AttnNorm}, KindName{"attn_q.weight", TensorKind::Wq},
    KindName{"attn_k.weight", TensorKind::Wk},           KindName{"attn_v.weight", TensorKind::Wv},
    KindName{"attn_output.weight", TensorKind::Wo},      KindName{"ffn_norm.weight", TensorKind::FfnNorm},
    KindName{"ffn_gate.weight", TensorKind::Gate},       KindName{"ffn_down.weight", TensorKind::Down},
    KindName{"ffn_up.weight", TensorKind::Up},
    KindName{"attn_q.bias", TensorKind::BiasQ},          KindName{"attn_k.bias", TensorKind::BiasK},
    KindName{"attn_v.bias", TensorKind::BiasV},          KindName{"attn_output.bias", TensorKind::BiasO},
    KindName{"ffn_gate.bias", TensorKind::BiasGate},     KindName{"ffn_up.bias", TensorKind::BiasUp},
    KindName{"ffn_down.bias", TensorKind::BiasDown},     KindName{"attn_q_norm.weight", TensorKind::QNorm},
    KindName{"attn_k_norm.weight", TensorKind::KNorm},   KindName{"post_attention_norm.weight", TensorKind::PostAttnNorm},
    KindName{"post_ffw_norm.weight", TensorKind::PostFfnNorm},
};

constexpr std::array kGlobal = {
    std::pair{std::string_view{"tok_embeddings.weight"}, std::pair{TensorKind::TokenEmbedding, NamingScheme::Meta}},
    std::pair{std::string_view{"norm.weight"}, std::pair{TensorKind::FinalNorm, NamingScheme::Meta}},
    std::pair{std::string_view{"output.weight"}, std::pair{TensorKind::Output, NamingScheme::Meta}},
    std::pair{std::string_view{"freq_cis_real"}, std::pair{TensorKind::RopeTable, NamingScheme::Meta}},
    std::pair{std::string_view{"freq_cis_imag"}, std::pair{TensorKind::RopeTable, NamingScheme::Meta}},
    std::pair{std::string_view{"model.embed_tokens.weight"}, std::pair{TensorKind::TokenEmbedding, NamingScheme::HuggingFace}},
    std::pair{std::string_view{"model.norm.weight"}, std::pair{TensorKind::FinalNorm, NamingScheme::HuggingFace}},
    std::pair{std::string_view{"lm_head.weight"}, std::pair{TensorKind::Output, NamingScheme::HuggingFace}},
    std::pair{std::string_view{"token_embd.weight"}, std::pair{TensorKind::TokenEmbedding, NamingScheme::Gguf}},
    std::pair{std::string_view{"output_norm.weight"}, std::pair{TensorKind::FinalNorm, NamingScheme::Gguf}},
    std::pair{std::string_view{"rope_freqs.weight"}, std::pair{TensorKind::RopeFreqs, NamingScheme::Gguf}},
};

Role roleOfKind(TensorKind k) {
    switch (k) {
        case TensorKind::TokenEmbedding: return Role::Embedding;
        case TensorKind::Output: return Role::Head;
        case TensorKind::FinalNorm:
        case TensorKind::AttnNorm:
        case TensorKind::FfnNorm:
        case TensorKind::QNorm:
        case TensorKind::KNorm:
        case TensorKind::PostAttnNorm:
        case TensorKind::PostFfnNorm: return Role::Norm;
        case TensorKind::BiasQ:
        case TensorKind::BiasK:
        case TensorKind::BiasV:
        case TensorKind::BiasO: return Role::Attention;
        case TensorKind::BiasGate:
        case TensorKind::BiasUp:
        case TensorKind::BiasDown: return Role::Mlp;
        case TensorKind::RopeFreqs: return Role::Other;
        case TensorKind::Wq:
        case TensorKind::Wk:
        case TensorKind::Wv:
        case TensorKind::Wo: return Role::Attention;
        case TensorKind::Gate:
        case TensorKind::Down:
        case TensorKind::Up: return Role::Mlp;
        case TensorKind::RopeTable:
        case TensorKind::Unknown: return Role::Other;
    }
    return Role::Other;
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// Finds "<prefix>.<N>." anywhere in the name for the known block prefixes; returns the layer and the position
// just after the second dot, or -1.
int parseLayer(std::string_view name, std::string_view& prefixOut, size_t& restPos) {
    static constexpr std::string_view kPrefixes[] = {"model.layers.", "layers.", "blk.", "transformer.h.",
                                                     "h.", "blocks.", "block.", "model.decoder.layers."};
    for (std::string_view p : kPrefixes) {
        size_t at = 0;
        while ((at = name.find(p, at)) != std::string_view::npos) {
            // The prefix must start the name or follow a separator (so "players." is not "layers.").
            if (at == 0 || name[at - 1] == '.' || name[at - 1] == '/') {
                size_t d = at + p.size();
                int layer = 0;
                auto [ptr, ec] = std::from_chars(name.data() + d, name.data() + name.size(), layer);
                if (ec == std::errc() && ptr < name.data() + name.size() && *ptr == '.' && layer >= 0) {
                    prefixOut = name.substr(0, at + p.size());
                    restPos = size_t(ptr - name.data()) + 1;
                    return layer;
                }
            }
            at += p.size();
        }
    }
    return -1;
}

// Vision and audio encoders of multimodal checkpoints (Gemma 3/3n/4, LLaVA-style projectors, llama.cpp mmproj
// "v.blk" / "a.blk" / "mm."): not part of the text model, role other whatever their names contain.
bool isTowerTensor(std::string_view lower) {
    for (std::string_view k : {"vision_tower", "vision_model", "audio_tower", "audio_model", "multi_modal_projector",
                               "embed_vision", "embed_audio", "mm_input_projection", "vision_encoder",
                               "audio_encoder", "visual."})
        if (contains(lower, k)) return true;
    for (std::string_view p : {"v.", "a.", "mm."})
        if (lower.substr(0, p.size()) == p) return true;
    return false;
}

Role roleByKeywords(std::string_view lower, int rank) {
    // Per-layer token embeddings (Gemma 3n/4: per_layer_token_embd, embed_tokens_per_layer) are looked up by
    // token id like the embedding, and as large.
    if (contains(lower, "per_layer_token_embd") || contains(lower, "embed_tokens_per_layer")) return Role::Embedding;
    if (contains(lower, "lm_head") || lower == "output.weight") return Role::Head;
    if (contains(lower, "embed") || contains(lower, "wte") || contains(lower, "tok_emb")) return Role::Embedding;
    if (contains(lower, "norm") || contains(lower, "ln_") || contains(lower, ".ln") ) return Role::Norm;
    if (contains(lower, "attn") || contains(lower, "attention") || contains(lower, "q_proj") ||
        contains(lower, "k_proj") || contains(lower, "v_proj") || contains(lower, "o_proj"))
        return Role::Attention;
    if (contains(lower, "mlp") || contains(lower, "ffn") || contains(lower, "feed_forward") ||
        contains(lower, "fc1") || contains(lower, "fc2") || contains(lower, "gate_proj") ||
        contains(lower, "up_proj") || contains(lower, "down_proj"))
        return Role::Mlp;
    (void)rank;
    return Role::Other;
}

}  // namespace

NameClass classifyTensorName(std::string_view fullName, int rank) {
    NameClass c;
    // Multimodal Hugging Face checkpoints (Gemma 3, LLaVA) nest the text model: language_model.model.* (older
    // transformers) or model.language_model.* (newer); its tensors are classified as the plain text model's.
    std::string unnested;
    for (auto [from, to] : {std::pair<std::string_view, std::string_view>{"language_model.model.", "model."},
                            {"model.language_model.", "model."}, {"language_model.lm_head.", "lm_head."}}) {
        if (fullName.substr(0, from.size()) == from) {
            unnested = std::string(to) + std::string(fullName.substr(from.size()));
            break;
        }
    }
    const std::string_view name = unnested.empty() ? fullName : std::string_view(unnested);
    for (const auto& [n, ks] : kGlobal) {
        if (name == n) {
            c.kind = ks.first;
            c.scheme = ks.second;
            c.role = roleOfKind(c.kind);
            return c;
        }
    }
    std::string_view prefix;
    size_t rest = 0;
    c.layer = parseLayer(name, prefix, rest);
    if (c.layer >= 0) {
        std::string_view suffix = name.substr(rest);
        auto match = [&](const auto& table, NamingScheme scheme) {
            for (const auto& kn : table) {
                if (suffix == kn.suffix) {
                    c.kind = kn.kind;
                    c.scheme = scheme;
                    return true;
                }
            }
            return false;
        };
        if ((prefix == "layers." && match(kMetaLayer, NamingScheme::Meta)) ||
            (prefix == "model.layers." && match(kHfLayer, NamingScheme::HuggingFace)) ||
            (prefix == "blk." && match(kGgufLayer, NamingScheme::Gguf))) {
            c.role = roleOfKind(c.kind);
            return c;
        }
    }
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    if (isTowerTensor(lower)) {
        c.layer = -1;  // an encoder block, not a decoder layer
        c.role = Role::Other;
        return c;
    }
    c.role = roleByKeywords(lower, rank);
    // A 1-D tensor inside a block that no keyword places is most likely a norm or a bias; leave it "other"
    // unless its name says norm, so no guess changes a footprint silently.
    return c;
}

std::string ggufTensorName(TensorKind kind, int layer) {
    switch (kind) {
        case TensorKind::TokenEmbedding: return "token_embd.weight";
        case TensorKind::Output: return "output.weight";
        case TensorKind::FinalNorm: return "output_norm.weight";
        case TensorKind::RopeFreqs: return "rope_freqs.weight";
        default: break;
    }
    for (const auto& kn : kGgufLayer)
        if (kn.kind == kind) return "blk." + std::to_string(layer) + "." + std::string(kn.suffix);
    return "";
}

}  // namespace qs
