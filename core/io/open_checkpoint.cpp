// SPDX-License-Identifier: GPL-3.0-or-later
// openCheckpoint(): picks a reader by content first (magic bytes, header shape) and by extension second, so a
// renamed file still opens and a misnamed one gets the right error. A folder opens the checkpoint inside it.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/io/checkpoint.h"
#include "core/io/gguf_reader.h"
#include "core/io/hdf5_reader.h"
#include "core/io/llama2c_reader.h"
#include "core/io/pickle_detect.h"
#include "core/io/safetensors_reader.h"
#include "core/io/side_files.h"

namespace qs {

namespace {

namespace fs = std::filesystem;

enum class Kind { Unknown, Safetensors, SafetensorsIndex, Gguf, Llama2c, Hdf5, TorchZip, OtherZip, Pickle };

bool startsWith(std::span<const std::byte> b, std::string_view magic) {
    return b.size() >= magic.size() && std::memcmp(b.data(), magic.data(), magic.size()) == 0;
}

bool hasHdf5Signature(std::span<const std::byte> b) {
    // The superblock sits at 0, 512, 1024, 2048, ... when a user block precedes it (HDF5 format spec, 2.1).
    static constexpr std::string_view kSig("\x89HDF\r\n\x1a\n", 8);
    for (uint64_t off = 0; off + 8 <= b.size(); off = off == 0 ? 512 : off * 2)
        if (std::memcmp(b.data() + off, kSig.data(), 8) == 0) return true;
    return false;
}

Kind detectByContent(std::span<const std::byte> b) {
    if (startsWith(b, "GGUF")) return Kind::Gguf;
    if (hasHdf5Signature(b)) return Kind::Hdf5;
    if (const io::ZipKind z = io::classifyZip(b); z != io::ZipKind::NotZip)
        return z == io::ZipKind::TorchZip ? Kind::TorchZip : Kind::OtherZip;
    if (io::looksLikeRawPickle(b)) return Kind::Pickle;
    uint32_t magic = 0;
    if (b.size() >= 4) std::memcpy(&magic, b.data(), 4);
    if (magic == io::kLlama2cMagic || magic == __builtin_bswap32(io::kLlama2cMagic)) return Kind::Llama2c;
    // safetensors: u64 header length, then a JSON object.
    if (b.size() >= 9 && char(b[8]) == '{') return Kind::Safetensors;
    if (io::looksLikeLlama2c(b)) return Kind::Llama2c;
    return Kind::Unknown;
}

Kind detectByName(const std::string& path) {
    const std::string name = fs::path(path).filename().string();
    if (name.ends_with(".safetensors.index.json")) return Kind::SafetensorsIndex;
    if (name.ends_with(".safetensors")) return Kind::Safetensors;
    if (name.ends_with(".gguf")) return Kind::Gguf;
    if (name.ends_with(".h5") || name.ends_with(".hdf5")) return Kind::Hdf5;
    if (io::hasTorchName(path)) return Kind::Pickle;
    if (name.ends_with(".bin")) return Kind::Llama2c;
    return Kind::Unknown;
}

// The checkpoint file inside a folder, or an error naming what was (not) found.
Result<std::string> pickInFolder(const std::string& folder) {
    const std::vector<std::string> names = io::listFileNames(folder);
    auto path = [&](const std::string& n) { return (fs::path(folder) / n).string(); };
    auto withSuffix = [&](std::string_view suffix) {
        std::vector<std::string> r;
        for (const auto& n : names)
            if (n.ends_with(suffix)) r.push_back(n);
        return r;
    };
    auto oneOf = [&](const std::vector<std::string>& c, const char* what) -> Result<std::string> {
        std::string list;
        for (const auto& n : c) list += (list.empty() ? "" : ", ") + n;
        return Error{folder + ": several " + what + " files (" + list + "); open one of them directly"};
    };
    if (auto idx = withSuffix(".safetensors.index.json"); !idx.empty()) {
        if (std::find(idx.begin(), idx.end(), "model.safetensors.index.json") != idx.end())
            return path("model.safetensors.index.json");
        if (idx.size() == 1) return path(idx[0]);
        return oneOf(idx, "safetensors index");
    }
    if (auto st = withSuffix(".safetensors"); !st.empty()) {
        if (std::find(st.begin(), st.end(), "model.safetensors") != st.end()) return path("model.safetensors");
        if (st.size() == 1) return path(st[0]);
        return oneOf(st, "safetensors");
    }
    if (auto g = withSuffix(".gguf"); !g.empty()) return g.size() == 1 ? Result<std::string>(path(g[0])) : oneOf(g, "GGUF");
    std::vector<std::string> h5 = withSuffix(".h5");
    for (const auto& n : withSuffix(".hdf5")) h5.push_back(n);
    if (!h5.empty()) return h5.size() == 1 ? Result<std::string>(path(h5[0])) : oneOf(h5, "HDF5");
    std::vector<std::string> bins;
    for (const auto& n : withSuffix(".bin"))
        if (!n.starts_with("tok") && !io::hasTorchName(n)) bins.push_back(n);
    if (!bins.empty()) return bins.size() == 1 ? Result<std::string>(path(bins[0])) : oneOf(bins, "llama2.c .bin");
    for (const auto& n : names)
        if (io::hasTorchName(n)) return path(n);  // refused with the pickle message by the caller
    // A FIFO or device under a checkpoint's name is not listed above (opening it would block or never end): name
    // it rather than say nothing was found.
    for (const char* n : {"model.safetensors.index.json", "model.safetensors"})
        if (std::string why = io::notRegularSideFile(folder, n); !why.empty()) return Error{why};
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string n = it->path().filename().string();
        const bool named = n.ends_with(".safetensors") || n.ends_with(".gguf") || n.ends_with(".h5") ||
                           n.ends_with(".hdf5") || n.ends_with(".safetensors.index.json");
        if (std::string why = named ? io::notRegularSideFile(folder, n) : std::string(); !why.empty()) return Error{why};
    }
    return Error{folder + ": no checkpoint found (looked for *.safetensors.index.json, *.safetensors, *.gguf, "
                          "*.h5, llama2.c *.bin)"};
}

}  // namespace

Result<std::unique_ptr<Checkpoint>> openCheckpoint(const std::string& path, const OpenOptions& options,
                                                   const ProgressFn& progressFn) {
    ProgressSink progress(progressFn);
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) return Error{path + ": no such file or folder"};
    std::string file = path;
    if (fs::is_directory(st)) {
        auto picked = pickInFolder(path);
        if (!picked) return picked.error();
        file = *picked;
    }

    auto mapped = MappedFile::open(file);
    if (!mapped) return mapped.error();
    std::shared_ptr<const MappedFile> mf = *mapped;
    if (mf->size() == 0) return Error{file + ": empty file (0 bytes), not a checkpoint"};

    // A JSON file can only be a shard index; its content has no magic to detect it by.
    Kind kind = file.ends_with(".json") ? Kind::SafetensorsIndex : detectByContent(mf->bytes());
    if (kind == Kind::Unknown) kind = detectByName(file);

    Result<std::unique_ptr<Checkpoint>> r = Error{""};
    switch (kind) {
        case Kind::Llama2c: r = io::readLlama2c(mf, options, progress); break;
        case Kind::Hdf5: r = io::readHdf5(mf, options, progress); break;
        case Kind::Gguf: r = io::readGguf(mf, options, progress); break;
        case Kind::Safetensors: r = io::readSafetensors(mf, options, progress); break;
        case Kind::SafetensorsIndex: r = io::readSafetensorsIndex(file, options, progress); break;
        case Kind::TorchZip: return Error{io::pickleRefusal(file, "zip archive with a data.pkl record")};
        case Kind::Pickle:
            return Error{io::pickleRefusal(file, io::looksLikeRawPickle(mf->bytes()) ? "raw pickle stream"
                                                                                  : "named like a torch.save file")};
        case Kind::OtherZip:
            return Error{file + ": a zip archive without a data.pkl record; not a checkpoint QuantScope reads"};
        case Kind::Unknown:
            if (startsWith(mf->bytes(), io::kSweepCsvMagic))  // QuantScope's own output, named as the .h5 form is
                return Error{file + ": a QuantScope sweep table (written by `sweep --out`), not a checkpoint: "
                                    "`quantscope-cli inspect` shows it; the GUI's Sweep tab opens it with Resume..."};
            return Error{file + ": unrecognised format (no safetensors, GGUF, llama2.c or HDF5 signature, and an "
                                "unknown extension)"};
    }
    if (!r) return r;
    if (r.value()->path.empty() || fs::is_directory(st)) r.value()->path = path;
    for (const auto& f : r.value()->files) f->protectAsInput();  // no output may replace them (mapped_file.h)
    return r;
}

}  // namespace qs
