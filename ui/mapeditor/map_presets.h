// SPDX-License-Identifier: GPL-3.0-or-later
// Ready-made quantization maps for the editor's Presets menu and `quantscope --preset NAME`. Each preset is a
// whole map (applying one replaces the rules, as one undo step). Ids are stable (command line); labels are
// what the menu shows.
//
//   id          label
//   k-mix       body q4_K, embedding q8_0, head q6_K
//   nf4         nf4 everywhere
//   int8-2bit   int8 embedding and head, 2-bit body (int2_g64)
//   q8_0        q8_0 everywhere
//   q4_k_m      llama.cpp Q4_K_M-like: all q4_K, head q6_K, attn_v and ffn_down q6_K in the layers
//               llama.cpp's use_more_bits() picks (first and last eighth, every third in between;
//               src/llama-quant.cpp, llama_tensor_get_type). Needs the layer count, so a model.
//   clear       no rules: every tensor stays as stored
// Norms stay as stored in every preset (a rule must name role norm to touch them).
#pragma once

#include <vector>

#include <QString>

#include "core/model/model_info.h"
#include "core/quant/quant_map.h"
#include "core/util/result.h"

namespace qsui {

struct MapPreset {
    QString id;
    QString label;
    QString tooltip;
    bool needsModel = false;  // the map depends on the model (the layer count)
};

const std::vector<MapPreset>& mapPresets();
// Null when no preset has that id.
const MapPreset* findMapPreset(const QString& id);

// Builds the preset's map; `info` may be null unless the preset needsModel (then an error says so).
qs::Result<qs::QuantMap> buildMapPreset(const QString& id, const qs::ModelInfo* info);

// llama.cpp's use_more_bits(i_layer, n_layers): layers that get more bits in the *_M mixes.
bool llamaCppUsesMoreBits(int64_t layer, int64_t layers);  // 64-bit: 7 * n / 8 of a huge count must not wrap

}  // namespace qsui
