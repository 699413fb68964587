// SPDX-License-Identifier: GPL-3.0-or-later
// Calibration statistics in HDF5: the `calibration/` group of a session file (core/export/session_h5.h) or of
// a file of its own (`quantscope-cli calibrate --out STATS.h5`, root attribute quantscope_calibration = 1).
//
// Layout (h5py: f["/calibration/inputs/0/sum_squares"][()] is a float64 array):
//   /calibration            attrs source ("engine" | "imatrix"), text_source, text_fnv1a, model_fingerprint,
//                           settings (strings); tokens, sequences, sequence_length, collected (i64; collected is
//                           the CalibrationNeeds bit set: 1 importance, 2 hessian, 4 samples, 8 maxAbs, 16 meanAbs)
//   /calibration/inputs/<k> one group per distinct input (k = 0, 1, ... in tensor-name order of its first
//                           reader); attrs cols, tokens (i64)
//       tensors             UTF-8 strings [m]: the weight tensors reading this input (q/k/v share one)
//       sum_squares         float64 [cols]   sum of x^2 over the tokens      (when collected)
//       sum_abs             float64 [cols]   sum of |x|                      (when collected)
//       max_abs             float32 [cols]   max |x|                         (when collected)
//       hessian             float64 [cols, cols]  sum of x x^T               (when collected for this input)
//       samples             float32 [n, cols]     reservoir of activation rows (when collected)
// Reading gives back the same values bit for bit and the same sharing (one TensorCalibration per input).
// Errors name the file and the object. Thread-safety: libhdf5 calls hold io::hdf5Mutex().
#pragma once

#include <optional>
#include <string>

#include "core/calib/calibration.h"
#include "core/io/hdf5_writer.h"
#include "core/util/result.h"

namespace qs {

// Writes `set` as /calibration into an open writer (the caller commits).
Status writeCalibrationGroup(io::Hdf5Writer& writer, const CalibrationSet& set);

// A file holding only the statistics (attribute quantscope_calibration = 1 on the root), written atomically.
Status writeCalibrationH5(const std::string& path, const CalibrationSet& set);

// The /calibration group of `path` (a session or a statistics file); nullopt when the file has none. Fails
// naming the file and object when it is not HDF5 or the group is damaged. Read in a separate process first
// (io::readHdf5Isolated).
Result<std::optional<CalibrationSet>> readCalibrationH5(const std::string& path);
// The same read in the calling process only, for a reader that is itself run through io::readHdf5Isolated
// (the session reader), so the group is not vetted twice. Holds io::hdf5Mutex().
Result<std::optional<CalibrationSet>> readCalibrationH5InProcess(const std::string& path);

}  // namespace qs
