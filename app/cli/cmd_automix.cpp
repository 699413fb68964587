// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli automix MODEL --budget 3.5bpw|SIZE [--schemes q2_K,q4_K,q8_0] [--measure ...] --out MAP.json
//                        [--groups LIST] [--no-baseline] [--no-uniform] [--json]
#include <unistd.h>
#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/evaluator_setup.h"
#include "app/cli/shared_options.h"
#include "core/io/checkpoint_writer.h"
#include "core/sweep/automix.h"

namespace qscli {

namespace {
constexpr const char* kAutomixDescription =
    "Chooses a scheme per group (default groups: embedding, head unless tied, each layer's attention and "
    "MLP)\n"
    "that fits the budget with the least predicted damage: one sensitivity scan per candidate scheme, then "
    "a\n"
    "Lagrangian (convex hull) allocation and a greedy fill; the chosen map is then measured (predicted vs\n"
    "measured) and written as a quantization map JSON usable with --map.\n"
    "--json prints one JSON object (budget, predicted, measured, choices[], uniform[], map, ...).";

void printReport(const qs::sweep::AutoMixResult& r, const std::string& out) {
    std::printf("budget %s: %llu bytes of %s (smallest possible %llu)\n", r.budgetText.c_str(),
                (unsigned long long)r.budgetBytes, r.budgetBasis.c_str(),
                (unsigned long long)r.allocation.minimumBytes);
    std::printf("%-20s %-10s %16s\n", "group", "scheme", "predicted damage");
    for (const auto& c : r.choices)
        std::printf("%-20s %-10s %16.6g\n", c.group.c_str(), c.scheme.c_str(), c.predictedDamage);
    std::printf(
        "bytes: predicted %llu, measured %llu (%.4f bpw; whole model %llu bytes)\n",
        (unsigned long long)r.predictedBytes, (unsigned long long)r.measuredBytes, r.measuredBpw,
        (unsigned long long)r.measured.bytes);
    std::printf(
        "%s: baseline %.6g, predicted %.6g (damage %.6g, no allocation below %.6g), measured %.6g (damage "
        "%.6g)\n",
        r.measure.c_str(), r.predictedValue - r.predictedDamage, r.predictedValue, r.predictedDamage,
        r.allocation.lowerBound, r.measuredValue, r.measuredDamage);
    for (const auto& u : r.uniform)
        std::printf("uniform %-10s %14llu bytes  %s %.6g\n", u.scheme.c_str(),
                    (unsigned long long)u.budgetBytes, r.measure.c_str(),
                    qs::sweep::measureValue(*qs::sweepMeasureFromName(r.measure), u.point));
    std::printf("map written to %s (%.2f s)\n", out.c_str(), r.seconds);
}

}  // namespace

int runAutomix(int argc, char** argv, int first) {
    CommandLine cl("automix", kAutomixDescription);
    cl.positionals("MODEL", "the model to allocate schemes for");
    EvaluatorArgs evalArgs;
    std::optional<std::string> budgetText, schemes, groups, out;
    bool noBaseline = false, noUniform = false, asJson = false;
    addText(cl.app(), "--budget", budgetText, "B",
            "bytes of the whole model under the map (123456789, 800MiB, 2.1GB), or bits per weight\n"
            "as sweep/quantize print them (8 x bytes / elements over the weights, a tied pair once): 3.5bpw");
    addText(cl.app(), "--out", out, "MAP.json", "the chosen map, written as a quantization map JSON");
    addText(cl.app(), "--schemes", schemes, "LIST", "candidate schemes (default q2_K,q4_K,q8_0)");
    addText(cl.app(), "--groups", groups, "LIST",
            "comma-separated groups (default: embedding, head unless tied, each layer's attention and MLP)");
    addFlag(cl.app(), "--no-baseline", noBaseline,
            "a group may not stay as the baseline map leaves it (default: it may)");
    addFlag(cl.app(), "--no-uniform", noUniform,
            "skip measuring each candidate applied to every group (the reference points)");
    addJsonFlag(cl.app(), asJson);
    addEvaluatorOptions(cl.app(), evalArgs, qs::SweepMeasure::Kld, /*weightError=*/true);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (!budgetText) return fail("automix", "--budget B is required (see --help)", kExitUsage);
    if (schemes)
        if (int rc = checkSchemeNames("automix", "--schemes", splitCommaList(*schemes)); rc != kExitOk) return rc;
    auto budget = qs::sweep::parseSizeBudget(*budgetText);
    if (!budget) return fail("automix", budget.message(), kExitUsage);
        if (!out) return fail("automix", "--out MAP.json is required", kExitUsage);
    // The destination is checked before the scans, not after them (minutes of work for kld).
    if (auto s = qs::checkOutputPath(*out); !s) return fail("automix", "--out " + s.message());
    const bool showProgress = !asJson && isatty(STDERR_FILENO);
    EvaluatorSetup setup;
    if (int rc = openEvaluator("automix", cl.positional(), evalArgs, splitCommaList(schemes.value_or("")), setup, showProgress); rc != kExitOk) return rc;
    qs::sweep::AutoMixOptions o;
    o.budget = *budget;
    o.schemes = splitCommaList(schemes.value_or("q2_K,q4_K,q8_0"));
    o.baseline = setup.baseline;
    if (groups) o.groups = splitCommaList(*groups);
    o.allowBaseline = !noBaseline;
    o.measureUniform = !noUniform;
    auto r = qs::sweep::runAutoMix(*setup.evaluator, setup.checkpoint(), setup.info(), o,
                                   stderrProgress("automix", showProgress));
    if (!r) return evaluatorJobFailed("automix", r.message());
    if (auto s = qs::sweep::writeAutoMixMap(*out, *r); !s) return fail("automix", s.message());
    return printEvaluatorResult(
        "automix", asJson, setup, r->warnings,
        [&] {
            auto j = qs::sweep::autoMixJson(*r);
            j["out"] = *out;
            return j;
        },
        [&] { printReport(*r, *out); });
}

}  // namespace qscli
