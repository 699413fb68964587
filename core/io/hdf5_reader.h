// SPDX-License-Identifier: GPL-3.0-or-later
// HDF5 files (Keras .h5 saves and any other HDF5 with numeric datasets), through the libhdf5 C API.
// Every group is walked along hard links (soft and external links are not followed: an external link could
// point anywhere). Every numeric dataset (IEEE float 16/32/64, 8..64-bit integers) becomes a tensor named by
// its path without the leading '/', e.g. "model_weights/lstm_1/lstm_1/kernel:0", shape = the dataspace.
// Contiguous, unfiltered, little-endian datasets are views into the memory mapping (offset from
// H5Dget_offset); the others (chunked, compressed, compact, big-endian) have TensorInfo::file = -1 and are
// read on demand by the overridden Checkpoint::data(). Root attributes become metadata (strings, numbers,
// arrays of them). Other datasets (strings, compounds) are skipped with a warning.
// libhdf5's automatic error printing is switched off; its error stack becomes the Error message. libhdf5 is
// only thread-safe when built so, so every call here holds one process-wide mutex (hdf5Mutex()).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/io/checkpoint.h"

namespace qs::io {

// The mutex every libhdf5 call in QuantScope must hold (exporters writing HDF5 sessions included).
std::mutex& hdf5Mutex();

// Whether `path` is an HDF5 file (libhdf5's H5Fis_hdf5: the format signature, also after a user block). False
// for a file that cannot be opened. Thread-safe (holds hdf5Mutex()).
bool isHdf5File(const std::string& path);

// QuantScope's own HDF5 outputs, told apart by their markers: a session (root attribute kSessionMarker,
// `export --h5`, core/export/session_h5.h), calibration statistics (root attribute kCalibrationMarker,
// `calibrate --out X.h5`, core/calib/calibration_h5.h) and a sweep table (a /sweep group with a "spec" attribute,
// core/sweep/sweep_hdf5.h; a session may carry one too and is a session). None of them is a checkpoint.
enum class QuantScopeHdf5 { None, Session, Calibration, SweepTable };
inline constexpr const char* kSessionMarker = "quantscope_session";
inline constexpr const char* kCalibrationMarker = "quantscope_calibration";
// Which of them `path` is; None for any other file, an HDF5 file that is not ours, or one that cannot be opened.
// Thread-safe (holds hdf5Mutex()).
QuantScopeHdf5 quantScopeHdf5Kind(const std::string& path);

Result<std::unique_ptr<Checkpoint>> readHdf5(std::shared_ptr<const MappedFile> file, const OpenOptions& options,
                                             ProgressSink& progress);

}  // namespace qs::io
