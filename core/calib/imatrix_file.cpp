// SPDX-License-Identifier: GPL-3.0-or-later
// llama.cpp imatrix files (see imatrix_file.h for the layouts and the mapping).
#include "core/calib/imatrix_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/io/byte_cursor.h"
#include "core/io/checkpoint.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/mapped_file.h"
#include "core/model/model_info.h"
#include "core/model/tensor_naming.h"

namespace qs {

namespace {

constexpr int64_t kMaxEntries = 1 << 20;  // far above any model's weight count
constexpr int32_t kMaxNameLen = 4096;

std::string at(const std::string& what, uint64_t offset) {
    return what + " (offset " + std::to_string(offset) + ")";
}

// A value of an imatrix: finite and >= 0 (sums of squares and counts).
Status checkValue(double v, const std::string& what, const std::string& entry, int64_t column) {
    if (std::isfinite(v) && v >= 0) return {};
    return Error{what + ": entry '" + entry + "' column " + std::to_string(column) + " is " + std::to_string(v) +
                 " (a sum of squares must be finite and >= 0)"};
}

Status readLegacyEntry(ByteCursor& c, const std::string& what, int index, ImatrixEntry& e) {
    int32_t len = 0;
    if (!c.read(len)) return Error{at(what, c.pos()) + ": truncated in the name length of entry " + std::to_string(index)};
    if (len <= 0 || len > kMaxNameLen)
        return Error{at(what, c.pos() - 4) + ": entry " + std::to_string(index) + " has a name length of " +
                     std::to_string(len) + " (1.." + std::to_string(kMaxNameLen) + " expected)"};
    std::string_view name;
    if (!c.view(uint64_t(len), name)) return Error{at(what, c.pos()) + ": truncated in the name of entry " + std::to_string(index)};
    e.name = std::string(name);
    int32_t ncall = 0, nval = 0;
    if (!c.read(ncall) || !c.read(nval))
        return Error{at(what, c.pos()) + ": truncated in the header of entry '" + e.name + "'"};
    if (nval < 1 || uint64_t(nval) * 4 > c.remaining())
        return Error{at(what, c.pos() - 4) + ": entry '" + e.name + "' declares " + std::to_string(nval) +
                     " values but " + std::to_string(c.remaining() / 4) + " remain in the file"};
    e.tokens = ncall > 0 ? ncall : 1;  // llama-quantize divides by ncall only when it is positive
    e.sumSquares.resize(size_t(nval));
    for (int32_t j = 0; j < nval; ++j) {
        float v = 0;
        c.read(v);
        if (auto s = checkValue(v, what, e.name, j); !s) return s.error();
        e.sumSquares[size_t(j)] = double(v);
    }
    return {};
}

Status checkSortedUnique(std::vector<ImatrixEntry>& entries, const std::string& what) {
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    for (size_t i = 1; i < entries.size(); ++i)
        if (entries[i].name == entries[i - 1].name)
            return Error{what + ": entry '" + entries[i].name + "' appears twice"};
    return {};
}

const nlohmann::json* key(const Checkpoint& ck, const char* name) {
    auto it = ck.metadata.find(name);
    return it == ck.metadata.end() ? nullptr : &*it;
}

Status readGgufKeys(const Checkpoint& ck, const std::string& path, ImatrixFile& out) {
    const nlohmann::json* type = key(ck, "general.type");
    if (!type || !type->is_string() || *type != "imatrix")
        return Error{path + ": a GGUF file but not an imatrix (general.type is " +
                     (type ? type->dump() : std::string("missing")) + ", \"imatrix\" expected)"};
    const nlohmann::json* ds = key(ck, "imatrix.datasets");
    const nlohmann::json* count = key(ck, "imatrix.chunk_count");
    const nlohmann::json* size = key(ck, "imatrix.chunk_size");
    if (!ds || !count || !size)
        return Error{path + ": missing imatrix metadata (imatrix.datasets, imatrix.chunk_count and imatrix.chunk_size "
                            "are required, as llama-quantize requires them)"};
    if (!ds->is_array()) return Error{path + ": imatrix.datasets is not an array of strings"};
    for (const auto& d : *ds) {
        if (!d.is_string()) return Error{path + ": imatrix.datasets is not an array of strings"};
        out.datasets.push_back(d.get<std::string>());
    }
    if (!count->is_number_unsigned() || !size->is_number_unsigned())
        return Error{path + ": imatrix.chunk_count / imatrix.chunk_size must be unsigned integers"};
    out.chunkCount = count->get<int64_t>();
    out.chunkSize = size->get<int64_t>();
    return {};
}

// One weight's in_sum2 [n_mat, cols] and counts [n_mat, 1] into an entry.
Status ggufEntry(const Checkpoint& ck, const std::string& path, const std::string& name, int sums, int counts,
                 ImatrixFile& out) {
    const TensorInfo& ts = ck.tensors[size_t(sums)];
    const TensorInfo& tc = ck.tensors[size_t(counts)];
    const std::string where = path + ": '" + name + "'";
    if (ts.dtype != DType::F32 || tc.dtype != DType::F32)
        return Error{where + ": in_sum2 and counts must be F32 tensors"};
    const int64_t nmat = ts.shape.size() == 2 ? ts.shape[0] : 1;
    const int64_t cols = ts.shape.empty() ? 0 : ts.shape.back();
    if (ts.shape.empty() || ts.shape.size() > 2 || cols <= 0 || tc.elements() != uint64_t(nmat))
        return Error{where + ": in_sum2 has " + std::to_string(ts.elements()) + " values, counts " +
                     std::to_string(tc.elements()) + " (expected [n_mat, cols] and [n_mat, 1])"};
    if (nmat != 1)
        return Error{where + ": per-expert entries (" + std::to_string(nmat) +
                     " matrices, a MoE model) are not supported"};
    auto s = ck.toFloat(size_t(sums));
    auto c = ck.toFloat(size_t(counts));
    if (!s) return s.error();
    if (!c) return c.error();
    const float n = (*c)[0];
    if (!std::isfinite(n) || n < 0 || n != std::floor(n) || n > 9.0e15f)
        return Error{where + ": counts is " + std::to_string(n) + " (a whole number of rows >= 0 expected)"};
    ImatrixEntry e;
    e.name = name;
    e.sumSquares.resize(size_t(cols));
    for (int64_t j = 0; j < cols; ++j) {
        if (auto st = checkValue((*s)[size_t(j)], path, name, j); !st) return st.error();
        e.sumSquares[size_t(j)] = n > 0 ? double((*s)[size_t(j)]) : 1.0;
    }
    e.tokens = n > 0 ? int64_t(n) : 1;
    if (n == 0) out.warnings.push_back(name + ": count 0 (never activated); importance 1 per column, as llama-quantize");
    out.entries.push_back(std::move(e));
    return {};
}

Result<ImatrixFile> readGgufImatrix(const std::string& path) {
    OpenOptions opts;
    opts.readSideFiles = false;
    auto ck = openCheckpoint(path, opts);
    if (!ck) return ck.error();
    ImatrixFile out;
    out.format = ImatrixFormat::Gguf;
    if (auto s = readGgufKeys(**ck, path, out); !s) return s.error();
    std::map<std::string, std::pair<int, int>> pairs;  // name -> (in_sum2, counts)
    const auto& tensors = (*ck)->tensors;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const std::string& n = tensors[i].name;
        auto strip = [&](std::string_view suffix) -> std::string {
            return n.size() > suffix.size() && std::string_view(n).ends_with(suffix) ? n.substr(0, n.size() - suffix.size())
                                                                                    : std::string();
        };
        if (std::string b = strip(".in_sum2"); !b.empty()) {
            auto& p = pairs.try_emplace(b, -1, -1).first->second;
            if (p.first >= 0) return Error{path + ": tensor '" + n + "' appears twice"};
            p.first = int(i);
        } else if (std::string b2 = strip(".counts"); !b2.empty()) {
            auto& p = pairs.try_emplace(b2, -1, -1).first->second;
            if (p.second >= 0) return Error{path + ": tensor '" + n + "' appears twice"};
            p.second = int(i);
        } else if (!strip(".in_sum").empty()) {
            continue;  // mean activations (newer llama-imatrix): statistics only, the quantizer ignores them
        } else {
            return Error{path + ": tensor '" + n + "' is not an imatrix tensor (<name>.in_sum2, .counts, .in_sum)"};
        }
    }
    if (pairs.empty()) return Error{path + ": no imatrix entries (no <name>.in_sum2 tensors)"};
    for (const auto& [name, p] : pairs) {
        if (p.first < 0 || p.second < 0)
            return Error{path + ": mismatched sums and counts for '" + name + "' (" +
                         (p.first < 0 ? "no .in_sum2" : "no .counts") + ")"};
        if (auto s = ggufEntry(**ck, path, name, p.first, p.second, out); !s) return s.error();
    }
    return out;
}

}  // namespace

Result<ImatrixFile> parseLegacyImatrix(std::span<const std::byte> bytes, const std::string& what) {
    ByteCursor c(bytes);
    int32_t n = 0;
    if (!c.read(n)) return Error{what + ": truncated (shorter than the 4-byte entry count)"};
    if (n < 1 || n > kMaxEntries || uint64_t(n) * 13 > c.remaining())
        return Error{what + ": entry count " + std::to_string(n) + " is impossible for a file of " +
                     std::to_string(bytes.size()) + " bytes (not a llama.cpp imatrix?)"};
    ImatrixFile out;
    out.format = ImatrixFormat::Legacy;
    for (int i = 0; i < n; ++i) {
        ImatrixEntry e;
        if (auto s = readLegacyEntry(c, what, i, e); !s) return s.error();
        out.entries.push_back(std::move(e));
    }
    if (c.remaining() > 0) {  // the optional tail: chunks, dataset name
        int32_t lastChunk = 0, len = 0;
        std::string_view dataset;
        if (!c.read(lastChunk) || !c.read(len) || len < 0 || !c.view(uint64_t(len), dataset))
            return Error{at(what, c.pos()) + ": truncated or malformed tail (chunk count, dataset name)"};
        if (c.remaining() > 0)
            return Error{at(what, c.pos()) + ": " + std::to_string(c.remaining()) + " unexpected bytes after the dataset name"};
        out.chunkCount = std::max<int32_t>(lastChunk, 0);
        out.datasets.emplace_back(dataset);
    }
    if (auto s = checkSortedUnique(out.entries, what); !s) return s.error();
    return out;
}

Result<ImatrixFile> readImatrix(const std::string& path) {
    auto f = MappedFile::open(path);
    if (!f) return f.error();
    const auto bytes = (*f)->bytes();
    if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return readGgufImatrix(path);
    return parseLegacyImatrix(bytes, path);
}

std::vector<std::byte> legacyImatrixBytes(const ImatrixFile& file) {
    std::vector<std::byte> out;
    auto put = [&](const void* p, size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        out.insert(out.end(), b, b + n);
    };
    const int32_t n = int32_t(file.entries.size());
    put(&n, 4);
    for (const ImatrixEntry& e : file.entries) {
        const int32_t len = int32_t(e.name.size()), ncall = 1, nval = int32_t(e.sumSquares.size());
        put(&len, 4);
        put(e.name.data(), e.name.size());
        put(&ncall, 4);
        put(&nval, 4);
        for (double s : e.sumSquares) {
            const float v = importanceOf(s, e.tokens);
            put(&v, 4);
        }
    }
    const int32_t chunks = int32_t(file.chunkCount);
    const std::string dataset = file.datasets.empty() ? std::string() : file.datasets.back();
    const int32_t dlen = int32_t(dataset.size());
    put(&chunks, 4);
    put(&dlen, 4);
    put(dataset.data(), dataset.size());
    return out;
}

namespace {
Status writeGgufImatrix(const std::string& path, const ImatrixFile& file) {
    std::vector<GgufKv> kvs;
    kvs.push_back({"general.type", 8, "imatrix"});
    kvs.push_back({"imatrix.datasets", 9, nlohmann::json(file.datasets), 8});
    kvs.push_back({"imatrix.chunk_count", 4, file.chunkCount});
    kvs.push_back({"imatrix.chunk_size", 4, file.chunkSize});
    std::vector<GgufTensorInfo> infos;
    for (const ImatrixEntry& e : file.entries) {
        if (e.tokens <= 0 || e.tokens > (int64_t(1) << 24))
            return Error{path + ": entry '" + e.name + "' counts " + std::to_string(e.tokens) +
                         " activation rows; the GGUF imatrix stores counts as float, exact only for 1..2^24"};
        const int64_t cols = int64_t(e.sumSquares.size());
        infos.push_back({e.name + ".in_sum2", DType::F32, {1, cols}, uint64_t(cols) * 4});
        infos.push_back({e.name + ".counts", DType::F32, {1, 1}, 4});
    }
    auto w = GgufStreamWriter::open(path, kvs, infos);
    if (!w) return w.error();
    for (const ImatrixEntry& e : file.entries) {
        std::vector<float> sums(e.sumSquares.begin(), e.sumSquares.end());
        const float count = float(e.tokens);
        if (auto s = (*w)->append(std::as_bytes(std::span(sums))); !s) return s;
        if (auto s = (*w)->append(std::as_bytes(std::span(&count, 1))); !s) return s;
    }
    return (*w)->commit();
}
}  // namespace

Status writeImatrix(const std::string& path, const ImatrixFile& file) {
    if (file.entries.empty()) return Error{path + ": no importance statistics to write"};
    if (file.format == ImatrixFormat::Gguf) return writeGgufImatrix(path, file);
    const std::vector<std::byte> bytes = legacyImatrixBytes(file);
    PartialFile out(path);
    if (auto s = out.open(); !s) return s;
    if (auto s = out.write(bytes.data(), bytes.size()); !s) return s;
    return out.commit();
}

Result<CalibrationSet> imatrixToCalibration(const ImatrixFile& file, const Checkpoint& ckpt, const ModelInfo& info,
                                            const std::string& path) {
    CalibrationSet set;
    set.provenance.source = "imatrix";
    set.provenance.textSource = file.datasets.empty() ? path : file.datasets.back();
    set.provenance.sequences = file.chunkCount;
    set.provenance.sequenceLength = file.chunkSize;
    set.provenance.collected = CalibrationNeeds::Importance;
    for (const ImatrixEntry& e : file.entries) {
        const NameClass nc = classifyTensorName(e.name, 2);
        const int idx = nc.kind == TensorKind::Unknown ? -1 : info.findKind(nc.kind, nc.layer);
        if (idx < 0)
            return Error{path + ": imatrix entry '" + e.name + "' names no tensor of this model (" +
                         std::string(tensorKindName(nc.kind)) + ", layer " + std::to_string(nc.layer) + ")"};
        const TensorInfo& t = ckpt.tensors[size_t(idx)];
        if (t.shape.size() != 2 || t.shape[1] != int64_t(e.sumSquares.size()))
            return Error{path + ": imatrix entry '" + e.name + "' has " + std::to_string(e.sumSquares.size()) +
                         " columns but tensor '" + t.name + "' has " +
                         (t.shape.size() == 2 ? std::to_string(t.shape[1]) : std::string("no matrix shape")) +
                         " (an imatrix of another model?)"};
        auto c = std::make_shared<TensorCalibration>();
        c->cols = t.shape[1];
        c->tokens = e.tokens;
        c->sumSquares = e.sumSquares;
        set.provenance.tokens = std::max(set.provenance.tokens, e.tokens);
        set.tensors[t.name] = std::move(c);
    }
    return set;
}

Result<ImatrixFile> calibrationToImatrix(const CalibrationSet& set, const Checkpoint& ckpt, const ModelInfo& info,
                                         ImatrixFormat format) {
    ImatrixFile out;
    out.format = format;
    if (!set.provenance.textSource.empty()) out.datasets.push_back(set.provenance.textSource);
    out.chunkCount = set.provenance.sequences;
    out.chunkSize = set.provenance.sequenceLength;
    for (const auto& [name, c] : set.tensors) {
        if (!c || c->sumSquares.empty() || c->tokens <= 0) continue;
        const int idx = ckpt.find(name);
        if (idx < 0 || size_t(idx) >= info.entries.size())
            return Error{"calibration names tensor '" + name + "', which the model does not have"};
        const TensorEntry& te = info.entries[size_t(idx)];
        std::string ggufName = ggufTensorName(te.kind, te.layer);
        if (ggufName.empty())
            return Error{"tensor '" + name + "' (" + std::string(tensorKindName(te.kind)) +
                         ") has no llama.cpp tensor name for an imatrix entry"};
        out.entries.push_back({std::move(ggufName), c->sumSquares, c->tokens});
    }
    if (auto s = checkSortedUnique(out.entries, "imatrix"); !s) return s.error();
    return out;
}

}  // namespace qs
