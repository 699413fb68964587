// SPDX-License-Identifier: GPL-3.0-or-later
// llama2.c reader. Layouts from karpathy/llama2.c: run.c (memory_map_weights, legacy) and export.py
// (legacy_export, version1_export, version2_export). See llama2c_reader.h.
#include "core/io/llama2c_reader.h"

#include <cstring>
#include <filesystem>

#include "core/io/byte_cursor.h"
#include "core/io/side_files.h"

namespace qs::io {

namespace {

constexpr uint64_t kV1HeaderBytes = 256;  // export.py pads the v1/v2 header to 256 bytes
constexpr uint64_t kLegacyHeaderBytes = 7 * 4;

struct Params {
    int32_t dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, vocab = 0, seqLen = 0;
    bool shared = true;
    int version = 0;
    int32_t group = 0;  // v2 only
    uint64_t headerBytes = kLegacyHeaderBytes;
};

// One stacked array of the file: `count` tensors of the same shape, contiguous. count > 1 means per layer.
struct Array {
    std::string name;    // full name, or the part after "layers.{i}." when perLayer
    bool perLayer = false;
    std::vector<int64_t> shape;
    bool q8 = false;     // v2 int8 codes + fp32 scales
};

bool mulOk(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
bool addOk(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

std::string describe(const Params& p) {
    return "dim " + std::to_string(p.dim) + ", hidden_dim " + std::to_string(p.hidden) + ", n_layers " +
           std::to_string(p.layers) + ", n_heads " + std::to_string(p.heads) + ", n_kv_heads " +
           std::to_string(p.kvHeads) + ", vocab_size " + std::to_string(p.vocab) + ", seq_len " +
           std::to_string(p.seqLen);
}

// Reads the header; does not validate the values.
std::optional<Params> parseHeader(std::span<const std::byte> bytes, std::string& why) {
    ByteCursor c(bytes);
    uint32_t magic = 0;
    if (!c.read(magic)) {
        why = "file too small for a llama2.c header (" + std::to_string(bytes.size()) + " bytes)";
        return std::nullopt;
    }
    Params p;
    if (magic == kLlama2cMagic) {
        int32_t version = 0;
        if (bytes.size() < kV1HeaderBytes || !c.read(version)) {
            why = "truncated llama2.c header: need 256 bytes, file has " + std::to_string(bytes.size());
            return std::nullopt;
        }
        if (version != 1 && version != 2) {
            why = "unsupported llama2.c version " + std::to_string(version) + " (expected 1 or 2)";
            return std::nullopt;
        }
        p.version = version;
        p.headerBytes = kV1HeaderBytes;
    } else if (magic == __builtin_bswap32(kLlama2cMagic)) {
        why = "llama2.c magic is byte-swapped (written big-endian by a faulty converter); re-export the file";
        return std::nullopt;
    } else {
        c = ByteCursor(bytes);
        if (bytes.size() < kLegacyHeaderBytes) {
            why = "file too small for a llama2.c header (" + std::to_string(bytes.size()) + " bytes)";
            return std::nullopt;
        }
    }
    int32_t v[7];
    for (int32_t& x : v) (void)c.read(x);  // size checked above
    p.dim = v[0], p.hidden = v[1], p.layers = v[2], p.heads = v[3], p.kvHeads = v[4], p.vocab = v[5],
    p.seqLen = v[6];
    if (p.version == 0) {
        // Legacy: the sign of vocab_size is the shared-classifier flag (run.c).
        p.shared = p.vocab > 0;
        if (p.vocab < 0 && p.vocab != INT32_MIN) p.vocab = -p.vocab;
    } else {
        uint8_t shared = 0;
        (void)c.read(shared);
        if (shared > 1) {
            why = "shared_classifier byte is " + std::to_string(shared) + " (expected 0 or 1)";
            return std::nullopt;
        }
        p.shared = shared == 1;
        if (p.version == 2) (void)c.read(p.group);
    }
    return p;
}

bool validate(const Params& p, std::string& why) {
    if (p.dim <= 0 || p.hidden <= 0 || p.layers <= 0 || p.heads <= 0 || p.kvHeads <= 0 || p.vocab <= 0 ||
        p.seqLen <= 0) {
        why = "header has a zero or negative dimension (" + describe(p) + ")";
        return false;
    }
    if (p.dim % p.heads != 0) {
        why = "dim " + std::to_string(p.dim) + " is not a multiple of n_heads " + std::to_string(p.heads);
        return false;
    }
    if (p.kvHeads > p.heads || p.heads % p.kvHeads != 0) {
        why = "n_kv_heads " + std::to_string(p.kvHeads) + " does not divide n_heads " + std::to_string(p.heads);
        return false;
    }
    if (p.version == 0 && (p.dim / p.heads) % 2 != 0) {
        why = "head dimension " + std::to_string(p.dim / p.heads) + " is odd (RoPE needs pairs)";
        return false;
    }
    if (p.version == 2 && p.group <= 0) {
        why = "group_size " + std::to_string(p.group) + " must be positive";
        return false;
    }
    return true;
}

std::vector<Array> layoutOf(const Params& p) {
    const int64_t dim = p.dim, hidden = p.hidden, hd = p.dim / p.heads;
    const int64_t qRows = int64_t(p.heads) * hd, kvRows = int64_t(p.kvHeads) * hd;
    const bool q = p.version == 2;
    const Array tok{"tok_embeddings.weight", false, {p.vocab, dim}, q};
    const Array attNorm{"attention_norm.weight", true, {dim}, false};
    const Array ffnNorm{"ffn_norm.weight", true, {dim}, false};
    const Array norm{"norm.weight", false, {dim}, false};
    const Array wq{"attention.wq.weight", true, {qRows, dim}, q};
    const Array wk{"attention.wk.weight", true, {kvRows, dim}, q};
    const Array wv{"attention.wv.weight", true, {kvRows, dim}, q};
    const Array wo{"attention.wo.weight", true, {dim, qRows}, q};
    const Array w1{"feed_forward.w1.weight", true, {hidden, dim}, q};
    const Array w2{"feed_forward.w2.weight", true, {dim, hidden}, q};
    const Array w3{"feed_forward.w3.weight", true, {hidden, dim}, q};
    const Array out{"output.weight", false, {p.vocab, dim}, q};
    std::vector<Array> l;
    if (p.version == 0) {
        l = {tok, attNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3, norm,
             Array{"freq_cis_real", false, {p.seqLen, hd / 2}, false},
             Array{"freq_cis_imag", false, {p.seqLen, hd / 2}, false}};
    } else {
        l = {attNorm, ffnNorm, norm, tok, wq, wk, wv, wo, w1, w2, w3};
    }
    if (!p.shared) l.push_back(out);
    return l;
}

// Bytes of one tensor of the array, or false on overflow / a group that does not divide it.
bool tensorBytes(const Array& a, const Params& p, uint64_t& elements, uint64_t& bytes, std::string& why) {
    elements = 1;
    for (int64_t d : a.shape)
        if (!mulOk(elements, uint64_t(d), elements)) {
            why = "header implies a tensor larger than 2^64 elements (" + describe(p) + ")";
            return false;
        }
    if (!a.q8) {
        if (!mulOk(elements, 4, bytes)) {
            why = "header implies a tensor larger than 2^64 bytes (" + describe(p) + ")";
            return false;
        }
        return true;
    }
    if (elements % uint64_t(p.group) != 0) {
        why = "group_size " + std::to_string(p.group) + " does not divide the " + std::to_string(elements) +
              " values of " + a.name;
        return false;
    }
    uint64_t scaleBytes = 0;
    if (!mulOk(elements / uint64_t(p.group), 4, scaleBytes) || !addOk(elements, scaleBytes, bytes)) {
        why = "header implies a tensor larger than 2^64 bytes (" + describe(p) + ")";
        return false;
    }
    return true;
}

// Total bytes the header implies, or nullopt (with why) on overflow.
std::optional<uint64_t> expectedSize(const Params& p, std::string& why) {
    uint64_t total = p.headerBytes;
    for (const Array& a : layoutOf(p)) {
        uint64_t elements = 0, bytes = 0, all = 0;
        if (!tensorBytes(a, p, elements, bytes, why)) return std::nullopt;
        if (!mulOk(bytes, a.perLayer ? uint64_t(p.layers) : 1, all) || !addOk(total, all, total)) {
            why = "header implies more than 2^64 bytes (" + describe(p) + ")";
            return std::nullopt;
        }
    }
    return total;
}

std::string findTokenizer(const std::string& folder, int32_t vocab) {
    std::string t = firstExisting(folder, {"tokenizer.bin", "tok" + std::to_string(vocab) + ".bin"});
    if (!t.empty()) return t;
    for (const std::string& n : listFileNames(folder))
        if (n.size() > 7 && n.starts_with("tok") && n.ends_with(".bin"))
            return (std::filesystem::path(folder) / n).string();
    return {};
}

}  // namespace

bool looksLikeLlama2c(std::span<const std::byte> head, uint64_t fileSize) {
    uint32_t magic = 0;
    if (head.size() < 4) return false;
    std::memcpy(&magic, head.data(), 4);
    if (magic == kLlama2cMagic || magic == __builtin_bswap32(kLlama2cMagic)) return true;
    std::string why;
    auto p = parseHeader(head, why);
    if (!p || p->version != 0 || !validate(*p, why)) return false;
    auto size = expectedSize(*p, why);
    return size && *size == fileSize;
}

bool looksLikeLlama2c(std::span<const std::byte> bytes) { return looksLikeLlama2c(bytes, bytes.size()); }

Result<std::unique_ptr<Checkpoint>> readLlama2c(std::shared_ptr<const MappedFile> file, const OpenOptions& options,
                                                ProgressSink& progress) {
    const std::string& path = file->path();
    if (!progress.report(0.0, "reading llama2.c header")) return Error{std::string(kCancelledMessage)};
    std::string why;
    auto hp = parseHeader(file->bytes(), why);
    if (!hp) return Error{path + ": " + why};
    const Params p = *hp;
    if (!validate(p, why)) return Error{path + ": llama2.c v" + std::to_string(p.version) + " " + why};
    auto expected = expectedSize(p, why);
    if (!expected) return Error{path + ": " + why};
    if (*expected != file->size())
        return Error{path + ": llama2.c v" + std::to_string(p.version) + " header (" + describe(p) +
                     (p.shared ? ", shared classifier" : ", separate classifier") +
                     (p.version == 2 ? ", group_size " + std::to_string(p.group) : std::string()) + ") implies " +
                     std::to_string(*expected) + " bytes, but the file has " + std::to_string(file->size())};

    auto ck = std::make_unique<Checkpoint>();
    ck->path = path;
    ck->format = FileFormat::Llama2c;
    ck->formatDetail = p.version == 0   ? "llama2.c legacy (v0)"
                       : p.version == 1 ? "llama2.c v1 (ak42)"
                                        : "llama2.c v2 (ak42, Q8_0 group " + std::to_string(p.group) + ")";
    ck->files.push_back(file);
    uint64_t offset = p.headerBytes;
    for (const Array& a : layoutOf(p)) {
        uint64_t elements = 0, bytes = 0;
        (void)tensorBytes(a, p, elements, bytes, why);  // validated by expectedSize
        const int count = a.perLayer ? p.layers : 1;
        for (int i = 0; i < count; ++i) {
            TensorInfo t;
            t.name = a.perLayer ? "layers." + std::to_string(i) + "." + a.name : a.name;
            t.dtype = a.q8 ? DType::Llama2cQ8 : DType::F32;
            t.group = a.q8 ? p.group : 0;
            t.shape = a.shape;
            t.bytes = bytes;
            t.file = 0;
            t.offset = offset;
            offset += bytes;
            ck->tensors.push_back(std::move(t));
        }
    }
    ck->metadata = {{"dim", p.dim},         {"hidden_dim", p.hidden},     {"n_layers", p.layers},
                    {"n_heads", p.heads},   {"n_kv_heads", p.kvHeads},    {"vocab_size", p.vocab},
                    {"seq_len", p.seqLen},  {"shared_classifier", p.shared}, {"version", p.version}};
    if (p.version == 2) ck->metadata["group_size"] = p.group;
    if (options.readSideFiles) ck->tokenizerPath = findTokenizer(folderOf(path), p.vocab);
    progress.report(1.0, "llama2.c checkpoint read");
    return ck;
}

}  // namespace qs::io
