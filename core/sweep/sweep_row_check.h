// SPDX-License-Identifier: GPL-3.0-or-later
// The checks every stored row of a sweep table passes, whichever file holds it: the CSV reader
// (parseSweepFileText, core/sweep/sweep.h) and the HDF5 table reader (readSweepGroup, core/sweep/sweep_hdf5.h)
// both read a row as its cells in text form, one per column (HDF5 numbers printed as the CSV prints them), and
// hand them to the same PointLayout, so an edited /sweep/point is refused as an edited CSV line is.
// A row passes when its point is one of the spec's (the product of the candidate counts), belongs to the file's
// shard, its scheme_<group> cells are the schemes of that point in odometer order (SweepSpec::pointSchemes) and
// its groups cell is the spec's, every measured cell reads back as a number and bytes as a byte count
// (0 .. 2^63-1). A row failing any of these was edited or damaged: a resume would
// skip a point that was never measured, a merge would copy a mislabelled row.
// Internal to core/sweep. Thread-safety: immutable once built.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sweep/sweep.h"
#include "core/util/result.h"

namespace qs {

struct PointLayout {
    std::vector<std::vector<std::string>> lists;  // [group][candidate], spec order
    std::vector<int> columnOf;                    // [group] -> column index of scheme_<group>, -1 when absent
    int64_t total = 1;
    SweepShard shard;
    std::vector<std::string> columns;  // the column names, "point" first
    std::string groupsCell;            // the spec's groups joined by '+', what every row's groups cell holds

    // From the header JSON ({"spec", "shard"}, as SweepFile::header) and the column names. Errors start with
    // `where` (the file and where its header is: "F.csv: line 1: ", "F.h5: /sweep: ").
    static Result<PointLayout> of(const nlohmann::json& header, const std::vector<std::string>& columns,
                                  const std::string& where);

    // One row: `cells` holds one text cell per column (a count other than columns.size() is an error). Returns
    // the row's point; an Error says what is wrong ("point 3: scheme_mlp 'x' is not the point's scheme 'y'"),
    // the caller adds the file and the line or row.
    Result<int64_t> checkRow(const std::vector<std::string>& cells) const;

private:
    Status checkPoint(int64_t point, const std::vector<std::string>& cells) const;
    Status checkCells(const std::vector<std::string>& cells) const;
};

}  // namespace qs
