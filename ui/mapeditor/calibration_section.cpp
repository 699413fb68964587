// SPDX-License-Identifier: GPL-3.0-or-later
#include <oneapi/tbb/task_arena.h>

#include "ui/mapeditor/calibration_section.h"

#include <QCheckBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include "core/collect/collect.h"
#include "ui/calib/calibration_jobs.h"
#include "ui/chat/chat_models.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"
#include "ui/log/log_model.h"
#include "ui/util/format.h"

namespace qsui {
namespace {

const QString kCalibrationLogSource = QStringLiteral("calibration");
const QString kDirKey = QStringLiteral("calibration/lastDirectory");

}  // namespace

CalibrationSection::CalibrationSection(Document* document, JobRunner* runner, LogModel* log,
                                       ChatModels* models, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_runner(runner),
      m_log(log),
      m_models(models),
      m_text(new QLineEdit),
      m_tokens(new QSpinBox),
      m_context(new QSpinBox),
      m_everyScheme(new QCheckBox(tr("Hessians and samples for every block"))),
      m_collect(new QPushButton(tr("Collect"))),
      m_cancel(new QPushButton(tr("Cancel"))),
      m_load(new QPushButton(tr("Load…"))),
      m_clear(new QPushButton(tr("Clear"))),
      m_status(new QLabel),
      m_missingTitle(new QLabel),
      m_missing(new QListWidget) {
    setObjectName(QStringLiteral("calibrationSection"));
    QToolButton* browse = createControls();
    createLayout(browse);
    connectSignals(browse);
    refresh();
}

// Sets up the member widgets; returns the text's browse button.
QToolButton* CalibrationSection::createControls() {
    const qs::CalibrationSettings defaults;
    m_text->setObjectName(QStringLiteral("calibrationText"));
    m_text->setPlaceholderText(tr("calibration text (e.g. wiki.train.raw)"));
    m_text->setToolTip(
        tr("Raw text the model reads; the statistics of every linear layer's input are collected "
           "from it. Use another text than the one you evaluate on"));
    auto* browse = new QToolButton;
    browse->setText(QStringLiteral("…"));
    browse->setToolTip(tr("Choose the calibration text"));
    m_tokens->setRange(0, 100'000'000);
    m_tokens->setSingleStep(1024);
    m_tokens->setValue(int(defaults.tokens));
    m_tokens->setSpecialValueText(tr("whole text"));
    m_tokens->setToolTip(tr("Tokens to run, in whole sequences (0: the whole text); as --calib-tokens"));
    m_context->setRange(2, 1 << 20);
    m_context->setValue(defaults.sequenceLength);
    m_context->setToolTip(
        tr("Tokens per sequence, each starting with BOS (at most the model's context); as "
           "--calib-ctx"));
    m_everyScheme->setToolTip(
        tr("Also collect GPTQ's Hessians and AWQ's activation samples for every block and "
           "the head, not only where the map uses them, so the Sweep, Sensitivity and "
           "Auto-mix can try gptq/awq anywhere (more memory: cols² doubles per input)"));
    m_collect->setToolTip(tr("Run the model over the text and collect the statistics (a background job)"));
    m_cancel->setToolTip(tr("Stop the running collection or load"));
    m_load->setToolTip(
        tr("Load a llama.cpp importance matrix (imatrix.dat, imatrix GGUF) or QuantScope "
           "statistics (.h5 from calibrate --out or a session)"));
    m_clear->setToolTip(tr("Forget the loaded calibration"));
    m_status->setObjectName(QStringLiteral("calibrationStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_missing->setObjectName(QStringLiteral("calibrationMissing"));
    m_missing->setToolTip(
        tr("Tensors whose scheme needs calibration the loaded one cannot give; click to select"));
    m_missing->setMaximumHeight(fontMetrics().height() * 5 + 12);
    m_missing->setWordWrap(true);
    return browse;
}

void CalibrationSection::createLayout(QToolButton* browse) {
    auto* title = new QLabel(tr("Calibration"));
    QFont bold = title->font();
    bold.setBold(true);
    title->setFont(bold);
    auto* textRow = new QHBoxLayout;
    textRow->addWidget(m_text, 1);
    textRow->addWidget(browse);
    auto* form = new QFormLayout;
    form->setContentsMargins(0, 0, 0, 0);
    form->addRow(tr("Text"), textRow);
    auto* sizes = new QHBoxLayout;
    sizes->addWidget(m_tokens, 1);
    sizes->addWidget(new QLabel(tr("ctx")));
    sizes->addWidget(m_context, 1);
    form->addRow(tr("Tokens"), sizes);
    form->addRow(QString(), m_everyScheme);
    auto* buttons = new QHBoxLayout;
    for (QPushButton* b : {m_collect, m_cancel, m_load, m_clear}) buttons->addWidget(b);
    buttons->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 2, 4, 2);
    layout->setSpacing(4);
    layout->addWidget(title);
    layout->addLayout(form);
    layout->addLayout(buttons);
    layout->addWidget(m_status);
    layout->addWidget(m_missingTitle);
    layout->addWidget(m_missing);
}

void CalibrationSection::connectSignals(QToolButton* browse) {
    connect(browse, &QToolButton::clicked, this, &CalibrationSection::chooseText);
    connect(m_collect, &QPushButton::clicked, this, [this] { collect(); });
    connect(m_cancel, &QPushButton::clicked, this, [this] {
        if (m_job) m_job->cancel();
    });
    connect(m_load, &QPushButton::clicked, this, &CalibrationSection::chooseLoad);
    connect(m_clear, &QPushButton::clicked, this, &CalibrationSection::clear);
    connect(m_missing, &QListWidget::itemClicked, this,
            [this](QListWidgetItem* item) { m_document->selectTensor(item->data(Qt::UserRole).toInt()); });
    connect(m_document, &Document::calibrationChanged, this, &CalibrationSection::refresh);
    connect(m_document, &Document::quantMapChanged, this, &CalibrationSection::refresh);
    connect(m_document, &Document::modelChanged, this, [this] {
        if (m_job) m_job->cancel();
        refresh();
    });
}

void CalibrationSection::chooseText() {
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Calibration text"), QSettings().value(kDirKey).toString(),
                                     tr("Text (*.txt *.raw *.md);;All files (*)"));
    if (path.isEmpty()) return;
    QSettings().setValue(kDirKey, QFileInfo(path).absolutePath());
    m_text->setText(path);
}

void CalibrationSection::chooseLoad() {
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Load calibration"), QSettings().value(kDirKey).toString(),
                                     tr("Calibration (*.dat *.imatrix *.gguf *.h5);;llama.cpp imatrix (*.dat "
                                        "*.imatrix *.gguf);;QuantScope "
                                        "statistics (*.h5);;All files (*)"));
    if (path.isEmpty()) return;
    QSettings().setValue(kDirKey, QFileInfo(path).absolutePath());
    load(path);
}

Job* CalibrationSection::collect() {
    return collect(m_text->text().trimmed(), m_tokens->value(), m_context->value(),
                   m_everyScheme->isChecked());
}

Job* CalibrationSection::collect(const QString& textPath, qint64 tokens, int context, bool everyScheme) {
    if (!m_document->hasModel()) {
        m_log->error(kCalibrationLogSource, tr("Open a model before collecting calibration"));
        return nullptr;
    }
    if (textPath.isEmpty()) {
        m_log->error(kCalibrationLogSource, tr("Choose a calibration text first (Text …)"));
        return nullptr;
    }
    if (m_job) m_job->cancel();
    m_text->setText(textPath);
    CollectRequest r;
    r.model = m_document->model();
    r.textPath = textPath;
    r.settings = collectSettings(*m_document, tokens, context, everyScheme);
    if (m_models) {
        r.tokenizer = m_models->tokenizer();
        r.unquantized = m_models->original();
    }
    r.arena = m_runner->arena();
    m_log->info(kCalibrationLogSource, tr("Collecting calibration over %1 (%2 tokens, ctx %3; %4)")
                             .arg(QFileInfo(textPath).fileName())
                             .arg(tokens)
                             .arg(context)
                             .arg(toQ(qs::calibrationNeedsText(r.settings.needs))));
    return watch(
        m_runner->start<CalibrationJobResult>(tr("Collect calibration"), collectCalibrationJob(std::move(r))),
        tr("Collect"));
}

Job* CalibrationSection::load(const QString& path) {
    if (!m_document->hasModel()) {
        m_log->error(kCalibrationLogSource, tr("Open a model before loading calibration"));
        return nullptr;
    }
    if (m_job) m_job->cancel();
    return watch(
        m_runner->start<CalibrationJobResult>(
            tr("Load calibration"), loadCalibrationJob(m_document->model(), path, m_runner->arena())),
        tr("Load"));
}

Job* CalibrationSection::watch(Job* job, const QString& what) {
    m_job = job;
    const auto model = m_document->model();
    connect(job, &Job::progressChanged, this, [this, job](double f, const QString& stage) {
        if (job == m_job) m_status->setText(tr("%1 % — %2").arg(int(f * 100)).arg(stage));
    });
    connect(job, &Job::finished, this, [this, job, what, model](Job::State state) {
        if (job == m_job) m_job = nullptr;
        if (state == Job::State::Succeeded && model == m_document->model()) {
            auto r = job->result<CalibrationJobResult>();
            for (const std::string& w : r->warnings) m_log->warning(kCalibrationLogSource, toQ(w));
            const QString how = r->cacheHit
                                    ? tr("reused from this session's cache")
                                    : (r->seconds > 0 ? tr("%1 s").arg(r->seconds, 0, 'f', 1) : QString());
            m_log->info(kCalibrationLogSource,
                        tr("Calibration: %1%2")
                            .arg(r->calibration.describe(), how.isEmpty() ? QString() : tr(", %1").arg(how)));
            m_document->setCalibration(r->calibration);
        } else if (state == Job::State::Failed) {
            m_log->error(kCalibrationLogSource, tr("%1 failed: %2").arg(what, job->errorMessage()));
        } else if (state == Job::State::Cancelled) {
            m_log->info(kCalibrationLogSource, tr("%1 cancelled").arg(what));
        }
        refresh();
    });
    refresh();
    return job;
}

void CalibrationSection::clear() {
    if (!m_document->calibration()) return;
    m_document->setCalibration(std::nullopt);
    m_log->info(kCalibrationLogSource, tr("Calibration cleared"));
}

void CalibrationSection::refresh() {
    const bool model = m_document->hasModel();
    const bool running = m_job != nullptr;
    m_collect->setEnabled(model && !running);
    m_load->setEnabled(model && !running);
    m_cancel->setEnabled(running);
    const DocumentCalibration* c = m_document->calibration();
    m_clear->setEnabled(c && !running);
    if (!running) {
        if (c)
            m_status->setText(tr("Loaded: %1\nFingerprint %2").arg(c->describe(), c->fingerprint));
        else
            m_status->setText(model ? tr("No calibration loaded") : tr("No model"));
    }
    m_missing->clear();
    const auto missing = missingCalibration(*m_document);
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    for (const MissingCalibration& m : missing) {
        const std::string& name = ckpt->tensors[size_t(m.tensor)].name;
        auto* item = new QListWidgetItem(tr("%1 — %2").arg(toQ(name), toQ(m.scheme)));
        item->setToolTip(m.reason);
        item->setData(Qt::UserRole, m.tensor);
        m_missing->addItem(item);
    }
    m_missingTitle->setText(
        missing.empty()
            ? tr("Every tensor of the map has the calibration it needs")
            : tr("%n tensor(s) of the map need calibration and lack it:", nullptr, int(missing.size())));
    m_missing->setVisible(!missing.empty());
}

}  // namespace qsui
