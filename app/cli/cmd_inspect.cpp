// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli inspect PATH [--json]
#include <cstdio>

#include "app/cli/shared_options.h"
#include "app/cli/commands.h"
#include "core/export/session_h5.h"
#include "core/infer/model_weights.h"
#include "core/io/checkpoint.h"
#include "core/model/inspect_report.h"
#include "core/model/model_info.h"
#include "core/io/hdf5_reader.h"
#include "core/sweep/sweep_hdf5.h"
#include "core/util/json_stream.h"

namespace qscli {

int runInspect(int argc, char** argv, int first) {
    CommandLine cl("inspect",
                   "Lists every tensor with its shape, type, role, layer and size, the ties and the footprint.\n"
                   "An HDF5 session written by `export --h5` is shown as its model, map and per-tensor results;\n"
                   "a sweep table (`sweep --out X.csv|X.h5`) as its spec and stored points.");
    cl.positionals("PATH", "a checkpoint (GGUF, safetensors file or folder, llama2.c .bin), session or sweep table");
    bool json = false;
    addJsonFlag(cl.app(), json);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (cl.positional().size() != 1) return fail("inspect", "expects exactly one PATH", kExitUsage);
    if (qs::isSessionH5(cl.positional()[0])) {  // an HDF5 session from `export --h5`, not a checkpoint
        auto session = qs::readSessionH5(cl.positional()[0]);
        if (!session) return fail("inspect", session.message());
        if (json) {
            nlohmann::json tensors = nlohmann::json::array();
            for (const auto& t : session->tensors) {
                // A kept tensor has no quantization error: null, not 0 dB.
                const bool kept = t.scheme == qs::kKeepScheme;
                tensors.push_back({{"name", t.name}, {"role", t.role}, {"layer", t.layer}, {"scheme", t.scheme},
                                   {"bytes", t.bytes}, {"rmse", kept ? nlohmann::json() : nlohmann::json(t.stats.rmse)},
                                   {"sqnr_db", kept ? nlohmann::json() : nlohmann::json(t.stats.sqnrDb)},
                                   {"tensor_stored", t.quantized.has_value()}});
            }
            nlohmann::json j = {{"session", true}, {"model", session->model}, {"model_format", session->modelFormat},
                                {"map", qs::quantMapToJson(session->map)}, {"tensors", tensors}};
            if (session->sweep)
                j["sweep"] = {{"points", session->sweep->rows.size()}, {"spec", session->sweep->header["spec"]}};
            std::puts(jsonText(j).c_str());
        } else {
            std::fputs(qs::sessionSummaryText(*session).c_str(), stdout);
        }
        return kExitOk;
    }
    const std::string& path = cl.positional()[0];
    // A sweep table (`sweep --out X.csv|X.h5`): its spec and rows. An HDF5 file without one is read on below.
    const bool sweepCsv = qs::looksLikeSweepCsv(path);
    if (sweepCsv || qs::io::isHdf5File(path)) {
        auto sweep = sweepCsv ? qs::readSweepFile(path) : qs::readSweepHdf5(path);
        // A damaged sweep table is its reader's error (an edited /sweep/point names its row), not the checkpoint
        // reader's "a QuantScope sweep table ... inspect shows it".
        if (!sweep && (sweepCsv || qs::io::quantScopeHdf5Kind(path) == qs::io::QuantScopeHdf5::SweepTable))
            return fail("inspect", sweep.message());
        if (sweep) {
            const std::string s = json ? jsonText(qs::sweepSummaryJson(*sweep, path)) + "\n"
                                                    : qs::sweepSummaryText(*sweep, path);
            std::fwrite(s.data(), 1, s.size(), stdout);
            return kExitOk;
        }
    }
    auto ckpt = qs::openCheckpoint(cl.positional()[0]);
    if (!ckpt) return fail("inspect", ckpt.message());
    qs::ModelInfo info = qs::analyzeModel(**ckpt);
    (void)qs::checkInferenceShapes(**ckpt, info);  // "runnable" means the engine's loader accepts it
    if (json) {
        qs::writeJsonWithArray(
            qs::inspectJson(**ckpt, info, /*withTensors=*/false), "tensors", (*ckpt)->tensors.size(),
            [&](size_t i) { return qs::inspectTensorJson(**ckpt, info, i); }, kJsonIndent,
            [](std::string_view piece) { std::fwrite(piece.data(), 1, piece.size(), stdout); });
        std::fputc('\n', stdout);
    } else {
        qs::writeInspectText(**ckpt, info,
                             [](std::string_view piece) { std::fwrite(piece.data(), 1, piece.size(), stdout); });
    }
    return kExitOk;
}

}  // namespace qscli
