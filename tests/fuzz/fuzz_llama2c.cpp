// SPDX-License-Identifier: GPL-3.0-or-later
// The llama2.c checkpoint reader (core/io/llama2c_reader.h), then analyzeModel and a few decoded rows.
#include "fuzz/harness.h"

#include "core/io/llama2c_reader.h"
#include "core/io/mapped_file.h"

QS_FUZZ_TARGET(llama2c) {
    const qs::fuzz::InputFile file(input);
    auto mapped = qs::MappedFile::open(file.path());
    if (!mapped) return qs::fuzz::outcomeOf(mapped, file.path());
    qs::OpenOptions options;
    options.readSideFiles = false;  // the neighbours of /proc/self/fd/N are other descriptors
    qs::ProgressSink progress;
    auto ckpt = qs::io::readLlama2c(*mapped, options, progress);
    if (ckpt) qs::fuzz::exerciseCheckpoint(**ckpt);
    return qs::fuzz::outcomeOf(ckpt, file.path());
}
