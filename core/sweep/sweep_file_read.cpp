// SPDX-License-Identifier: GPL-3.0-or-later
// Reading a sweep file's spec and rows back into values (core/sweep/sweep.h): the GUI continues a sweep file
// written by the CLI or by itself and shows the points already stored.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/sweep/sweep.h"

namespace qs {

namespace {

std::vector<std::string_view> splitFields(std::string_view line) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        const size_t comma = line.find(',', start);
        out.push_back(
            line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

Error specError(const std::string& field, const std::string& what) {
    return Error{"sweep spec: \"" + field + "\": " + what};
}

bool parseDouble(std::string_view text, double& out) {
    if (text == "inf") return out = std::numeric_limits<double>::infinity(), true;
    if (text == "-inf") return out = -std::numeric_limits<double>::infinity(), true;
    if (text == "nan") return out = std::numeric_limits<double>::quiet_NaN(), true;
    const std::string s(text);
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return !s.empty() && end && *end == '\0';
}

bool parseInt(std::string_view text, int64_t& out) {
    const std::string s(text);
    char* end = nullptr;
    errno = 0;
    out = std::strtoll(s.c_str(), &end, 10);
    return !s.empty() && end && *end == '\0' && errno != ERANGE;  // 10^23 is not LLONG_MAX
}

Status readEvaluation(const nlohmann::json& j, SweepSpec& spec) {
    if (spec.measure == SweepMeasure::WeightError) return {};
    auto str = [&](const char* key, std::string& out) -> Status {
        if (!j.contains(key) || !j[key].is_string()) return specError(key, "missing or not a string");
        out = j[key].get<std::string>();
        return {};
    };
    std::string protocol;
    for (auto [key, out] : {std::pair{"weights", &spec.weightsMode}, std::pair{"text_fnv1a", &spec.textHash},
                            std::pair{"protocol", &protocol}})
        if (auto s = str(key, *out); !s) return s;
    const auto p = pplProtocolFromName(protocol);
    if (!p) return specError("protocol", "unknown protocol \"" + protocol + "\"");
    spec.perplexity.protocol = *p;
    for (const char* key : {"text_bytes", "context", "windows"})
        if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int64_t>() < 0)
            return specError(key, "missing or not a non-negative integer");
    spec.textBytes = j["text_bytes"].get<uint64_t>();
    spec.perplexity.context = int(j["context"].get<int64_t>());
    spec.perplexity.maxWindows = int(j["windows"].get<int64_t>());
    if (*p == PplProtocol::Documents)
        if (auto s = str("separator", spec.perplexity.separator); !s) return s;
    return {};
}

}  // namespace

Result<SweepSpec> sweepSpecFromJson(const ModelInfo& info, const nlohmann::json& j) {
    if (!j.is_object()) return Error{"sweep spec: not a JSON object"};
    SweepSpec spec;
    if (!j.contains("model") || !j["model"].is_string()) return specError("model", "missing or not a string");
    spec.modelPath = j["model"].get<std::string>();
    if (!j.contains("model_tensor_bytes") || !j["model_tensor_bytes"].is_number_unsigned())
        return specError("model_tensor_bytes", "missing or not a byte count");
    spec.modelBytes = j["model_tensor_bytes"].get<uint64_t>();
    if (j.contains("model_fingerprint") && j["model_fingerprint"].is_string())
        spec.modelFingerprint = j["model_fingerprint"].get<std::string>();
    const std::string measure = j.value("measure", std::string());
    const auto m = sweepMeasureFromName(measure);
    if (!m) return specError("measure", "unknown measure \"" + measure + "\"");
    spec.measure = *m;
    if (j.contains("calibration")) {
        if (!j["calibration"].is_string()) return specError("calibration", "not a string");
        spec.calibration = j["calibration"].get<std::string>();
    }
    if (auto s = readEvaluation(j, spec); !s) return s.error();
    if (!j.contains("baseline") || !j["baseline"].is_array())
        return specError("baseline", "missing or not an array");
    auto baseline = quantMapFromJson({{"version", kQuantMapVersion}, {"rules", j["baseline"]}});
    if (!baseline) return specError("baseline", baseline.message());
    spec.baseline = std::move(baseline).value();
    if (!j.contains("groups") || !j["groups"].is_array() || !j.contains("schemes") ||
        !j["schemes"].is_object())
        return specError("groups", "missing groups array or schemes object");
    std::vector<std::string> names;
    for (const auto& g : j["groups"]) {
        if (!g.is_string()) return specError("groups", "a group name is not a string");
        names.push_back(g.get<std::string>());
        const auto it = j["schemes"].find(names.back());
        if (it == j["schemes"].end() || !it->is_array() || it->empty())
            return specError("schemes", "no candidate list for group \"" + names.back() + "\"");
        std::vector<std::string> list;
        for (const auto& s : *it) {
            if (!s.is_string())
                return specError("schemes", "a scheme of \"" + names.back() + "\" is not a string");
            list.push_back(s.get<std::string>());
        }
        spec.schemes.push_back(std::move(list));
    }
    auto groups = expandGroups(info, names);
    if (!groups) return specError("groups", groups.message());
    if (groups->size() != names.size()) return specError("groups", "a group name expands to several groups");
    spec.groups = std::move(groups).value();
    return spec;
}

Result<SweepRow> parseSweepFileRow(const SweepSpec& spec, std::string_view line) {
    const auto f = splitFields(line);
    const bool ppl = spec.measure != SweepMeasure::WeightError, kld = spec.measure == SweepMeasure::Kld;
    const size_t expected = 2 + spec.groups.size() + 4 + (ppl ? 1 : 0) + (kld ? 3 : 0);
    if (f.size() != expected)
        return Error{"sweep row: " + std::to_string(f.size()) + " fields, expected " +
                     std::to_string(expected)};
    SweepRow row;
    size_t at = 0;
    auto bad = [&](const char* what) {
        return Error{"sweep row: bad " + std::string(what) + " '" + std::string(f[at]) + "'"};
    };
    if (!parseInt(f[at], row.point) || row.point < 0) return bad("point");
    at += 2;  // the groups joined by '+': the spec's
    for (size_t g = 0; g < spec.groups.size(); ++g) row.schemes.emplace_back(f[at++]);
    PointMeasure& m = row.measure;
    int64_t bytes = 0;
    if (!parseInt(f[at], bytes) || bytes < 0) return bad("bytes");
    m.bytes = uint64_t(bytes);
    ++at;
    struct Field {
        const char* name;
        double* value;
        bool present;
    };
    const Field doubles[] = {{"bpw", &m.bpw, true}, {"rmse", &m.rmse, true}, {"sqnr_db", &m.sqnrDb, true},
                             {"ppl", &m.ppl, ppl},  {"kld", &m.kld, kld},    {"kld_max", &m.kldMax, kld},
                             {"top1", &m.top1, kld}};
    for (const Field& d : doubles) {
        if (!d.present) continue;
        if (!parseDouble(f[at], *d.value)) return bad(d.name);
        ++at;
    }
    m.hasPpl = ppl;
    m.hasKld = kld;
    return row;
}

}  // namespace qs
