// SPDX-License-Identifier: GPL-3.0-or-later
// The HDF5 session: a quantization map applied to a model, with what QuantScope measured, in one file that
// h5py reads and QuantScope re-opens exactly (written with core/io/hdf5_writer: temp name, renamed on
// success).
//
// Layout (n = the model's tensors, in file order; h5py: f["/tensors/rmse"][()] is a float64 array):
//   /                        attrs quantscope_session = 1 (i64), model (path), model_format ("gguf", ...)
//   /map                     attr rules_json: the map's rules as QuantScope map JSON (loadQuantMap reads it)
//   /tensors/name, role, scheme          UTF-8 strings [n]; scheme "keep" when the tensor stays as stored
//   /tensors/layer, rows, cols, bytes    int64 [n]; layer -1 for none; bytes after the map (0 for a tied
//   head) /tensors/count                       int64 [n]: elements compared /tensors/mse, rmse,
//   max_abs_error, sqnr_db, cosine, rel_frobenius, fraction_clipped, fraction_zeroed
//                                        float64 [n]: core/stats ErrorStats (zero error for kept tensors)
//   /histograms/<i>/weight, /histograms/<i>/error   int64 [bins] counts of tensor i (only quantized tensors,
//                                        only when bins > 0); attrs lo, hi (f64), below, above (i64):
//                                        bin k covers [lo + k*(hi-lo)/bins, lo + (k+1)*(hi-lo)/bins)
//   /quantized/<i>           uint8 [bytes] tensor i as its scheme packs it (ggml block layout for ggml types:
//                            scales and codes interleaved per block; RTN/nf4 as their headers describe), only
//                            with SessionOptions::tensors; attrs scheme, rows, cols (i64) and the byte split
//                            payload, scales, zeros, codebook, outliers, meta (i64, summing to the size).
//   /calibration             the input statistics the map was quantized with, when calibrated (layout in
//                            core/calib/calibration_h5.h)
//   /sweep                   a sweep's results, when the session carries one (Session::sweep): the same group
//                            as a sweep table file (core/sweep/sweep_hdf5.h: attrs version, spec, shard,
//                            columns; one 1-D dataset per column, one element per point)
// Thread affinity: any thread; buildSession's apply runs in `arena` (not owned, must outlive the call; null =
// serially on the calling thread), which it enters itself. Errors name the file and object.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/calib/calibration.h"
#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/scheme.h"
#include "core/stats/error_stats.h"
#include "core/sweep/sweep.h"
#include "core/util/result.h"

namespace qs {

struct SessionOptions {
    int histogramBins = 64;  // per quantized tensor, weights and errors (0: none)
    bool tensors = false;  // store the packed quantized tensors (the whole quantized model is held in memory)
    ProgressFn progress;
    const CalibrationSet* calibration = nullptr;  // for calibrated schemes (ApplyOptions::calibration); not owned
};

struct SessionTensor {
    std::string name, role, scheme;  // scheme "keep" when stored
    int64_t layer = -1, rows = 0, cols = 0, bytes = 0;
    ErrorStats stats;  // the derived fields (ErrorStats::sums is not stored)
    Histogram weightHistogram, errorHistogram;
    std::optional<QuantizedTensor> quantized;
};

struct Session {
    std::string model, modelFormat;
    QuantMap map;
    std::vector<SessionTensor> tensors;
    std::shared_ptr<const CalibrationSet> calibration;  // null when the map was applied without calibration
    // A sweep's results (as read from a sweep file: header, column line, rows); written as /sweep when set.
    std::optional<SweepFile> sweep;
};

// Applies `resolved` (from resolveMap over ckpt.tensors and info) and collects the session.
Result<Session> buildSession(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                             tbb::task_arena* arena, const SessionOptions& options = {});

Status writeSessionH5(const std::string& path, const Session& session);
Result<Session> readSessionH5(const std::string& path);

// True when `path` is an HDF5 file whose root carries quantscope_session (false for anything else).
bool isSessionH5(const std::string& path);

// The map of `path`: a QuantScope map JSON (loadQuantMap) or the /map of an HDF5 session. Any other HDF5 file
// (a sweep table) is refused by name instead of reaching the JSON parser.
Result<QuantMap> loadMapOrSession(const std::string& path);

// Fails unless `sweep` was measured on the weights whose checkpointFingerprint is `fingerprint` (the spec's
// model_fingerprint; a spec without one is refused too): the message names `origin` and both fingerprints.
Status checkSweepFingerprint(const SweepFile& sweep, const std::string& fingerprint, const std::string& origin);

// One line per tensor (scheme, bytes, RMSE, SQNR) after a header naming the model and the map's rules; a kept
// tensor (scheme "keep") shows "–" for both: it has no quantization error.
std::string sessionSummaryText(const Session& session);

}  // namespace qs
