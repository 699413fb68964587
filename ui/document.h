// SPDX-License-Identifier: GPL-3.0-or-later
// Document: the one object that owns what the window shows — the loaded checkpoint and its ModelInfo, and
// the tensor selection, the quantization map with its undo stack, and the map resolved against the model.
// Views read it and listen to its typed change signals; they never keep copies of core data.
//
// Map edits: every change of the map goes through setQuantMap(), which pushes one QUndoCommand on the undo
// stack (so Ctrl+Z / Ctrl+Shift+Z undo and redo every edit); undo/redo re-apply the previous/next map through
// the same path. After each change the map is re-resolved against the model (arithmetic, no job) and
// quantMapChanged() is emitted; views that cache per-tensor results compare the tensor's resolved scheme
// (resolvedMap()->tensors[i].scheme) with the one their cache entry was computed for.
//
// Quantized tensors: one qs::QuantizedTensorCache per open model (core/quant/quantized_tensor_cache.h),
// shared by Quantize, the layer overview, the histogram's quantization preview, the chat's quantized model
// (and so the Evaluations tab) and the Sweep tab, so a tensor quantized with a scheme by one of them is not
// quantized again by another. A new model gets a new, empty cache (jobs still running on the old model keep
// theirs). Cap: qs::defaultQuantizedCacheBytes() at load time (a quarter of MemAvailable).
//
// Calibration: the statistics the map's calibrated schemes (gptq, awq, llmint8, the `_im` K-quants) quantize
// with — collected by the engine over a text or read from a llama.cpp imatrix / QuantScope .h5 (the map
// editor's Calibration section, ui/mapeditor/calibration_section.h) — held as a shared_ptr to an immutable
// qs::CalibrationSet with its source. Every consumer (footprint, previews, layer overview, Quantize, chat and
// evaluations, Sweep, Sensitivity, Auto-mix, Study) reads it from here; calibrationChanged() says when it was
// replaced. It belongs to the model: a new model clears it.
//
// Ownership: the loaded model is held as shared_ptr<const LoadedModel>, so a background job (statistics,
// quantization) can keep reading the checkpoint it started on while the user opens another one.
// Thread affinity: UI thread only.
#pragma once

#include <memory>
#include <optional>

#include <QObject>
#include <QString>

#include "core/calib/calibration.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/footprint_after.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_resolve.h"

class QUndoStack;

namespace qs {
class QuantizedTensorCache;
}

namespace qsui {

class StatsCache;

// A calibration held by the Document and where it came from.
struct DocumentCalibration {
    // Collected over a text; a llama.cpp imatrix; a QuantScope .h5.
    enum class Source { Text, Imatrix, Saved };
    std::shared_ptr<const qs::CalibrationSet> set;  // never null in a held calibration
    Source source = Source::Text;
    QString path;              // the text, imatrix or .h5 file
    int64_t tokensAsked = 0;   // Text: tokens asked (0: the whole text)
    int contextAsked = 0;      // Text: tokens per sequence asked
    QString fingerprint;       // set->fingerprint(), computed once (on the worker that made the set)
    QString describe() const;  // "engine over wiki.txt: 8192 tokens, ctx 256 (importance, max|x|, …)"
};

// A checkpoint and its analysis, immutable once built (built on a worker, then handed to the Document).
struct LoadedModel {
    QString path;  // what the user opened (file or folder)
    // What the user calls it: the Local models list's name ("stories:260k", "karpathy/stories260K") when it
    // was opened from there, else empty (Document::displayName() then uses the file or folder name).
    QString name;
    std::shared_ptr<const qs::Checkpoint> checkpoint;
    qs::ModelInfo info;
};

class Document : public QObject {
    Q_OBJECT
public:
    explicit Document(QObject* parent = nullptr);

    bool hasModel() const { return m_model != nullptr; }
    std::shared_ptr<const LoadedModel> model() const { return m_model; }
    // Null when no model is loaded.
    const qs::Checkpoint* checkpoint() const { return m_model ? m_model->checkpoint.get() : nullptr; }
    const qs::ModelInfo* info() const { return m_model ? &m_model->info : nullptr; }
    QString path() const { return m_model ? m_model->path : QString(); }
    // The model's name for titles, the Summary and the log's source column: LoadedModel::name when set, else
    // the file or folder name of path(); empty without a model. Where a path is shown it stays path().
    QString displayName() const;
    int tensorCount() const;

    // Replaces the model (null clears it): emits modelChanged(), then selectionChanged(-1) if a tensor was
    // selected.
    void setModel(std::shared_ptr<const LoadedModel> model);

    // The selected tensor (index into Checkpoint::tensors), or -1.
    int selectedTensor() const { return m_selected; }
    // Selects tensor `index` (-1 clears); out-of-range indices clear. Emits selectionChanged only on change.
    void selectTensor(int index);

    // The quantization map (kept across model loads: a map is written in roles and patterns, not indices).
    const qs::QuantMap& quantMap() const { return m_map; }
    // The map resolved against the current model; null without a model. Errors of resolution (which only
    // inconsistent input produces) are in resolveError().
    const qs::ResolvedMap* resolvedMap() const { return m_resolved ? &*m_resolved : nullptr; }
    QString resolveError() const { return m_resolveError; }
    // The footprint of resolvedMap() under the current calibration (qs::footprintAfter(*resolvedMap(), the
    // tensors, the info, calibrationSet())); null without a resolved map. Computed on the first call after the
    // map, the model or the calibration changed and shared by every view that shows it (the Footprint and
    // Summary views, the resolved-tensor table): one per-tensor vector (88 bytes a tensor) instead of one per
    // view. The pointer is valid until the next quantMapChanged, modelChanged or calibrationChanged.
    const qs::MapFootprint* footprint() const;
    // Replaces the map as one undoable edit labelled `undoText` ("Add rule", "Preset: nf4 everywhere").
    // A map equal to the current one pushes nothing.
    void setQuantMap(qs::QuantMap map, const QString& undoText);
    QUndoStack* undoStack() const { return m_undo; }

    // Cached analysis results (ui/stats/stats_cache.h); cleared when the model changes.
    StatsCache* statsCache() const { return m_stats; }
    // The current model's quantized tensors (never null; replaced by an empty one when the model changes).
    // Thread-safe: hand the shared_ptr to jobs.
    std::shared_ptr<qs::QuantizedTensorCache> quantCache() const { return m_quantCache; }
    // A job that took `fromCache` packed tensors from quantCache() and quantized `quantizedHere` itself reports
    // it here; emits quantCacheReused when it reused any (the main window logs it). `job` names it ("chat").
    void reportQuantCacheReuse(const QString& job, int fromCache, int quantizedHere);

    // The calibration, or null when none is loaded.
    const DocumentCalibration* calibration() const { return m_calibration ? &*m_calibration : nullptr; }
    // Its statistics (null when none): hand this to jobs.
    std::shared_ptr<const qs::CalibrationSet> calibrationSet() const;
    // Replaces the calibration (nullopt clears it); emits calibrationChanged(). Without a model it is
    // ignored.
    void setCalibration(std::optional<DocumentCalibration> calibration);
    // What results of `scheme` depend on beyond its name: "" for a scheme that needs no calibration (or an
    // unknown name), otherwise "@" + the calibration's fingerprint ("@none" without one). Appended to the
    // keys of cached per-tensor results (StatsCache::previewKey).
    QString calibrationTag(const std::string& scheme) const;

Q_SIGNALS:
    void modelChanged();
    void selectionChanged(int tensorIndex);
    // The map or its resolution changed (after an edit, undo, redo, or a new model).
    void quantMapChanged();
    void quantCacheReused(const QString& job, int fromCache, int quantizedHere);
    void calibrationChanged();

private:
    friend class SetQuantMapCommand;
    void applyQuantMap(const qs::QuantMap& map);  // no undo entry; re-resolves and emits quantMapChanged
    void resolve();

    std::shared_ptr<const LoadedModel> m_model;
    int m_selected = -1;
    qs::QuantMap m_map;
    std::optional<qs::ResolvedMap> m_resolved;
    mutable std::optional<qs::MapFootprint> m_footprint;  // footprint()'s cache; reset with m_resolved, calibration
    QString m_resolveError;
    QUndoStack* m_undo = nullptr;
    StatsCache* m_stats = nullptr;
    std::shared_ptr<qs::QuantizedTensorCache> m_quantCache;
    std::optional<DocumentCalibration> m_calibration;
};

}  // namespace qsui
