// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mix/mix_view.h"

#include <QCheckBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/plot/plot_legend.h"
#include "ui/plot/qcustomplot_include.h"

#include "core/sweep/size_budget.h"
#include "core/sweep/sweep_groups.h"
#include "ui/document.h"
#include "ui/jobs/job.h"
#include "ui/mix/mix_jobs.h"
#include "ui/plot/bar_chart.h"
#include "ui/sweep/eval_setup.h"

namespace qsui {

namespace {

QTableWidget* makeTable() {
    auto* t = new QTableWidget;
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->verticalHeader()->setVisible(false);
    t->setMinimumHeight(60);
    return t;
}

QStringList splitList(const QString& text) {
    QStringList out;
    for (const QString& s : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (!s.trimmed().isEmpty()) out << s.trimmed();
    return out;
}

std::vector<std::string> toStd(const QStringList& list) {
    std::vector<std::string> out;
    for (const QString& s : list) out.push_back(s.toStdString());
    return out;
}

}  // namespace

MixView::MixView(Document* document, JobRunner* runner, ChatModels* models, QWidget* parent)
    : QWidget(parent), m_document(document), m_runner(runner), m_models(models) {
    m_pages = new QTabWidget;
    // Narrow windows elide the page names rather than scroll them behind tiny arrow buttons.
    m_pages->setUsesScrollButtons(false);
    m_pages->setElideMode(Qt::ElideRight);
    m_pages->addTab(buildScanPage(), tr("Sensitivity"));
    m_pages->addTab(buildMixPage(), tr("Auto-mix"));
    m_pages->addTab(buildStudyPage(), tr("Embedding vs head"));
    for (int i = 0; i < m_pages->count(); ++i) m_pages->setTabToolTip(i, m_pages->tabText(i));  // when elided
    layOutSetupAndResults(this, buildSetup(), m_pages);
    connect(m_document, &Document::modelChanged, this, &MixView::onModelChanged);
    showScan();
    showMix();
    showStudy();
    updateControls();
}

MixView::~MixView() {
    if (m_job) m_job->cancel();
}

QWidget* MixView::buildSetup() {
    auto* setup = new QWidget;
    setup->setMaximumWidth(300);
    auto* v = new QVBoxLayout(setup);
    v->setContentsMargins(0, 0, 0, 0);
    auto* box = new QGroupBox(tr("Measure every point by"));
    auto* form = new QFormLayout(box);
    m_eval = new EvalSetup(m_models, true, this);
    m_eval->addRows(form);
    m_groups = new QLineEdit;
    m_groups->setPlaceholderText(tr("default: embedding, head, layer parts"));
    m_groups->setToolTip(
        tr("comma-separated groups: embedding, head, body, attention, mlp, layers, layer-parts, "
           "layerN, layerN.attention, layerN.mlp; empty: the embedding, the head (unless tied) "
           "and each layer's attention and MLP"));
    form->addRow(tr("Groups"), m_groups);
    v->addWidget(box);
    m_cancelButton = new QPushButton(tr("Cancel"));
    connect(m_cancelButton, &QPushButton::clicked, this, &MixView::cancel);
    v->addWidget(m_cancelButton);
    m_status = new QLabel(tr("The document's map is the baseline of every job."));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(m_status);
    v->addStretch(1);
    return setup;
}

QWidget* MixView::buildScanPage() {
    auto* page = new QWidget;
    auto* v = new QVBoxLayout(page);
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Scheme")));
    m_scanScheme = new QLineEdit(QStringLiteral("q2_K"));
    m_scanScheme->setToolTip(
        tr("the scheme each group gets alone (a registry name: q2_K, int4_g64, nf4, …)"));
    m_scanScheme->setMaximumWidth(160);
    row->addWidget(m_scanScheme);
    m_scanButton = new QPushButton(tr("Run &scan"));
    connect(m_scanButton, &QPushButton::clicked, this, &MixView::startScan);
    row->addWidget(m_scanButton);
    row->addStretch(1);
    v->addLayout(row);
    m_chart = new BarChart;
    m_chart->plot()->setMinimumHeight(120);  // the tab fits a 720-pixel window beside the docks
    m_scanTable = makeTable();
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(m_chart);
    split->addWidget(m_scanTable);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setSizes({360, 200});  // the chart first: it is what the page is for
    v->addWidget(split, 1);
    return page;
}

QWidget* MixView::buildMixPage() {
    auto* page = new QWidget;
    auto* v = new QVBoxLayout(page);
    m_budget = new QLineEdit(QStringLiteral("4.5bpw"));
    m_budget->setToolTip(
        tr("bits per weight (3.5bpw: 8 × bytes / weights, a tied pair once), or bytes of the "
           "whole model under the map: 123456789, 800MiB, 2.1GB"));
    m_candidates = new QLineEdit(QStringLiteral("q2_K,q4_K,q8_0"));
    m_candidates->setToolTip(tr("the schemes a group may get (comma-separated registry names)"));
    m_allowBaseline = new QCheckBox(tr("groups may stay as mapped"));
    m_allowBaseline->setToolTip(tr("a group may stay as the document's map leaves it (no candidate scheme)"));
    m_allowBaseline->setChecked(true);
    auto* form = new QFormLayout;
    form->addRow(tr("Budget"), m_budget);
    form->addRow(tr("Candidates"), m_candidates);
    form->addRow(QString(), m_allowBaseline);
    v->addLayout(form);
    auto* row = new QHBoxLayout;
    m_mixButton = new QPushButton(tr("Run &auto-mix"));
    m_applyButton = new QPushButton(tr("A&pply the mix"));
    m_applyButton->setToolTip(tr("set the document's map to the chosen map (one undoable edit)"));
    connect(m_mixButton, &QPushButton::clicked, this, &MixView::startAutoMix);
    connect(m_applyButton, &QPushButton::clicked, this, &MixView::applyAutoMix);
    row->addWidget(m_mixButton);
    row->addWidget(m_applyButton);
    row->addStretch(1);
    v->addLayout(row);
    m_mixSummary = new QLabel;
    m_mixSummary->setWordWrap(true);
    m_mixSummary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_mixSummary->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    // In its own scroll area: a word-wrapped label would make the whole tab height-for-width, which the
    // window's scrolled centre then scrolls.
    auto* summaryScroll = new QScrollArea;
    summaryScroll->setWidget(m_mixSummary);
    summaryScroll->setWidgetResizable(true);
    summaryScroll->setFrameShape(QFrame::NoFrame);
    const int line = m_mixSummary->fontMetrics().lineSpacing();
    summaryScroll->setMinimumHeight(3 * line);
    summaryScroll->setMaximumHeight(7 * line);
    m_mixTable = makeTable();
    m_uniformTable = makeTable();
    // At least a header and four rows of the chosen schemes; the splitter gives the rest to the summary and
    // the uniform points as the user drags it.
    const int rowHeight = m_mixTable->verticalHeader()->defaultSectionSize();
    m_mixTable->setMinimumHeight(m_mixTable->horizontalHeader()->sizeHint().height() + 4 * rowHeight + 4);
    m_uniformTable->setMinimumHeight(m_uniformTable->horizontalHeader()->sizeHint().height() + rowHeight + 4);
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(summaryScroll);
    split->addWidget(m_mixTable);
    split->addWidget(m_uniformTable);
    split->setChildrenCollapsible(false);
    split->setStretchFactor(0, 0);
    split->setStretchFactor(1, 3);
    split->setStretchFactor(2, 1);
    split->setSizes({4 * line, 400, 120});
    v->addWidget(split, 1);
    return page;
}

QWidget* MixView::buildStudyPage() {
    auto* page = new QWidget;
    auto* v = new QVBoxLayout(page);
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Schemes")));
    m_studySchemes = new QLineEdit;
    QStringList defaults;
    for (const auto& s : qs::sweep::defaultStudySchemes()) defaults << QString::fromStdString(s);
    m_studySchemes->setPlaceholderText(defaults.join(QLatin1Char(',')));
    m_studySchemes->setToolTip(
        tr("the schemes the embedding and the head each get (empty: %1); perplexity or "
           "KLD only")
            .arg(defaults.join(QStringLiteral(", "))));
    row->addWidget(m_studySchemes, 1);
    m_studyButton = new QPushButton(tr("Run s&tudy"));
    connect(m_studyButton, &QPushButton::clicked, this, &MixView::startStudy);
    row->addWidget(m_studyButton);
    v->addLayout(row);
    m_studyPlot = new QCustomPlot;
    m_studyPlot->setBackground(palette().color(QPalette::Base));
    m_studyPlot->setMinimumHeight(120);
    placeLegendAbove(m_studyPlot);  // never over the points
    m_studyTable = makeTable();
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(m_studyPlot);
    split->addWidget(m_studyTable);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setSizes({360, 200});
    v->addWidget(split, 1);
    return page;
}

void MixView::showPage(Page page) {
    m_pages->setCurrentIndex(int(page));
}
void MixView::setGroups(const QString& commaList) {
    m_groups->setText(commaList);
}
void MixView::setScanScheme(const QString& scheme) {
    m_scanScheme->setText(scheme);
}
void MixView::setBudget(const QString& budget) {
    m_budget->setText(budget);
}
void MixView::setCandidates(const QString& commaList) {
    m_candidates->setText(commaList);
}
void MixView::setStudySchemes(const QString& commaList) {
    m_studySchemes->setText(commaList);
}
QString MixView::statusText() const {
    return m_status->text();
}
void MixView::setStatus(const QString& text) {
    m_status->setText(text);
}

std::vector<std::string> MixView::groupList() const {
    return toStd(splitList(m_groups->text()));
}

void MixView::launch(const QString& what, std::function<Job*(EvaluatorRequest)> start) {
    if (m_running) return setStatus(tr("A job is running; cancel it first."));
    auto model = m_document->model();
    if (!model) return setStatus(tr("Open a model first."));
    m_running = true;
    setStatus(m_eval->evaluates() ? tr("%1: loading the stored model…").arg(what)
                                  : tr("%1: starting…").arg(what));
    updateControls();
    const quint64 generation = ++m_generation;
    QPointer<MixView> self(this);
    m_eval->prepare(this,
                    [self, generation, model, what, start](const QString& error, const EvalModels& models) {
                        if (!self || self->m_generation != generation) return;
                        if (!error.isEmpty()) {
                            self->m_running = false;
                            self->setStatus(error);
                            self->updateControls();
                            return void(Q_EMIT self->jobFinished(false));
                        }
                        EvaluatorRequest r;
                        r.model = model;
                        r.measure = self->m_eval->measure();
                        r.perplexity = self->m_eval->perplexity();
                        r.textPath = self->m_eval->textPath().toStdString();
                        r.tokenizer = models.tokenizer;
                        r.unquantized = models.unquantized;
                        r.arena = self->m_runner->arena();
                        r.cache = self->m_document->quantCache();
                        r.calibration = self->m_document->calibrationSet();
                        self->m_job = start(std::move(r));
                        self->updateControls();
                    });
}

void MixView::watch(Job* job, const QString& title, std::function<void(Job*)> done) {
    connect(job, &Job::progressChanged, this, [this, job, title](double f, const QString& stage) {
        if (job == m_job) setStatus(tr("%1: %2% %3").arg(title).arg(int(100 * f)).arg(stage));
    });
    connect(job, &Job::finished, this, [this, job, title, done](Job::State state) {
        if (job != m_job) return;
        m_job = nullptr;
        m_running = false;
        if (state == Job::State::Succeeded) {
            done(job);
        } else if (state == Job::State::Cancelled) {
            setStatus(tr("%1 cancelled.").arg(title));
        } else {
            setStatus(tr("%1 failed: %2").arg(title, job->errorMessage()));
            Q_EMIT jobFailed(title, job->errorMessage());
        }
        updateControls();
        Q_EMIT jobFinished(state == Job::State::Succeeded);
    });
}

void MixView::logWarnings(const QString& title, const std::vector<std::string>& warnings) {
    for (const std::string& w : warnings) Q_EMIT jobWarning(title, QString::fromStdString(w));
}

void MixView::startScan() {
    const QString scheme = m_scanScheme->text().trimmed();
    if (auto c = qs::canonicalSchemeName(scheme.toStdString()); !c)
        return setStatus(tr("Scheme '%1': %2").arg(scheme, QString::fromStdString(c.message())));
    qs::sweep::SensitivityOptions o;
    o.scheme = scheme.toStdString();
    o.baseline = m_document->quantMap();
    o.groups = groupList();
    const QString title = tr("Sensitivity to %1").arg(scheme);
    launch(title, [this, o, title](EvaluatorRequest r) {
        Job* job = m_runner->start<qs::sweep::SensitivityResult>(title, sensitivityJob(std::move(r), o));
        watch(job, title, [this](Job* j) {
            m_scan = *j->result<qs::sweep::SensitivityResult>();
            showScan();
            logWarnings(j->title(), m_scan->warnings);
        });
        return job;
    });
}

void MixView::startAutoMix() {
    auto budget = qs::sweep::parseSizeBudget(m_budget->text().trimmed().toStdString());
    if (!budget) return setStatus(QString::fromStdString(budget.message()));
    const QStringList candidates = splitList(m_candidates->text());
    if (candidates.isEmpty()) return setStatus(tr("Give at least one candidate scheme."));
    for (const QString& s : candidates)
        if (auto c = qs::canonicalSchemeName(s.toStdString()); !c)
            return setStatus(tr("Scheme '%1': %2").arg(s, QString::fromStdString(c.message())));
    qs::sweep::AutoMixOptions o;
    o.budget = std::move(budget).value();
    o.schemes = toStd(candidates);
    o.baseline = m_document->quantMap();
    o.groups = groupList();
    o.allowBaseline = m_allowBaseline->isChecked();
    const QString title = tr("Auto-mix to %1").arg(QString::fromStdString(o.budget.text));
    m_mix.reset();  // the previous result is not this run's: a failed run must leave nothing to apply
    showMix();
    launch(title, [this, o, title](EvaluatorRequest r) {
        Job* job = m_runner->start<qs::sweep::AutoMixResult>(title, autoMixJob(std::move(r), o));
        watch(job, title, [this](Job* j) {
            m_mix = *j->result<qs::sweep::AutoMixResult>();
            showMix();
            logWarnings(j->title(), m_mix->warnings);
            const auto measure = qs::sweepMeasureFromName(m_mix->measure);
            if (measure)
                Q_EMIT autoMixVerified(*measure, m_mix->measured,
                                     tr("auto-mix %1").arg(QString::fromStdString(m_mix->budgetText)));
        });
        return job;
    });
}

void MixView::startStudy() {
    if (!m_eval->evaluates())
        return setStatus(
            tr("The embedding-vs-head study measures perplexity or KLD: choose one under Measure."));
    qs::sweep::EmbedHeadStudyOptions o;
    o.schemes = toStd(splitList(m_studySchemes->text()));
    for (const auto& s : o.schemes)
        if (auto c = qs::canonicalSchemeName(s); !c)
            return setStatus(
                tr("Scheme '%1': %2").arg(QString::fromStdString(s), QString::fromStdString(c.message())));
    o.baseline = m_document->quantMap();
    const QString title = tr("Embedding-vs-head study");
    launch(title, [this, o, title](EvaluatorRequest r) {
        Job* job =
            m_runner->start<qs::sweep::EmbedHeadStudyResult>(title, embedHeadStudyJob(std::move(r), o));
        watch(job, title, [this](Job* j) {
            m_study = *j->result<qs::sweep::EmbedHeadStudyResult>();
            showStudy();
            logWarnings(j->title(), m_study->warnings);
        });
        return job;
    });
}

void MixView::cancel() {
    if (!m_running) return;
    if (m_job) return m_job->cancel();  // finishes as Cancelled through watch()
    ++m_generation;                     // still loading the model: drop its callback
    m_eval->cancelPending();
    m_running = false;
    setStatus(tr("Cancelled."));
    updateControls();
    Q_EMIT jobFinished(false);
}

bool MixView::applyAutoMix() {
    if (!m_mix || !m_document->hasModel()) return false;
    m_document->setQuantMap(m_mix->map, tr("Auto-mix to %1").arg(QString::fromStdString(m_mix->budgetText)));
    setStatus(tr("Applied the auto-mix map (Ctrl+Z undoes it)."));
    return true;
}

void MixView::onModelChanged() {
    if (m_running) cancel();
    m_job = nullptr;  // a cancelled job's late result belongs to the old model
    m_running = false;
    m_scan.reset();
    m_mix.reset();
    m_study.reset();
    setStatus(tr("The document's map is the baseline of every job."));
    showScan();
    showMix();
    showStudy();
    updateControls();
}

void MixView::updateControls() {
    const bool can = !m_running && m_document->hasModel();
    m_scanButton->setEnabled(can);
    m_mixButton->setEnabled(can);
    m_studyButton->setEnabled(can);
    m_applyButton->setEnabled(!m_running && m_mix.has_value());
    m_cancelButton->setEnabled(m_running);
}

}  // namespace qsui
