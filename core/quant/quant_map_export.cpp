// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/quant_map_export.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/io/checkpoint_writer.h"
#include "core/model/tensor_naming.h"
#include "core/quant/scheme.h"
#include "core/util/format.h"

namespace qs {

namespace {

std::string storedGgmlName(DType t) {
    const DTypeInfo& di = dtypeInfo(t);
    if (di.ggmlId < 0) return {};
    return std::string(di.ggmlName);
}

std::string escapeRegex(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

bool isGgmlType(std::string_view scheme) {
    if (scheme == "f32" || scheme == "f16" || scheme == "bf16") return true;
    auto s = findScheme(scheme);
    return s && s->family() == "ggml";
}

nlohmann::json resolvedMapJson(const ResolvedMap& resolved, const std::vector<TensorInfo>& tensors,
                               const ModelInfo& info) {
    nlohmann::json j = quantMapToJson(resolved.map);
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < tensors.size() && i < resolved.tensors.size(); ++i) {
        const TensorPlan& p = resolved.tensors[i];
        const TensorEntry& e = info.entries[i];
        nlohmann::json o = {{"tensor", tensors[i].name},
                            {"role", std::string(roleName(e.role))},
                            {"layer", e.layer >= 0 ? nlohmann::json(e.layer) : nlohmann::json(nullptr)},
                            {"scheme", p.scheme.empty() ? std::string(kKeepScheme) : p.scheme},
                            {"requested", p.requested(resolved.map)},
                            {"rule", p.rule >= 0 ? nlohmann::json(p.rule + 1) : nlohmann::json(nullptr)}};
        if (!p.fallbackReason.empty()) o["fallback"] = p.fallbackReason.str();
        if (!p.note.empty()) o["note"] = p.note.str();
        if (p.tiedTo >= 0) o["tied_to"] = tensors[size_t(p.tiedTo)].name;
        list.push_back(std::move(o));
    }
    j["resolved"] = std::move(list);
    j["warnings"] = resolved.warnings;
    return j;
}

Result<std::string> llamaCppTensorTypes(const ResolvedMap& resolved, const std::vector<TensorInfo>& tensors,
                                        const ModelInfo& info, bool sourceIsGguf) {
    std::string out;
    for (size_t i = 0; i < tensors.size() && i < resolved.tensors.size(); ++i) {
        const TensorInfo& t = tensors[i];
        const TensorEntry& e = info.entries[i];
        const TensorPlan& p = resolved.tensors[i];
        if (!e.isParameter || t.shape.size() < 2) continue;
        std::string type = p.scheme;
        if (type.empty()) {
            type = storedGgmlName(t.dtype);
            if (type.empty())
                return Error{"llama.cpp tensor types: " + quoteBounded(t.name) + " stays as stored (" +
                             std::string(dtypeName(t.dtype)) +
                             "), which is not a ggml type; give it a scheme in the map"};
        } else if (!isGgmlType(type)) {
            return Error{"llama.cpp tensor types: " + quoteBounded(t.name) + " uses " + type +
                         ", which is not a ggml type (llama.cpp can store ggml types only)"};
        }
        std::string gguf = ggufTensorName(e.kind, e.layer);
        if (gguf.empty() && sourceIsGguf) gguf = t.name;
        if (gguf.empty())
            return Error{"llama.cpp tensor types: " + quoteBounded(t.name) + " has no known GGUF name (role " +
                         std::string(roleName(e.role)) + ", kind unknown)"};
        out += "^" + escapeRegex(gguf) + "$=" + type + "\n";
    }
    return out;
}

Status writeFileAtomically(const std::string& path, std::string_view content) {
    return writeTextFile(path, std::string(content));  // an unnamed temporary renamed into place (PartialFile)
}

}  // namespace qs
