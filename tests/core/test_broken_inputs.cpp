// SPDX-License-Identifier: GPL-3.0-or-later
// Broken and hostile checkpoints: every one must be refused with a message naming the problem, without a
// crash, a hang or an unbounded allocation (this suite also runs under ASan+UBSan). Files are cut from the
// real assets or synthesised into a temporary folder by the test itself.
//  - An HDF5 dataset declared but never written (or written in part) is left out at open with a warning naming the
//    file and the dataset, and counts in no total: libhdf5 would return its fill value, for a size the file never held.
//  - A tensor whose bytes its reader refuses is never allocated at its declared size: toFloat, the weight scan, the
//    NaN check and applyMap return the reader's Error (naming file and tensor) for a 4 TiB tensor.
//  - A FIFO is refused by every probe of a file's content (HDF5 signature, session/sweep kinds, sweep CSV), at once.
#include <hdf5.h>

#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>

#include "common/assets.h"
#include "core/export/session_h5.h"
#include "core/infer/tokenizer_loader.h"
#include "core/infer/weight_check.h"
#include "core/io/checkpoint.h"
#include "core/io/hdf5_reader.h"
#include "core/io_fixtures.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_resolve.h"
#include "core/stats/tensor_scan.h"
#include "core/sweep/sweep.h"
#include "core/sweep/sweep_hdf5.h"

using namespace qs;
using qstest::putLE;

namespace {

namespace fs = std::filesystem;

// A GGUF byte string under construction.
struct Gguf {
    std::string s;
    Gguf& u32(uint32_t v) { putLE(s, v); return *this; }
    Gguf& u64(uint64_t v) { putLE(s, v); return *this; }
    Gguf& str(const std::string& v) { u64(v.size()); s += v; return *this; }
    Gguf& header(uint32_t version, uint64_t tensors, uint64_t kvs) {
        s += "GGUF";
        return u32(version).u64(tensors).u64(kvs);
    }
    Gguf& pad(size_t alignment = 32) {
        while (s.size() % alignment) s += '\0';
        return *this;
    }
};

// One F32 tensor "t" of 8 values at `offset` in a v3 file, padded and followed by `dataBytes` of data.
std::string ggufOneTensor(uint32_t nDims, uint32_t type, uint64_t offset, size_t dataBytes) {
    Gguf g;
    g.header(3, 1, 0).str("t").u32(nDims);
    for (uint32_t d = 0; d < nDims; ++d) g.u64(d == 0 ? 8 : 1);
    g.u32(type).u64(offset).pad();
    g.s += std::string(dataBytes, '\0');
    return g.s;
}

std::string asset(const char* relative) { return qstest::readBytes(qstest::assetPath(relative).toStdString()); }

// The stories260K GGUF with the uint32 value of metadata `key` replaced by `value` ("" when the key is not a uint32).
std::string ggufWithU32(const std::string& key, uint32_t value) {
    std::string b = asset("models/stories260K-gguf/stories260K.gguf");
    const size_t at = b.find(key);
    uint32_t type = 0;
    if (at == std::string::npos) return {};
    std::memcpy(&type, b.data() + at + key.size(), 4);
    if (type != 4) return {};  // GGUF uint32
    std::memcpy(b.data() + at + key.size() + 4, &value, 4);
    return b;
}

const char* kLegacy = "models/stories260K-llama2c/stories260K.bin";
const char* kV1 = "models/stories260K-llama2c/stories260K-v1.bin";
const char* kQ8 = "models/stories260K-llama2c/stories260K-q8.bin";
const char* kSt = "models/stories260K-hf/model.safetensors";
const char* kGguf = "models/stories260K-gguf/stories260K.gguf";
const char* kH5 = "models/keras-h5-lstm/lstm.h5";

// A legacy/v1 file with header int32 field `index` (0 = dim ... 6 = seq_len) replaced.
std::string withParam(const char* relative, int index, int32_t value) {
    std::string b = asset(relative);
    const size_t base = std::string_view(relative).find("v1") != std::string_view::npos ||
                                std::string_view(relative).find("q8") != std::string_view::npos
                            ? 8
                            : 0;
    qstest::pokeLE<int32_t>(b, base + size_t(index) * 4, value);
    return b;
}

std::string st(const std::string& dtype, const std::string& shape, const std::string& offsets, size_t dataBytes,
               const std::string& extra = "") {
    return qstest::rawSafetensors(
        "{" + extra + "\"w\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}}",
        dataBytes);
}

// A zip archive holding one stored (uncompressed) entry, with central directory (APPNOTE 4.3).
std::string zipWith(const std::string& name, const std::string& content) {
    std::string z;
    putLE<uint32_t>(z, 0x04034b50u);
    putLE<uint16_t>(z, 20); putLE<uint16_t>(z, 0); putLE<uint16_t>(z, 0);  // version, flags, method stored
    putLE<uint32_t>(z, 0);                                                // time/date
    putLE<uint32_t>(z, 0);                                                // crc (not checked here)
    putLE<uint32_t>(z, uint32_t(content.size())); putLE<uint32_t>(z, uint32_t(content.size()));
    putLE<uint16_t>(z, uint16_t(name.size())); putLE<uint16_t>(z, 0);
    z += name + content;
    const uint32_t cdOffset = uint32_t(z.size());
    std::string cd;
    putLE<uint32_t>(cd, 0x02014b50u);
    putLE<uint16_t>(cd, 20); putLE<uint16_t>(cd, 20); putLE<uint16_t>(cd, 0); putLE<uint16_t>(cd, 0);
    putLE<uint32_t>(cd, 0); putLE<uint32_t>(cd, 0);
    putLE<uint32_t>(cd, uint32_t(content.size())); putLE<uint32_t>(cd, uint32_t(content.size()));
    putLE<uint16_t>(cd, uint16_t(name.size())); putLE<uint16_t>(cd, 0); putLE<uint16_t>(cd, 0);
    putLE<uint16_t>(cd, 0); putLE<uint16_t>(cd, 0); putLE<uint32_t>(cd, 0); putLE<uint32_t>(cd, 0);
    cd += name;
    z += cd;
    putLE<uint32_t>(z, 0x06054b50u);
    putLE<uint16_t>(z, 0); putLE<uint16_t>(z, 0); putLE<uint16_t>(z, 1); putLE<uint16_t>(z, 1);
    putLE<uint32_t>(z, uint32_t(cd.size())); putLE<uint32_t>(z, cdOffset); putLE<uint16_t>(z, 0);
    return z;
}

// Makes the broken input inside `dir` and returns the path to open.
using Maker = std::function<std::string(const std::string& dir)>;

Maker file(const std::string& name, std::function<std::string()> bytes) {
    return [=](const std::string& dir) {
        qstest::writeBytes(dir + "/" + name, bytes());
        return dir + "/" + name;
    };
}
Maker cut(const std::string& name, const char* relative, size_t size) {
    return file(name, [=] { return asset(relative).substr(0, size); });
}

struct Case {
    const char* id;
    Maker make;
    const char* expected;  // substring of the error message
    const char* needs = nullptr;  // asset the case is cut from, if any
};

std::string onlyDeclaredHdf5(const std::string& path);  // below

std::vector<Case> cases() {
    std::vector<Case> c;
    // ---- llama2.c
    c.push_back({"llama2c legacy cut in header", cut("m.bin", kLegacy, 20), "too small for a llama2.c header", kLegacy});
    c.push_back({"llama2c legacy cut in data", cut("m.bin", kLegacy, 500000), "implies 1056540 bytes, but the file has 500000", kLegacy});
    c.push_back({"llama2c legacy one byte extra", file("m.bin", [] { return asset(kLegacy) + "x"; }), "but the file has 1056541", kLegacy});
    c.push_back({"llama2c v1 cut in header", cut("m.bin", kV1, 100), "truncated llama2.c header", kV1});
    c.push_back({"llama2c v1 cut in data", cut("m.bin", kV1, 300000), "implies 1040384 bytes", kV1});
    c.push_back({"llama2c v2 cut in data", cut("m.bin", kQ8, 392063), "implies 392064 bytes", kQ8});
    c.push_back({"llama2c zero dim", file("m.bin", [] { return withParam(kV1, 0, 0); }), "zero or negative dimension", kV1});
    c.push_back({"llama2c negative layers", file("m.bin", [] { return withParam(kV1, 2, -5); }), "zero or negative dimension", kV1});
    c.push_back({"llama2c zero kv heads", file("m.bin", [] { return withParam(kV1, 4, 0); }), "zero or negative dimension", kV1});
    c.push_back({"llama2c kv heads not dividing", file("m.bin", [] { return withParam(kV1, 4, 3); }), "does not divide n_heads", kV1});
    c.push_back({"llama2c huge layers", file("m.bin", [] { return withParam(kV1, 2, 1 << 30); }), "implies", kV1});
    c.push_back({"llama2c dims overflow 64 bits", file("m.bin", [] {
                     std::string b = withParam(kV1, 0, INT32_MAX);
                     qstest::pokeLE<int32_t>(b, 8 + 4, INT32_MAX);  // hidden
                     qstest::pokeLE<int32_t>(b, 8 + 8, INT32_MAX);  // layers
                     qstest::pokeLE<int32_t>(b, 8 + 12, 1);         // heads
                     qstest::pokeLE<int32_t>(b, 8 + 16, 1);         // kv heads
                     return b;
                 }), "2^64", kV1});
    c.push_back({"llama2c unknown version", file("m.bin", [] { std::string b = asset(kV1); qstest::pokeLE<int32_t>(b, 4, 7); return b; }),
                 "unsupported llama2.c version 7", kV1});
    c.push_back({"llama2c byte-swapped magic", file("m.bin", [] { std::string b = asset(kV1); std::swap(b[0], b[3]); std::swap(b[1], b[2]); return b; }),
                 "byte-swapped", kV1});
    c.push_back({"llama2c bad shared flag", file("m.bin", [] { std::string b = asset(kV1); b[36] = 5; return b; }), "shared_classifier byte is 5", kV1});
    c.push_back({"llama2c v2 zero group", file("m.bin", [] { std::string b = asset(kQ8); qstest::pokeLE<int32_t>(b, 37, 0); return b; }),
                 "group_size 0", kQ8});
    c.push_back({"llama2c v2 group not dividing", file("m.bin", [] { std::string b = asset(kQ8); qstest::pokeLE<int32_t>(b, 37, 7); return b; }),
                 "group_size 7 does not divide", kQ8});
    // ---- safetensors
    c.push_back({"safetensors cut in header", cut("m.safetensors", kSt, 100), "header length 4856 runs past the end of the file", kSt});
    c.push_back({"safetensors cut in data", cut("m.safetensors", kSt, 600000), "run past the end of the data section", kSt});
    c.push_back({"safetensors shorter than length field", file("m.safetensors", [] { return std::string("\x10\0\0", 3); }), "less than the 8-byte header length"});
    c.push_back({"safetensors header length past EOF", file("m.safetensors", [] {
                     std::string b;
                     putLE<uint64_t>(b, uint64_t(1) << 63);
                     return b + "{}";
                 }), "header length 9223372036854775808 runs past the end of the file"});
    c.push_back({"safetensors header over 100 MB", [](const std::string& dir) {
                     const std::string p = dir + "/m.safetensors";
                     std::string b;
                     putLE<uint64_t>(b, 101ull << 20);
                     qstest::writeBytes(p, b + "{");
                     fs::resize_file(p, 102ull << 20);  // sparse: no data is written
                     return p;
                 }, "exceeds the 100 MB limit"});
    c.push_back({"safetensors invalid JSON", file("m.safetensors", [] { return qstest::rawSafetensors("{\"w\": {dtype: F32}}", 0); }), "is not valid JSON"});
    c.push_back({"safetensors JSON not an object", file("m.safetensors", [] { return qstest::rawSafetensors("[1, 2, 3]", 0); }), "not a JSON object"});
    c.push_back({"safetensors JSON nested 100000 deep", file("m.safetensors", [] {
                     return qstest::rawSafetensors("{\"__metadata__\":{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}}", 0);
                 }), "nests deeper than 64 levels"});
    c.push_back({"safetensors offsets out of range", file("m.safetensors", [] { return st("F32", "[4]", "[0,1000]", 16); }), "run past the end of the data section (16 bytes)"});
    c.push_back({"safetensors offsets reversed", file("m.safetensors", [] { return st("F32", "[4]", "[16,0]", 16); }), "are reversed"});
    c.push_back({"safetensors overlapping tensors", file("m.safetensors", [] {
                     return qstest::rawSafetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                                                   "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24);
                 }), "overlap"});
    c.push_back({"safetensors shape vs bytes", file("m.safetensors", [] { return st("F32", "[5]", "[0,16]", 16); }), "needs 20 bytes, but data_offsets [0, 16] hold 16"});
    c.push_back({"safetensors unknown dtype", file("m.safetensors", [] { return st("F12", "[4]", "[0,16]", 16); }), "unknown dtype 'F12'"});
    c.push_back({"safetensors F4 ending mid-byte", file("m.safetensors", [] { return st("F4", "[3]", "[0,2]", 2); }), "does not fill whole bytes"});
    c.push_back({"safetensors negative dimension", file("m.safetensors", [] { return st("F32", "[-4]", "[0,16]", 16); }), "not a non-negative integer"});
    c.push_back({"safetensors shape overflow", file("m.safetensors", [] { return st("F32", "[4294967296,4294967296,4294967296]", "[0,16]", 16); }), "overflows 64 bits"});
    c.push_back({"safetensors missing data_offsets", file("m.safetensors", [] { return qstest::rawSafetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}", 16); }), "data_offsets"});
    c.push_back({"safetensors name twice", file("m.safetensors", [] {
                     const std::string w = "{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}";
                     return qstest::rawSafetensors("{\"w\":" + w + ",\"w\":" + w + "}", 16);
                 }), "tensor 'w' appears twice in the header"});
    c.push_back({"safetensors over 2,000,000 tensors", file("m.safetensors", [] {
                     std::string h = "{";
                     for (int i = 0; i < 2000002; ++i) h += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
                     return qstest::rawSafetensors(h + "}", 0);
                 }), "header of 2000002 entries, more than the 2000000 tensors one checkpoint may hold"});
    c.push_back({"safetensors bad __metadata__", file("m.safetensors", [] { return st("F32", "[4]", "[0,16]", 16, "\"__metadata__\":5,"); }), "__metadata__ is not a JSON object"});
    // ---- sharded safetensors
    c.push_back({"index invalid JSON", file("model.safetensors.index.json", [] { return std::string("{\"weight_map\": "); }), "model.safetensors.index.json: not valid JSON (syntax error at byte 16)"});
    c.push_back({"index without weight_map", file("model.safetensors.index.json", [] { return std::string("{\"metadata\": {}}"); }), "no \"weight_map\""});
    c.push_back({"index shard missing", file("model.safetensors.index.json", [] { return std::string("{\"weight_map\": {\"w\": \"model-00001.safetensors\"}}"); }),
                 "shard 'model-00001.safetensors'"});
    c.push_back({"index shard escapes folder", file("model.safetensors.index.json", [] { return std::string("{\"weight_map\": {\"w\": \"../../etc/passwd\"}}"); }),
                 "not inside the folder"});
    c.push_back({"index tensor not in shard", [](const std::string& dir) {
                     qstest::writeBytes(dir + "/a.safetensors", st("F32", "[4]", "[0,16]", 16));
                     qstest::writeBytes(dir + "/model.safetensors.index.json", "{\"weight_map\": {\"w\": \"a.safetensors\", \"v\": \"a.safetensors\"}}");
                     return dir;
                 }, "lists 'v' in a.safetensors, which does not contain it"});
    c.push_back({"index tensor in two shards", [](const std::string& dir) {
                     qstest::writeBytes(dir + "/a.safetensors", st("F32", "[4]", "[0,16]", 16));
                     qstest::writeBytes(dir + "/b.safetensors", st("F32", "[4]", "[0,16]", 16));
                     qstest::writeBytes(dir + "/model.safetensors.index.json", "{\"weight_map\": {\"w\": \"a.safetensors\", \"v\": \"b.safetensors\"}}");
                     return dir;
                 }, "tensor 'w' is stored in two shards, a.safetensors and b.safetensors"});
    c.push_back({"index broken shard", [](const std::string& dir) {
                     qstest::writeBytes(dir + "/a.safetensors", st("F32", "[5]", "[0,16]", 16));
                     qstest::writeBytes(dir + "/model.safetensors.index.json", "{\"weight_map\": {\"w\": \"a.safetensors\"}}");
                     return dir;
                 }, "needs 20 bytes"});
    // ---- GGUF
    c.push_back({"gguf bad magic", file("m.gguf", [] { std::string b = asset(kGguf); b[3] = 'X'; return b; }), "bad magic", kGguf});
    c.push_back({"gguf version 1", file("m.gguf", [] { return Gguf().header(1, 0, 0).s; }), "GGUF version 1 is not supported"});
    c.push_back({"gguf over 2,000,000 tensors", [](const std::string& dir) {
                     const std::string p = dir + "/m.gguf";
                     qstest::writeBytes(p, Gguf().header(3, 2000001, 0).s);
                     fs::resize_file(p, 64ull << 20);  // room for the infos (sparse: nothing is written)
                     return p;
                 }, "2000001 tensors, more than the 2000000 one checkpoint may hold"});
    c.push_back({"gguf version 4", file("m.gguf", [] { return Gguf().header(4, 0, 0).s; }), "unsupported GGUF version 4"});
    c.push_back({"gguf big-endian", file("m.gguf", [] { return Gguf().header(0x03000000u, 0, 0).s; }), "byte-swapped"});
    c.push_back({"gguf cut in counts", cut("m.gguf", kGguf, 12), "truncated GGUF header counts", kGguf});
    c.push_back({"gguf cut in metadata", cut("m.gguf", kGguf, 2000), "left in the file", kGguf});
    c.push_back({"gguf cut in tensor infos", cut("m.gguf", kGguf, 13000), "length 19 exceeds the 10 bytes left in the file", kGguf});
    c.push_back({"gguf cut in tensor data", cut("m.gguf", kGguf, 500000), "runs past the end of the file", kGguf});
    c.push_back({"gguf absurd tensor count", file("m.gguf", [] { return Gguf().header(3, uint64_t(1) << 40, 0).s; }), "tensor count 1099511627776 cannot fit"});
    c.push_back({"gguf absurd KV count", file("m.gguf", [] { return Gguf().header(3, 0, uint64_t(1) << 62).s + std::string(64, '\0'); }), "KV count 4611686018427387904 cannot fit"});
    c.push_back({"gguf key length 2^63", file("m.gguf", [] { return Gguf().header(3, 0, 1).u64(uint64_t(1) << 63).s + std::string(64, 'k'); }),
                 "key length 9223372036854775808 exceeds"});
    c.push_back({"gguf string value length 2^63", file("m.gguf", [] { return Gguf().header(3, 0, 1).str("k").u32(8).u64(uint64_t(1) << 63).s + "abc"; }),
                 "string value length 9223372036854775808 exceeds"});
    c.push_back({"gguf array count absurd", file("m.gguf", [] { return Gguf().header(3, 0, 1).str("k").u32(9).u32(10).u64(uint64_t(1) << 60).s + std::string(64, '\0'); }),
                 "array of 1152921504606846976 uint64 values cannot fit"});
    c.push_back({"gguf arrays nested 1000 deep", file("m.gguf", [] {
                     Gguf g;
                     g.header(3, 0, 1).str("k").u32(9);
                     for (int i = 0; i < 1000; ++i) g.u32(9).u64(1);
                     return g.s + std::string(16, '\0');
                 }), "nested deeper than 8 levels"});
    c.push_back({"gguf unknown value type", file("m.gguf", [] { return Gguf().header(3, 0, 1).str("k").u32(13).s + std::string(8, '\0'); }), "unknown value type 13"});
    c.push_back({"gguf bool value 2", file("m.gguf", [] { return Gguf().header(3, 0, 1).str("k").u32(7).s + "\x02"; }), "bool value 2"});
    c.push_back({"gguf duplicate key", file("m.gguf", [] { return Gguf().header(3, 0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2).s; }), "duplicate metadata key 'k'"});
    c.push_back({"gguf alignment 3", file("m.gguf", [] { return Gguf().header(3, 0, 1).str("general.alignment").u32(4).u32(3).s; }), "bad alignment"});
    c.push_back({"gguf alignment 0", file("m.gguf", [] { return Gguf().header(3, 0, 1).str("general.alignment").u32(4).u32(0).s; }), "bad alignment"});
    c.push_back({"gguf alignment int32", file("m.gguf", [] { return Gguf().header(3, 0, 1).str("general.alignment").u32(5).u32(32).s; }),
                 "general.alignment is stored as int32 32; the GGUF specification says UINT32"});
    c.push_back({"gguf alignment int64", file("m.gguf", [] { return Gguf().header(3, 0, 1).str("general.alignment").u32(11).u64(64).s; }),
                 "general.alignment is stored as int64 64; the GGUF specification says UINT32"});
    c.push_back({"gguf alignment as string", file("m.gguf", [] { return Gguf().header(3, 0, 1).str("general.alignment").u32(8).str("32").s; }), "bad alignment"});
    c.push_back({"gguf five dimensions", file("m.gguf", [] { return ggufOneTensor(5, 0, 0, 32); }), "has 5 dimensions (at most 4)"});
    c.push_back({"gguf unknown ggml type", file("m.gguf", [] { return ggufOneTensor(1, 31, 0, 32); }), "unknown ggml type id 31"});
    c.push_back({"gguf row not whole blocks", file("m.gguf", [] { return ggufOneTensor(1, 8 /*Q8_0*/, 0, 64); }), "not whole Q8_0 blocks of 32"});
    c.push_back({"gguf misaligned offset", file("m.gguf", [] { return ggufOneTensor(1, 0, 4, 64); }), "not a multiple of the alignment 32"});
    c.push_back({"gguf offset past EOF", file("m.gguf", [] { return ggufOneTensor(1, 0, 1ull << 40, 32); }), "runs past the end of the file"});
    c.push_back({"gguf overlapping tensors", file("m.gguf", [] {
                     Gguf g;
                     g.header(3, 2, 0);
                     g.str("a").u32(1).u64(16).u32(0).u64(0);
                     g.str("b").u32(1).u64(16).u32(0).u64(32);
                     g.pad();
                     return g.s + std::string(96, '\0');
                 }), "overlap"});
    // A type id changed to a smaller type (f32 -> q4_0: 128 bytes -> 18) leaves a gap before the next tensor;
    // ggml's reader requires tensors back to back (each padded to the alignment), so the change is caught.
    c.push_back({"gguf tensor type changed to a smaller one", file("m.gguf", [] {
                     Gguf g;
                     g.header(3, 2, 0);
                     g.str("a").u32(1).u64(32).u32(2 /*Q4_0*/).u64(0);
                     g.str("b").u32(1).u64(8).u32(0).u64(128);
                     g.pad();
                     return g.s + std::string(160, '\0');
                 }), "tensor 'b' has data offset 128, expected 32"});
    c.push_back({"gguf duplicate tensor name", file("m.gguf", [] {
                     Gguf g;
                     g.header(3, 2, 0);
                     g.str("a").u32(1).u64(8).u32(0).u64(0);
                     g.str("a").u32(1).u64(8).u32(0).u64(32);
                     g.pad();
                     return g.s + std::string(64, '\0');
                 }), "duplicate tensor name 'a'"});
    // ---- HDF5
    c.push_back({"hdf5 cut in metadata", cut("m.h5", kH5, 2000), "truncated file: eof = 2000", kH5});
    c.push_back({"hdf5 cut in data", cut("m.h5", kH5, 60000), "truncated file: eof = 60000", kH5});
    c.push_back({"hdf5 dataset never written", [](const std::string& dir) { return onlyDeclaredHdf5(dir + "/d.h5"); },
                 "d.h5: dataset 'model.layers.0.mlp.up_proj.weight' declares 2147483648 bytes but none are stored "
                 "(never written); not read; the file holds no other dataset QuantScope can read"});
    c.push_back({"hdf5 signature only", file("m.h5", [] { return std::string("\x89HDF\r\n\x1a\n", 8) + std::string(100, '\xff'); }), "not a readable HDF5 file"});
    // ---- pickles and other files
    c.push_back({"raw pickle", file("model.pt", [] { return std::string("\x80\x02}q\x00.", 6); }), "unpickling can run arbitrary code"});
    c.push_back({"torch zip", file("weights.bin", [] { return zipWith("archive/data.pkl", std::string("\x80\x02}q\x00.", 6)); }), "Nothing was executed"});
    c.push_back({"pytorch_model.bin by name", file("pytorch_model.bin", [] { return std::string(100, 'x'); }), "Convert it to safetensors"});
    c.push_back({"other zip", file("a.zip", [] { return zipWith("readme.txt", "hello"); }), "zip archive without a data.pkl record"});
    c.push_back({"empty file", file("m.safetensors", [] { return std::string(); }), "empty file"});
    c.push_back({"unknown format", file("m.dat", [] { return std::string("hello world, not a model"); }), "unrecognised format"});
    // QuantScope's own sweep CSV is named as what it is, as its HDF5 form is (it was an "unrecognised format").
    c.push_back({"sweep csv", file("sw.csv", [] { return std::string("# quantscope-sweep {\"version\":1}\npoint,bytes\n"); }),
                 "sw.csv: a QuantScope sweep table (written by `sweep --out`), not a checkpoint: `quantscope-cli inspect` "
                 "shows it; the GUI's Sweep tab opens it with Resume..."});
    c.push_back({"fifo", [](const std::string& dir) {
                     const std::string p = dir + "/fifo.gguf";
                     ::mkfifo(p.c_str(), 0600);
                     return p;
                 }, "not a regular file"});
    c.push_back({"missing path", [](const std::string& dir) { return dir + "/nothing-here.gguf"; }, "no such file"});
    c.push_back({"empty folder", [](const std::string& dir) { return dir; }, "no checkpoint found"});
    c.push_back({"folder with two GGUF", [](const std::string& dir) {
                     qstest::writeBytes(dir + "/a.gguf", "GGUF");
                     qstest::writeBytes(dir + "/b.gguf", "GGUF");
                     return dir;
                 }, "several GGUF files (a.gguf, b.gguf)"});
    return c;
}

// An HDF5 file whose one dataset, f32 [16384, 32768] in 64x1024 chunks (2 GiB), was declared and never written.
std::string onlyDeclaredHdf5(const std::string& path) {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[2] = {16384, 32768}, chunk[2] = {64, 1024};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Dclose(H5Dcreate2(file, "model.layers.0.mlp.up_proj.weight", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                        H5P_DEFAULT));
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
    return path;
}

// An HDF5 file with f32 datasets made by plain libhdf5 calls: "written" [4, 8] holds values; "declared" [rows, cols]
// is chunked and never written; "partial" [64, 64] in 16x16 chunks has one chunk written.
void writeDeclaredHdf5(const std::string& path, hsize_t rows, hsize_t cols) {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    QVERIFY(file >= 0);
    auto dataset = [&](const char* name, hsize_t r, hsize_t c, hsize_t chunkR, hsize_t chunkC) {
        const hsize_t dims[2] = {r, c};
        const hid_t space = H5Screate_simple(2, dims, nullptr);
        const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (chunkR > 0) {
            const hsize_t chunk[2] = {chunkR, chunkC};
            H5Pset_chunk(dcpl, 2, chunk);
        }
        const hid_t ds = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Pclose(dcpl);
        H5Sclose(space);
        return ds;
    };
    const hid_t written = dataset("written", 4, 8, 0, 0);
    std::vector<float> values(32, 1.5f);
    QVERIFY(H5Dwrite(written, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
    H5Dclose(written);
    H5Dclose(dataset("declared", rows, cols, 64, 1024));
    const hid_t partial = dataset("partial", 64, 64, 16, 16);
    const hsize_t start[2] = {0, 0}, count[2] = {16, 16};
    const hid_t fspace = H5Dget_space(partial);
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr);
    const hid_t mspace = H5Screate_simple(2, count, nullptr);
    std::vector<float> chunk(256, 2.0f);
    QVERIFY(H5Dwrite(partial, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, chunk.data()) >= 0);
    H5Sclose(mspace);
    H5Sclose(fspace);
    H5Dclose(partial);
    H5Fclose(file);
}

// One F32 tensor of 2^20 x 2^20 values (4 TiB) whose reader refuses its bytes, as the HDF5 reader refuses a dataset
// claiming more than its file could hold.
class RefusingCheckpoint : public Checkpoint {
public:
    RefusingCheckpoint() {
        path = "/models/refusing.h5";
        format = FileFormat::Hdf5;
        TensorInfo t;
        t.name = "model.layers.0.mlp.up_proj.weight";
        t.shape = {int64_t(1) << 20, int64_t(1) << 20};
        t.bytes = (uint64_t(1) << 40) * 4;
        tensors.push_back(t);
    }
    Result<TensorData> data(size_t) const override { return Error{kRefusal}; }
    static constexpr const char* kRefusal =
        "/models/refusing.h5: dataset 'model.layers.0.mlp.up_proj.weight' claims 4398046511104 bytes; not read";
};

}  // namespace

class TestBrokenInputs : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void openCheckpoint_rejectsBrokenInput_data() {
        QTest::addColumn<int>("index");
        const auto all = cases();
        for (size_t i = 0; i < all.size(); ++i) QTest::newRow(all[i].id) << int(i);
    }

    void openCheckpoint_rejectsBrokenInput() {
        QFETCH(int, index);
        const Case c = cases()[size_t(index)];
        if (c.needs) {
            QS_REQUIRE_ASSET(source, c.needs);
            Q_UNUSED(source);
        }
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = c.make(dir.path().toStdString());
        auto r = openCheckpoint(path);
        QVERIFY2(!r.ok(), "a broken input opened without an error");
        const std::string& msg = r.message();
        QVERIFY2(msg.find(c.expected) != std::string::npos, ("expected '" + std::string(c.expected) + "' in: " + msg).c_str());
        // Every message names the file (or folder) it is about.
        QVERIFY2(msg.find(dir.path().toStdString()) != std::string::npos, msg.c_str());
    }

    void hdf5DatasetsNeverWrittenAreLeftOutAtOpen() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.path().toStdString() + "/declared.h5";
        writeDeclaredHdf5(path, 16384, 32768);  // 2 GiB declared, nothing stored
        QVERIFY(std::filesystem::file_size(path) < 64 * 1024);
        auto r = openCheckpoint(path);
        QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        const Checkpoint& ck = **r;
        QCOMPARE(ck.tensors.size(), size_t(1));
        QCOMPARE(ck.tensors[0].name, std::string("written"));
        QCOMPARE(ck.totalBytes(), uint64_t(4 * 8 * 4));  // the declared 2 GiB and the missing chunks count nowhere
        auto warned = [&](const std::string& part) {
            for (const std::string& w : ck.warnings)
                if (w.rfind(path + ": dataset '", 0) == 0 && w.find(part) != std::string::npos) return true;
            return false;
        };
        QVERIFY2(warned("'declared' skipped: declares 2147483648 bytes but none are stored (never written)"),
                 qPrintable(QString::fromStdString(nlohmann::json(ck.warnings).dump())));
        QVERIFY2(warned("'partial' skipped: declares 16384 bytes but only 1024 are stored (some chunks never written)"),
                 qPrintable(QString::fromStdString(nlohmann::json(ck.warnings).dump())));
        auto f = ck.toFloat(0);
        QVERIFY(f.ok());
        QCOMPARE((*f)[31], 1.5f);
    }

    void refusedBytesAreNeverAllocated() {
        const RefusingCheckpoint ck;
        const std::string refusal = RefusingCheckpoint::kRefusal;
        // Each would need 4 TiB (16 TiB of floats) if it allocated before asking the reader.
        auto f = ck.toFloat(0);
        QVERIFY(!f.ok());
        QCOMPARE(f.message(), refusal);
        auto scanned = streamWeightStats(ck, 0, nullptr);
        QVERIFY(!scanned.ok());
        QCOMPARE(scanned.message(), refusal);
        const Status finite = checkFiniteWeights(ck, nullptr);
        QVERIFY(!finite.ok());
        QCOMPARE(finite.message(), refusal);
        const ModelInfo info = analyzeModel(ck);
        auto map = parseQuantMap(R"({"version":1,"rules":[{"role":"all","scheme":"q8_0"}]})");
        QVERIFY(map.ok());
        auto resolved = resolveMap(*map, ck.tensors, info);
        QVERIFY2(resolved.ok(), resolved.ok() ? "" : resolved.message().c_str());
        for (bool stats : {false, true}) {
            ApplyOptions options;
            options.computeStats = stats;
            auto applied = applyMap(ck, info, *resolved, options, nullptr);
            QVERIFY(!applied.ok());
            QCOMPARE(applied.message(), refusal);
        }
    }

    // Opening a FIFO for reading blocks until a writer comes: every probe asks what the path is first.
    void fifosAreRefusedByEveryProbe() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        for (const char* name : {"p.gguf", "p.h5", "p.csv"}) {
            const std::string path = dir.path().toStdString() + "/" + name;
            QCOMPARE(::mkfifo(path.c_str(), 0600), 0);
            const auto start = std::chrono::steady_clock::now();
            QVERIFY(!io::isHdf5File(path));
            QCOMPARE(io::quantScopeHdf5Kind(path), io::QuantScopeHdf5::None);
            QVERIFY(!isSessionH5(path));
            QVERIFY(!looksLikeSweepCsv(path));
            for (const std::string& message : {readSweepFile(path).message(), readSweepHdf5(path).message(),
                                               readSessionH5(path).message(), openCheckpoint(path).message()})
                QCOMPARE(message, path + ": not a regular file");
            QVERIFY(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
        }
    }

    // Metadata strings that are not UTF-8 are kept with U+FFFD; the warning counts them and names where the first
    // one is (offset of its length field, and its key or tensor), as every error of a hostile file does.
    void ggufBadUtf8Strings_warningNamesOffsetAndOwner() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        // header (24 bytes); key "general.name" (8 + 12) type string (4); its value's length field at offset 48
        Gguf g;
        g.header(3, 1, 2).str("general.name").u32(8).str("ok").str("general.basename").u32(8).str("bad\xff");
        g.str("t\xfe").u32(1).u64(8).u32(0).u64(0).pad();
        g.s += std::string(32, '\0');
        const uint64_t badValueAt = 24 + (8 + 12) + 4 + (8 + 2) + (8 + 16) + 4;
        const std::string path = dir.path().toStdString() + "/u.gguf";
        qstest::writeBytes(path, g.s);
        auto r = openCheckpoint(path);
        if (!r) QFAIL(r.message().c_str());
        QCOMPARE(r.value()->warnings.size(), size_t(1));
        QCOMPARE(r.value()->warnings[0], path + ": 2 metadata strings are not valid UTF-8 (shown with U+FFFD); the first at "
                                               "offset " + std::to_string(badValueAt) + ", in key 'general.basename'");
        QCOMPARE(r.value()->tensors.at(0).name, std::string("t\xef\xbf\xbd"));
    }

    // A declared layer count far past the tensors (2^32 - 1 in a 1 MB GGUF) is one missing range, found at once: the
    // runnability check used to name every missing tensor of every declared layer (hours and gigabytes).
    void hugeDeclaredLayerCount_isOneMissingRange() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string b = ggufWithU32("llama.block_count", 0xFFFFFFFFu);
        QVERIFY(!b.empty());
        const std::string path = dir.path().toStdString() + "/layers.gguf";
        qstest::writeBytes(path, b);
        const auto start = std::chrono::steady_clock::now();
        auto r = openCheckpoint(path);
        if (!r) QFAIL(r.message().c_str());
        const ModelInfo info = analyzeModel(**r);
        QVERIFY(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
        QVERIFY(!info.runnable);
        QVERIFY2(info.runnableReason.find("every tensor of layers 5 to 4294967294 (4294967295 declared, tensors for 5)") !=
                     std::string::npos,
                 info.runnableReason.c_str());
    }

    // B3: a declared hidden size of 128 on 64-wide tensors is named as that (key, value, tensor, shape), in GGUF
    // metadata and in config.json; it was refused as "partial rotary embeddings (8 of 16 dimensions)", the
    // first derived size it broke.
    void declaredHiddenSizeOffTheTensors_isNamed_data() {
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("tensor");
        QTest::newRow("gguf") << "gguf" << "gguf llama.embedding_length = 128" << "'token_embd.weight' has shape [512, 64]";
        QTest::newRow("config.json") << "hf" << "config.json hidden_size = 128" << "'model.embed_tokens.weight' has shape [512, 64]";
    }
    void declaredHiddenSizeOffTheTensors_isNamed() {
        QFETCH(QString, format);
        QFETCH(QString, key);
        QFETCH(QString, tensor);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        std::string path;
        if (format == "gguf") {
            const std::string b = ggufWithU32("llama.embedding_length", 128);
            QVERIFY(!b.empty());
            path = dir.path().toStdString() + "/wide.gguf";
            qstest::writeBytes(path, b);
        } else {
            auto cfg = nlohmann::json::parse(asset("models/stories260K-hf/config.json"));
            cfg["hidden_size"] = 128;
            qstest::writeBytes(dir.path().toStdString() + "/config.json", cfg.dump());
            path = dir.path().toStdString() + "/model.safetensors";
            qstest::writeBytes(path, asset(kSt));
        }
        auto r = openCheckpoint(path);
        if (!r) QFAIL(r.message().c_str());
        const ModelInfo info = analyzeModel(**r);
        QVERIFY(!info.runnable);
        const QString why = QString::fromStdString(info.runnableReason);
        QVERIFY2(why.startsWith("invalid declaration: a hidden size its tensors do not have"), qPrintable(why));
        QVERIFY2(why.contains(key), qPrintable(why));
        QVERIFY2(why.contains(tensor + ", rows of 64"), qPrintable(why));
        QVERIFY2(!why.contains("rotary"), qPrintable(why));
    }

    // A special-token id of 4e9 is an id past the vocabulary, not "unset" (only 0xFFFFFFFF is): a BOS that the
    // vocabulary adds is refused by name instead of silently dropped from every prompt.
    void ggufSpecialIdPastTheVocabulary_isRefused() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string b = ggufWithU32("tokenizer.ggml.bos_token_id", 4000000000u);
        QVERIFY(!b.empty());
        const std::string path = dir.path().toStdString() + "/bos.gguf";
        qstest::writeBytes(path, b);
        auto t = loadTokenizerFile(path);
        QVERIFY(!t.ok());
        QCOMPARE(t.message(), path + ": tokenizer.ggml.bos_token_id 4000000000 is past the 512-token vocabulary");
    }

    // A FIFO under a tokenizer's name beside a model is named as such, not "no tokenizer found" (and not blocked on).
    void tokenizerFifoBesideTheModel_isNamed() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string d = dir.path().toStdString();
        for (const char* name : {"model.safetensors", "config.json"})
            QCOMPARE(::symlink(qstest::assetPath((std::string("models/stories260K-hf/") + name).c_str()).toStdString().c_str(),
                               (d + "/" + name).c_str()), 0);
        QCOMPARE(::mkfifo((d + "/tokenizer.model").c_str(), 0600), 0);
        auto ck = openCheckpoint(d);
        if (!ck) QFAIL(ck.message().c_str());
        auto t = loadTokenizerFor(**ck);
        QVERIFY(!t.ok());
        QCOMPARE(t.message(), d + "/tokenizer.model: not a regular file (the tokenizer beside " + (*ck)->path +
                                  "); pass one with --tokenizer");
    }

    // Decoding never reads outside the bytes it is given, whatever the caller asks for.
    void decodeToFloat_rejectsRangesOutsideTheData() {
        std::vector<std::byte> bytes(16);
        float out[8];
        QVERIFY(!decodeToFloat(DType::F32, bytes, 8, 0, 0, 8, out).ok());  // 8 values need 32 bytes
        QVERIFY(!decodeToFloat(DType::F32, bytes, 4, 0, 3, 2, out).ok());  // past the element count
        QVERIFY(!decodeToFloat(DType::F32, bytes, 4, 0, UINT64_MAX, 2, out).ok());
        QVERIFY(!decodeToFloat(DType::Q8_0, bytes, 32, 0, 0, 32, out).ok());  // one block needs 34 bytes
        QVERIFY(!decodeToFloat(DType::Llama2cQ8, bytes, 16, 8, 0, 8, out).ok());  // 16 + 8 bytes needed
        QVERIFY(!decodeToFloat(DType::Llama2cQ8, bytes, 16, 0, 0, 8, out).ok());  // group 0
        QVERIFY(!decodeToFloat(DType::F6_E2M3, bytes, 8, 0, 0, 8, out).ok());
        QVERIFY(decodeToFloat(DType::F32, bytes, 4, 0, 1, 3, out).ok());
    }
};

QTEST_GUILESS_MAIN(TestBrokenInputs)
#include "test_broken_inputs.moc"
