// SPDX-License-Identifier: GPL-3.0-or-later
// safetensors reader, single file and sharded. See safetensors_reader.h for the layout and the checks.
#include "core/io/safetensors_reader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

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

// Deepest [ / { nesting in JSON text (outside strings). A real header nests 3 deep; checking before parsing
// keeps a hostile header of a million '[' from building a million JSON nodes.
int jsonNestingDepth(std::string_view text, int stopAt) {
    int depth = 0, maxDepth = 0;
    bool inString = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        if (inString) {
            if (ch == '\\') ++i;
            else if (ch == '"') inString = false;
        } else if (ch == '"') {
            inString = true;
        } else if (ch == '[' || ch == '{') {
            maxDepth = std::max(maxDepth, ++depth);
            if (maxDepth > stopAt) break;
        } else if (ch == ']' || ch == '}') {
            --depth;
        }
    }
    return maxDepth;
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

// The header JSON of a shard (bytes 8 .. 8 + n), its length checked against the file and the nesting bounded.
Result<json> parseShardHeader(const MappedFile& f) {
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
    const char* text = reinterpret_cast<const char*>(f.data() + 8);
    constexpr int kMaxJsonDepth = 64;
    if (jsonNestingDepth(std::string_view(text, size_t(n)), kMaxJsonDepth) > kMaxJsonDepth)
        return Error{path + ": safetensors header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
    json header = json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded())
        return Error{path + ": safetensors header (bytes 8.." + std::to_string(8 + n) + ") is not valid JSON"};
    if (!header.is_object()) return Error{path + ": safetensors header is not a JSON object"};
    return header;
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

// Parses one shard's header and appends its tensors (sorted by data offset, i.e. file order) to `out`.
Status parseShard(const MappedFile& f, int fileIndex, std::vector<TensorInfo>& out, json& metadata,
                  std::vector<std::string>& warnings) {
    const std::string& path = f.path();
    auto header = parseShardHeader(f);
    if (!header) return header.error();
    uint64_t n = 0;
    std::memcpy(&n, f.data(), 8);
    const uint64_t dataStart = 8 + n, dataSize = f.size() - dataStart;

    std::vector<TensorInfo> tensors;
    tensors.reserve(header->size());
    for (auto it = header->begin(); it != header->end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it.value().is_object()) return Error{path + ": __metadata__ is not a JSON object"};
            for (auto m = it.value().begin(); m != it.value().end(); ++m) metadata[m.key()] = m.value();
            continue;
        }
        auto t = parseTensorEntry(path, it.key(), it.value(), fileIndex, dataStart, dataSize);
        if (!t) return t.error();
        tensors.push_back(std::move(*t));
    }
    std::stable_sort(tensors.begin(), tensors.end(),
                     [](const TensorInfo& a, const TensorInfo& b) { return a.offset < b.offset; });
    if (auto st = checkShardCoverage(path, tensors, dataStart, dataSize, warnings); !st) return st;
    for (auto& t : tensors) out.push_back(std::move(t));
    return {};
}

void readSideFiles(Checkpoint& ck, const std::string& folder) {
    ck.config = readConfigJson(folder, ck.warnings);
    // tokenizer.json wins when both exist, as in transformers (AutoTokenizer loads the fast tokenizer from
    // it): only it carries the added tokens (ids past the SentencePiece vocabulary, <mask>, chat markers).
    ck.tokenizerPath = firstExisting(folder, {"tokenizer.json", "tokenizer.model"});
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
    if (jsonNestingDepth(std::string_view(text, size_t(f.size())), 64) > 64)
        return Error{indexPath + ": index JSON nests deeper than 64 levels"};
    json index = json::parse(text, text + f.size(), nullptr, /*allow_exceptions=*/false);
    if (index.is_discarded() || !index.is_object()) return Error{indexPath + ": not a valid JSON object"};
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
