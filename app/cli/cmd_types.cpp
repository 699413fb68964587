// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli types: the type table (core/tensor/dtype.h facts, core/ggml/ggml_type_traits.h functions) as a
// user sees it: for every storage type, what QuantScope reads, decodes, quantizes to and runs natively, then the
// parameterised scheme families of the registry. Every cell is read from the table, the registry or the kernel
// lists at the running SIMD level; nothing is restated here.
#include <cstdio>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "app/cli/shared_options.h"
#include "core/ggml/ggml_repack.h"
#include "core/ggml/ggml_type_traits.h"
#include "core/ggml/ggml_vec_dot.h"
#include "core/io/checkpoint.h"
#include "core/quant/scheme_family.h"
#include "core/util/cpu_features.h"

namespace qscli {

namespace {

const char* kTypesDescription =
    "Lists every storage type of the type table: name, ggml name, GGUF id, values per block, bytes per block,\n"
    "bits per weight; whether QuantScope decodes it to float; the scheme names that quantize to it (the ggml\n"
    "scheme, and its importance-weighted _im variant where ggml has one; \"activations\": written only as a dot's\n"
    "activations); the activation type the engine's native dot of such weights takes at the running SIMD level\n"
    "(none: the engine runs the tensor in float, dequantized if it is stored quantized); and whether the engine\n"
    "repacks it into interleaved rows at that level (QS_SIMD caps the level). '-': no such value (no ggml\n"
    "name or id; llama2.c's Q8 has no fixed block size: its scales follow the file's group size, and its dot\n"
    "takes int8_group activations: int8 per the file's group with float32 scales, as llama2.c's runq.c).\n"
    "After the table: the parameterised scheme families (names built from bits and group) from the registry.\n"
    "--json prints {\"types\": [{\"name\", \"ggml_name\", \"gguf_id\", \"block_elems\", \"block_bytes\",\n"
    "\"bits_per_weight\", \"decode\", \"quantize\", \"quantize_weighted\", \"vec_dot_type\", \"repacked\"}],\n"
    "\"simd\": LEVEL} with null for absent values (quantize_weighted: the _im scheme's name or null), and\n"
    "\"activations_only\": true where QuantScope writes the type only as a dot's activations (q8_1, q8_K).";

// One row of the output, every field read from the table at the running SIMD level.
struct TypeRow {
    std::string name;
    std::optional<std::string> ggmlName;
    std::optional<int> ggufId;
    int blockElems = 0;
    std::optional<double> blockBytes;  // fractional for sub-byte plain types (FP4: 0.5)
    bool decode = false;
    bool quantize = false;             // a ggml scheme of this name writes it
    bool activationsOnly = false;      // from_float_ref without a scheme: an activation format
    std::optional<std::string> quantizeWeighted;
    std::optional<std::string> vecDotType;
    bool repacked = false;
};

std::optional<std::string> ggmlNameOf(qs::DType t) {
    const std::string_view n = qs::dtypeInfo(t).ggmlName;
    return n.empty() ? std::nullopt : std::optional<std::string>(n);
}

// Bytes of one block: exact when whole, a fraction for a sub-byte plain type (the bytes of 8 blocks / 8), none
// when the size depends on the file (dtypeBytes refuses every count).
std::optional<double> blockBytesOf(qs::DType t) {
    const uint64_t elems = uint64_t(qs::dtypeInfo(t).blockElems);
    if (auto b = qs::dtypeBytes(t, elems)) return double(*b);
    if (auto b = qs::dtypeBytes(t, 8 * elems)) return double(*b) / 8.0;
    return std::nullopt;
}

TypeRow typeRow(const qs::ggml::TypeTraits& r, qs::cpu::SimdLevel level) {
    const qs::DTypeInfo& info = r.info();
    TypeRow row;
    row.name = std::string(info.name);
    row.ggmlName = ggmlNameOf(r.type);
    if (info.ggmlId >= 0) row.ggufId = info.ggmlId;
    row.blockElems = info.blockElems;
    row.blockBytes = blockBytesOf(r.type);
    row.decode = qs::dtypeConvertibleToFloat(r.type);
    row.quantize = r.isScheme();
    row.activationsOnly = r.fromFloatRef != nullptr && !r.isScheme();
    if (row.quantize && r.fromFloatWeighted) {
        // The registry's importance variant of a row: findSchemeStorage maps "<ggml name>_im" back to it.
        const std::string im = std::string(info.ggmlName) + "_im";
        if (qs::ggml::findSchemeStorage(im) == &r) row.quantizeWeighted = im;
    }
    if (const qs::ggml::DotKernel* k = qs::ggml::findDotKernel(r.type, level)) row.vecDotType = ggmlNameOf(k->act());
    // llama2.c's Q8 runs in place with runq.c's activations: int8 per the file's group, float32 scales
    // (Llama2cQ8LinearWeights; tensors whose rows the group does not divide run in float).
    if (r.type == qs::DType::Llama2cQ8) row.vecDotType = "int8_group";
    row.repacked = qs::ggml::repackable(r.type) && qs::ggml::findRepackGemm(r.type, level) != nullptr;
    return row;
}

template <class T>
nlohmann::json orNull(const std::optional<T>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json();
}

bool whole(double v) { return v == double(int64_t(v)); }

nlohmann::json rowJson(const TypeRow& r) {
    std::optional<double> bpw;
    if (r.blockBytes) bpw = 8.0 * *r.blockBytes / r.blockElems;
    // Whole byte counts as integers; a sub-byte plain type's fraction as a number.
    const nlohmann::json bytes = !r.blockBytes          ? nlohmann::json()
                                 : whole(*r.blockBytes) ? nlohmann::json(int64_t(*r.blockBytes))
                                                        : nlohmann::json(*r.blockBytes);
    return {{"name", r.name}, {"ggml_name", orNull(r.ggmlName)}, {"gguf_id", orNull(r.ggufId)},
            {"block_elems", r.blockElems}, {"block_bytes", bytes}, {"bits_per_weight", orNull(bpw)},
            {"decode", r.decode}, {"quantize", r.quantize}, {"quantize_weighted", orNull(r.quantizeWeighted)},
            {"activations_only", r.activationsOnly},
            {"vec_dot_type", orNull(r.vecDotType)}, {"repacked", r.repacked}};
}

std::string number(double v, const char* format) {
    char buf[32];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

void printRow(const TypeRow& r) {
    const std::string id = r.ggufId ? std::to_string(*r.ggufId) : "-";
    const std::string bytes = !r.blockBytes ? "-" : number(*r.blockBytes, whole(*r.blockBytes) ? "%.0f" : "%.2f");
    const std::string bpw = r.blockBytes ? number(8.0 * *r.blockBytes / r.blockElems, "%.6g") : "-";
    std::string quantize = r.quantize ? r.ggmlName.value_or("yes") : r.activationsOnly ? "activations" : "no";
    if (r.quantizeWeighted) quantize += " " + *r.quantizeWeighted;
    std::printf("%-14s %-8s %4s %6d %6s %7s  %-6s %-18s %-8s %s\n", r.name.c_str(), r.ggmlName.value_or("-").c_str(),
                id.c_str(), r.blockElems, bytes.c_str(), bpw.c_str(), r.decode ? "yes" : "no", quantize.c_str(),
                r.vecDotType.value_or("none").c_str(), r.repacked ? "yes" : "no");
}

// The registry's families other than ggml (whose schemes are the table rows above), each with its forms.
void printSchemeFamilies() {
    std::printf("\nParameterised scheme families (quantize, --rule ROLE=SCHEME, quant-raw --scheme):\n");
    for (const qs::SchemeFamily& f : qs::schemeFamilies()) {
        if (f.id == "ggml") continue;
        std::string forms;
        for (const std::string& form : f.forms) forms += (forms.empty() ? "" : ", ") + form;
        std::printf("  %-10s %s\n", f.id.c_str(), forms.c_str());
    }
}

}  // namespace

int runTypes(int argc, char** argv, int first) {
    CommandLine cl("types", kTypesDescription);
    cl.positionals("ARGS", "");  // none taken: refused below
    bool json = false;
    addJsonFlag(cl.app(), json);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (!cl.positional().empty()) return fail("types", "takes no positional arguments", kExitUsage);
    const qs::cpu::SimdLevel level = qs::cpu::simdLevel();
    if (json) {
        nlohmann::json types = nlohmann::json::array();
        for (const qs::ggml::TypeTraits& r : qs::ggml::typeTraitsTable()) types.push_back(rowJson(typeRow(r, level)));
        const nlohmann::json j = {{"types", types}, {"simd", std::string(qs::cpu::simdLevelName(level))}};
        std::printf("%s\n", jsonText(j, 2).c_str());
        return kExitOk;
    }
    std::printf("%-14s %-8s %4s %6s %6s %7s  %-6s %-18s %-8s %s\n", "type", "ggml", "id", "block", "bytes", "bpw",
                "decode", "quantize", "vec_dot", "repacked");
    for (const qs::ggml::TypeTraits& r : qs::ggml::typeTraitsTable()) printRow(typeRow(r, level));
    std::printf("(native dots and repacking at SIMD level %s)\n",
                std::string(qs::cpu::simdLevelName(level)).c_str());
    printSchemeFamilies();
    return kExitOk;
}

}  // namespace qscli
