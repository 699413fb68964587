// SPDX-License-Identifier: GPL-3.0-or-later
// The one short name of a tensor every table shows (tree, layer table, map tables): the common prefix up to
// the layer index becomes "L<layer> · " and the ".weight" suffix goes, so HF rows stay distinct in narrow
// columns ("model.layers.3.self_attn.q_proj.weight" -> "L3 · self_attn.q_proj", "blk.3.attn_q.weight" ->
// "L3 · attn_q"); tensors outside the blocks, already short, lose only a leading "model."
// ("model.embed_tokens.weight" -> "embed_tokens.weight"). Control and bidi formatting characters are escaped
// (qs::io::printableText). The full name belongs in the tooltip (printableName). Pure functions.
#pragma once

#include <string>

#include <QString>

namespace qsui {

// `layer` is the tensor's block index (TensorEntry::layer), -1 outside the blocks.
QString tensorLabel(const std::string& name, int layer);

// A name, or any text quoting names or patterns from files (warnings, map patterns), as text to show:
// qs::io::printableText of it. The one conversion the views use for such texts.
QString printableName(const std::string& name);

}  // namespace qsui
