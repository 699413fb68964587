// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli inspect PATH [--json]
#include <cstdio>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/infer/model_weights.h"
#include "core/io/checkpoint.h"
#include "core/model/inspect_report.h"
#include "core/model/model_info.h"

namespace qscli {

int runInspect(int argc, char** argv, int first) {
    Args args({}, {"json", "help"});
    if (!args.parse(argc, argv, first)) return fail("inspect", args.error(), kExitUsage);
    if (args.flag("help")) {
        std::printf("usage: quantscope-cli inspect PATH [--json]\n"
                    "Lists every tensor with its shape, type, role, layer and size, the ties and the footprint.\n"
                    "--json prints one JSON object instead of the table.\n");
        return kExitOk;
    }
    if (args.positional().size() != 1) return fail("inspect", "expects exactly one PATH", kExitUsage);
    auto ckpt = qs::openCheckpoint(args.positional()[0]);
    if (!ckpt) return fail("inspect", ckpt.message());
    qs::ModelInfo info = qs::analyzeModel(**ckpt);
    (void)qs::checkInferenceShapes(**ckpt, info);  // "runnable" means the engine's loader accepts it
    if (args.flag("json")) {
        std::string s = qs::inspectJson(**ckpt, info).dump(1);
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fputc('\n', stdout);
    } else {
        std::string s = qs::inspectText(**ckpt, info);
        std::fwrite(s.data(), 1, s.size(), stdout);
    }
    return kExitOk;
}

}  // namespace qscli
