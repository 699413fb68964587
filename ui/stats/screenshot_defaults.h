// SPDX-License-Identifier: GPL-3.0-or-later
// What `--screenshot --view histogram|layers|outliers` shows when the user has chosen nothing yet: a
// sensible tensor to select, and an example map so the quantization overlays have something to compare.
// Used only by the views' prepareScreenshot hooks (view_registry.h), never on a normal start. UI thread only.
#pragma once

namespace qsui {

class Document;

// The first attention matrix of layer 0 (wq when the model is Llama-like), else the first matrix of any
// layer, else the first matrix, else -1.
int defaultAnalysisTensor(const Document& doc);
// Selects defaultAnalysisTensor() when nothing is selected.
void selectDefaultTensorIfNone(Document* doc);
// When the map has no rule, sets the example "body q4_0, embedding q8_0" as one undoable edit labelled
// "Screenshot example map".
void applyExampleMapIfEmpty(Document* doc);

}  // namespace qsui
