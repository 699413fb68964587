// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli sensitivity MODEL --scheme S [--map F] [--rule R=S]... [--measure kld|ppl|weight-error]
//                            [--groups LIST] [--text FILE --ctx N --windows N] [--json] [--out FILE.csv]
#include <unistd.h>
#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/evaluator_setup.h"
#include "app/cli/shared_options.h"
#include "core/io/checkpoint_writer.h"
#include "core/quant/quant_map_export.h"
#include "core/sweep/sensitivity.h"

namespace qscli {

namespace {
constexpr const char* kSensitivityDescription =
    "Quantizes one group at a time with scheme S (every other tensor as the baseline map --map/--rule says),\n"
    "measures the damage (change of KLD, perplexity, or summed squared weight error against the baseline) and\n"
    "the bytes saved, and prints the groups sorted by damage per byte saved, most sensitive first.\n"
    "--json prints one JSON object (measure, scheme, baseline, rows[], seconds, warnings).";

void printTable(const qs::sweep::SensitivityResult& r) {
    std::printf("sensitivity to %s, measure %s; baseline %llu bytes, %.4f bpw", r.scheme.c_str(),
                r.measure.c_str(), (unsigned long long)r.baseline.bytes, r.baseline.bpw);
    if (r.baseline.hasKld) std::printf(", kld %.6g", r.baseline.kld);
    if (r.baseline.hasPpl) std::printf(", ppl %.6g", r.baseline.ppl);
    std::printf("\n%4s  %-20s %14s %14s %14s %12s\n", "rank", "group", "bytes saved", "damage", "damage/MiB",
                "bpw");
    int rank = 1;
    for (const auto& row : r.rows) {
        char perMiB[32] = "-";
        if (row.bytesSaved > 0) std::snprintf(perMiB, sizeof perMiB, "%.6g", row.damagePerMiB);
        std::printf("%4d  %-20s %14lld %14.6g %14s %12.4f\n", rank++, row.group.c_str(),
                    (long long)row.bytesSaved, row.damage, perMiB, row.point.bpw);
    }
    std::printf("%.2f s\n", r.seconds);
}

}  // namespace

int runSensitivity(int argc, char** argv, int first) {
    CommandLine cl("sensitivity", kSensitivityDescription);
    cl.positionals("MODEL", "the model to scan");
    EvaluatorArgs evalArgs;
    std::optional<std::string> scheme, groups, out;
    bool asJson = false;
    addText(cl.app(), "--scheme", scheme, "S", "registry scheme (quant-raw --scheme list)");
    addText(cl.app(), "--groups", groups, "LIST",
            "comma-separated groups (default: embedding, head unless tied, layer-parts):\n"
            "embedding, head, body, attention, mlp, layers, layer-parts, layerN, layerN.attention, ...");
    addText(cl.app(), "--out", out, "FILE.csv", "also write the table as CSV (temporary file, then rename)");
    addJsonFlag(cl.app(), asJson);
    addEvaluatorOptions(cl.app(), evalArgs, qs::SweepMeasure::Kld, /*weightError=*/true);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (!scheme) return fail("sensitivity", "--scheme S is required (see --help)", kExitUsage);
    if (int rc = checkSchemeNames("sensitivity", "--scheme", {*scheme}); rc != kExitOk) return rc;
    // The destination is checked before the scan, not after it (minutes of work for kld).
    if (out)
        if (auto s = qs::checkOutputPath(*out); !s) return fail("sensitivity", "--out " + s.message());
    const bool showProgress = !asJson && isatty(STDERR_FILENO);
    EvaluatorSetup setup;
    if (int rc = openEvaluator("sensitivity", cl.positional(), evalArgs, splitCommaList(*scheme), setup, showProgress); rc != kExitOk) return rc;
    qs::sweep::SensitivityOptions o;
    o.scheme = *scheme;
    o.baseline = setup.baseline;
    if (groups) o.groups = splitCommaList(*groups);
    auto r = qs::sweep::runSensitivityScan(*setup.evaluator, setup.info(), o,
                                           stderrProgress("sensitivity", showProgress));
    if (!r) return evaluatorJobFailed("sensitivity", r.message());
    if (out)
        if (auto s = qs::writeFileAtomically(*out, qs::sweep::sensitivityCsv(*r)); !s)
            return fail("sensitivity", s.message());
    return printEvaluatorResult(
        "sensitivity", asJson, setup, r->warnings, [&] { return qs::sweep::sensitivityJson(*r); },
        [&] { printTable(*r); });
}

}  // namespace qscli
