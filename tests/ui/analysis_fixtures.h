// SPDX-License-Identifier: GPL-3.0-or-later
// Shared set-up of the analysis-view tests: a Document holding a real checkpoint, a JobRunner in its own
// arena, and a counter of the jobs started.
#pragma once

#include <memory>

#include <QSignalSpy>
#include <QString>

#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"
#include <oneapi/tbb/task_arena.h>

namespace qstest {

inline std::shared_ptr<const qsui::LoadedModel> loadModel(const QString& path) {
    auto ckpt = qs::openCheckpoint(path.toStdString());
    if (!ckpt) return nullptr;
    auto loaded = std::make_shared<qsui::LoadedModel>();
    loaded->path = path;
    loaded->info = qs::analyzeModel(**ckpt);
    loaded->checkpoint = std::shared_ptr<const qs::Checkpoint>(std::move(ckpt.value()));
    return loaded;
}

// A map from CLI-style rule specs ("body=q4_0").
inline qs::QuantMap mapOf(std::initializer_list<const char*> specs) {
    qs::QuantMap map;
    for (const char* s : specs) {
        auto r = qs::parseRuleSpec(s);
        if (r) map.rules.push_back(std::move(r.value()));
    }
    return map;
}

struct AnalysisFixture {
    tbb::task_arena arena{2};
    qsui::JobRunner runner{&arena};
    qsui::Document doc;
    QSignalSpy started{&runner, &qsui::JobRunner::jobStarted};
};

}  // namespace qstest
