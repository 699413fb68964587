// SPDX-License-Identifier: GPL-3.0-or-later
// HDF5 files (Keras .h5 saves and any other HDF5 with numeric datasets), through the libhdf5 C API.
// Every group is walked along hard links (soft and external links are not followed: an external link could
// point anywhere). Every numeric dataset (IEEE float 16/32/64, 8..64-bit integers) becomes a tensor named by
// its path without the leading '/', e.g. "model_weights/lstm_1/lstm_1/kernel:0", shape = the dataspace.
// Contiguous, unfiltered, little-endian datasets are views into the memory mapping (offset from
// H5Dget_offset); the others (chunked, compressed, compact, big-endian) have TensorInfo::file = -1 and are
// read on demand by the overridden Checkpoint::data(). Root attributes become metadata (strings, numbers,
// arrays of them). Other datasets (strings, compounds) are skipped with a warning, and so is a dataset read on demand
// whose stored size cannot hold what it declares (H5Dget_storage_size: never written, unfiltered with chunks missing,
// or compressed beyond what the file could expand to): libhdf5 would hand back its fill value for a size the file
// never held, so it is left out of the tensors and of every total.
// libhdf5's automatic error printing is switched off; its error stack becomes the Error message. libhdf5 is
// only thread-safe when built so, so every call here holds one process-wide mutex (hdf5Mutex()). Every read of a
// file goes through a separate process first (readHdf5Isolated, core/io/child_process.h), so that a damaged file
// that crashes or hangs libhdf5 is refused instead of taking QuantScope down.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/io/checkpoint.h"
#include "core/io/child_process.h"
#include "core/io/regular_file.h"

namespace qs::io {

// The mutex every libhdf5 call in QuantScope must hold (exporters writing HDF5 sessions included).
std::mutex& hdf5Mutex();

// Whether `path` is an HDF5 file (libhdf5's H5Fis_hdf5: the signature, also after a user block). False for a file
// that cannot be opened or is not a regular file (opening a FIFO blocks). Thread-safe (holds hdf5Mutex()).
bool isHdf5File(const std::string& path);

// QuantScope's own HDF5 outputs, told apart by their markers: a session (root attribute kSessionMarker,
// `export --h5`, core/export/session_h5.h), calibration statistics (root attribute kCalibrationMarker,
// `calibrate --out X.h5`, core/calib/calibration_h5.h) and a sweep table (a /sweep group with a "spec" attribute,
// core/sweep/sweep_hdf5.h; a session may carry one too and is a session). None of them is a checkpoint.
enum class QuantScopeHdf5 { None, Session, Calibration, SweepTable };
inline constexpr const char* kSessionMarker = "quantscope_session";
inline constexpr const char* kCalibrationMarker = "quantscope_calibration";
// The sweep table's other form, the CSV `sweep --out F.csv` writes (core/sweep/sweep.h), is text: its line 1 starts
// with this marker, by which openCheckpoint names it instead of calling it an unrecognised format.
inline constexpr std::string_view kSweepCsvMagic = "# quantscope-sweep ";
// Which of them `path` is; None for any other file, an HDF5 file that is not ours, or one that cannot be opened.
// Thread-safe (holds hdf5Mutex()).
QuantScopeHdf5 quantScopeHdf5Kind(const std::string& path);

// Reads the checkpoint, first in a separate process (below), where the child also reads every dataset that is not
// a view into the mapping (chunked, compressed, big-endian: libhdf5 parses their chunk indexes and filters).
Result<std::unique_ptr<Checkpoint>> readHdf5(std::shared_ptr<const MappedFile> file, const OpenOptions& options,
                                             ProgressSink& progress);

// What a libhdf5 crash or hang is said to have interrupted (child_process.h's `what`).
inline constexpr const char* kLibhdf5Reading = "libhdf5 reading the file";

// What a read isolated by readHdf5Isolated does, which sets how long its child may stay silent: Metadata (opening the
// file, attributes, links: ChildProcessOptions::quietLimit, 20 s) or Data (datasets too, one libhdf5 call each that
// reports nothing: the whole read is a long step, longStepLimit, 120 s).
enum class Hdf5Read { Metadata, Data };

// How every HDF5 read runs its separate process (child_process.h): under hdf5Mutex(), progress relayed to
// `progress` (null: none).
inline ChildProcessOptions hdf5ChildOptions(ProgressSink* progress) {
    ChildProcessOptions options;
    options.guard = &hdf5Mutex();
    options.progress = progress;
    return options;
}

// Runs `read` (which takes hdf5Mutex() itself) in a separate process first (child_process.h: libhdf5 1.10.8 trusts
// damaged object headers, tests/fuzz/upstream/hdf5/README.md), then, when it finished there, in this process. A crash
// or hang there becomes an Error naming `path`; the child's own Error is returned without reading again. `progress`:
// the child's progress is relayed to it and its cancellation stops the child (null: none). A `path` that is not a
// regular file (a FIFO, a device: opening it could block) is refused without a child. Any thread.
template <class T>
Result<T> readHdf5Isolated(const std::string& path, const std::function<Result<T>()>& read,
                           ProgressSink* progress = nullptr, Hdf5Read what = Hdf5Read::Data) {
    if (!isRegularFile(path)) return Error{path + ": not a regular file"};
    const Status vetted = runInChildProcess(
        path, kLibhdf5Reading,
        [&](ProgressSink&) -> Status {
            if (what == Hdf5Read::Data) childLongStep();
            auto r = read();
            return r ? Status{} : Status{r.error()};
        },
        hdf5ChildOptions(progress));
    if (!vetted) return vetted.error();
    return read();
}

}  // namespace qs::io
