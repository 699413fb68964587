// SPDX-License-Identifier: GPL-3.0-or-later
// Named groups of tensors that a sweep, a sensitivity scan or auto-mix varies together, and how a choice of
// scheme per group becomes a quantization map (core/quant/quant_map.h).
//
// Group names (public interface: CLI --groups, sweep file columns):
//   embedding            the token embedding              (rule role=embedding)
//   head                 the output head                  (rule role=head)
//   body                 every attention and MLP matrix   (rule role=body)
//   attention, mlp       the attention / MLP matrices of every block
//   layers               expands to one group per block:  layer0, layer1, ...     (role=body, layers=N)
//   layer-parts          expands to layer0.attention, layer0.mlp, layer1.attention, ...
//                        (both: only the blocks, and parts, that have attention/MLP matrices; an index no
//                        tensor has makes no group, so "layers.99999999" in a name makes one group, not 10^8)
//   layerN, layerN.attention, layerN.mlp  one of those directly.
// 1-D tensors (norms, biases) are in no group (a body rule never selects them; see quant_map.h).
//
// Tied embedding/head (ModelInfo::tie): the pair is ONE tensor, quantized once and counted once. A scheme on
// `head` or on `embedding` is the scheme of that one tensor. A sweep over both `embedding` and `head` of a
// tied model would produce contradictory points, so expandGroups refuses it by name, and mapFor refuses two
// different schemes for the pair; resolution would otherwise let the later rule win with a warning
// (quant_map_resolve.h), which a sweep must not do silently.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/model/model_info.h"
#include "core/quant/quant_map.h"
#include "core/util/result.h"

namespace qs {

struct SweepGroup {
    std::string name;       // "body", "layer3", "layer3.mlp"
    QuantRule selector;     // role and layers; scheme empty
    int tensors = 0;        // analysed tensors with the group's role(s) and block (biases included; a tied
                            // head without a stored copy counts as the embedding): at least 1
};

// The group names accepted by expandGroups, for help texts: "embedding, head, body, attention, mlp, layers,
// layer-parts, layerN, layerN.attention, layerN.mlp".
std::string sweepGroupList();

// Expands `names` in order (layers / layer-parts into their blocks). Fails naming the first unknown name, a
// layer beyond the model's blocks, a group that matches no tensor of this model, a name given twice, or
// `embedding` together with `head` on a tied model.
Result<std::vector<SweepGroup>> expandGroups(const ModelInfo& info, const std::vector<std::string>& names);

// Refuses groups that share a tensor (body,attention; layers,mlp; layer3,layer3.mlp): a point's scheme per
// group must be the scheme of every tensor of that group, and bytes and damages per group must add up. The
// message names the first overlapping pair and how many tensors they share. The one check sweeps (runSweep,
// the CLI before any work) and auto-mix share.
Status checkDisjointGroups(const ModelInfo& info, const std::vector<SweepGroup>& groups);

// The baseline's rules followed by one rule per (group, scheme), in the given order, so a group's scheme
// overrides the baseline and a later group overrides an earlier one where they overlap (body, then layer3:
// layer 3 gets the second scheme; sweeps and auto-mix refuse overlaps with checkDisjointGroups). Schemes are registry names (canonicalised) or "keep". Fails on an unknown
// scheme (the registry's message) or, when `info` ties embedding and head, on different schemes for the two.
Result<QuantMap> mapFor(const ModelInfo& info, const QuantMap& baseline,
                        const std::vector<std::pair<SweepGroup, std::string>>& choices);

// The registry's canonical spelling of `scheme` ("keep" stays "keep"); fails with the registry's message.
Result<std::string> canonicalSchemeName(std::string_view scheme);

}  // namespace qs
