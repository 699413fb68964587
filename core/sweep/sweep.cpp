// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/sweep.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "core/io/bounded_text.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/hdf5_reader.h"
#include "core/io/mapped_file.h"
#include "core/io/regular_file.h"
#include "core/io/utf8.h"
#include "core/quant/quant_map_export.h"
#include "core/sweep/sweep_hdf5.h"
#include "core/sweep/sweep_row_check.h"

namespace qs {

namespace {

constexpr std::string_view kMagic = io::kSweepCsvMagic;

std::vector<std::string> splitCsv(std::string_view line) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        const size_t comma = line.find(',', start);
        out.emplace_back(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

std::vector<std::string> columns(const SweepSpec& spec) {
    std::vector<std::string> c = {"point", "groups"};
    for (const auto& g : spec.groups) c.push_back("scheme_" + g.name);
    for (const char* m : {"bytes", "bpw", "rmse", "sqnr_db"}) c.push_back(m);
    if (spec.measure != SweepMeasure::WeightError) c.push_back("ppl");
    if (spec.measure == SweepMeasure::Kld)
        for (const char* m : {"kld", "kld_max", "top1"}) c.push_back(m);
    return c;
}

std::string joinGroups(const SweepSpec& spec) {
    std::string s;
    for (const auto& g : spec.groups) s += (s.empty() ? "" : "+") + g.name;
    return s;
}

nlohmann::json comparable(nlohmann::json spec) {
    if (spec.contains("model") && spec["model"].is_string())
        spec["model"] = std::filesystem::path(spec["model"].get<std::string>()).filename().string();
    return spec;
}

// The fields in which two sweep specs differ, each with both values (shortened), objects compared member by
// member: "schemes.attention: [\"int2_g64\"] in the file, [\"int3_g64\"] in this run; windows: 4 in the
// file, 8 in this run".
void listDifferences(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix,
                     const std::string& thisName, std::string& out) {
    auto shown = [](const nlohmann::json& v) {
        std::string text = v.dump();
        return text.size() > 100 ? text.substr(0, 97) + "..." : text;
    };
    if (a.is_object() && b.is_object()) {
        std::set<std::string> keys;
        for (const nlohmann::json* o : {&a, &b})
            for (const auto& item : o->items()) keys.insert(item.key());
        for (const std::string& k : keys) {
            const std::string field = prefix.empty() ? k : prefix + "." + k;
            if (!a.contains(k) || !b.contains(k))
                out += (out.empty() ? "" : "; ") + field + ": " + (a.contains(k) ? shown(a[k]) : "(absent)") +
                       " in the file, " + (b.contains(k) ? shown(b[k]) : "(absent)") + " " + thisName;
            else
                listDifferences(a[k], b[k], field, thisName, out);
        }
    } else if (a != b) {
        out += (out.empty() ? "" : "; ") + (prefix.empty() ? std::string("spec") : prefix) + ": " + shown(a) +
               " in the file, " + shown(b) + " " + thisName;
    }
}

std::string specDifference(const nlohmann::json& fileSpec, const nlohmann::json& thisSpec, const std::string& thisName) {
    std::string out;
    listDifferences(comparable(fileSpec), comparable(thisSpec), "", thisName, out);
    return out.empty() ? "the spec in line 1 differs" : out;
}

}  // namespace

Result<std::string> schemeForBits(int bits) {
    if (bits < 2 || bits > 8)
        return Error{"--bits " + std::to_string(bits) + ": the default family int{b}_g64 takes 2..8 bits (use --schemes for others)"};
    return "int" + std::to_string(bits) + "_g64";
}

int64_t SweepSpec::pointCount() const {
    if (schemes.empty()) return 0;
    int64_t n = 1;
    for (const auto& c : schemes) {
        if (c.empty()) return 0;
        if (n > std::numeric_limits<int64_t>::max() / int64_t(c.size())) return std::numeric_limits<int64_t>::max();
        n *= int64_t(c.size());
    }
    return n;
}

std::vector<std::string> SweepSpec::pointSchemes(int64_t point) const {
    std::vector<std::string> out(schemes.size());
    for (size_t j = schemes.size(); j-- > 0;) {
        const int64_t n = int64_t(schemes[j].size());
        out[j] = schemes[j][size_t(point % n)];
        point /= n;
    }
    return out;
}

nlohmann::json SweepSpec::toJson() const {
    nlohmann::json groupsJson = nlohmann::json::array(), schemesJson = nlohmann::json::object();
    for (size_t j = 0; j < groups.size(); ++j) {
        groupsJson.push_back(groups[j].name);
        schemesJson[groups[j].name] = schemes[j];
    }
    nlohmann::json j = {{"model", modelPath}, {"model_tensor_bytes", modelBytes}, {"model_fingerprint", modelFingerprint},
                        {"measure", std::string(sweepMeasureName(measure))}, {"groups", groupsJson},
                        {"schemes", schemesJson}, {"baseline", quantMapToJson(baseline)["rules"]}};
    if (!calibration.empty()) j["calibration"] = calibration;
    if (measure != SweepMeasure::WeightError) {
        j["weights"] = weightsMode;
        j["text_fnv1a"] = textHash;
        j["text_bytes"] = textBytes;
        j["protocol"] = std::string(pplProtocolName(perplexity.protocol));
        j["context"] = perplexity.context;
        j["windows"] = perplexity.maxWindows;
        if (perplexity.protocol == PplProtocol::Documents) j["separator"] = perplexity.separator;
    }
    return j;
}

Result<SweepShard> parseShard(std::string_view text) {
    const size_t slash = text.find('/');
    auto bad = [&] { return Error{"--shard '" + std::string(text) + "': expected I/N with 0 <= I < N (e.g. 3/8)"}; };
    if (slash == std::string_view::npos) return bad();
    auto num = [](std::string_view s) -> int64_t {
        if (s.empty() || s.size() > 7) return -1;
        int64_t v = 0;
        for (char c : s) {
            if (c < '0' || c > '9') return -1;
            v = v * 10 + (c - '0');
        }
        return v;
    };
    const int64_t i = num(text.substr(0, slash)), n = num(text.substr(slash + 1));
    if (i < 0 || n < 1 || n > 1000000 || i >= n) return bad();
    return SweepShard{int(i), int(n)};
}

Status checkSweepSpec(const SweepSpec& spec, int64_t maxPoints) {
    if (spec.groups.empty()) return Error{"a sweep needs at least one group (--groups)"};
    if (spec.schemes.size() != spec.groups.size()) return Error{"a sweep needs candidate schemes for every group"};
    for (size_t j = 0; j < spec.groups.size(); ++j) {
        if (spec.schemes[j].empty()) return Error{"group '" + spec.groups[j].name + "' has no candidate scheme"};
        std::set<std::string> seen;
        for (const auto& s : spec.schemes[j]) {
            auto c = canonicalSchemeName(s);
            if (!c) return Error{"group '" + spec.groups[j].name + "': " + c.message()};
            if (!seen.insert(*c).second)
                return Error{"group '" + spec.groups[j].name + "': candidate '" + *c +
                             "' is given twice (each point would be measured twice)"};
        }
    }
    const int64_t n = spec.pointCount();
    if (n > maxPoints)
        return Error{"the sweep has " + (n == std::numeric_limits<int64_t>::max() ? std::string("more than 9e18") : std::to_string(n)) +
                     " points (" + std::to_string(spec.groups.size()) + " groups), more than --max-points " +
                     std::to_string(maxPoints) + ": use fewer groups or candidates, split it with --shard, raise --max-points, "
                     "or rank the groups with a sensitivity scan and let auto-mix choose"};
    return {};
}

std::string sweepFileHeader(const SweepSpec& spec, const SweepShard& shard) {
    const nlohmann::json h = {{"version", kSweepFileVersion}, {"spec", spec.toJson()}, {"shard", shard.text()}};
    std::string out = std::string(kMagic) + h.dump() + "\n";
    const auto cols = columns(spec);
    for (size_t i = 0; i < cols.size(); ++i) out += (i ? "," : "") + cols[i];
    return out + "\n";
}

std::string sweepCellNumber(double v) {
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (std::isnan(v)) return "nan";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

std::vector<std::string> sweepCells(std::string_view line) {
    std::vector<std::string> cells;
    if (line.empty()) return cells;
    size_t at = 0;
    for (;;) {
        const size_t comma = line.find(',', at);
        cells.emplace_back(line.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
        if (comma == std::string_view::npos) return cells;
        at = comma + 1;
    }
}

std::string sweepFileRow(const SweepSpec& spec, const SweepRow& row) {
    const PointMeasure& m = row.measure;
    std::string s = std::to_string(row.point) + "," + joinGroups(spec);
    for (const auto& scheme : row.schemes) s += "," + scheme;
    s += "," + std::to_string(m.bytes) + "," + sweepCellNumber(m.bpw) + "," + sweepCellNumber(m.rmse) + "," + sweepCellNumber(m.sqnrDb);
    if (spec.measure != SweepMeasure::WeightError) s += "," + sweepCellNumber(m.ppl);
    if (spec.measure == SweepMeasure::Kld) s += "," + sweepCellNumber(m.kld) + "," + sweepCellNumber(m.kldMax) + "," + sweepCellNumber(m.top1);
    return s + "\n";
}

bool looksLikeSweepCsv(const std::string& path) {
    if (!isRegularFile(path)) return false;  // a FIFO would block the open
    std::ifstream in(path, std::ios::binary);
    std::string head(kMagic.size(), '\0');
    return in && in.read(head.data(), std::streamsize(head.size())) && head == kMagic;
}

Result<SweepFile> readSweepFile(const std::string& path) {
    // An HDF5 sweep table (`sweep --out F.h5`, or a session's /sweep group) reads as the same rows.
    if (isRegularFile(path) && io::isHdf5File(path)) return readSweepHdf5(path);
    auto text = io::readBoundedFile(path, io::kMaxJsonFileBytes, "a sweep file");
    if (!text) return text.error();
    return parseSweepFileText(*text, path);
}

Result<PointLayout> PointLayout::of(const nlohmann::json& header, const std::vector<std::string>& columns,
                                    const std::string& where) {
    const nlohmann::json& spec = header["spec"];
    PointLayout l;
    l.columns = columns;
    auto shard = parseShard(header["shard"].get<std::string>());
    if (!shard) return Error{where + shard.message()};
    l.shard = *shard;
    if (!spec.contains("groups") || !spec["groups"].is_array() || !spec.contains("schemes") || !spec["schemes"].is_object())
        return Error{where + "the spec has no groups array or schemes object"};
    for (const auto& g : spec["groups"]) {
        const auto it = g.is_string() ? spec["schemes"].find(g.get<std::string>()) : spec["schemes"].end();
        if (it == spec["schemes"].end() || !it->is_array() || it->empty())
            return Error{where + "no candidate list for group " + g.dump()};
        std::vector<std::string> list;
        for (const auto& c : *it) list.push_back(c.is_string() ? c.get<std::string>() : c.dump());
        if (l.total > std::numeric_limits<int64_t>::max() / int64_t(list.size()))
            return Error{where + "the spec's candidate lists make more than 2^63 points"};
        l.total *= int64_t(list.size());
        // A column line that does not match the spec is refused by resume and merge, naming it.
        const auto col = std::find(columns.begin(), columns.end(), "scheme_" + g.get<std::string>());
        l.columnOf.push_back(col == columns.end() ? -1 : int(col - columns.begin()));
        l.lists.push_back(std::move(list));
        l.groupsCell += (l.groupsCell.empty() ? "" : "+") + g.get<std::string>();
    }
    return l;
}

Result<int64_t> PointLayout::checkRow(const std::vector<std::string>& cells) const {
    if (cells.size() != columns.size())
        return Error{std::to_string(cells.size()) + " fields, the header has " + std::to_string(columns.size())};
    char* endp = nullptr;
    errno = 0;
    const long long point = std::strtoll(cells[0].c_str(), &endp, 10);
    if (cells[0].empty() || *endp != '\0' || point < 0 || errno == ERANGE)
        return Error{"bad point index '" + cells[0] + "'"};
    if (auto s = checkPoint(point, cells); !s) return s.error();
    if (auto s = checkCells(cells); !s) return Error{"point " + cells[0] + ": " + s.message()};
    return int64_t(point);
}

Status PointLayout::checkPoint(int64_t point, const std::vector<std::string>& cells) const {
    if (point >= total)
        return Error{"point " + std::to_string(point) + " is not one of the sweep's " + std::to_string(total)};
    if (!shard.takes(point))
        return Error{"point " + std::to_string(point) + " does not belong to shard " + shard.text()};
    int64_t rest = point;
    for (size_t j = lists.size(); j-- > 0;) {
        const std::string& expected = lists[j][size_t(rest % int64_t(lists[j].size()))];
        rest /= int64_t(lists[j].size());
        if (columnOf[j] < 0) continue;
        const std::string& cell = cells[size_t(columnOf[j])];
        if (cell != expected)
            return Error{"point " + std::to_string(point) + ": " + columns[size_t(columnOf[j])] + " '" + cell +
                         "' is not the point's scheme '" + expected + "'"};
    }
    return {};
}

// Every cell past the point and the scheme_<group> cells (checkPoint): the groups cell is the spec's, the measured
// columns read back as numbers and bytes as a byte count (0 .. 2^63-1). An edited or damaged cell is refused here,
// before a resume skips the point or a merge copies (or, into HDF5, converts) it. Errors name the column by name and
// number (counted from 1).
Status PointLayout::checkCells(const std::vector<std::string>& cells) const {
    for (size_t i = 1; i < columns.size(); ++i) {
        const std::string& cell = cells[i];
        const std::string what = columns[i] + " (column " + std::to_string(i + 1) + ") '" + cell + "'";
        if (columns[i].rfind("scheme_", 0) == 0) continue;
        if (columns[i] == "groups") {
            if (cell != groupsCell) return Error{what + " is not the spec's groups '" + groupsCell + "'"};
            continue;
        }
        char* end = nullptr;
        errno = 0;
        if (columns[i] == "bytes") {
            const long long v = std::strtoll(cell.c_str(), &end, 10);
            if (cell.empty() || *end != '\0') return Error{what + " is not a number"};
            if (errno == ERANGE) return Error{what + " is out of range (a byte count is at most 2^63-1)"};
            if (v < 0) return Error{what + " is negative (a byte count)"};
        } else {
            (void)std::strtod(cell.c_str(), &end);
            if (cell.empty() || *end != '\0') return Error{what + " is not a number"};
        }
    }
    return {};
}

namespace {

// Sweep files are written with LF line ends. A CR (a file saved with CRLF line ends by an editor) would end every
// last cell in an invisible byte: it is named instead, with its line and column.
Status refuseCarriageReturn(const std::string& text, const std::string& path) {
    const size_t cr = text.find('\r');
    if (cr == std::string::npos) return {};
    const size_t lineStart = cr == 0 ? std::string::npos : text.rfind('\n', cr - 1);
    const size_t column = lineStart == std::string::npos ? cr + 1 : cr - lineStart;
    const size_t line = size_t(std::count(text.begin(), text.begin() + std::ptrdiff_t(cr), '\n')) + 1;
    return Error{path + ": line " + std::to_string(line) + ", column " + std::to_string(column) +
                 ": a carriage return (CRLF line ends?); sweep files end their lines with LF only"};
}

}  // namespace

Result<SweepFile> parseSweepFileText(const std::string& text, const std::string& path) {
    SweepFile f;
    if (auto st = refuseCarriageReturn(text, path); !st) return st.error();
    const size_t end1 = text.find('\n');
    if (text.compare(0, kMagic.size(), kMagic) != 0 || end1 == std::string::npos)
        return Error{path + ": not a QuantScope sweep file (line 1 must start with '" + std::string(kMagic) + "')"};
    auto header = io::parseBoundedJson(std::string_view(text).substr(kMagic.size(), end1 - kMagic.size()),
                                       path + ": line 1");
    if (!header) return header.error();
    f.header = std::move(*header);
    if (f.header.is_discarded() || !f.header.is_object() || !f.header.contains("spec") || !f.header["spec"].is_object() ||
        !f.header.contains("shard") || !f.header["shard"].is_string() || !f.header.contains("version") ||
        !f.header["version"].is_number_integer() || f.header["version"].get<int64_t>() != kSweepFileVersion)
        return Error{path + ": line 1: the sweep header is not valid JSON of version " + std::to_string(kSweepFileVersion)};
    const size_t end2 = text.find('\n', end1 + 1);
    if (end2 == std::string::npos) return Error{path + ": line 2 (the column names) is missing or truncated"};
    f.headerText = text.substr(0, end2 + 1);
    const std::vector<std::string> columns =
        splitCsv(std::string_view(text).substr(end1 + 1, end2 - end1 - 1));
    auto layout = PointLayout::of(f.header, columns, path + ": line 1: ");
    if (!layout) return layout.error();
    size_t at = end2 + 1;
    int line = 3;
    while (at < text.size()) {
        const size_t nl = text.find('\n', at);
        if (nl == std::string::npos) {
            f.truncatedBytes = text.size() - at;
            break;
        }
        const std::string row = text.substr(at, nl - at);
        const auto where = path + ": line " + std::to_string(line);
        const auto point = layout->checkRow(splitCsv(row));
        if (!point) return Error{where + ": " + point.message()};
        if (!f.rows.emplace(*point, row).second)
            return Error{where + ": point " + std::to_string(*point) + " is stored twice"};
        at = nl + 1;
        ++line;
    }
    f.completeBytes = at;
    return f;
}

namespace {

// The points of the spec JSON (the product of its candidate lists), 0 when it cannot be read.
int64_t specPointCount(const nlohmann::json& spec) {
    const auto it = spec.find("schemes");
    if (it == spec.end() || !it->is_object() || it->empty()) return 0;
    int64_t n = 1;
    for (const auto& [group, list] : it->items()) {
        if (!list.is_array() || list.empty() || n > INT64_MAX / int64_t(list.size())) return 0;
        n *= int64_t(list.size());
    }
    return n;
}

}  // namespace

std::string SweepFile::columnLine() const {
    const size_t nl = headerText.find('\n');
    std::string line = nl == std::string::npos ? std::string() : headerText.substr(nl + 1);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return line;
}

std::string sweepSummaryText(const SweepFile& file, const std::string& path) {
    // Texts from the file (the model path, group keys, scheme names, the rows) shown printable
    // (io::printableText): an edited table must not put escapes or bidi overrides on the terminal.
    const nlohmann::json& spec = file.header["spec"];
    auto shown = [](const nlohmann::json& v) {
        return io::printableText(v.is_string() ? v.get<std::string>()
                                               : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    };
    auto text = [&](const char* key) { return spec.contains(key) ? shown(spec[key]) : std::string("-"); };
    std::string out = io::printableText(path) + "\n  format        QuantScope sweep table (shard " +
                      io::printableText(file.header.value("shard", std::string("?"))) + ")\n  model         " +
                      text("model") + " (fingerprint " + text("model_fingerprint") + ")\n  measure       " +
                      text("measure") + "\n";
    if (spec.contains("schemes") && spec["schemes"].is_object())
        for (const auto& item : spec["schemes"].items()) {
            std::string list;
            for (const auto& scheme : item.value()) list += (list.empty() ? "" : ", ") + shown(scheme);
            out += "  group         " + io::printableText(item.key()) + ": " + list + "\n";
        }
    out += "  points        " + std::to_string(file.rows.size()) + " stored of " +
           std::to_string(specPointCount(spec)) + "\n\n" + io::printableText(file.columnLine()) + "\n";
    for (const auto& [point, row] : file.rows) out += io::printableText(row) + "\n";
    return out;
}

nlohmann::json sweepSummaryJson(const SweepFile& file, const std::string& path) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& [point, row] : file.rows) rows.push_back(sweepCells(row));
    return {{"sweep", true},
            {"path", path},
            {"spec", file.header["spec"]},
            {"shard", file.header.value("shard", std::string())},
            {"points_stored", file.rows.size()},
            {"points_total", specPointCount(file.header["spec"])},
            {"columns", sweepCells(file.columnLine())},
            {"rows", rows}};
}

bool sameSweepSpec(const nlohmann::json& a, const nlohmann::json& b) { return comparable(a) == comparable(b); }

Status checkResumable(const SweepSpec& spec, const SweepShard& shard, const std::string& path, SweepFile* file) {
    auto f = readSweepFile(path);
    if (!f) return Error{"--resume: " + f.message()};
    if (auto s = checkResumableFile(spec, shard, path, &*f); !s) return s;
    if (file) *file = std::move(*f);
    return {};
}

Status checkResumableFile(const SweepSpec& spec, const SweepShard& shard, const std::string& path,
                          const SweepFile* f) {
    if (!sameSweepSpec(f->header["spec"], spec.toJson()))
        return Error{path + ": --resume: the file was made by a different sweep (" +
                     specDifference(f->header["spec"], spec.toJson(), "in this run") +
                     "); use another --out or drop --resume"};
    const std::string expected = sweepFileHeader(spec, shard);
    const auto line2 = [](const std::string& h) {
        const size_t nl = h.find('\n');
        return nl == std::string::npos ? std::string() : h.substr(nl + 1);
    };
    if (line2(f->headerText) != line2(expected))
        return Error{path + ": --resume: the column line does not match this sweep's groups and measure (file: \"" +
                     line2(f->headerText).substr(0, line2(f->headerText).size() - 1) + "\", expected: \"" +
                     line2(expected).substr(0, line2(expected).size() - 1) + "\")"};
    if (f->header["shard"] != shard.text())
        return Error{path + ": --resume: the file holds shard " + f->header["shard"].dump() + ", this run is shard " +
                     shard.text()};
    for (const auto& [point, row] : f->rows)
        if (point >= spec.pointCount() || !shard.takes(point))
            return Error{path + ": --resume: point " + std::to_string(point) + " does not belong to this sweep's shard"};
    return {};
}

Result<SweepRunResult> runSweep(MapEvaluator& evaluator, const ModelInfo& info, const SweepSpec& spec,
                                const SweepRunOptions& options) {
    const auto t0 = std::chrono::steady_clock::now();
    if (auto s = checkDisjointGroups(info, spec.groups); !s) return s.error();
    SweepRunResult out;
    std::vector<int64_t> todo;
    const int64_t total = spec.pointCount();
    for (int64_t p = 0; p < total; ++p) {
        if (!options.shard.takes(p)) continue;
        if (options.skip.count(p)) ++out.skipped;
        else todo.push_back(p);
    }
    ProgressSink sink(options.progress);
    std::set<std::string> warned;
    for (size_t k = 0; k < todo.size(); ++k) {
        const int64_t p = todo[k];
        SweepRow row;
        row.point = p;
        row.runIndex = int64_t(k) + 1;
        row.runTotal = int64_t(todo.size());
        row.schemes = spec.pointSchemes(p);
        const std::string stage = "point " + std::to_string(k + 1) + " of " + std::to_string(todo.size()) + " (#" + std::to_string(p) + ")";
        if (!sink.report(double(k) / double(todo.size()), stage)) return Error{std::string(kCancelledMessage)};
        std::vector<std::pair<SweepGroup, std::string>> choices;
        for (size_t j = 0; j < spec.groups.size(); ++j) choices.emplace_back(spec.groups[j], row.schemes[j]);
        auto map = mapFor(info, spec.baseline, choices);
        if (!map) return Error{"point " + std::to_string(p) + ": " + map.message()};
        auto m = evaluator.measure(*map, [&](double f, std::string_view s) {
            return sink.report((double(k) + f) / double(todo.size()), std::string(stage) + ": " + std::string(s));
        });
        if (!m) {
            if (sink.cancelled()) return Error{std::string(kCancelledMessage)};
            return Error{"point " + std::to_string(p) + ": " + m.message()};
        }
        row.measure = std::move(*m);
        for (const auto& w : row.measure.warnings)
            if (warned.size() < 20 && warned.insert(w).second) out.warnings.push_back(w);
        if (options.onPoint)
            if (auto s = options.onPoint(row); !s) return s.error();
        ++out.measured;
    }
    sink.report(1.0, "done");
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

Result<SweepFileRun> runSweepToCsv(MapEvaluator& evaluator, const ModelInfo& info, const SweepSpec& spec,
                                   const std::string& path, bool resume, SweepRunOptions options) {
    SweepFileRun out;
    options.skip.clear();
    const std::string header = sweepFileHeader(spec, options.shard);
    std::error_code ec;
    if (resume && std::filesystem::exists(path, ec)) {
        SweepFile f;
        if (auto s = checkResumable(spec, options.shard, path, &f); !s) return s.error();
        for (const auto& [point, row] : f.rows) options.skip.insert(point);
        out.truncatedBytes = f.truncatedBytes;
        if (f.truncatedBytes) std::filesystem::resize_file(path, f.completeBytes, ec);
        if (ec) return Error{path + ": cannot cut off the truncated last line: " + ec.message()};
    } else {
        if (MappedFile::isOpenInput(path)) return Error{inputRefusal(path)};
        std::ofstream create(path, std::ios::binary | std::ios::trunc);
        create << header;
        create.flush();
        if (!create) return Error{path + ": cannot write"};
    }
    std::FILE* file = std::fopen(path.c_str(), "ab");
    if (!file) return Error{path + ": cannot open for appending"};
    out.stored = int64_t(options.skip.size());
    auto user = options.onPoint;
    options.onPoint = [&](const SweepRow& row) -> Status {
        const std::string line = sweepFileRow(spec, row);
        if (std::fwrite(line.data(), 1, line.size(), file) != line.size() || std::fflush(file) != 0)
            return Error{path + ": write failed"};
        ++out.stored;
        return user ? user(row) : Status{};
    };
    auto run = runSweep(evaluator, info, spec, options);
    const bool closed = std::fclose(file) == 0;
    if (!run) return run.error();
    if (!closed) return Error{path + ": write failed"};
    out.run = std::move(*run);
    return out;
}

namespace {

// Refuses a merge without every point: the shards no input holds, or the count of points missing.
Status checkComplete(const std::vector<SweepFile>& files, const std::map<int64_t, std::string>& rows) {
    const int64_t total = specPointCount(files.front().header["spec"]);
    if (total == 0 || int64_t(rows.size()) >= total) return {};
    std::set<std::string> given;
    int count = 0;
    for (const auto& f : files) {
        auto shard = parseShard(f.header.value("shard", std::string("0/1")));
        if (!shard) continue;
        given.insert(shard->text());
        count = std::max(count, shard->count);
    }
    std::string missing;
    int nMissing = 0;
    for (int i = 0; i < count && count <= 1000; ++i) {
        const SweepShard s{i, count};
        if (given.count(s.text())) continue;
        if (nMissing++ < 10) missing += (missing.empty() ? "" : ", ") + s.text();
    }
    std::string givenText;
    for (const auto& g : given) givenText += (givenText.empty() ? "" : ", ") + g;
    const std::string what = std::to_string(total - int64_t(rows.size())) + " of " + std::to_string(total) +
                             " points are missing";
    if (nMissing)
        return Error{what + ": shard" + (nMissing == 1 ? " " : "s ") + missing + (nMissing > 10 ? ", ..." : "") +
                     " not given (the inputs hold " + givenText + "); pass --allow-partial to merge them anyway"};
    return Error{what + " (every shard is given, but some stopped before their end: finish them "
                 "with sweep --resume); pass --allow-partial to merge them anyway"};
}

}  // namespace

Result<int64_t> mergeSweepFiles(const std::vector<std::string>& inputs, const std::string& outPath,
                                const MergeOptions& options) {
    if (inputs.empty()) return Error{"merge needs at least one input sweep file"};
    std::vector<SweepFile> files;
    for (const auto& path : inputs) {
        auto f = readSweepFile(path);
        if (!f) return f.error();
        if (f->truncatedBytes)
            return Error{path + ": the last line is truncated (" + std::to_string(f->truncatedBytes) +
                         " bytes without a line end); finish the shard with --resume first"};
        if (!files.empty() && !sameSweepSpec(files.front().header["spec"], f->header["spec"]))
            return Error{path + ": a different sweep than " + inputs.front() + " (" +
                         specDifference(f->header["spec"], files.front().header["spec"], "in " + inputs.front()) + ")"};
        files.push_back(std::move(*f));
    }
    std::map<int64_t, std::string> rows;
    for (size_t i = 0; i < files.size(); ++i)
        for (const auto& [point, row] : files[i].rows) {
            auto [it, fresh] = rows.emplace(point, row);
            if (!fresh && it->second != row)
                return Error{inputs[i] + ": point " + std::to_string(point) + " is also stored, with different values, by another input"};
        }
    if (!options.allowPartial)
        if (auto s = checkComplete(files, rows); !s) return s.error();
    nlohmann::json h = files.front().header;
    h["shard"] = "0/1";
    const std::string& first = files.front().headerText;
    std::string text = std::string(kMagic) + h.dump() + "\n" + first.substr(first.find('\n') + 1);
    for (const auto& [point, row] : rows) text += row + "\n";
    if (auto s = writeFileAtomically(outPath, text); !s) return s.error();
    return int64_t(rows.size());
}

}  // namespace qs
