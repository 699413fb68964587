// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/sweep_hdf5.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <filesystem>
#include <map>

#include <unistd.h>

#include "core/io/bounded_text.h"
#include "core/io/hdf5_object_reader.h"
#include "core/io/hdf5_reader.h"
#include "core/io/hdf5_writer.h"
#include "core/sweep/sweep_row_check.h"

namespace qs {

namespace {

// Writes the table file from the CSV header JSON, the column line and the row lines (without '\n').
Status writeTable(const std::string& path, const nlohmann::json& header, const std::string& columnLine,
                  const std::map<int64_t, std::string>& rows) {
    SweepFile file;
    file.header = header;
    file.headerText = "# quantscope-sweep " + header.dump() + "\n" + columnLine + "\n";
    file.rows = rows;
    auto w = io::Hdf5Writer::create(path);
    if (!w) return w.error();
    if (auto s = writeSweepGroup(**w, file); !s) return s;
    return (*w)->commit();
}


}  // namespace

Status writeSweepGroup(io::Hdf5Writer& h, const SweepFile& file) {
    const std::string& path = h.path();
    const std::string columnLine = file.columnLine();
    const auto columns = sweepCells(columnLine);
    if (columns.empty() || !file.header.contains("spec") || !file.header.contains("shard"))
        return Error{path + ": /sweep: the sweep has no header or column line"};
    std::vector<std::vector<std::string>> cells(columns.size());
    for (const auto& [point, row] : file.rows) {
        const auto c = sweepCells(row);
        if (c.size() != columns.size()) return Error{path + ": point " + std::to_string(point) + " has the wrong number of fields"};
        for (size_t i = 0; i < c.size(); ++i) cells[i].push_back(c[i]);
    }
    if (auto s = h.createGroup("/sweep"); !s) return s;
    if (auto s = h.setAttribute("/sweep", "version", int64_t(file.header.value("version", 0))); !s) return s;
    if (auto s = h.setAttribute("/sweep", "spec", file.header["spec"].dump()); !s) return s;
    if (auto s = h.setAttribute("/sweep", "shard", file.header["shard"].get<std::string>()); !s) return s;
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
    return {};
}

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


Result<SweepFile> readSweepGroup(const io::Hdf5ObjectReader& r) {
    SweepFile f;
    auto version = r.attribute<int64_t>("/sweep", "version", H5T_NATIVE_INT64);
    auto spec = r.stringAttribute("/sweep", "spec");
    auto shard = r.stringAttribute("/sweep", "shard");
    auto columnLine = r.stringAttribute("/sweep", "columns");
    if (!version) return version.error();
    if (!spec) return spec.error();
    if (!shard) return shard.error();
    if (!columnLine) return columnLine.error();
    const auto specJson = io::parseBoundedJson(*spec, "attribute spec");
    if (!specJson || !specJson->is_object())
        return r.fail("/sweep", specJson ? "attribute spec is not a JSON object" : specJson.message());
    f.header = {{"version", *version}, {"spec", *specJson}, {"shard", *shard}};
    f.headerText = "# quantscope-sweep " + f.header.dump() + "\n" + *columnLine + "\n";
    const auto columns = sweepCells(*columnLine);
    if (columns.empty() || columns[0] != "point") return r.fail("/sweep", "attribute columns does not start with point");
    std::vector<std::vector<std::string>> cells(columns.size());
    for (size_t i = 0; i < columns.size(); ++i) {
        const std::string ds = "/sweep/" + columns[i];
        if (columns[i] == "point" || columns[i] == "bytes") {
            auto v = r.numbers<int64_t>(ds, H5T_NATIVE_INT64);
            if (!v) return v.error();
            for (int64_t x : *v) cells[i].push_back(std::to_string(x));
        } else if (columns[i] == "groups" || columns[i].rfind("scheme_", 0) == 0) {
            auto v = r.strings(ds);
            if (!v) return v.error();
            cells[i] = std::move(*v);
        } else {
            auto v = r.numbers<double>(ds, H5T_NATIVE_DOUBLE);
            if (!v) return v.error();
            for (double x : *v) cells[i].push_back(sweepCellNumber(x));
        }
        if (cells[i].size() != cells[0].size()) return r.fail(ds, "not as long as /sweep/point");
    }
    // The CSV reader's row checks (sweep_row_check.h), on the row as the CSV would hold it.
    auto layout = PointLayout::of(f.header, columns, r.path + ": /sweep: ");
    if (!layout) return layout.error();
    std::vector<std::string> row(columns.size());
    for (size_t k = 0; k < cells[0].size(); ++k) {
        std::string line;
        for (size_t i = 0; i < columns.size(); ++i) {
            row[i] = cells[i][k];
            line += (i ? "," : "") + cells[i][k];
        }
        const auto point = layout->checkRow(row);
        if (!point) return r.fail("/sweep row " + std::to_string(k), point.message());
        if (!f.rows.emplace(*point, std::move(line)).second)
            return r.fail("/sweep/point", "point " + cells[0][k] + " is stored twice");
    }
    return f;
}

namespace {
// readSweepHdf5's reading, in whichever process runs it.
Result<SweepFile> readSweepInProcess(const std::string& path) {
    std::lock_guard lock(io::hdf5Mutex());
    std::optional<Result<SweepFile>> result;
    H5E_BEGIN_TRY {  // libhdf5's own error printing off; its failures become messages
        if (H5Fis_hdf5(path.c_str()) <= 0) {
            result.emplace(Error{path + ": cannot be opened as HDF5"});
        } else {
            io::Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
            if (!file.ok())
                result.emplace(Error{path + ": cannot be opened as HDF5"});
            else
                result.emplace(readSweepGroup(io::Hdf5ObjectReader{file.get(), path, "QuantScope sweep table"}));
        }
    }
    H5E_END_TRY;
    return std::move(*result);
}
}  // namespace

Result<SweepFile> readSweepHdf5(const std::string& path) {
    return io::readHdf5Isolated<SweepFile>(path, [&] { return readSweepInProcess(path); });
}

Result<SweepFileRun> runSweepToHdf5(MapEvaluator& evaluator, const ModelInfo& info, const SweepSpec& spec,
                                    const std::string& path, bool resume, SweepRunOptions options) {
    SweepFileRun out;
    options.skip.clear();
    const std::string head = sweepFileHeader(spec, options.shard);
    const size_t nl = head.find('\n');
    SweepFile table;
    table.header = nlohmann::json::parse(head.substr(head.find('{'), nl - head.find('{')));
    std::error_code ec;
    if (io::quantScopeHdf5Kind(path) == io::QuantScopeHdf5::Session)  // rewriting it as a table would drop the session's map and tensors
        return Error{path + ": an HDF5 session (export --h5), not a sweep table: a sweep writes its own file "
                            "(export --h5 OUT --sweep FILE copies a sweep into a session)"};
    if (resume && std::filesystem::exists(path, ec)) {
        auto f = readSweepHdf5(path);
        if (!f) return Error{"--resume: " + f.message()};
        if (auto s = checkResumableFile(spec, options.shard, path, &*f); !s) return s.error();
        table.rows = std::move(f->rows);
        for (const auto& [point, row] : table.rows) options.skip.insert(point);
    }
    auto user = options.onPoint;
    options.onPoint = [&](const SweepRow& row) -> Status {
        std::string line = sweepFileRow(spec, row);
        line.pop_back();
        table.rows[row.point] = std::move(line);
        return user ? user(row) : Status{};
    };
    const size_t before = table.rows.size();
    auto run = runSweep(evaluator, info, spec, options);
    if (run || table.rows.size() > before) {  // the finished points are kept whatever stopped the run
        if (auto s = writeTable(path, table.header, head.substr(nl + 1, head.size() - nl - 2), table.rows); !s)
            return s.error();
    }
    if (!run) return run.error();
    out.run = std::move(*run);
    out.stored = int64_t(table.rows.size());
    return out;
}

}  // namespace qs
