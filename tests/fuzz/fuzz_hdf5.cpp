// SPDX-License-Identifier: GPL-3.0-or-later
// The HDF5 checkpoint reader (core/io/hdf5_reader.h, libhdf5 underneath), then analyzeModel and a few decoded rows.
#include "fuzz/harness.h"

#include "core/io/hdf5_reader.h"
#include "core/io/mapped_file.h"

QS_FUZZ_TARGET(hdf5) {
    // libhdf5 resolves the real path of what it opens, which a memfd (/proc/self/fd/N) does not have.
    const std::string path = qs::fuzz::writeScratchFile("input.h5", input);
    auto mapped = qs::MappedFile::open(path);
    if (!mapped) return qs::fuzz::outcomeOf(mapped, path);
    qs::OpenOptions options;
    options.readSideFiles = false;
    qs::ProgressSink progress;
    auto ckpt = qs::io::readHdf5(*mapped, options, progress);
    if (ckpt) qs::fuzz::exerciseCheckpoint(**ckpt);
    return qs::fuzz::outcomeOf(ckpt, path);
}
