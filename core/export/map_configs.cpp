// SPDX-License-Identifier: GPL-3.0-or-later
// Per-module configurations of other tools from a resolved map. See map_configs.h for the formats and
// sources.
#include "core/export/map_configs.h"

#include <map>
#include <regex>

namespace qs {

namespace {

struct RtnLayout {
    int bits = 0;
    int64_t group = 0;  // 0 per row, -1 per column, -2 per tensor
    bool symmetric = false;
};

std::optional<RtnLayout> parseRtn(const std::string& scheme) {
    static const std::regex re("^int([2-8])(?:_g([0-9]+))?(_col|_tensor)?(_sym)?$");
    std::smatch m;
    if (!std::regex_match(scheme, m, re)) return std::nullopt;
    RtnLayout l;
    l.bits = std::stoi(m[1].str());
    if (m[2].matched) l.group = std::stoll(m[2].str());
    if (m[3].matched) l.group = m[3].str() == "_col" ? -1 : -2;
    l.symmetric = m[4].matched;
    return l;
}

std::string escapeRegex(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

// Our HQQ (hqq<b>_g<G>) is HQQ's own method and layout: the same nbits and group_size (axis 1); an RTN name
// gives its layout.
std::optional<RtnLayout> hqqLayout(const std::string& scheme) {
    static const std::regex re("^hqq([1-8])_g([0-9]+)$");
    std::smatch m;
    if (std::regex_match(scheme, m, re)) return RtnLayout{std::stoi(m[1].str()), std::stoll(m[2].str()), false};
    return parseRtn(scheme);
}

bool hqqExpresses(const std::string& scheme) {
    const auto l = hqqLayout(scheme);
    return l && !l->symmetric && l->group > 0 && (l->bits <= 4 || l->bits == 8);
}

bool gptqExpresses(const std::string& scheme) {
    const auto l = parseRtn(scheme);
    return l && l->group >= 0 && (l->bits <= 4 || l->bits == 8);
}

bool torchaoExpresses(const std::string& scheme) {
    const auto l = parseRtn(scheme);
    return l && ((l->bits == 4 && !l->symmetric &&
                  (l->group == 32 || l->group == 64 || l->group == 128 || l->group == 256)) ||
                 (l->bits == 8 && l->symmetric && l->group == 0));
}

bool expresses(MapConfigFormat format, const std::string& scheme) {
    switch (format) {
        case MapConfigFormat::Hqq: return hqqExpresses(scheme);
        case MapConfigFormat::GptqModel: return gptqExpresses(scheme);
        case MapConfigFormat::Torchao: return torchaoExpresses(scheme);
    }
    return false;
}

struct Module {
    size_t tensor = 0;
    std::string name;    // Hugging Face module name
    std::string tag;     // without "model.layers.N."
    std::string scheme;  // "" = kept
    bool linear = true;  // false for the embedding
};

// The modules a map configures: every 2-D parameter with a Hugging Face module name. A tied head is the
// embedding's module (it is not a separate module in the Hugging Face model either).
Result<std::vector<Module>> modulesOf(const ResolvedMap& resolved, const std::vector<TensorInfo>& tensors,
                                      const ModelInfo& info, const std::string& target) {
    std::vector<Module> out;
    for (size_t i = 0; i < tensors.size() && i < resolved.tensors.size(); ++i) {
        const TensorEntry& e = info.entries[i];
        const TensorPlan& p = resolved.tensors[i];
        if (!e.isParameter || tensors[i].shape.size() < 2 || p.tiedTo >= 0 || e.tiedTo >= 0) continue;
        Module m;
        m.tensor = i;
        m.name = hfModuleName(e.kind, e.layer);
        if (m.name.empty()) {
            if (p.scheme.empty()) continue;
            return Error{target + ": " + tensors[i].name + " (" + std::string(tensorKindName(e.kind)) +
                         ") has no Hugging Face module name"};
        }
        m.tag =
            e.layer >= 0 ? m.name.substr(m.name.find('.', std::string("model.layers.").size()) + 1) : m.name;
        // A half-precision "scheme" (also the fallback of a row no group divides) is an unquantized module
        // there.
        m.scheme = p.scheme == "f16" || p.scheme == "bf16" ? std::string() : p.scheme;
        m.linear = e.kind != TensorKind::TokenEmbedding;
        if (!m.linear && !m.scheme.empty())
            return Error{target + ": " + tensors[i].name + " (the embedding) is quantized with " + m.scheme +
                         "; " + target + " quantizes linear layers only"};
        if (!m.linear) continue;
        out.push_back(std::move(m));
    }
    return out;
}

Error refuse(const std::string& target, const TensorInfo& t, const std::string& scheme,
             const std::string& supports) {
    return Error{target + ": " + t.name + " uses " + scheme + ", which " + target +
                 " cannot express (it supports " + supports + ")"};
}

Result<nlohmann::json> hqqConfig(const std::vector<Module>& modules, const std::vector<TensorInfo>& tensors) {
    const std::string target = "HQQ config";
    std::map<std::string, std::pair<std::string, size_t>> byTag;  // tag -> (scheme, first tensor)
    for (const Module& m : modules) {
        auto [it, inserted] = byTag.try_emplace(m.tag, m.scheme, m.tensor);
        if (!inserted && it->second.first != m.scheme)
            return Error{target + ": HqqConfig's dynamic_config is keyed by linear tag, but " + m.tag +
                         " is " + (it->second.first.empty() ? "kept" : it->second.first) + " in " +
                         tensors[it->second.second].name + " and " + (m.scheme.empty() ? "kept" : m.scheme) +
                         " in " + tensors[m.tensor].name};
    }
    nlohmann::json dyn = nlohmann::json::object(), skip = nlohmann::json::array();
    for (const auto& [tag, v] : byTag) {
        const auto& [scheme, tensor] = v;
        if (scheme.empty()) {
            skip.push_back(tag);
            continue;
        }
        if (!hqqExpresses(scheme))
            return refuse(target, tensors[tensor], scheme,
                          "hqq1/2/3/4/8_g<G> and asymmetric grouped int2/3/4/8: hqq4_g64, int4_g64, int2_g16, ...");
        const auto l = hqqLayout(scheme);
        dyn[tag] = {{"nbits", l->bits}, {"group_size", l->group}};
    }
    if (!byTag.count("lm_head")) skip.push_back("lm_head");  // transformers' default skip_modules
    return nlohmann::json{{"dynamic_config", dyn}, {"skip_modules", skip}};
}

Result<nlohmann::json> gptqModelConfig(const std::vector<Module>& modules,
                                       const std::vector<TensorInfo>& tensors) {
    const std::string target = "GPTQModel config";
    std::map<std::string, int> count;
    for (const Module& m : modules) {
        if (m.scheme.empty()) continue;
        if (!gptqExpresses(m.scheme))
            return refuse(target, tensors[m.tensor], m.scheme, "int2/3/4/8 per row or _g<G>, _sym or not");
        if (m.name != "lm_head") ++count[m.scheme];
    }
    if (count.empty()) return Error{target + ": the map quantizes no linear layer of the body"};
    std::string base;
    for (const auto& [s, n] : count)
        if (base.empty() || n > count[base]) base = s;
    auto fields = [](const std::string& scheme) {
        const RtnLayout l = *parseRtn(scheme);
        return nlohmann::json{
            {"bits", l.bits}, {"group_size", l.group > 0 ? l.group : -1}, {"sym", l.symmetric}};
    };
    nlohmann::ordered_json cfg;
    const nlohmann::json b = fields(base);
    cfg["bits"] = b["bits"];
    cfg["group_size"] = b["group_size"];
    cfg["sym"] = b["sym"];
    cfg["desc_act"] = false;
    bool lmHead = false;
    nlohmann::ordered_json dyn = nlohmann::ordered_json::object();
    for (const Module& m : modules) {
        const std::string rx = "^" + escapeRegex(m.name) + "$";
        if (m.name == "lm_head") {
            lmHead = !m.scheme.empty();
            if (lmHead && m.scheme != base) dyn["+:" + rx] = fields(m.scheme);
        } else if (m.scheme.empty()) {
            dyn["-:" + rx] = nlohmann::json::object();
        } else if (m.scheme != base) {
            dyn["+:" + rx] = fields(m.scheme);
        }
    }
    cfg["lm_head"] = lmHead;
    cfg["dynamic"] = dyn;
    cfg["quant_method"] = "gptq";
    cfg["checkpoint_format"] = "gptq";
    return nlohmann::json::parse(cfg.dump());
}

Result<nlohmann::json> torchaoConfig(const std::vector<Module>& modules,
                                     const std::vector<TensorInfo>& tensors) {
    const std::string target = "torchao config";
    nlohmann::ordered_json map = nlohmann::ordered_json::object();
    for (const Module& m : modules) {
        if (m.scheme.empty()) {
            map[m.name] = nullptr;
            continue;
        }
        const auto l = parseRtn(m.scheme);
        if (torchaoExpresses(m.scheme) && l->bits == 4)
            map[m.name] = {
                {"_type", "Int4WeightOnlyConfig"}, {"_version", 2}, {"_data", {{"group_size", l->group}}}};
        else if (torchaoExpresses(m.scheme))
            map[m.name] = {
                {"_type", "Int8WeightOnlyConfig"}, {"_version", 2}, {"_data", nlohmann::json::object()}};
        else
            return refuse(
                target, tensors[m.tensor], m.scheme,
                "int4_g32/64/128/256 as Int4WeightOnlyConfig, int8_sym as Int8WeightOnlyConfig, kept");
    }
    nlohmann::ordered_json cfg = {
        {"_type", "FqnToConfig"}, {"_version", 1}, {"_data", {{"fqn_to_config", map}}}};
    return nlohmann::json::parse(cfg.dump());
}

}  // namespace

std::string hfModuleName(TensorKind kind, int layer) {
    const std::string l = "model.layers." + std::to_string(layer) + ".";
    switch (kind) {
        case TensorKind::TokenEmbedding:
            return "model.embed_tokens";
        case TensorKind::Output:
            return "lm_head";
        case TensorKind::Wq:
            return l + "self_attn.q_proj";
        case TensorKind::Wk:
            return l + "self_attn.k_proj";
        case TensorKind::Wv:
            return l + "self_attn.v_proj";
        case TensorKind::Wo:
            return l + "self_attn.o_proj";
        case TensorKind::Gate:
            return l + "mlp.gate_proj";
        case TensorKind::Up:
            return l + "mlp.up_proj";
        case TensorKind::Down:
            return l + "mlp.down_proj";
        default:
            return {};
    }
}

const char* mapConfigFormatName(MapConfigFormat format) {
    switch (format) {
        case MapConfigFormat::Hqq: return "HQQ config";
        case MapConfigFormat::GptqModel: return "GPTQModel config";
        case MapConfigFormat::Torchao: return "torchao config";
    }
    return "map config";
}

Result<MapConfigExport> exportMapConfig(MapConfigFormat format, const ResolvedMap& resolved,
                                        const std::vector<TensorInfo>& tensors, const ModelInfo& info,
                                        const MapConfigOptions& options) {
    const std::string target = mapConfigFormatName(format);
    auto modules = modulesOf(resolved, tensors, info, target);
    if (!modules) return modules.error();
    MapConfigExport out;
    for (Module& m : *modules) {
        const TensorPlan& p = resolved.tensors[m.tensor];
        if (p.fallbackReason.empty()) continue;
        const std::string& requested = p.requested(resolved.map);
        ExportFallback f{tensors[m.tensor].name, requested, m.scheme.empty() ? "keep" : m.scheme,
                         p.fallbackReason, size_t(m.tensor)};
        if (!m.scheme.empty() && !expresses(format, m.scheme)) {
            if (!options.keepUnexpressible)
                return Error{target + ": " + f.tensor + " falls back from " + requested + " to " + m.scheme + " (" +
                             p.fallbackReason + "), which " + target +
                             " cannot express; give it a scheme the target supports in the map, or pass --fallback "
                             "f16 to leave such modules unquantized"};
            f.reason += "; " + m.scheme + " has no " + target + " form, so the module is left unquantized";
            f.written = "keep";
            m.scheme.clear();
        }
        out.fallbacks.push_back(std::move(f));
    }
    Result<nlohmann::json> config = Error{"unknown map config format"};
    switch (format) {
        case MapConfigFormat::Hqq: config = hqqConfig(*modules, tensors); break;
        case MapConfigFormat::GptqModel: config = gptqModelConfig(*modules, tensors); break;
        case MapConfigFormat::Torchao: config = torchaoConfig(*modules, tensors); break;
    }
    if (!config) return config.error();
    out.config = std::move(*config);
    out.modules = int(modules->size());
    for (const Module& m : *modules) out.quantized += !m.scheme.empty();
    return out;
}

Result<nlohmann::json> mapConfigJson(MapConfigFormat format, const ResolvedMap& resolved,
                                     const std::vector<TensorInfo>& tensors, const ModelInfo& info) {
    auto r = exportMapConfig(format, resolved, tensors, info);
    if (!r) return r.error();
    return std::move(r->config);
}

}  // namespace qs
