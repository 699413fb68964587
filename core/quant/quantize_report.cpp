// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/quantize_report.h"

#include <cmath>
#include <cstdio>

#include "core/io/utf8.h"
#include "core/quant/footprint_after.h"
#include "core/util/format.h"

namespace qs {

namespace {

using nlohmann::json;

json finiteOrNull(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

void putError(json& o, const ErrorStats& e) {
    o["mse"] = e.mse;
    o["rmse"] = e.rmse;
    o["max_abs_error"] = e.maxAbsError;
    // No quantized element (a kept tensor, a role without quantized tensors): no error, SQNR undefined.
    o["sqnr_db"] = e.count == 0 ? json(nullptr) : finiteOrNull(e.sqnrDb);
    o["cosine"] = e.cosine;
    o["rel_frobenius"] = finiteOrNull(e.relFrobenius);
    o["frac_clipped"] = e.fractionClipped;
    o["frac_zeroed"] = e.fractionZeroed;
}

std::string shapeText(const std::vector<int64_t>& shape) {
    std::string s;
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
    return s.empty() ? "scalar" : s;
}

struct Totals {
    FootprintTotals bytes;  // before/after, and over the weights only with their elements (the bpw set)
    RoleBytes overhead;
    std::array<int, kRoleCount> quantized{};
};

Totals totalsOf(const Checkpoint& c, const ModelInfo& info, const ApplyResult& a) {
    Totals t;
    for (size_t i = 0; i < c.tensors.size(); ++i) {
        const AppliedTensor& at = a.tensors[i];
        const Role r = info.entries[i].role;
        if (at.tiedTo >= 0 || info.entries[i].tiedTo >= 0) continue;
        t.bytes.before.add(r, c.tensors[i].bytes);
        t.bytes.after.add(r, at.bytes.total());
        t.overhead.add(r, at.bytes.overhead());
        t.quantized[size_t(r)] += at.quantized;
        if (info.entries[i].isParameter) {
            t.bytes.weightsBefore.add(r, c.tensors[i].bytes);
            t.bytes.weightsAfter.add(r, at.bytes.total());
            t.bytes.elements.add(r, c.tensors[i].elements());
        }
    }
    return t;
}

std::string sqnrText(double db) {
    if (!std::isfinite(db)) return "inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", db);
    return buf;
}

std::string sci(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3e", v);
    return buf;
}

}  // namespace

json quantizeReportTensorJson(const Checkpoint& c, const ModelInfo& info, const ResolvedMap& resolved,
                              const ApplyResult& a, size_t i) {
    const TensorInfo& t = c.tensors[i];
    const TensorEntry& e = info.entries[i];
    const TensorPlan& p = resolved.tensors[i];
    const AppliedTensor& at = a.tensors[i];
    json o = {{"name", t.name},
              {"role", roleName(e.role)},
              {"layer", e.layer >= 0 ? json(e.layer) : json(nullptr)},
              {"shape", t.shape},
              {"dtype", dtypeName(t.dtype)},
              {"scheme", at.scheme.empty() ? std::string(kKeepScheme) : at.scheme},
              {"requested", p.requested(resolved.map)},
              {"rule", p.rule >= 0 ? json(p.rule + 1) : json(nullptr)},  // counted from 1
              {"bytes", at.bytes.total()},
              {"bytes_before", at.tiedTo >= 0 || e.tiedTo >= 0 ? uint64_t(0) : t.bytes},
              {"overhead", at.bytes.overhead()}};
    if (!p.fallbackReason.empty()) o["fallback"] = p.fallbackReason.str();
    if (!p.note.empty()) o["note"] = p.note.str();
    if (at.tiedTo >= 0) o["tied_to"] = c.tensors[size_t(at.tiedTo)].name;
    if (at.keptColumns >= 0) {
        o["kept_columns"] = at.keptColumns;
        o["kept_columns_bytes"] = at.bytes.outliers;
        o["outlier_rule"] = at.outlierRule.str();
    }
    if (!at.awqScales.empty()) {
        o["awq_scales"] = at.awqScales.str();  // "folded", "vector" or "norm" (apply_map.h AppliedTensor)
        o["awq_note"] = at.awqNote.str();
    }
    const uint64_t elems = t.elements();
    // A buffer (llama2.c RoPE table) is no weight: 0, as a tied head (footprint_after.h, bits per weight).
    o["bits_per_weight"] =
        at.tiedTo < 0 && e.isParameter ? bitsPerWeight(at.bytes.total(), elems) : 0.0;
    putError(o, at.error().stats);
    return o;
}

json quantizeReportJson(const Checkpoint& c, const ModelInfo& info, const ResolvedMap& resolved,
                        const ApplyResult& a, bool withTensors) {
    json j;
    j["model"] = c.path;
    j["format"] = fileFormatName(c.format);
    j["map"] = quantMapToJson(resolved.map);
    json tensors = json::array();
    if (withTensors)
        for (size_t i = 0; i < c.tensors.size(); ++i) tensors.push_back(quantizeReportTensorJson(c, info, resolved, a, i));
    j["tensors"] = std::move(tensors);

    const Totals t = totalsOf(c, info, a);
    const FootprintShares shares = footprintShares(t.bytes);
    json roles = json::object();
    auto roleEntry = [&](const RoleShare& s, uint64_t overhead, int quantized, const ErrorStats& e) {
        json o = {{"bytes_before", s.before},
                  {"bytes", s.after},
                  {"overhead", overhead},
                  {"quantized_tensors", quantized},
                  {"share_before_pct", s.shareBefore},
                  {"share_pct", s.shareAfter},
                  {"bits_per_weight_before", s.bitsBefore},
                  {"bits_per_weight", s.bitsAfter}};
        putError(o, e);
        return o;
    };
    for (int r = 0; r < kRoleCount; ++r)
        roles[std::string(roleName(Role(r)))] = roleEntry(shares.byRole[size_t(r)], t.overhead.byRole[size_t(r)],
                                                          t.quantized[size_t(r)], a.roleError[size_t(r)]);
    ErrorSums bodySums = a.roleError[int(Role::Attention)].sums;
    bodySums += a.roleError[int(Role::Mlp)].sums;
    roles["body"] = roleEntry(shares.body, t.overhead.body(),
                              t.quantized[int(Role::Attention)] + t.quantized[int(Role::Mlp)],
                              ErrorStats::fromSums(bodySums));
    int allQuantized = 0;
    for (int q : t.quantized) allQuantized += q;
    roles["total"] = roleEntry(shares.total, t.overhead.total, allQuantized, a.totalError);
    j["roles"] = std::move(roles);
    j["footprint"] = {{"before", roleBytesJson(t.bytes.before)},
                      {"after", roleBytesJson(t.bytes.after)},
                      {"after_overhead", roleBytesJson(t.overhead)}};
    j["warnings"] = a.warnings;
    return j;
}

void writeQuantizeReportText(const Checkpoint& c, const ModelInfo& info, const ResolvedMap& resolved,
                             const ApplyResult& a, const std::function<void(std::string_view)>& write) {
    constexpr size_t kFlushBytes = 64 * 1024;
    std::string out;
    char line[512];
    // Names, paths and patterns come from files: shown printable (io::printableText), so a name holding a
    // newline, a terminal escape or a bidi override cannot forge a row or reorder the terminal's line.
    out += io::printableText(c.path) + " (" + std::string(fileFormatName(c.format)) + "), " +
           std::to_string(c.tensors.size()) + " tensors, " + std::to_string(resolved.map.rules.size()) + " rules:\n";
    for (size_t k = 0; k < resolved.map.rules.size(); ++k)
        out += "  rule " + std::to_string(k + 1) + ": " + io::printableText(resolved.map.rules[k].describe()) + "\n";
    out += "\n";
    size_t nameWidth = 6;
    for (const auto& t : c.tensors) nameWidth = std::max(nameWidth, std::min<size_t>(t.name.size(), 60));
    std::snprintf(line, sizeof line, "%-*s  %-9s  %-10s  %-8s  %11s  %11s  %6s  %10s  %8s\n", int(nameWidth), "tensor",
                  "role", "shape", "scheme", "before", "after", "bpw", "rmse", "sqnr dB");
    out += line;
    for (size_t i = 0; i < c.tensors.size(); ++i) {
        const TensorInfo& t = c.tensors[i];
        const AppliedTensor& at = a.tensors[i];
        const bool tied = at.tiedTo >= 0 || info.entries[i].tiedTo >= 0;
        std::string scheme = at.scheme.empty() ? "keep" : at.scheme;
        if (tied) scheme += " (tied)";
        const std::string before = tied ? "0 B" : formatBytes(t.bytes);
        const std::string bpw =
            tied || !info.entries[i].isParameter ? "-" : formatBitsPerWeight(at.bytes.total(), t.elements());
        const std::string rmse = at.quantized || tied ? sci(at.error().stats.rmse) : "-";
        const std::string sqnr = at.quantized || tied ? sqnrText(at.error().stats.sqnrDb) : "-";
        // The name whole (a long one would be cut with the row's end by the fixed line buffer), padded.
        const std::string shown = io::printableText(t.name);
        out += shown;
        if (shown.size() < nameWidth) out.append(nameWidth - shown.size(), ' ');
        std::snprintf(line, sizeof line, "  %-9s  %-10s  %-8s  %11s  %11s  %6s  %10s  %8s\n",
                      std::string(roleName(info.entries[i].role)).c_str(), shapeText(t.shape).c_str(),
                      scheme.c_str(), before.c_str(), formatBytes(at.bytes.total()).c_str(), bpw.c_str(),
                      rmse.c_str(), sqnr.c_str());
        out += line;
        if (!resolved.tensors[i].fallbackReason.empty())
            out += "    fallback from " + resolved.tensors[i].requested(resolved.map) + ": " +
                   io::printableText(resolved.tensors[i].fallbackReason.str()) + "\n";
        if (!resolved.tensors[i].note.empty()) out += "    " + io::printableText(resolved.tensors[i].note.str()) + "\n";
        if (at.keptColumns >= 0)
            out += "    " + std::to_string(at.keptColumns) + " columns kept in fp16 (" + formatBytes(at.bytes.outliers) +
                   "): " + at.outlierRule + "\n";
        if (!at.awqNote.empty()) out += "    AWQ: " + at.awqNote + "\n";
        if (out.size() >= kFlushBytes) {
            write(out);
            out.clear();
        }
    }

    const Totals t = totalsOf(c, info, a);
    const FootprintShares shares = footprintShares(t.bytes);
    out += "\n";
    std::snprintf(line, sizeof line, "%-9s  %11s  %11s  %15s  %11s  %13s  %10s  %8s\n", "role", "before", "after",
                  "share", "overhead", "bpw", "rmse", "sqnr dB");
    out += line;
    auto roleLine = [&](const char* name, const RoleShare& s, uint64_t overhead, const ErrorStats& e, bool any) {
        char share[48], bpw[48];
        std::snprintf(share, sizeof share, "%.1f%% -> %.1f%%", s.shareBefore, s.shareAfter);
        if (s.elements) std::snprintf(bpw, sizeof bpw, "%.2f -> %.2f", s.bitsBefore, s.bitsAfter);
        else std::snprintf(bpw, sizeof bpw, "-");
        std::snprintf(line, sizeof line, "%-9s  %11s  %11s  %15s  %11s  %13s  %10s  %8s\n", name,
                      formatBytes(s.before).c_str(), formatBytes(s.after).c_str(), share, formatBytes(overhead).c_str(),
                      bpw, any ? sci(e.rmse).c_str() : "-", any ? sqnrText(e.sqnrDb).c_str() : "-");
        out += line;
    };
    for (int r = 0; r < kRoleCount; ++r)
        roleLine(std::string(roleName(Role(r))).c_str(), shares.byRole[size_t(r)], t.overhead.byRole[size_t(r)],
                 a.roleError[size_t(r)], t.quantized[size_t(r)] > 0);
    ErrorSums bodySums = a.roleError[int(Role::Attention)].sums;
    bodySums += a.roleError[int(Role::Mlp)].sums;
    roleLine("body", shares.body, t.overhead.body(), ErrorStats::fromSums(bodySums), bodySums.count > 0);
    roleLine("total", shares.total, t.overhead.total, a.totalError, a.totalError.count > 0);
    if (info.tie) out += "\ntie: " + info.tie->describe() + "; the pair is quantized once (head counts 0 bytes)\n";
    write(out);
}

std::string quantizeReportText(const Checkpoint& c, const ModelInfo& info, const ResolvedMap& resolved,
                               const ApplyResult& a) {
    std::string out;
    writeQuantizeReportText(c, info, resolved, a, [&out](std::string_view piece) { out += piece; });
    return out;
}

}  // namespace qs
