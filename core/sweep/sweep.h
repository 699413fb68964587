// SPDX-License-Identifier: GPL-3.0-or-later
// Bit-width sweeps: every combination of candidate schemes over a list of tensor groups, each measured by a
// MapEvaluator, written as a sweep file one row per point as points finish, resumable and shardable.
//
// Points. With groups g0..gk-1 and candidate lists c0..ck-1, the points are the Cartesian product in
// odometer order: the LAST group varies fastest. Point p has choice index
//   i_j = (p / (|c_j+1| x ... x |c_k-1|)) mod |c_j|     for group j,
// so with groups body,embedding and schemes a,b the points are (a,a) (a,b) (b,a) (b,b). Each point's map is
// the baseline map followed by one rule per group (sweep_groups.h mapFor).
// Shards: shard I of N takes the points with p mod N == I (0 <= I < N), so N independent runs (a Slurm job
// array) cover every point once; `merge` joins their files.
//
// Sweep file (CSV, UTF-8, '\n' line ends):
//   line 1   "# quantscope-sweep " + one-line JSON {"version":1,"spec":{...},"shard":"I/N"}; the spec holds the
//            model (path as given and the checkpoint's tensor bytes), measure, weights mode, text FNV-1a hash and
//            bytes, protocol, context, windows, baseline map, groups and candidate schemes.
//   line 2   point,groups,scheme_<group>...,bytes,bpw,rmse,sqnr_db[,ppl][,kld,kld_max,top1]
//            (ppl for measures ppl and kld; kld, kld_max, top1 for kld)
//   rows     one per finished point, in point order: `groups` is the group names joined by '+', doubles as
//            %.17g (exact), sqnr_db "inf" when nothing is quantized.
// Two spec JSONs are the same sweep when equal after replacing the model path by its file name (shards may run
// on machines with different paths).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/fingerprint.h"
#include "core/jobs/progress.h"
#include "core/sweep/map_evaluator.h"
#include "core/sweep/sweep_groups.h"
#include "core/util/result.h"

namespace qs {

inline constexpr int kSweepFileVersion = 1;
inline constexpr int64_t kDefaultMaxPoints = 1000;

// The default scheme family of --bits: round-to-nearest integers, asymmetric (min-max with a zero point) in
// groups of 64, int{b}_g64 (the registry's RTN family, bit widths 2..8; rows a group of 64 does not divide fall
// back to a smaller group as quant_map_resolve.h says). Fails outside 2..8.
Result<std::string> schemeForBits(int bits);

struct SweepSpec {
    std::string modelPath;
    uint64_t modelBytes = 0;             // sum of the checkpoint's stored tensor bytes
    std::string modelFingerprint;        // checkpointFingerprint() ("" when not computed): which weights, not which path
    SweepMeasure measure = SweepMeasure::WeightError;
    std::string weightsMode = "native";  // how quantized tensors run (ppl/kld)
    std::string textHash;                // FNV-1a 64 of the text, hex ("" without text)
    uint64_t textBytes = 0;
    PerplexityOptions perplexity;        // protocol, context, maxWindows, separator
    QuantMap baseline;
    // With calibrated schemes: CalibrationCache::keyOf the statistics used (model, text, settings), written as
    // "calibration" when not empty, so resume and merge refuse rows measured with other statistics.
    std::string calibration;
    std::vector<SweepGroup> groups;      // expanded
    std::vector<std::vector<std::string>> schemes;  // [group][candidate], canonical names

    int64_t pointCount() const;          // product of the candidate counts (saturates at INT64_MAX)
    std::vector<std::string> pointSchemes(int64_t point) const;  // odometer order (see above)
    nlohmann::json toJson() const;
};

struct SweepShard {
    int index = 0, count = 1;
    bool takes(int64_t point) const { return point % count == index; }
    std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
};
// "I/N" with 0 <= I < N <= 1000000; fails with a message naming the value otherwise.
Result<SweepShard> parseShard(std::string_view text);

// How a chart or table names the scheme `group` got at a measured point: `requested` itself, or
// "q4_K→q8_0 (fallback)" when the map's resolution stored the group's tensors with another scheme
// (PointMeasure::fallbacks), "q4_K→q8_0 (fallback, 3 of 14 tensors)" when only some of them; several used
// schemes are joined by '/'. The arrow is U+2192 (UTF-8).
std::string usedSchemeLabel(const ModelInfo& info, const SweepGroup& group, const std::string& requested,
                            const PointMeasure& point);

// Fails when the spec has no group, a group without candidates, an unknown scheme, or more than maxPoints points
// (the message suggests fewer groups/candidates, sharding, or a sensitivity scan / auto-mix).
Status checkSweepSpec(const SweepSpec& spec, int64_t maxPoints);

struct SweepRow {
    int64_t point = -1;
    int64_t runIndex = 0, runTotal = 0;  // this point is the runIndex-th (from 1) of runTotal measured by this run
    std::vector<std::string> schemes;  // per group
    PointMeasure measure;
};

// The header (line 1 and 2, each with '\n') and one row (with '\n') of a sweep file.
std::string sweepFileHeader(const SweepSpec& spec, const SweepShard& shard);
std::string sweepFileRow(const SweepSpec& spec, const SweepRow& row);
// A number as a sweep file's cell: %.17g (reads back to the same double), "inf", "-inf" or "nan".
std::string sweepCellNumber(double v);
// The cells of a sweep file line (the column line or a row, without its line end): split at every comma, which
// no cell holds ("a,,b" has three cells, "a," two); an empty line has none.
std::vector<std::string> sweepCells(std::string_view line);

// A sweep file as read back: its header lines, the parsed header JSON and the complete rows (text without '\n'),
// keyed by point. A last line without '\n' (a run killed mid-write) is dropped and reported in
// `truncatedBytes`; `completeBytes` is where the complete lines end. Fails naming the file and line on a
// missing/bad header, a row with the wrong number of fields, a bad point index or a point stored twice.
struct SweepFile {
    std::string headerText;              // lines 1-2 including their '\n'
    nlohmann::json header;               // {"version","spec","shard"}
    std::map<int64_t, std::string> rows;
    uint64_t completeBytes = 0, truncatedBytes = 0;

    std::string columnLine() const;  // line 2 of headerText without its line end; "" when there is none
};
Result<SweepFile> readSweepFile(const std::string& path);
// True when the file is a regular file starting with a sweep CSV's line-1 marker (reads only those bytes).
bool looksLikeSweepCsv(const std::string& path);
// The same for a sweep file's whole text held in memory (a GUI session carries one); `origin` names it in
// messages as the path does.
Result<SweepFile> parseSweepFileText(const std::string& text, const std::string& origin);
// What `inspect` shows of a sweep file (CSV or HDF5 table): model, fingerprint, measure, shard, the candidate
// schemes per group, how many of the points are stored, then the stored rows as CSV (column line first).
std::string sweepSummaryText(const SweepFile& file, const std::string& path);
// The same as JSON: {"sweep": true, "path", "spec", "shard", "points_stored", "points_total", "columns", "rows"}
// with each row as the CSV row's cells (strings, exactly as stored).
nlohmann::json sweepSummaryJson(const SweepFile& file, const std::string& path);

// The sweep a file's spec JSON (SweepFile::header["spec"]) describes, for continuing it on the loaded model
// `info` (the GUI's Resume): measure, groups (expanded by name on `info`: a group this model lacks fails),
// candidate schemes per group, baseline map, evaluation settings, calibration key, and the model/text fields
// as written. The caller replaces the model and text fields by its own and lets checkResumable compare, so a
// file of other weights or another text is refused by that one check. Fails naming the field.
Result<SweepSpec> sweepSpecFromJson(const ModelInfo& info, const nlohmann::json& spec);

// One row of a sweep file read back: the inverse of sweepFileRow for `spec` (point, schemes, bytes, bpw,
// rmse, sqnr_db and the measure's columns; doubles parsed from %.17g, so equal bit for bit). Fails naming the
// field that does not parse or a field count that does not match the spec's columns.
Result<SweepRow> parseSweepFileRow(const SweepSpec& spec, std::string_view line);

// True when the two spec JSONs describe the same sweep (model compared by file name).
bool sameSweepSpec(const nlohmann::json& a, const nlohmann::json& b);

struct SweepRunOptions {
    SweepShard shard;
    std::set<int64_t> skip;  // points already stored (resume)
    ProgressFn progress;     // fraction of this run's points (including the current one's progress)
    // Called on the calling thread as each point finishes, in point order; an error stops the sweep with it.
    std::function<Status(const SweepRow&)> onPoint;
};

struct SweepRunResult {
    int64_t measured = 0, skipped = 0;  // points of this shard measured now / already stored
    double seconds = 0;
    std::vector<std::string> warnings;  // distinct resolution warnings of the points (first 20)
};

// Runs the points of `shard` not in `skip`, in point order. Cancel (progress returns false) stops between or
// inside points with kCancelledMessage; the points finished before were all passed to onPoint.
Result<SweepRunResult> runSweep(MapEvaluator& evaluator, const ModelInfo& info, const SweepSpec& spec,
                                const SweepRunOptions& options);

// Whether `path` can be resumed by this spec and shard: its spec line equals the spec (sameSweepSpec), its
// column line equals the spec's (the groups' scheme columns and the measure's columns), its shard is `shard`
// and every stored point belongs to that shard. Cheap (reads the file only), so callers check it BEFORE the
// reference pass and the measuring. Fails naming the file and what differs. `file` (may be null) receives the
// file as read.
Status checkResumable(const SweepSpec& spec, const SweepShard& shard, const std::string& path,
                      SweepFile* file = nullptr);
// The same checks on a sweep already read (a CSV file, or an HDF5 table by readSweepHdf5), named `path`.
Status checkResumableFile(const SweepSpec& spec, const SweepShard& shard, const std::string& path,
                          const SweepFile* file);

// Runs a sweep into the CSV sweep file `path`: rows are appended and flushed as points finish, so a cancel or a
// kill leaves every finished point stored. Without `resume` the file is created (replaced) with the header.
// With `resume` an existing file must carry the same spec and shard (refused otherwise, naming what differs);
// a truncated last line is cut off, the stored points are skipped and the rest appended, so the result equals
// an uninterrupted run byte for byte. `options.skip` is ignored (taken from the file). onPoint (may be empty)
// sees each row after it was written.
struct SweepFileRun {
    SweepRunResult run;
    int64_t stored = 0;                  // rows in the file at the end
    uint64_t truncatedBytes = 0;         // cut off a resumed file's last line
};
Result<SweepFileRun> runSweepToCsv(MapEvaluator& evaluator, const ModelInfo& info, const SweepSpec& spec,
                                   const std::string& path, bool resume, SweepRunOptions options);

// Joins sweep files of one spec (shards, or partial runs) into `outPath`, rows sorted by point, header of the
// unsharded sweep ("0/1"). Refuses (naming the files) different specs and a point stored twice with different
// text. Unless `allowPartial`, refuses a merge that lacks points of the sweep, naming the shards no input
// holds (inputs 0/3 and 2/3: "shard 1/3") or, when every shard is given, how many points are missing (a shard
// cancelled before its end). Writes a temporary file in the same folder and renames it over `outPath`.
struct MergeOptions {
    bool allowPartial = false;  // CLI --allow-partial
};
Result<int64_t> mergeSweepFiles(const std::vector<std::string>& inputs, const std::string& outPath,
                                const MergeOptions& options = {});

}  // namespace qs
