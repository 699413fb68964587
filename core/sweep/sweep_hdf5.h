// SPDX-License-Identifier: GPL-3.0-or-later
// A sweep as an HDF5 table (core/io/hdf5_writer.h), for h5py users and the HDF5 session:
//   /sweep                 group; attributes "version" (i64), "spec" (the sweep file's spec JSON, sweep.h),
//                          "shard" ("I/N"), "columns" (the CSV column names joined by ',')
//   /sweep/<column>        one 1-D dataset per CSV column, one element per point, sorted by point:
//                          point, bytes: int64; groups, scheme_<group>: UTF-8 strings; bpw, rmse, sqnr_db, ppl,
//                          kld, kld_max, top1: float64 (sqnr_db +inf when nothing is quantized)
// The values are the CSV file's (parsed from the same %.17g text, so equal bit for bit).
// An HDF5 session (core/export/session_h5.h) carries the same /sweep group beside its map and tensors.
#pragma once

#include <string>
#include <vector>

#include "core/sweep/sweep.h"

namespace qs {

namespace io {
class Hdf5Writer;
struct Hdf5ObjectReader;
}  // namespace io

// Writes the rows (any order; sorted by point) via a temporary file renamed into place.
Status writeSweepHdf5(const std::string& path, const SweepSpec& spec, const SweepShard& shard,
                      const std::vector<SweepRow>& rows);

// The table read back as the sweep file it was written from: header (version, spec, shard), the column line
// (SweepFile::headerText holds line 1 and the column line, as a CSV's) and one row text per point, the numbers
// printed as the CSV prints them (%.17g: the same text, parseSweepFileRow reads it). Fails naming the file and
// the object that is missing or unreadable, and refuses a row the CSV reader would refuse (sweep_row_check.h:
// a point outside the spec or the shard, scheme cells that are not the point's), naming "/sweep row K" (K the
// 0-based element index of the datasets).
Result<SweepFile> readSweepHdf5(const std::string& path);

// runSweepToCsv for an HDF5 table (which is written whole, not appended): with `resume` an existing table must
// carry the same spec and shard (checkResumableFile); its points are skipped, the rest measured, and the table
// is rewritten (temporary file renamed into place) with the stored and the new points, also after a cancel or a
// failure, so no finished point is lost. Without `resume` the table is written at the end.
Result<SweepFileRun> runSweepToHdf5(MapEvaluator& evaluator, const ModelInfo& info, const SweepSpec& spec,
                                    const std::string& path, bool resume, SweepRunOptions options);

// The /sweep group of `file` (a sweep file as read back: header JSON, column line, rows) into an open writer,
// and back from an open file (the caller holds io::hdf5Mutex(), as Hdf5ObjectReader's users do). Used by the
// sweep table files above and by the HDF5 session. Errors name the file and the object.
Status writeSweepGroup(io::Hdf5Writer& writer, const SweepFile& file);
Result<SweepFile> readSweepGroup(const io::Hdf5ObjectReader& reader);

// mergeSweepFiles with an HDF5 table as the output.
Result<int64_t> mergeSweepFilesToHdf5(const std::vector<std::string>& inputs, const std::string& outPath,
                                      const MergeOptions& options = {});

}  // namespace qs
