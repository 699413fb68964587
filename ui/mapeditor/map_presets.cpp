// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mapeditor/map_presets.h"

#include <QObject>

#include <algorithm>

namespace qsui {
namespace {

qs::QuantRule rule(qs::RuleRole role, const char* scheme, const char* comment = "") {
    qs::QuantRule r;
    r.role = role;
    r.scheme = scheme;
    r.comment = comment;
    return r;
}

// A rule on the tensors whose GGUF name matches `pattern`, in `layers`. Glob on the GGUF spelling: resolution
// also tries a tensor's GGUF name (quant_map.h), so the rule works on llama2.c and Hugging Face files too.
qs::Result<qs::QuantRule> patternRule(const std::string& pattern, const std::vector<qs::LayerRange>& layers,
                                      const char* scheme, const char* comment) {
    qs::QuantRule r = rule(qs::RuleRole::All, scheme, comment);
    r.layers = layers;
    return qs::makePatternRule(std::move(r), pattern);
}

}  // namespace

bool llamaCppUsesMoreBits(int64_t layer, int64_t layers) {
    // llama.cpp src/llama-quant.cpp: i_layer < n_layers/8 || i_layer >= 7*n_layers/8 ||
    // (i_layer - n_layers/8)%3 == 2, in integer arithmetic.
    return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

const std::vector<MapPreset>& mapPresets() {
    static const std::vector<MapPreset> kPresets = {
        {QStringLiteral("k-mix"), QObject::tr("body q4_K, embedding q8_0, head q6_K"),
         QObject::tr("ggml k-quant mix: attention and MLP q4_K, token embedding q8_0, output head q6_K"), false},
        {QStringLiteral("nf4"), QObject::tr("nf4 everywhere"),
         QObject::tr("bitsandbytes NormalFloat4 (blocks of 64) for every matrix; norms stay as stored"), false},
        {QStringLiteral("int8-2bit"), QObject::tr("int8 embedding and head, 2-bit body"),
         QObject::tr("RTN int8 per row for embedding and head, RTN int2 in groups of 64 for attention and MLP"),
         false},
        {QStringLiteral("q8_0"), QObject::tr("q8_0 everywhere"),
         QObject::tr("ggml q8_0 for every matrix; norms stay as stored"), false},
        {QStringLiteral("q4_k_m"), QObject::tr("llama.cpp Q4_K_M-like"),
         QObject::tr("q4_K everywhere, q6_K for the head and for attn_v / ffn_down in the layers llama.cpp's "
                     "Q4_K_M gives more bits (first and last eighth, every third in between)"),
         true},
        {QStringLiteral("clear"), QObject::tr("clear"), QObject::tr("Remove every rule: all tensors stay as stored"),
         false},
    };
    return kPresets;
}

const MapPreset* findMapPreset(const QString& id) {
    for (const MapPreset& p : mapPresets())
        if (p.id == id) return &p;
    return nullptr;
}

qs::Result<qs::QuantMap> buildMapPreset(const QString& id, const qs::ModelInfo* info) {
    using qs::RuleRole;
    qs::QuantMap map;
    if (id == QLatin1String("k-mix")) {
        map.rules = {rule(RuleRole::Body, "q4_K"), rule(RuleRole::Embedding, "q8_0"), rule(RuleRole::Head, "q6_K")};
    } else if (id == QLatin1String("nf4")) {
        map.rules = {rule(RuleRole::All, "nf4")};
    } else if (id == QLatin1String("int8-2bit")) {
        map.rules = {rule(RuleRole::Body, "int2_g64"), rule(RuleRole::Embedding, "int8"), rule(RuleRole::Head, "int8")};
    } else if (id == QLatin1String("q8_0")) {
        map.rules = {rule(RuleRole::All, "q8_0")};
    } else if (id == QLatin1String("q4_k_m")) {
        if (!info || info->hp.layers <= 0)
            return qs::Error{"preset Q4_K_M-like needs a loaded model with a known layer count"};
        // Over the layers that have tensors only: the rules select tensors, and a count taken from a tensor name
        // or a declaration ("layers.999999999") would otherwise make a loop, and ranges, of that length.
        std::vector<int> layers;
        for (const qs::TensorEntry& e : info->entries)
            if (e.layer >= 0 && e.layer < info->hp.layers) layers.push_back(e.layer);
        std::sort(layers.begin(), layers.end());
        layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
        std::vector<qs::LayerRange> more;
        for (const int i : layers)
            if (llamaCppUsesMoreBits(i, info->hp.layers)) {
                if (!more.empty() && more.back().last == i - 1) more.back().last = i;
                else more.push_back({i, i});
            }
        map.rules = {rule(RuleRole::All, "q4_K", "Q4_K_M base type"), rule(RuleRole::Head, "q6_K", "output q6_K")};
        if (!more.empty()) {
            for (const char* pattern : {"glob:*attn_v.weight", "glob:*ffn_down.weight"}) {
                auto r = patternRule(pattern, more, "q6_K", "use_more_bits layers");
                if (!r) return r.error();
                map.rules.push_back(std::move(*r));
            }
        }
    } else if (id != QLatin1String("clear")) {
        return qs::Error{"unknown preset \"" + id.toStdString() + "\""};
    }
    return map;
}

}  // namespace qsui
