// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli embed-head-study MODEL [--body SCHEME] [--schemes LIST] [--text FILE --ctx N --windows N]
//                                 [--measure kld|ppl] [--json]
#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <optional>

#include "app/cli/commands.h"
#include "app/cli/evaluator_setup.h"
#include "app/cli/shared_options.h"
#include "core/sweep/embed_head_study.h"

namespace qscli {

namespace {
constexpr const char* kEmbedHeadStudyDescription =
    "With the body fixed (--body SCHEME adds the rule body=SCHEME after --map/--rule; default: as stored), "
    "the\n"
    "token embedding and the output head are each quantized alone with every scheme (default f16, q8_0, "
    "int8,\n"
    "nf4, q4_K, int4_g64, q2_K): perplexity, KL divergence and top-1 against the unquantized model, and the\n"
    "tensor's share of the footprint. A tied model has one tensor for both: it is varied once and said so.";

void printTable(const qs::sweep::EmbedHeadStudyResult& r) {
    if (r.tied) std::printf("%s\n", r.tieNote.c_str());
    std::printf("%-15s %-10s %-12s %12s %8s %8s %12s %12s %8s\n", "target", "scheme", "used", "bytes", "bpw",
                "share%", "ppl", "kld", "top1");
    for (const auto& row : r.rows) {
        const auto& p = row.point;
        std::printf("%-15s %-10s %-12s %12llu %8.3f %8.2f %12.6g %12.6g %8.4f\n", row.target.c_str(),
                    row.scheme.c_str(), row.schemeUsed.c_str(), (unsigned long long)row.targetBytes,
                    row.targetBpw, row.sharePercent, p.hasPpl ? p.ppl : NAN, p.hasKld ? p.kld : NAN,
                    p.hasKld ? p.top1 : NAN);
    }
    std::printf("%.2f s\n", r.seconds);
}

}  // namespace

int runEmbedHeadStudy(int argc, char** argv, int first) {
    CommandLine cl("embed-head-study", kEmbedHeadStudyDescription);
    cl.positionals("MODEL", "the model to study");
    EvaluatorArgs evalArgs;
    std::optional<std::string> body, schemes;
    bool asJson = false;
    addText(cl.app(), "--body", body, "SCHEME", "the body's scheme (the rule body=SCHEME after --map/--rule)");
    addText(cl.app(), "--schemes", schemes, "LIST",
            "comma-separated schemes tried on the embedding and the head (default f16,q8_0,int8,nf4,q4_K,\n"
            "int4_g64,q2_K)");
    addJsonFlag(cl.app(), asJson);
    addEvaluatorOptions(cl.app(), evalArgs, qs::SweepMeasure::Kld, /*weightError=*/false);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (evalArgs.measure.value_or("kld") == "weight-error")
        return fail("embed-head-study", "the study measures perplexity and KLD: --measure kld or ppl",
                    kExitUsage);
    const bool showProgress = !asJson && isatty(STDERR_FILENO);
    std::optional<qs::QuantRule> bodyRule;
    if (body) {
        auto rule = qs::parseRuleSpec("body=" + *body);
        if (!rule) return fail("embed-head-study", "--body: " + rule.message(), kExitUsage);
        bodyRule = std::move(*rule);
    }
    std::vector<std::string> candidates = splitCommaList(schemes.value_or(""));
    if (int rc = checkSchemeNames("embed-head-study", "--schemes", candidates); rc != kExitOk) return rc;
    if (body) candidates.push_back(*body);
    EvaluatorSetup setup;
    if (int rc = openEvaluator("embed-head-study", cl.positional(), evalArgs, candidates, setup, showProgress); rc != kExitOk) return rc;
    qs::sweep::EmbedHeadStudyOptions o;
    o.baseline = setup.baseline;  // --map/--rule first, then --body
    if (bodyRule) o.baseline.rules.push_back(std::move(*bodyRule));
    if (schemes) o.schemes = splitCommaList(*schemes);
    auto r = qs::sweep::runEmbedHeadStudy(*setup.evaluator, setup.checkpoint(), setup.info(), o,
                                          stderrProgress("embed-head-study", showProgress));
    if (!r) return evaluatorJobFailed("embed-head-study", r.message());
    return printEvaluatorResult(
        "embed-head-study", asJson, setup, r->warnings, [&] { return qs::sweep::embedHeadStudyJson(*r); },
        [&] { printTable(*r); });
}

}  // namespace qscli
