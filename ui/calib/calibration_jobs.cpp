// SPDX-License-Identifier: GPL-3.0-or-later
#include <oneapi/tbb/task_arena.h>

#include "ui/calib/calibration_jobs.h"

#include <QFile>
#include <QFileInfo>
#include <QObject>

#include "core/calib/calibration_h5.h"
#include "core/calib/imatrix_file.h"
#include "core/infer/tokenizer_loader.h"
#include "core/infer/weight_check.h"
#include "core/io/bounded_text.h"
#include "core/io/hdf5_reader.h"
#include "core/quant/scheme.h"
#include "core/sweep/sweep.h"
#include "ui/util/gui_messages.h"

namespace qsui {

qs::CalibrationSettings collectSettings(const Document& doc, int64_t tokens, int ctx, bool everyScheme) {
    qs::CalibrationSettings s;
    s.tokens = tokens;
    s.sequenceLength = ctx;
    if (const qs::ResolvedMap* r = doc.resolvedMap(); r && doc.info()) qs::addMapNeeds(s, *r, *doc.info());
    if (everyScheme) {
        s.needs |= qs::CalibrationNeeds::Hessian | qs::CalibrationNeeds::Samples;
        s.hessianLayers.clear();  // every block
        s.hessianHead = true;
    }
    return s;
}

namespace {

qs::Result<std::string> readTextFile(const QString& path) {
    const std::string p = path.toStdString();
    if (path.isEmpty()) return qs::Error{"no calibration text chosen"};
    if (QFileInfo(path).isDir()) return qs::Error{p + ": is a folder; the calibration takes a text file"};
    // A FIFO or a device would block the job or never end; a file is read whole, up to the text limit.
    auto read = qs::io::readBoundedFile(p, qs::io::kMaxTextFileBytes, "a calibration text");
    if (!read) return read.error();
    std::string text = std::move(read).value();
    // A model or an imatrix GGUF given as the text would calibrate on its bytes.
    if (text.compare(0, 4, "GGUF") == 0)
        return qs::Error{p + ": is a GGUF file, not a calibration text (an imatrix GGUF goes to Load…)"};
    if (qs::io::isHdf5File(p))
        return qs::Error{p + ": is an HDF5 file, not a calibration text (saved statistics go to Load…)"};
    return text;
}

void finish(CalibrationJobResult& r) {
    r.calibration.fingerprint = QString::fromStdString(r.calibration.set->fingerprint());
}

}  // namespace

JobFn<CalibrationJobResult> collectCalibrationJob(CollectRequest request) {
    return [r = std::move(request)](const qs::ProgressFn& progress) -> qs::Result<CalibrationJobResult> {
        if (!r.model) return qs::Error{"calibration: no model"};
        const LoadedModel& m = *r.model;
        if (!m.info.runnable)
            return qs::Error{"calibration runs the model, which cannot run: " + m.info.runnableReason};
        auto text = readTextFile(r.textPath);
        if (!text) return text.error();
        std::shared_ptr<const qs::Tokenizer> tokenizer = r.tokenizer;
        if (!tokenizer) {
            auto t = qs::loadTokenizerFor(*m.checkpoint);
            if (!t) return qs::Error{"calibration needs the model's tokenizer: " + t.message()};
            tokenizer = std::shared_ptr<const qs::Tokenizer>(std::move(t.value()));
        }
        double base = 0.0;
        std::shared_ptr<const qs::ModelWeights> weights = r.unquantized;
        if (!weights) {
            if (auto finite = qs::checkFiniteWeights(
                    *m.checkpoint, r.arena,
                    [&](double f, std::string_view s) { return progress(0.1 * f, s); });
                !finite)
                return finite.error();
            auto w = qs::loadModelWeights(
                *m.checkpoint, m.info, nullptr, {}, r.arena,
                [&](double f, std::string_view s) { return progress(0.1 + 0.1 * f, s); });
            if (!w) return w.error();
            weights = std::move(w.value());
            base = 0.2;
        }
        qs::CalibrationRequest request;
        request.text = std::move(text).value();
        request.textSource = r.textPath.toStdString();
        request.settings = r.settings;
        auto out = qs::calibrateModel(
            *m.checkpoint, m.info, *tokenizer, weights, request, r.arena,
            [&](double f, std::string_view s) { return progress(base + (1 - base) * f, s); });
        if (!out) return out.error();
        CalibrationJobResult result;
        result.calibration.set = out->set;
        result.calibration.source = DocumentCalibration::Source::Text;
        result.calibration.path = r.textPath;
        result.calibration.tokensAsked = r.settings.tokens;
        result.calibration.contextAsked = r.settings.sequenceLength;
        result.warnings = out->warnings;
        const qs::CalibrationProvenance& p = out->set->provenance;
        if (p.sequenceLength < r.settings.sequenceLength)
            result.warnings.push_back("sequences of " + std::to_string(p.sequenceLength) +
                                      " tokens (the model's context), not " +
                                      std::to_string(r.settings.sequenceLength));
        result.seconds = out->seconds;
        result.cacheHit = out->cacheHit;
        finish(result);
        return result;
    };
}

JobFn<CalibrationJobResult> loadCalibrationJob(std::shared_ptr<const LoadedModel> model, QString path,
                                               tbb::task_arena* arena) {
    return [model, path, arena](const qs::ProgressFn& progress) -> qs::Result<CalibrationJobResult> {
        if (!model) return qs::Error{"calibration: no model"};
        const std::string p = path.toStdString();
        CalibrationJobResult result;
        result.calibration.path = path;
        if (qs::io::isHdf5File(p)) {
            auto saved = qs::readCalibrationH5(p);
            if (!saved) return saved.error();
            if (!*saved)
                return qs::Error{p +
                                 ": an HDF5 file without a /calibration group (QuantScope writes one with "
                                 "`calibrate --out`, `export --h5` or Save Session)"};
            auto print =
                qs::checkpointFingerprint(*model->checkpoint, arena,
                                          [&](double f, std::string_view s) { return progress(0.9 * f, s); });
            if (!print) return print.error();
            const std::string& theirs = (*saved)->provenance.modelFingerprint;
            if (theirs != *print)
                return qs::Error{p + ": the statistics were collected on other weights (model fingerprint " +
                                 theirs + ", this model " + *print + ")"};
            result.calibration.set = std::make_shared<const qs::CalibrationSet>(std::move(**saved));
            result.calibration.source = DocumentCalibration::Source::Saved;
        } else {
            if (!progress(0.0, "reading " + p)) return qs::Error{std::string(qs::kCancelledMessage)};
            auto file = qs::readImatrix(p);
            if (!file) return file.error();
            result.warnings = file->warnings;
            auto set = qs::imatrixToCalibration(*file, *model->checkpoint, model->info, p);
            if (!set) return set.error();
            result.calibration.set = std::make_shared<const qs::CalibrationSet>(std::move(*set));
            result.calibration.source = DocumentCalibration::Source::Imatrix;
        }
        finish(result);
        return result;
    };
}

std::vector<MissingCalibration> missingCalibration(const Document& doc) {
    std::vector<MissingCalibration> out;
    const qs::ResolvedMap* r = doc.resolvedMap();
    const qs::Checkpoint* ckpt = doc.checkpoint();
    if (!r || !ckpt) return out;
    const qs::CalibrationSet* set = doc.calibrationSet().get();
    for (size_t i = 0; i < r->tensors.size() && i < ckpt->tensors.size(); ++i) {
        const qs::TensorPlan& p = r->tensors[i];
        if (!p.quantized() || p.tiedTo >= 0) continue;
        auto scheme = qs::findScheme(p.scheme);
        if (!scheme || isNone(scheme->calibrationNeeds())) continue;
        auto c = qs::calibrationFor(*scheme, set, ckpt->tensors[i].name, p.cols);
        if (!c) out.push_back({int(i), p.scheme, guiCalibrationMessage(QString::fromStdString(c.message()))});
    }
    return out;
}

QString missingCalibrationSummary(const Document& doc) {
    const auto missing = missingCalibration(doc);
    if (missing.empty()) return {};
    return QObject::tr("%n tensor(s) of the map need calibration that is not loaded: %1", nullptr,
                       int(missing.size()))
        .arg(missing.front().reason);
}

}  // namespace qsui
