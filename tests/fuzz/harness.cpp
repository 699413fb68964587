// SPDX-License-Identifier: GPL-3.0-or-later
#include "fuzz/harness.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "core/infer/tokenizer.h"
#include "core/io/checkpoint.h"
#include "core/io/mapped_file.h"
#include "core/model/model_info.h"

namespace qs::fuzz {

namespace {
[[noreturn]] void harnessFailure(const std::string& what) {
    std::fprintf(stderr, "fuzz target: %s\n", what.c_str());
    std::abort();
}

bool writeAll(int fd, std::span<const std::byte> bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) return false;
        done += size_t(n);
    }
    return true;
}
}  // namespace

InputFile::InputFile(std::span<const std::byte> bytes) {
    m_fd = ::memfd_create("qs-fuzz-input", MFD_CLOEXEC);
    if (m_fd < 0 || !writeAll(m_fd, bytes)) harnessFailure("memfd_create/write failed");
    m_path = "/proc/self/fd/" + std::to_string(m_fd);
}

InputFile::~InputFile() {
    if (m_fd >= 0) ::close(m_fd);
}

const std::string& scratchDir() {
    static const std::string dir = [] {
        std::string base;
        if (const char* t = std::getenv("TMPDIR"); t && *t) base = t;
        else if (::access("/dev/shm", W_OK) == 0) base = "/dev/shm";
        else base = "/tmp";
        std::string d = base + "/qs-fuzz-" + std::to_string(::getpid());
        if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) harnessFailure("cannot create " + d);
        return d;
    }();
    return dir;
}

std::string writeScratchFile(std::string_view name, std::span<const std::byte> bytes) {
    std::string path = scratchDir() + "/" + std::string(name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) harnessFailure("cannot write " + path);
    return path;
}

Outcome readMapped(std::span<const std::byte> input, MappedReader read) {
    const InputFile file(input);
    auto mapped = MappedFile::open(file.path());
    if (!mapped) return outcomeOf(mapped, file.path());
    OpenOptions options;
    options.readSideFiles = false;
    ProgressSink progress;
    auto ckpt = read(*mapped, options, progress);
    if (ckpt) exerciseCheckpoint(**ckpt);
    return outcomeOf(ckpt, file.path());
}

void exerciseCheckpoint(const Checkpoint& ckpt) {
    // What a reader accepted must be what it promises: every mapped tensor inside its file.
    for (const TensorInfo& t : ckpt.tensors) {
        if (t.file < 0) continue;
        if (size_t(t.file) >= ckpt.files.size() || t.offset > ckpt.files[size_t(t.file)]->size() ||
            t.bytes > ckpt.files[size_t(t.file)]->size() - t.offset)
            harnessFailure("reader accepted tensor '" + t.name + "' outside its file");
    }
    const ModelInfo info = analyzeModel(ckpt);
    (void)info;
    constexpr uint64_t kMaxValues = 64 * 1024;
    std::vector<float> values;
    for (size_t i = 0; i < std::min<size_t>(ckpt.tensors.size(), 8); ++i) {
        const TensorInfo& t = ckpt.tensors[i];
        auto data = ckpt.data(i);
        if (!data.ok() || !dtypeConvertibleToFloat(t.dtype)) continue;
        const uint64_t row = uint64_t(std::max<int64_t>(t.rowLength(), 1));
        if (row > kMaxValues || t.elements() == 0) continue;
        const uint64_t count = std::min<uint64_t>(t.elements(), kMaxValues / row * row);
        values.resize(size_t(count));
        (void)ckpt.toFloat(i, 0, count, values.data());
    }
}

void exerciseTokenizer(const Tokenizer& tok) {
    const std::string_view text = "Hello world, it's 2024! <s> Über naïve 日本 \n\t  x";
    for (const bool special : {false, true}) {
        const std::vector<int> ids = tok.encode(text, true, special);
        std::string back;
        for (const int id : ids) {
            // An id outside the vocabulary would index past the embedding: a wrong number, not a refusal.
            if (id < 0 || id >= tok.vocabSize())
                harnessFailure("tokenizer produced id " + std::to_string(id) + " outside its vocabulary of " +
                               std::to_string(tok.vocabSize()));
            back += tok.piece(id);
        }
    }
    (void)tok.encodeWithSpecialTokens(text, true);
    (void)tok.piece(-1);
    (void)tok.piece(tok.vocabSize());
}

}  // namespace qs::fuzz
