// SPDX-License-Identifier: GPL-3.0-or-later
// safetensors reader, single file and sharded. See safetensors_reader.h for the layout and the checks.
#include "core/io/safetensors_reader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "core/io/bounded_text.h"
#include "core/io/checkpoint_limits.h"
#include "core/io/safetensors_header_sax.h"
#include "core/io/side_files.h"

namespace qs::io {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string shapeText(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}


// One tensor entry of a shard's header (not __metadata__): dtype, shape and data_offsets checked against the
// data section [dataStart, dataStart + dataSize).
Result<TensorInfo> parseTensorEntry(const std::string& path, const std::string& name, const json& v, int fileIndex,
                                    uint64_t dataStart, uint64_t dataSize) {
    auto bad = [&](const std::string& what) { return Error{path + ": tensor '" + name + "': " + what}; };
    if (!v.is_object()) return bad("entry is not a JSON object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return bad("missing or non-string \"dtype\"");
    if (sh == v.end() || !sh->is_array()) return bad("missing or non-array \"shape\"");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
        return bad("\"data_offsets\" must be two non-negative integers [begin, end]");
    const std::string dtypeStr = dt->get<std::string>();
    const auto dtype = dtypeFromSafetensorsName(dtypeStr);
    if (!dtype) return bad("unknown dtype '" + dtypeStr + "'");
    TensorInfo t;
    t.name = name;
    t.dtype = *dtype;
    t.file = fileIndex;
    uint64_t elements = 1;
    t.shape.reserve(sh->size());  // one allocation, not one per doubling
    for (const json& d : *sh) {
        if (!d.is_number_unsigned()) return bad("shape " + sh->dump() + " has a dimension that is not a "
                                                "non-negative integer");
        const uint64_t dim = d.get<uint64_t>();
        if (dim > uint64_t(INT64_MAX) || __builtin_mul_overflow(elements, dim, &elements))
            return bad("shape " + sh->dump() + " overflows 64 bits");
        t.shape.push_back(int64_t(dim));
    }
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    const std::string offsets = "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end) return bad(offsets + " are reversed");
    if (end > dataSize)
        return bad(offsets + " run past the end of the data section (" + std::to_string(dataSize) + " bytes)");
    const auto bytes = dtypeBytes(*dtype, elements);
    if (!bytes)
        return bad("shape " + shapeText(t.shape) + " of " + dtypeStr + " (" + std::to_string(elements) +
                   " values) does not fill whole bytes");
    if (*bytes != end - begin)
        return bad("shape " + shapeText(t.shape) + " of " + dtypeStr + " needs " + std::to_string(*bytes) +
                   " bytes, but " + offsets + " hold " + std::to_string(end - begin));
    t.offset = dataStart + begin;
    t.bytes = *bytes;
    return t;
}

// The header text of a shard (bytes 8 .. 8 + n), its length checked against the file and the nesting bounded;
// `topMembers` gets the number of entries it holds (an upper bound: the JSON is not parsed yet).
Result<std::string_view> shardHeaderText(const MappedFile& f, size_t& topMembers) {
    const std::string& path = f.path();
    if (f.size() < 8)
        return Error{path + ": truncated safetensors file: " + std::to_string(f.size()) +
                     " bytes, less than the 8-byte header length"};
    uint64_t n = 0;
    std::memcpy(&n, f.data(), 8);
    if (n > f.size() - 8)
        return Error{path + ": safetensors header length " + std::to_string(n) + " runs past the end of the file (" +
                     std::to_string(f.size()) + " bytes)"};
    if (n > kSafetensorsMaxHeaderBytes)
        return Error{path + ": safetensors header length " + std::to_string(n) + " exceeds the 100 MB limit"};
    const std::string_view text(reinterpret_cast<const char*>(f.data() + 8), size_t(n));
    // Checked before parsing: a hostile header of a million '[' never builds a million nodes. A real one nests 3
    // deep; topMembers bounds the reservation of the tensor list.
    if (jsonNestingDepth(text, kMaxJsonDepth, &topMembers) > kMaxJsonDepth)
        return Error{path + ": safetensors header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
    return text;
}

// Turns each tensor entry of a shard's header into a TensorInfo as the SAX parser reaches it, and merges
// __metadata__ into `metadata`. Of several bad entries the one first in byte order of the names is reported (the
// order in which a parsed tree, a sorted map, used to meet them).
class TensorEntrySax : public SafetensorsHeaderSax {
public:
    TensorEntrySax(const std::string& path, int fileIndex, uint64_t dataStart, uint64_t dataSize,
                   std::vector<TensorInfo>& tensors, json& metadata)
        : SafetensorsHeaderSax(/*maxDepth=*/64, /*keepMetadata=*/true), m_path(path), m_fileIndex(fileIndex),
          m_dataStart(dataStart), m_dataSize(dataSize), m_tensors(tensors), m_metadata(metadata) {}

    // Empty when every entry was accepted.
    const std::string& entryError() const { return m_badMessage; }

protected:
    void entry(const std::string& name, json& value) override {
        if (name == "__metadata__") {
            if (!value.is_object()) return refuse(name, m_path + ": __metadata__ is not a JSON object");
            for (auto m = value.begin(); m != value.end(); ++m) m_metadata[m.key()] = std::move(m.value());
            return;
        }
        auto t = parseTensorEntry(m_path, name, value, m_fileIndex, m_dataStart, m_dataSize);
        if (!t) return refuse(name, t.message());
        if (m_badMessage.empty()) m_tensors.push_back(std::move(*t));
    }

private:
    void refuse(const std::string& name, std::string message) {
        if (m_badMessage.empty() || name < m_badName) m_badName = name, m_badMessage = std::move(message);
    }

    const std::string& m_path;
    int m_fileIndex;
    uint64_t m_dataStart, m_dataSize;
    std::vector<TensorInfo>& m_tensors;
    json& m_metadata;
    std::string m_badName, m_badMessage;
};

// A name given to two entries of one header is refused: a parsed tree kept the last silently.
Status checkUniqueNames(const std::string& path, const std::vector<TensorInfo>& tensors) {
    std::vector<uint32_t> order(tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = uint32_t(i);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return tensors[a].name < tensors[b].name; });
    for (size_t k = 1; k < order.size(); ++k)
        if (tensors[order[k - 1]].name == tensors[order[k]].name)
            return Error{path + ": tensor '" + tensors[order[k]].name + "' appears twice in the header (which entry "
                         "is meant is ambiguous)"};
    return {};
}

// Tensors sorted by offset must not overlap; bytes that belong to no tensor are a warning.
Status checkShardCoverage(const std::string& path, const std::vector<TensorInfo>& tensors, uint64_t dataStart,
                          uint64_t dataSize, std::vector<std::string>& warnings) {
    uint64_t covered = 0, prevEnd = dataStart;
    const TensorInfo* prev = nullptr;
    for (const TensorInfo& t : tensors) {
        if (t.bytes == 0) continue;
        if (prev && t.offset < prevEnd)
            return Error{path + ": tensors '" + prev->name + "' and '" + t.name + "' overlap (data bytes " +
                         std::to_string(t.offset - dataStart) + ".." + std::to_string(prevEnd - dataStart) + ")"};
        covered += t.bytes;
        prevEnd = t.offset + t.bytes;
        prev = &t;
    }
    if (covered != dataSize)
        warnings.push_back(path + ": " + std::to_string(dataSize - covered) +
                           " bytes of the data section belong to no tensor");
    return {};
}

// Parses one shard's header and appends its tensors (sorted by data offset, i.e. file order; equal offsets, as
// of empty tensors, by name) to `out`. The header is read entry by entry (TensorEntrySax): no tree of it is built.
Status parseShard(const MappedFile& f, int fileIndex, std::vector<TensorInfo>& out, json& metadata,
                  std::vector<std::string>& warnings) {
    const std::string& path = f.path();
    size_t members = 0;
    auto text = shardHeaderText(f, members);
    if (!text) return text.error();
    const uint64_t dataStart = 8 + text->size(), dataSize = f.size() - dataStart;
    // `members` counts __metadata__ too; a header of exactly the limit and a __metadata__ entry is still read.
    if (out.size() + members > kMaxCheckpointTensors + 1)
        return Error{path + ": header of " + std::to_string(members) + " entries" +
                     (out.empty() ? "" : " (" + std::to_string(out.size()) + " tensors in the shards before it)") +
                     ", more than the " + std::to_string(kMaxCheckpointTensors) + " tensors one checkpoint may hold"};

    // A valid tensor entry takes at least 46 bytes ({"dtype":"U8","shape":[],"data_offsets":[0,0]}): the
    // reservation stays proportionate to the header even when the ':' count is hostile.
    constexpr size_t kMinEntryBytes = 46;
    std::vector<TensorInfo> tensors;
    tensors.reserve(std::min(members, text->size() / kMinEntryBytes + 1));
    TensorEntrySax sax(path, fileIndex, dataStart, dataSize, tensors, metadata);
    if (!sax.parse(text->data(), text->size())) {
        if (sax.syntaxError())
            return Error{path + ": safetensors header (bytes 8.." + std::to_string(dataStart) + ") is not valid JSON"};
        if (sax.error() == SafetensorsHeaderSax::kNotAnObject)
            return Error{path + ": safetensors header is not a JSON object"};
        return Error{path + ": safetensors header: " + sax.error()};
    }
    if (!sax.entryError().empty()) return Error{sax.entryError()};
    if (auto st = checkUniqueNames(path, tensors); !st) return st;
    std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.offset != b.offset ? a.offset < b.offset : a.name < b.name;
    });
    if (auto st = checkShardCoverage(path, tensors, dataStart, dataSize, warnings); !st) return st;
    if (out.empty()) {
        out = std::move(tensors);
    } else {
        out.reserve(out.size() + tensors.size());
        for (auto& t : tensors) out.push_back(std::move(t));
    }
    return {};
}

void readSideFiles(Checkpoint& ck, const std::string& folder) {
    ck.config = readConfigJson(folder, ck.warnings);
    // tokenizer.json wins when both exist, as in transformers (AutoTokenizer loads the fast tokenizer from
    // it): only it carries the added tokens (ids past the SentencePiece vocabulary, <mask>, chat markers).
    ck.tokenizerPath = firstExisting(folder, {"tokenizer.json", "tokenizer.model"});
    // A FIFO or device tokenizer.json is skipped; taking tokenizer.model instead is said (without tokenizer.model,
    // loadTokenizerFor names the file itself).
    if (std::string why = notRegularSideFile(folder, "tokenizer.json"); !why.empty() && !ck.tokenizerPath.empty())
        ck.warnings.push_back(why + ": ignored, the tokenizer is " + ck.tokenizerPath);
}

// weight_map: tensor name -> shard file name, each shard inside the index's folder.
Result<std::map<std::string, std::string>> readWeightMap(const std::string& indexPath, const json& wm) {
    std::map<std::string, std::string> tensorToShard;
    for (auto it = wm.begin(); it != wm.end(); ++it) {
        if (!it.value().is_string())
            return Error{indexPath + ": weight_map entry '" + it.key() + "' is not a file name"};
        const std::string shard = it.value().get<std::string>();
        const fs::path sp(shard);
        bool escapes = sp.is_absolute() || shard.empty();
        for (const auto& part : sp) escapes = escapes || part == "..";
        if (escapes)
            return Error{indexPath + ": weight_map names shard '" + shard + "', which is not inside the folder"};
        tensorToShard[it.key()] = shard;
    }
    return tensorToShard;
}

// Every tensor in exactly one shard, the one weight_map names; a tensor found but not listed is a warning.
Status checkShardAssignment(const std::string& indexPath, Checkpoint& ck,
                            const std::map<std::string, std::string>& tensorToShard,
                            const std::map<std::string, int>& shardIndex) {
    std::set<std::string> seen;
    std::map<std::string, int> firstShard;  // tensor name -> the file it was first found in
    for (const TensorInfo& t : ck.tensors) {
        if (auto [it, fresh] = firstShard.emplace(t.name, t.file); !fresh)
            return Error{indexPath + ": tensor '" + t.name + "' is stored in two shards, " +
                         fs::path(ck.files[size_t(it->second)]->path()).filename().string() + " and " +
                         fs::path(ck.files[size_t(t.file)]->path()).filename().string() +
                         " (which copy is meant is ambiguous)"};
        seen.insert(t.name);
        auto it = tensorToShard.find(t.name);
        const std::string& where = ck.files[size_t(t.file)]->path();
        if (it == tensorToShard.end())
            ck.warnings.push_back(where + ": tensor '" + t.name + "' is not listed in the index's weight_map");
        else if (shardIndex.at(it->second) != t.file)
            return Error{indexPath + ": weight_map puts '" + t.name + "' in " + it->second + ", but it is in " +
                         where};
    }
    for (const auto& [name, shard] : tensorToShard)
        if (!seen.count(name))
            return Error{indexPath + ": weight_map lists '" + name + "' in " + shard + ", which does not contain it"};
    return {};
}

}  // namespace

Result<std::unique_ptr<Checkpoint>> readSafetensors(std::shared_ptr<const MappedFile> file,
                                                    const OpenOptions& options, ProgressSink& progress) {
    if (!progress.report(0.0, "reading safetensors header")) return Error{std::string(kCancelledMessage)};
    auto ck = std::make_unique<Checkpoint>();
    ck->path = file->path();
    ck->format = FileFormat::Safetensors;
    ck->formatDetail = "safetensors";
    ck->files.push_back(file);
    Status s = parseShard(*file, 0, ck->tensors, ck->metadata, ck->warnings);
    if (!s) return s.error();
    if (options.readSideFiles) readSideFiles(*ck, folderOf(file->path()));
    progress.report(1.0, "safetensors header read");
    return ck;
}

Result<std::unique_ptr<Checkpoint>> readSafetensorsIndex(const std::string& indexPath, const OpenOptions& options,
                                                         ProgressSink& progress) {
    if (!progress.report(0.0, "reading safetensors index")) return Error{std::string(kCancelledMessage)};
    auto mapped = MappedFile::open(indexPath);
    if (!mapped) return mapped.error();
    const MappedFile& f = **mapped;
    constexpr uint64_t kMaxIndexBytes = 64ull << 20;
    if (f.size() > kMaxIndexBytes)
        return Error{indexPath + ": safetensors index is " + std::to_string(f.size()) + " bytes (limit 64 MiB)"};
    const char* text = reinterpret_cast<const char*>(f.data());
    // The depth bound and "syntax error at byte N" of every other JSON read.
    auto parsed = parseBoundedJson(std::string_view(text, size_t(f.size())), indexPath);
    if (!parsed) return parsed.error();
    const json index = std::move(*parsed);
    if (!index.is_object()) return Error{indexPath + ": not a JSON object"};
    auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object()) return Error{indexPath + ": no \"weight_map\" object"};

    auto tensorToShard = readWeightMap(indexPath, *wm);
    if (!tensorToShard) return tensorToShard.error();
    std::set<std::string> shardNames;
    for (const auto& [name, shard] : *tensorToShard) shardNames.insert(shard);

    auto ck = std::make_unique<Checkpoint>();
    ck->path = indexPath;
    ck->format = FileFormat::Safetensors;
    ck->formatDetail = "safetensors, " + std::to_string(shardNames.size()) + " shard" +
                       (shardNames.size() == 1 ? "" : "s");
    if (auto md = index.find("metadata"); md != index.end() && md->is_object()) ck->metadata = *md;
    const std::string folder = folderOf(indexPath);
    std::map<std::string, int> shardIndex;
    for (const std::string& shard : shardNames) {
        if (!progress.report(double(shardIndex.size()) / double(shardNames.size()), "reading " + shard))
            return Error{std::string(kCancelledMessage)};
        auto sf = MappedFile::open((fs::path(folder) / shard).string());
        if (!sf) return Error{indexPath + ": shard '" + shard + "': " + sf.message()};
        const int fi = int(ck->files.size());
        ck->files.push_back(*sf);
        shardIndex[shard] = fi;
        Status s = parseShard(**sf, fi, ck->tensors, ck->metadata, ck->warnings);
        if (!s) return s.error();
    }
    if (auto st = checkShardAssignment(indexPath, *ck, *tensorToShard, shardIndex); !st) return st.error();
    if (auto md = index.find("metadata"); md != index.end() && md->is_object()) {
        auto ts = md->find("total_size");
        if (ts != md->end() && ts->is_number_unsigned() && ts->get<uint64_t>() != ck->totalBytes())
            ck->warnings.push_back(indexPath + ": metadata.total_size is " + std::to_string(ts->get<uint64_t>()) +
                                   " but the tensors hold " + std::to_string(ck->totalBytes()) + " bytes");
    }
    if (options.readSideFiles) readSideFiles(*ck, folder);
    progress.report(1.0, "safetensors index read");
    return ck;
}

}  // namespace qs::io
