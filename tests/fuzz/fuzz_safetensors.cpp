// SPDX-License-Identifier: GPL-3.0-or-later
// The single-file safetensors reader (core/io/safetensors_reader.h), then analyzeModel and a few decoded rows.
#include "fuzz/harness.h"

#include "core/io/safetensors_reader.h"
#include "core/io/mapped_file.h"

QS_FUZZ_TARGET(safetensors) {
    const qs::fuzz::InputFile file(input);
    auto mapped = qs::MappedFile::open(file.path());
    if (!mapped) return qs::fuzz::outcomeOf(mapped, file.path());
    qs::OpenOptions options;
    options.readSideFiles = false;  // the neighbours of /proc/self/fd/N are other descriptors
    qs::ProgressSink progress;
    auto ckpt = qs::io::readSafetensors(*mapped, options, progress);
    if (ckpt) qs::fuzz::exerciseCheckpoint(**ckpt);
    return qs::fuzz::outcomeOf(ckpt, file.path());
}
