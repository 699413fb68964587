// SPDX-License-Identifier: GPL-3.0-or-later
// A sweep as an HDF5 table (core/io/hdf5_writer.h), for h5py users and the HDF5 session:
//   /sweep                 group; attributes "version" (i64), "spec" (the sweep file's spec JSON, sweep.h),
//                          "shard" ("I/N"), "columns" (the CSV column names joined by ',')
//   /sweep/<column>        one 1-D dataset per CSV column, one element per point, sorted by point:
//                          point, bytes: int64; groups, scheme_<group>: UTF-8 strings; bpw, rmse, sqnr_db, ppl,
//                          kld, kld_max, top1: float64 (sqnr_db +inf when nothing is quantized)
// The values are the CSV file's (parsed from the same %.17g text, so equal bit for bit).
#pragma once

#include <string>
#include <vector>

#include "core/sweep/sweep.h"

namespace qs {

// Writes the rows (any order; sorted by point) via a temporary file renamed into place.
Status writeSweepHdf5(const std::string& path, const SweepSpec& spec, const SweepShard& shard,
                      const std::vector<SweepRow>& rows);

// mergeSweepFiles with an HDF5 table as the output.
Result<int64_t> mergeSweepFilesToHdf5(const std::vector<std::string>& inputs, const std::string& outPath,
                                      const MergeOptions& options = {});

}  // namespace qs
