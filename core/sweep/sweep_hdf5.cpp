// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/sweep_hdf5.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include <unistd.h>

#include "core/io/hdf5_writer.h"

namespace qs {

namespace {

std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> out;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) out.push_back(cell);
    if (!line.empty() && line.back() == ',') out.emplace_back();
    return out;
}

// Writes the table from the CSV header JSON, the column line and the row lines (without '\n').
Status writeTable(const std::string& path, const nlohmann::json& header, const std::string& columnLine,
                  const std::map<int64_t, std::string>& rows) {
    const auto columns = split(columnLine);
    std::vector<std::vector<std::string>> cells(columns.size());
    for (const auto& [point, row] : rows) {
        const auto c = split(row);
        if (c.size() != columns.size()) return Error{path + ": point " + std::to_string(point) + " has the wrong number of fields"};
        for (size_t i = 0; i < c.size(); ++i) cells[i].push_back(c[i]);
    }
    auto w = io::Hdf5Writer::create(path);
    if (!w) return w.error();
    io::Hdf5Writer& h = **w;
    if (auto s = h.createGroup("/sweep"); !s) return s;
    if (auto s = h.setAttribute("/sweep", "version", int64_t(header.value("version", 0))); !s) return s;
    if (auto s = h.setAttribute("/sweep", "spec", header["spec"].dump()); !s) return s;
    if (auto s = h.setAttribute("/sweep", "shard", header["shard"].get<std::string>()); !s) return s;
    if (auto s = h.setAttribute("/sweep", "columns", columnLine); !s) return s;
    for (size_t i = 0; i < columns.size(); ++i) {
        const std::string& name = columns[i];
        const std::string ds = "/sweep/" + name;
        Status s;
        if (name == "point" || name == "bytes") {
            std::vector<int64_t> v;
            for (const auto& c : cells[i]) v.push_back(std::strtoll(c.c_str(), nullptr, 10));
            s = h.writeI64(ds, v);
        } else if (name == "groups" || name.rfind("scheme_", 0) == 0) {
            s = h.writeStrings(ds, cells[i]);
        } else {
            std::vector<double> v;
            for (const auto& c : cells[i]) v.push_back(std::strtod(c.c_str(), nullptr));
            s = h.writeF64(ds, v);
        }
        if (!s) return s;
    }
    return h.commit();
}

}  // namespace

Status writeSweepHdf5(const std::string& path, const SweepSpec& spec, const SweepShard& shard,
                      const std::vector<SweepRow>& rows) {
    const std::string head = sweepFileHeader(spec, shard);
    const size_t nl = head.find('\n');
    const nlohmann::json header = nlohmann::json::parse(head.substr(head.find('{'), nl - head.find('{')));
    std::map<int64_t, std::string> lines;
    for (const auto& r : rows) {
        std::string line = sweepFileRow(spec, r);
        line.pop_back();
        lines[r.point] = std::move(line);
    }
    return writeTable(path, header, head.substr(nl + 1, head.size() - nl - 2), lines);
}

Result<int64_t> mergeSweepFilesToHdf5(const std::vector<std::string>& inputs, const std::string& outPath,
                                      const MergeOptions& options) {
    // Merge into a temporary CSV (all the checks of mergeSweepFiles), then convert it.
    const std::filesystem::path target(outPath);
    const std::string csv = (target.parent_path() / ("." + target.filename().string() + ".merge" + std::to_string(::getpid()) + ".csv")).string();
    auto n = mergeSweepFiles(inputs, csv, options);
    if (!n) return n.error();
    auto f = readSweepFile(csv);
    std::error_code ec;
    std::filesystem::remove(csv, ec);
    if (!f) return f.error();
    const std::string& head = f->headerText;
    const size_t nl = head.find('\n');
    if (auto s = writeTable(outPath, f->header, head.substr(nl + 1, head.size() - nl - 2), f->rows); !s) return s.error();
    return *n;
}

}  // namespace qs
