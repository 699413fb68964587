// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/eval/evaluations_view.h"

#include <algorithm>

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include "core/quant/footprint_after.h"
#include "ui/chat/chat_models.h"
#include "ui/document.h"
#include "ui/eval/evaluation_job.h"
#include "ui/jobs/job.h"
#include "ui/jobs/job_runner.h"
#include "ui/util/format.h"

namespace qsui {
namespace {

constexpr int kDefaultContext = 512;  // llama-perplexity's usual -c
constexpr int kDefaultWindows = 4;
constexpr int kMaxContext = 1 << 20;
// The figures first (what is compared), then how they were measured.
enum Column { ColMap, ColSize, ColBits, ColPpl, ColKld, ColTop1, ColProtocol, ColText, ColCount };

QString mapSummaryOf(const qs::QuantMap& map) {
    if (map.rules.empty()) return QObject::tr("as stored (no rules)");
    QStringList parts;
    for (const qs::QuantRule& r : map.rules) parts << QString::fromStdString(r.describe());
    return parts.join(QStringLiteral("; "));
}

QString settingsText(const qs::PerplexityOptions& o, int windowsRun) {
    return QObject::tr("%1 · ctx %2 · %3 windows")
        .arg(QString::fromStdString(std::string(qs::pplProtocolName(o.protocol))))
        .arg(o.context)
        .arg(windowsRun);
}

bool sameSettings(const EvaluationRow& a, const EvaluationRow& b) {
    return a.plans == b.plans && a.textPath == b.textPath && a.options.protocol == b.options.protocol &&
           a.options.context == b.options.context && a.options.maxWindows == b.options.maxWindows &&
           a.options.separator == b.options.separator;
}

}  // namespace

EvaluationsView::EvaluationsView(Document* document, JobRunner* runner, ChatModels* models, QWidget* parent)
    : QWidget(parent), m_document(document), m_runner(runner), m_models(models) {
    setObjectName(QStringLiteral("evaluationsView"));
    createControls();
    createTable();
    createLayout();
    connectSignals();
    setTextPath({});
    onModelChanged();
}

// The text choice, the protocol, context and window settings, the buttons and the status line.
void EvaluationsView::createControls() {
    m_textLabel = new QLabel;
    m_textLabel->setObjectName(QStringLiteral("evaluationText"));
    m_textLabel->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_chooseButton = new QPushButton(tr("Choose &text…"));
    m_chooseButton->setToolTip(tr("The text file the models are scored on (e.g. wiki.test.raw)"));
    m_protocol = new QComboBox;
    m_protocol->setObjectName(QStringLiteral("evaluationProtocol"));
    for (qs::PplProtocol p : {qs::PplProtocol::LlamaCpp, qs::PplProtocol::Gptq, qs::PplProtocol::Documents})
        m_protocol->addItem(QString::fromStdString(std::string(qs::pplProtocolName(p))), int(p));
    m_protocol->setToolTip(
        tr("llamacpp: llama-perplexity's chunks (BOS first, second half scored)\n"
           "gptq: non-overlapping windows, every prediction scored\n"
           "documents: split on <|endoftext|>, each document with BOS, all scored\n"
           "Figures of different protocols are not comparable."));
    m_context = new QSpinBox;
    m_context->setObjectName(QStringLiteral("evaluationContext"));
    m_context->setRange(2, kMaxContext);
    m_context->setValue(kDefaultContext);
    m_context->setSuffix(tr(" tokens"));
    m_context->setToolTip(tr("Window length n (llama-perplexity's -c); at most the model's context"));
    m_windows = new QSpinBox;
    m_windows->setObjectName(QStringLiteral("evaluationWindows"));
    m_windows->setRange(0, 1000000);
    m_windows->setSpecialValueText(tr("all"));
    m_windows->setValue(kDefaultWindows);
    m_windows->setToolTip(tr("Evaluate at most this many windows (all: the whole text)"));
    m_runButton = new QPushButton(tr("Evaluate current map"));
    m_runButton->setObjectName(QStringLiteral("evaluateButton"));
    m_runButton->setToolTip(
        tr("Perplexity of the model under the current map and, when the map quantizes "
           "something, KL divergence and top-1 agreement against the stored model"));
    m_cancelButton = new QPushButton(tr("Cancel"));
    m_clearButton = new QPushButton(tr("Clear rows"));
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("evaluationStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
}

// One row per evaluated map.
void EvaluationsView::createTable() {
    m_table = new QTableWidget(0, ColCount);
    m_table->setObjectName(QStringLiteral("evaluationsTable"));
    m_table->setHorizontalHeaderLabels({tr("Map"), tr("Size"), tr("Bits/weight"), tr("PPL"), tr("KLD"),
                                        tr("Top-1"), tr("Protocol"), tr("Text")});
    m_table->horizontalHeaderItem(ColKld)->setToolTip(
        tr("Mean KL(stored ‖ quantized) per scored token, nats"));
    m_table->horizontalHeaderItem(ColTop1)->setToolTip(
        tr("Positions where the quantized model's most likely "
           "token is the stored model's"));
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->verticalHeader()->setVisible(false);
    m_table->setWordWrap(false);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    // The map column as wide as its text up to a limit (set in rebuildTable), not what the figures leave: at
    // 960x600 that was "as stor…". The table scrolls sideways instead.
    m_table->horizontalHeader()->setSectionResizeMode(ColMap, QHeaderView::Interactive);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->horizontalHeader()->setMinimumSectionSize(60);
}

void EvaluationsView::createLayout() {
    // Three short rows rather than one long one: the centre is about 450 px wide at 960x600.
    auto* textRow = new QHBoxLayout;
    textRow->addWidget(new QLabel(tr("Text:")));
    textRow->addWidget(m_textLabel, 1);
    textRow->addWidget(m_chooseButton);
    auto* params = new QHBoxLayout;
    auto* protocolLabel = new QLabel(tr("&Protocol"));
    protocolLabel->setBuddy(m_protocol);
    auto* contextLabel = new QLabel(tr("C&ontext"));
    contextLabel->setBuddy(m_context);
    auto* windowsLabel = new QLabel(tr("&Windows"));
    windowsLabel->setBuddy(m_windows);
    for (QWidget* w : std::initializer_list<QWidget*>{protocolLabel, m_protocol, contextLabel, m_context,
                                                      windowsLabel, m_windows})
        params->addWidget(w);
    params->addStretch(1);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_runButton);
    buttons->addWidget(m_cancelButton);
    buttons->addWidget(m_clearButton);
    buttons->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->setSpacing(4);
    layout->addLayout(textRow);
    layout->addLayout(params);
    layout->addLayout(buttons);
    layout->addWidget(m_status);
    layout->addWidget(m_table, 1);
}

void EvaluationsView::connectSignals() {
    connect(m_chooseButton, &QPushButton::clicked, this, &EvaluationsView::chooseText);
    connect(m_runButton, &QPushButton::clicked, this, &EvaluationsView::evaluateCurrentMap);
    connect(m_cancelButton, &QPushButton::clicked, this, &EvaluationsView::cancel);
    connect(m_clearButton, &QPushButton::clicked, this, [this] {
        m_rows.clear();
        rebuildTable();
    });
    connect(m_document, &Document::modelChanged, this, &EvaluationsView::onModelChanged);
    connect(m_document, &Document::quantMapChanged, this, &EvaluationsView::updateHighlight);
    connect(m_models, &ChatModels::availabilityChanged, this, &EvaluationsView::onAvailabilityChanged);
}

void EvaluationsView::setTextPath(const QString& path) {
    m_textPath = path;
    m_textLabel->setText(path.isEmpty() ? tr("<i>none chosen</i>") : QFileInfo(path).fileName());
    m_textLabel->setToolTip(path);
    updateControls();
}

void EvaluationsView::setProtocol(qs::PplProtocol protocol) {
    m_protocol->setCurrentIndex(m_protocol->findData(int(protocol)));
}
void EvaluationsView::setContext(int tokens) {
    m_context->setValue(tokens);
}
void EvaluationsView::setMaxWindows(int windows) {
    m_windows->setValue(windows);
}

qs::PerplexityOptions EvaluationsView::options() const {
    qs::PerplexityOptions o;
    o.protocol = qs::PplProtocol(m_protocol->currentData().toInt());
    o.context = m_context->value();
    o.maxWindows = m_windows->value();
    return o;
}

QString EvaluationsView::statusText() const {
    return m_status->text();
}

bool EvaluationsView::isCurrentMapRow(int row) const {
    return row >= 0 && size_t(row) < m_rows.size() && m_document->hasModel() &&
           m_rows[size_t(row)].plans == currentPlans();
}

std::vector<std::pair<std::string, int>> EvaluationsView::currentPlans() const {
    std::vector<std::pair<std::string, int>> plans;
    if (const qs::ResolvedMap* r = m_document->resolvedMap()) {
        plans.reserve(r->tensors.size());
        for (const qs::TensorPlan& p : r->tensors) plans.emplace_back(p.scheme, p.tiedTo);
    }
    return plans;
}

void EvaluationsView::chooseText() {
    const QString start = m_textPath.isEmpty() ? QFileInfo(m_document->path()).absolutePath() : m_textPath;
    const QString path = QFileDialog::getOpenFileName(this, tr("Text to evaluate on"), start,
                                                      tr("Text (*.txt *.raw);;All files (*)"));
    if (!path.isEmpty()) setTextPath(path);
}

void EvaluationsView::onModelChanged() {
    cancel();
    m_rows.clear();
    rebuildTable();
    const qs::ModelInfo* info = m_document->info();
    const int modelContext =
        info && info->hp.context > 1 ? int(std::min<int64_t>(info->hp.context, kMaxContext)) : kMaxContext;
    m_context->setMaximum(modelContext);
    m_context->setValue(std::min(kDefaultContext, modelContext));
    m_status->setText(info ? tr("Choose a text, then evaluate a map; evaluate another map to compare them.")
                           : tr("Open a model to evaluate it."));
    updateControls();
}

void EvaluationsView::onAvailabilityChanged() {
    if (m_state != State::WaitingForTokenizer) return;
    if (m_models->availability() == ChatModels::Availability::Checking) return;
    m_state = State::Idle;
    evaluateCurrentMap();
}

void EvaluationsView::evaluateCurrentMap() {
    if (isBusy()) return;
    const qs::ResolvedMap* resolved = m_document->resolvedMap();
    if (!m_document->hasModel() || !resolved) return finish(false, tr("Open a model first."));
    if (m_textPath.isEmpty()) return finish(false, tr("Choose a text to evaluate on first."));
    switch (m_models->availability()) {
        case ChatModels::Availability::NoModel:
            return finish(false, tr("Open a model first."));
        case ChatModels::Availability::Unavailable:
            return finish(
                false, m_models->unavailableReason().replace(tr("cannot chat"), tr("cannot be evaluated")));
        case ChatModels::Availability::Checking:
            m_state = State::WaitingForTokenizer;
            m_status->setText(tr("Loading the tokenizer…"));
            updateControls();
            return;
        case ChatModels::Availability::Ready:
            break;
    }
    const qs::MapFootprint fp =
        qs::footprintAfter(*resolved, m_document->checkpoint()->tensors, *m_document->info());
    EvaluationRow row;
    row.plans = currentPlans();
    row.mapSummary = mapSummaryOf(m_document->quantMap());
    row.bytes = fp.after.total;
    row.bitsPerWeight = qs::footprintShares(fp).total.bitsAfter;
    row.quantizedTensors = m_models->quantizedTensorCount();
    row.textPath = m_textPath;
    row.options = options();
    m_pending = Pending{std::move(row), ++m_generation};
    m_state = State::PreparingModels;
    m_status->setText(m_pending.row.quantizedTensors ? tr("Preparing the stored and the quantized model…")
                                                     : tr("Preparing the model…"));
    updateControls();
    prepareModels();
}

void EvaluationsView::prepareModels() {
    // Both builds are ChatModels jobs (cached, shared with the chat); the callbacks may come after a cancel
    // or a model change, which the generation tells.
    const quint64 generation = m_generation;
    QPointer<EvaluationsView> self(this);
    m_models->requestOriginal([self, generation](const QString& error) {
        if (!self || self->m_generation != generation) return;
        if (!error.isEmpty()) return self->fail(tr("Loading the model failed: %1").arg(error));
        if (self->m_pending.row.quantizedTensors == 0) return self->startJob();
        self->m_models->requestQuantized([self, generation](const QString& qError) {
            if (!self || self->m_generation != generation) return;
            if (!qError.isEmpty())
                return self->fail(tr("Quantizing the model failed: %1").arg(qError));
            self->startJob();
        });
    });
}

void EvaluationsView::startJob() {
    if (currentPlans() != m_pending.row.plans)
        return finish(false, tr("The map changed while the models were prepared; evaluate again."));
    EvaluationRequest request;
    if (m_pending.row.quantizedTensors > 0) {
        request.model = m_models->quantized();
        request.reference = m_models->original();
    } else {
        request.model = m_models->original();
    }
    if (!request.model) return fail(tr("The model is not available; evaluate again."));
    request.tokenizer = m_models->tokenizer();
    request.textPath = m_pending.row.textPath.toStdString();
    request.options = m_pending.row.options;
    request.arena = m_runner->arena();
    m_state = State::Running;
    m_status->setText(tr("Evaluating on %1…").arg(QFileInfo(m_pending.row.textPath).fileName()));
    Job* job = m_runner->start<qs::PerplexityResult>(
        tr("Evaluate %1 on %2").arg(m_pending.row.mapSummary, QFileInfo(m_pending.row.textPath).fileName()),
        evaluationJob(std::move(request)));
    m_job = job;
    connect(job, &Job::progressChanged, this, [this, job](double fraction, const QString&) {
        if (job == m_job)
            m_status->setText(tr("Evaluating on %1… %2%")
                                  .arg(QFileInfo(m_pending.row.textPath).fileName())
                                  .arg(int(100 * fraction)));
    });
    connect(job, &Job::finished, this, [this, job](Job::State state) {
        if (job != m_job) return;
        m_job = nullptr;
        if (state == Job::State::Cancelled) return finish(false, tr("Evaluation cancelled."));
        if (state != Job::State::Succeeded)
            return fail(tr("Evaluation failed: %1").arg(job->errorMessage()));
        EvaluationRow row = std::move(m_pending.row);
        row.result = *job->result<qs::PerplexityResult>();
        QString text = tr("Evaluated: PPL %1 over %2 tokens in %3 s.")
                           .arg(QString::number(row.result.ppl, 'f', 4))
                           .arg(row.result.tokens)
                           .arg(QString::number(row.result.seconds, 'f', 1));
        for (const std::string& w : row.result.warnings)
            text += tr("\nWarning: %1").arg(QString::fromStdString(w));
        addRow(std::move(row));
        finish(true, text);
    });
    updateControls();
}

void EvaluationsView::cancel() {
    if (m_state == State::Idle) return;
    ++m_generation;  // drops the callbacks of model builds still running (they keep filling the cache)
    if (m_job) {
        m_job->cancel();  // finishes as Cancelled through the slot above
        return;
    }
    finish(false, tr("Evaluation cancelled."));
}

void EvaluationsView::finish(bool succeeded, const QString& status) {
    m_state = State::Idle;
    m_job = nullptr;
    m_status->setText(status);
    updateControls();
    Q_EMIT evaluationFinished(succeeded);
}

void EvaluationsView::fail(const QString& status) {
    Q_EMIT evaluationFailed(status);
    finish(false, status);
}

void EvaluationsView::addRow(EvaluationRow row) {
    auto same = std::find_if(m_rows.begin(), m_rows.end(),
                             [&](const EvaluationRow& r) { return sameSettings(r, row); });
    if (same != m_rows.end())
        *same = std::move(row);
    else
        m_rows.push_back(std::move(row));
    rebuildTable();
}

void EvaluationsView::rebuildTable() {
    m_table->setRowCount(int(m_rows.size()));
    auto set = [this](int r, int c, const QString& text, const QString& tip = {}, bool number = true) {
        auto* item = new QTableWidgetItem(text);
        item->setToolTip(tip.isEmpty() ? text : tip);
        if (number) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        m_table->setItem(r, c, item);
    };
    for (int r = 0; r < int(m_rows.size()); ++r) {
        const EvaluationRow& e = m_rows[size_t(r)];
        const qs::PerplexityResult& res = e.result;
        set(r, ColMap, e.mapSummary, {}, false);
        set(r, ColSize, formatBytes(e.bytes));
        set(r, ColBits, QString::number(e.bitsPerWeight, 'f', 2));
        set(r, ColProtocol, settingsText(e.options, res.windows), {}, false);
        set(r, ColText, QFileInfo(e.textPath).fileName(),
            tr("%1\n%2 tokens scored").arg(e.textPath).arg(res.tokens), false);
        set(r, ColPpl, QString::number(res.ppl, 'f', 4),
            tr("Mean NLL %1 nats%2")
                .arg(QString::number(res.nll, 'f', 6),
                     res.compared
                         ? tr("; stored model's PPL %1").arg(QString::number(res.referencePpl, 'f', 4))
                         : QString()));
        const QString none = QStringLiteral("—");
        const QString noneTip = tr("The map quantizes nothing: the stored model was scored alone");
        set(r, ColKld, res.compared ? QString::number(res.kld, 'f', 6) : none,
            res.compared ? tr("max %1 nats").arg(QString::number(res.kldMax, 'f', 4)) : noneTip);
        set(r, ColTop1, res.compared ? formatPercentValue(100.0 * res.top1) : none,
            res.compared ? QString() : noneTip);
    }
    updateHighlight();
    m_table->resizeColumnToContents(ColMap);
    m_table->setColumnWidth(ColMap, std::clamp(m_table->columnWidth(ColMap), 140, 280));
}

void EvaluationsView::updateHighlight() {
    const QColor current = palette().color(QPalette::Highlight).lighter(185);
    for (int r = 0; r < m_table->rowCount(); ++r) {
        const bool isCurrent = isCurrentMapRow(r);
        for (int c = 0; c < ColCount; ++c) {
            QTableWidgetItem* item = m_table->item(r, c);
            if (!item) continue;
            QFont f = item->font();
            f.setBold(isCurrent);
            item->setFont(f);
            item->setBackground(isCurrent ? QBrush(current) : QBrush());
        }
        if (QTableWidgetItem* map = m_table->item(r, ColMap))
            map->setToolTip(m_rows[size_t(r)].mapSummary +
                            (isCurrent ? tr("\n(the current map)") : QString()));
    }
}

void EvaluationsView::updateControls() {
    const bool model = m_document->hasModel();
    m_chooseButton->setEnabled(model);
    m_runButton->setEnabled(model && !isBusy() && !m_textPath.isEmpty());
    m_cancelButton->setEnabled(isBusy());
    for (QWidget* w : std::initializer_list<QWidget*>{m_protocol, m_context, m_windows})
        w->setEnabled(!isBusy());
}

}  // namespace qsui
