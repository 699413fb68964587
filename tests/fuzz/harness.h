// SPDX-License-Identifier: GPL-3.0-or-later
// Shared pieces of the libFuzzer targets (tests/fuzz/fuzz_*.cpp) and of their replay in the normal suite
// (tests/core/test_fuzz_regressions.cpp).
//
// Each target is written once as `QS_FUZZ_TARGET(name) { ... }`, a function
//     qs::fuzz::Outcome qsFuzz_<name>(std::span<const std::byte> input)
// that feeds `input` to one untrusted-input parser the way the application does (through a file when the
// parser takes a path) and, when the parser accepts it, does cheaply what a user does next (analyse the
// model, decode a few rows, tokenize a short text). Built with QS_FUZZ_STANDALONE (the clang fuzz build),
// the macro also defines libFuzzer's LLVMFuzzerTestOneInput calling it; without it (the gcc test suite) the
// functions are plain and the replay test calls them by name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/io/checkpoint.h"
#include "core/io/child_process.h"

namespace qs {
class Tokenizer;
}  // namespace qs

namespace qs::fuzz {

// What the parser said: accepted (ok), or refused with its error message. `name` is how the input was named to
// the parser (a path or an origin string), which every error message must contain ("" when the parser takes
// no name, e.g. a JSON text or a byte classifier).
struct Outcome {
    bool ok = false;
    std::string error;
    std::string name;
};

// The input bytes as a file: an anonymous memfd_create file, named /proc/self/fd/<n> for the parser. Owns the
// descriptor (closed in the destructor). Aborts when the kernel refuses (a harness failure, not a finding).
class InputFile {
public:
    explicit InputFile(std::span<const std::byte> bytes);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;
    const std::string& path() const { return m_path; }

private:
    int m_fd = -1;
    std::string m_path;
};

// A private folder of this process (under $TMPDIR, else /dev/shm, else /tmp), created on first use, for parsers
// that look at a file's name or its neighbours (a sharded index and its shards, tokenizer.json). Not removed
// at exit (libFuzzer leaves through _exit); names are fixed, so a run leaves one small folder per process.
const std::string& scratchDir();
// Writes `bytes` to scratchDir()/name (replacing it) and returns the path. Aborts on a write failure.
std::string writeScratchFile(std::string_view name, std::span<const std::byte> bytes);

// What a user does after opening a checkpoint, bounded: analyzeModel, then the stored bytes and up to 64 Ki
// decoded values (whole rows) of the first 8 tensors. Never fails: a decode error is a normal outcome.
void exerciseCheckpoint(const Checkpoint& ckpt);

// A checkpoint reader of one memory-mapped file (io::readGguf, readSafetensors, readLlama2c): runs it on the
// input (side files not read: the neighbours of /proc/self/fd/N are other descriptors), then
// exerciseCheckpoint on what it opened.
using MappedReader = Result<std::unique_ptr<Checkpoint>> (*)(std::shared_ptr<const MappedFile>, const OpenOptions&,
                                                            ProgressSink&);
Outcome readMapped(std::span<const std::byte> input, MappedReader read);
// Encodes a short text with and without BOS / special tokens and maps the ids back to pieces.
void exerciseTokenizer(const Tokenizer& tok);

inline std::string_view asText(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

template <class R>
Outcome outcomeOf(const R& result, std::string name) {
    Outcome o;
    o.ok = result.ok();
    if (!o.ok) o.error = result.message();
    o.name = std::move(name);
    return o;
}

}  // namespace qs::fuzz

#define QS_FUZZ_DECLARE(target) qs::fuzz::Outcome qsFuzz_##target(std::span<const std::byte> input)

#ifdef QS_FUZZ_STANDALONE
// libFuzzer must see a fault where it happens: reads that the product runs in a separate process
// (core/io/child_process.h: every HDF5 read) run in the fuzzer's own process instead.
#define QS_FUZZ_TARGET(target)                                                           \
    extern "C" int LLVMFuzzerInitialize(int*, char***) {                                 \
        qs::io::setChildProcessReads(false);                                             \
        return 0;                                                                        \
    }                                                                                    \
    QS_FUZZ_DECLARE(target);                                                             \
    extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {            \
        qsFuzz_##target(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size)); \
        return 0;                                                                        \
    }                                                                                    \
    QS_FUZZ_DECLARE(target)
#else
#define QS_FUZZ_TARGET(target) QS_FUZZ_DECLARE(target)
#endif
