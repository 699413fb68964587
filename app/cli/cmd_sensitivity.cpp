// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli sensitivity MODEL --scheme S [--map F] [--rule R=S]... [--measure kld|ppl|weight-error]
//                            [--groups LIST] [--text FILE --ctx N --windows N] [--json] [--out FILE.csv]
#include <unistd.h>
#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/evaluator_setup.h"
#include "core/io/checkpoint_writer.h"
#include "core/quant/quant_map_export.h"
#include "core/sweep/sensitivity.h"

namespace qscli {

namespace {
constexpr const char* kUsage =
    "usage: quantscope-cli sensitivity MODEL --scheme S [--map F] [--rule ROLE=SCHEME]... [--groups LIST]\n"
    "                                   [--measure kld|ppl|weight-error] [--text FILE --ctx N --windows N]\n"
    "                                   [--json] [--out FILE.csv]\n"
    "Quantizes one group at a time with scheme S (every other tensor as the baseline map says), measures "
    "the\n"
    "damage (change of KLD, perplexity, or summed squared weight error against the baseline) and the bytes\n"
    "saved, and prints the groups sorted by damage per byte saved, most sensitive first.\n"
    "  --scheme S        registry scheme (quant-raw --scheme list)\n"
    "  --groups LIST     comma-separated groups (default: embedding, head unless tied, layer-parts):\n"
    "                    embedding, head, body, attention, mlp, layers, layer-parts, layerN, "
    "layerN.attention, ...\n"
    "  --out FILE.csv    also write the table as CSV (temporary file, then rename)\n"
    "  --json            one JSON object (measure, scheme, baseline, rows[], seconds, warnings)\n";

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
    Args args(evaluatorValueOptions({"scheme", "groups", "out"}), {"json", "help"});
    if (!args.parse(argc, argv, first)) return fail("sensitivity", args.error(), kExitUsage);
    if (args.flag("help")) {
        std::fputs(kUsage, stdout);
        printEvaluatorOptionsHelp();
        return kExitOk;
    }
    const auto scheme = args.value("scheme");
    if (!scheme) return fail("sensitivity", "--scheme S is required (see --help)", kExitUsage);
    const auto out = args.value("out");
    // The destination is checked before the scan, not after it (minutes of work for kld).
    if (out)
        if (auto s = qs::checkOutputPath(*out); !s) return fail("sensitivity", "--out " + s.message());
    const bool showProgress = !args.flag("json") && isatty(STDERR_FILENO);
    EvaluatorSetup setup;
    if (int rc = openEvaluator("sensitivity", args, setup, showProgress); rc != kExitOk) return rc;
    qs::sweep::SensitivityOptions o;
    o.scheme = *scheme;
    o.baseline = setup.baseline;
    if (auto g = args.value("groups")) o.groups = splitCommaList(*g);
    auto r = qs::sweep::runSensitivityScan(*setup.evaluator, setup.info(), o,
                                           stderrProgress("sensitivity", showProgress));
    if (!r) return evaluatorJobFailed("sensitivity", r.message());
    if (out)
        if (auto s = qs::writeFileAtomically(*out, qs::sweep::sensitivityCsv(*r)); !s)
            return fail("sensitivity", s.message());
    return printEvaluatorResult(
        "sensitivity", args, setup, r->warnings, [&] { return qs::sweep::sensitivityJson(*r); },
        [&] { printTable(*r); });
}

}  // namespace qscli
