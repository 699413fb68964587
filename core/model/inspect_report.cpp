// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/inspect_report.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/io/utf8.h"
#include "core/util/format.h"

namespace qs {

namespace {

std::string shapeString(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string tieKindName(TieInfo::Kind k) {
    switch (k) {
        case TieInfo::Kind::Declared: return "declared";
        case TieInfo::Kind::HeadAbsent: return "head_absent";
        case TieInfo::Kind::SameBytes: return "same_bytes";
    }
    return "declared";
}

nlohmann::json archFeaturesJson(const ArchSpec& a) {
    using nlohmann::json;
    json f = {{"qkv_bias", a.qkvBias}, {"o_bias", a.outBias}, {"mlp_bias", a.mlpBias}, {"qk_norm", a.qkNorm},
              {"post_norms", a.postNorms}, {"norm_offset", a.normOffset}, {"embedding_scale", a.embedScale},
              {"activation", a.activation == Activation::Silu ? "silu" : "gelu_tanh"},
              {"attention_scale", a.attnScale}, {"attention_softcap", a.attnSoftcap}, {"final_softcap", a.finalSoftcap},
              {"sliding_window", a.slidingWindow}, {"rope_theta_local", a.ropeThetaLocal},
              {"rope_freq_factors", a.ropeFreqFactors}};
    int sliding = 0;
    for (bool b : a.slidingLayers) sliding += b;
    f["sliding_layers"] = sliding;
    json rs = {{"type", ropeScalingTypeName(a.ropeScaling.type)}};
    if (a.ropeScaling.type != RopeScalingType::None) {
        rs["factor"] = a.ropeScaling.factor;
        rs["original_context"] = a.ropeScaling.originalContext;
        rs["source"] = a.ropeScaling.source;
    }
    f["rope_scaling"] = rs;
    return f;
}

}  // namespace

std::string_view ropeLayoutName(RopeLayout r) {
    return r == RopeLayout::AdjacentPairs ? "adjacent_pairs" : "rotate_half";
}

nlohmann::json inspectTensorJson(const Checkpoint& c, const ModelInfo& m, size_t i) {
    using nlohmann::json;
    const TensorInfo& t = c.tensors[i];
    const TensorEntry& e = m.entries[i];
    json o = {{"name", t.name},
              {"shape", t.shape},
              {"dtype", dtypeName(t.dtype)},
              {"role", roleName(e.role)},
              {"layer", e.layer >= 0 ? json(e.layer) : json(nullptr)},
              {"bytes", e.tiedTo >= 0 ? 0 : t.bytes},
              {"stored_bytes", t.bytes},
              {"elements", t.elements()}};
    if (e.kind != TensorKind::Unknown) o["kind"] = tensorKindName(e.kind);
    if (e.tiedTo >= 0) o["tied_to"] = c.tensors[size_t(e.tiedTo)].name;
    return o;
}

nlohmann::json inspectJson(const Checkpoint& c, const ModelInfo& m, bool withTensors) {
    using nlohmann::json;
    json j;
    j["file"] = c.path;
    j["format"] = fileFormatName(c.format);
    j["format_detail"] = c.formatDetail;
    for (const char* key : {"general.file_type", "general.quantization_version"})  // GGUF: as written, if present
        if (c.metadata.contains(key) && c.metadata[key].is_number_integer()) j[std::string(key).substr(8)] = c.metadata[key];
    j["architecture"] = m.architecture;
    j["architecture_source"] = m.source;
    j["llama_family"] = m.llamaFamily;
    j["runnable"] = m.runnable;
    j["runnable_reason"] = m.runnableReason;
    j["features"] = archFeaturesJson(m.arch);
    j["rope_layout"] = ropeLayoutName(m.rope);
    j["hyperparameters"] = {{"dim", m.hp.dim},         {"hidden", m.hp.hidden},     {"layers", m.hp.layers},
                            {"heads", m.hp.heads},     {"kv_heads", m.hp.kvHeads}, {"head_dim", m.hp.headDim},
                            {"vocab", m.hp.vocab},     {"context", m.hp.context},  {"rope_theta", m.hp.ropeTheta},
                            {"norm_eps", m.hp.normEps}};
    j["parameters"] = m.parameters;
    if (m.tie) {
        j["tie"] = {{"kind", tieKindName(m.tie->kind)},
                    {"embedding", c.tensors[size_t(m.tie->embedding)].name},
                    {"head", m.tie->head >= 0 ? json(c.tensors[size_t(m.tie->head)].name) : json(nullptr)},
                    {"description", m.tie->describe()}};
    } else {
        j["tie"] = nullptr;
    }
    json tensors = json::array();
    if (withTensors)
        for (size_t i = 0; i < c.tensors.size(); ++i) tensors.push_back(inspectTensorJson(c, m, i));
    j["tensors"] = std::move(tensors);
    const Footprint& f = m.footprint;
    j["footprint"] = {{"embedding", f.byRole[int(Role::Embedding)]},
                      {"head", f.byRole[int(Role::Head)]},
                      {"body", f.body()},
                      {"attention", f.byRole[int(Role::Attention)]},
                      {"mlp", f.byRole[int(Role::Mlp)]},
                      {"norm", f.byRole[int(Role::Norm)]},
                      {"other", f.byRole[int(Role::Other)]},
                      {"total", f.total},
                      {"tied_head_bytes", f.tiedHeadBytes}};
    json warnings = json::array();
    for (const auto& w : c.warnings) warnings.push_back(w);
    for (const auto& w : m.warnings) warnings.push_back(w);
    j["warnings"] = std::move(warnings);
    return j;
}

void writeInspectText(const Checkpoint& c, const ModelInfo& m, const std::function<void(std::string_view)>& write) {
    constexpr size_t kFlushBytes = 64 * 1024;
    std::string out;
    char line[512];
    auto add = [&](const std::string& s) {
        out += s;
        out += '\n';
        if (out.size() >= kFlushBytes) {
            write(out);
            out.clear();
        }
    };
    // Texts from the file (its path, names, the architecture string, warnings quoting them) are shown printable.
    add(io::printableText(c.path));
    add("  format        " + std::string(fileFormatName(c.format)) + (c.formatDetail.empty() ? "" : " (" + c.formatDetail + ")"));
    // GGUF's general.file_type (llama.cpp's llama_ftype, e.g. 15 = Q4_K_M) and general.quantization_version.
    std::string fileType;
    for (const auto& [key, label] : {std::pair{"general.file_type", "file_type "}, {"general.quantization_version",
                                                                                   "quantization_version "}})
        if (c.metadata.contains(key) && c.metadata[key].is_number_integer())
            fileType += (fileType.empty() ? "" : ", ") + std::string(label) + std::to_string(c.metadata[key].get<int64_t>());
    if (!fileType.empty()) add("  gguf keys     " + fileType);
    add("  architecture  " + io::printableText(m.architecture) + " (from " + m.source + ")" +
        (m.runnable ? ", runnable" : ""));
    if (!m.runnable) add("  runnable      no: " + io::printableText(m.runnableReason));
    std::snprintf(line, sizeof line,
                  "  shape         dim %lld, hidden %lld, layers %lld, heads %lld, kv heads %lld, vocab %lld, "
                  "context %lld",
                  (long long)m.hp.dim, (long long)m.hp.hidden, (long long)m.hp.layers, (long long)m.hp.heads,
                  (long long)m.hp.kvHeads, (long long)m.hp.vocab, (long long)m.hp.context);
    add(line);
    add("  parameters    " + formatCount(m.parameters) + (m.tie ? " (tied pair counted once)" : ""));
    if (m.tie) add("  ties          " + m.tie->describe());
    add("");

    size_t nameWidth = 4;
    // Names as printable text: a GGUF or safetensors tensor name holding a newline would forge a row. Made per row,
    // not kept for all rows: a copy of every name would cost the header's size again (issue 13).
    for (const auto& t : c.tensors) nameWidth = std::max(nameWidth, io::printableText(t.name).size());
    nameWidth = std::min<size_t>(nameWidth, 60);
    std::snprintf(line, sizeof line, "  %-*s  %-16s %-8s %-9s %5s %12s", int(nameWidth), "name", "shape", "dtype",
                  "role", "layer", "size");
    add(line);
    for (size_t i = 0; i < c.tensors.size(); ++i) {
        const TensorInfo& t = c.tensors[i];
        const TensorEntry& e = m.entries[i];
        std::string layer = e.layer >= 0 ? std::to_string(e.layer) : "-";
        std::string size = e.tiedTo >= 0 ? "tied" : formatBytes(t.bytes);
        // The name whole and padded, then the columns (a fixed line buffer cut a long name's row at 511 bytes).
        std::string row = "  " + io::printableText(t.name);
        if (row.size() < nameWidth + 2) row.append(nameWidth + 2 - row.size(), ' ');
        std::snprintf(line, sizeof line, "  %-16s %-8s %-9s %5s %12s", shapeString(t.shape).c_str(),
                      std::string(dtypeName(t.dtype)).c_str(), std::string(roleName(e.role)).c_str(), layer.c_str(),
                      size.c_str());
        row += line;
        if (e.tiedTo >= 0) row += "  = " + io::printableText(c.tensors[size_t(e.tiedTo)].name);
        add(row);
    }
    add("");
    add("  footprint");
    const Footprint& f = m.footprint;
    auto row = [&](const char* label, uint64_t bytes, const std::string& note = {}) {
        double pct = f.total ? 100.0 * double(bytes) / double(f.total) : 0.0;
        std::snprintf(line, sizeof line, "    %-10s %14s %6.1f%%%s", label, formatBytes(bytes).c_str(), pct,
                      note.c_str());
        add(line);
    };
    row("embedding", f.byRole[int(Role::Embedding)]);
    row("head", f.byRole[int(Role::Head)],
        m.tie ? "  (tied; untying would add " + formatBytes(f.tiedHeadBytes) + ")" : "");
    row("body", f.body());
    row("norm", f.byRole[int(Role::Norm)]);
    row("other", f.byRole[int(Role::Other)]);
    row("total", f.total);
    for (const auto& w : c.warnings) add("  warning: " + io::printableText(w));
    for (const auto& w : m.warnings) add("  warning: " + io::printableText(w));
    if (!out.empty()) write(out);
}

std::string inspectText(const Checkpoint& c, const ModelInfo& m) {
    std::string out;
    writeInspectText(c, m, [&](std::string_view piece) { out += piece; });
    return out;
}

}  // namespace qs
