// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/sweep/sweep_view.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollArea>
#include <QSplitter>
#include <QSvgGenerator>
#include <QTableWidget>
#include <QToolTip>
#include <QVBoxLayout>

#include "ui/plot/plot_legend.h"
#include "ui/plot/qcustomplot_include.h"

#include "core/collect/collect.h"
#include "core/quant/scheme.h"
#include "core/sweep/sweep_hdf5.h"
#include "ui/chat/chat_models.h"
#include "ui/document.h"
#include "ui/jobs/job.h"
#include "ui/jobs/job_runner.h"
#include "ui/jobs/job_runner.h"
#include "ui/sweep/eval_setup.h"
#include "ui/sweep/sweep_job.h"
#include "ui/util/number_item.h"

namespace qsui {

QString savePlotSvg(QCustomPlot* plot, const QString& path, const QString& title) {
    // QCustomPlot writes no SVG itself; it paints into any QPaintDevice, here Qt Svg's generator, through a
    // QSaveFile so a failed write leaves an existing file whole.
    QSaveFile out(path);
    if (!out.open(QIODevice::WriteOnly)) return path + QStringLiteral(": ") + out.errorString();
    const int w = plot->width(), h = plot->height();
    QSvgGenerator svg;
    svg.setOutputDevice(&out);
    svg.setSize(QSize(w, h));
    svg.setViewBox(QRect(0, 0, w, h));
    svg.setTitle(title);
    QCPPainter painter;
    if (!painter.begin(&svg)) return path + QObject::tr(": cannot paint the SVG");
    plot->toPainter(&painter, w, h);
    painter.end();
    if (!out.commit()) return path + QStringLiteral(": ") + out.errorString();
    return {};
}

std::vector<int> paretoFrontier(const std::vector<std::pair<double, double>>& points) {
    std::vector<int> order(points.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return points[a] < points[b]; });
    std::vector<int> out;
    double best = std::numeric_limits<double>::infinity();
    for (int i : order) {
        if (points[i].second < best) {  // strictly better than every point of smaller or equal size
            out.push_back(i);
            best = points[i].second;
        }
    }
    return out;
}

namespace {

const char* const kGroupNames[] = {"embedding", "head", "body", "attention", "mlp", "layers"};

struct Preset {
    const char* label;
    const char* schemes;
};
const Preset kPresets[] = {
    {"K-quants", "q2_K,q3_K,q4_K,q5_K,q6_K,q8_0"},
    {"int2 … int8 (groups of 64)", "int2_g64,int3_g64,int4_g64,int5_g64,int6_g64,int8_g64"},
    {"legacy ggml", "q4_0,q4_1,q5_0,q5_1,q8_0"},
    {"4-bit formats", "q4_0,q4_K,int4_g32,int4_g128,nf4,fp4"},
};

QString number(double v, int digits = 6) {
    return std::isinf(v) ? QStringLiteral("inf") : QString::number(v, 'g', digits);
}

}  // namespace

SweepView::SweepView(Document* document, JobRunner* runner, ChatModels* models, QWidget* parent)
    : QWidget(parent), m_document(document), m_runner(runner), m_models(models) {
    m_plot = new QCustomPlot;
    m_plot->setBackground(palette().color(QPalette::Base));
    m_plot->setMinimumSize(300, 160);
    m_plot->addGraph();  // 0: every point
    m_plot->graph(0)->setLineStyle(QCPGraph::lsNone);
    m_plot->graph(0)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(90, 120, 170, 170), 6));
    m_plot->graph(0)->setName(tr("points"));
    m_plot->addGraph();  // 1: the Pareto frontier
    m_plot->graph(1)->setLineStyle(QCPGraph::lsStepLeft);
    m_plot->graph(1)->setPen(QPen(QColor(200, 60, 40), 1.8));
    m_plot->graph(1)->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor(200, 60, 40), 1.8), Qt::NoBrush, 10));
    m_plot->graph(1)->setName(tr("Pareto frontier"));
    m_plot->addGraph();  // 2: the auto-mix point (Sensitivity tab), when one is shown
    m_plot->graph(2)->setLineStyle(QCPGraph::lsNone);
    m_plot->graph(2)->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssStar, QPen(QColor(20, 140, 60), 2.4), QColor(20, 140, 60), 16));
    m_plot->graph(2)->removeFromLegend();
    placeLegendAbove(m_plot);  // never over the points
    m_plot->setMouseTracking(true);
    connect(m_plot, &QCustomPlot::mouseMove, this, &SweepView::onPlotMouseMove);
    connect(m_plot, &QCustomPlot::mousePress, this, &SweepView::onPlotMousePress);

    m_table = new QTableWidget;
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->setVisible(false);
    m_table->setSortingEnabled(true);
    connect(m_table, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
        if (QTableWidgetItem* item = m_table->item(row, 0)) applyPoint(item->data(Qt::UserRole).toInt());
    });

    auto* right = new QSplitter(Qt::Vertical);
    right->addWidget(m_plot);
    right->addWidget(m_table);
    right->setStretchFactor(0, 3);
    right->setStretchFactor(1, 1);
    m_table->setMinimumHeight(60);
    // The setup scrolls when the tab is short (the docks take much of a small window's height) and goes above
    // the plot when it is narrow.
    layOutSetupAndResults(this, buildSetup(), right);

    connect(m_document, &Document::modelChanged, this, &SweepView::onModelChanged);
    rebuildPlot();
    rebuildTable();
    updateControls();
}

SweepView::~SweepView() {
    if (m_job) m_job->cancel();
}

QWidget* SweepView::buildSetup() {
    auto* setup = new QWidget;
    setup->setMaximumWidth(320);
    auto* v = new QVBoxLayout(setup);
    v->setContentsMargins(0, 0, 0, 0);
    auto* groupsBox = new QGroupBox(tr("Groups"));
    auto* groupsLayout = new QGridLayout(groupsBox);
    for (const char* name : kGroupNames) {
        auto* box = new QCheckBox(QString::fromLatin1(name));
        box->setChecked(QLatin1String(name) == QLatin1String("body"));
        const int k = int(m_groupBoxes.size());
        groupsLayout->addWidget(box, k / 2, k % 2);
        m_groupBoxes.emplace_back(QString::fromLatin1(name), box);
    }
    m_groupBoxes.back().second->setToolTip(tr("one group per block: layer0, layer1, …"));
    v->addWidget(groupsBox);

    auto* form = new QFormLayout;
    m_preset = new QComboBox;
    for (const Preset& p : kPresets)
        m_preset->addItem(QString::fromUtf8(p.label), QString::fromLatin1(p.schemes));
    m_schemes = new QLineEdit(QString::fromLatin1(kPresets[0].schemes));
    m_schemes->setToolTip(
        tr("registry names, comma-separated (q4_K, int4_g32, nf4, keep, …); the same for every group"));
    m_preset->addItem(tr("custom"));  // no schemes of its own: the list as typed or resumed
    connect(m_preset, &QComboBox::activated, this, [this](int i) {
        if (const QString list = m_preset->itemData(i).toString(); !list.isEmpty()) m_schemes->setText(list);
    });
    // The preset names the list in the field, whoever set it (typing, Resume…, a session): "custom" otherwise.
    connect(m_schemes, &QLineEdit::textChanged, this, [this] {
        const QString list = schemes().join(QLatin1Char(','));
        int match = m_preset->count() - 1;
        for (int i = 0; i + 1 < m_preset->count(); ++i)
            if (m_preset->itemData(i).toString() == list) match = i;
        m_preset->setCurrentIndex(match);
    });
    form->addRow(tr("Preset"), m_preset);
    form->addRow(tr("Schemes"), m_schemes);
    m_eval = new EvalSetup(m_models, true, this);
    connect(m_eval, &EvalSetup::measureChanged, this, [this] { updateControls(); });
    m_eval->addRows(form);
    m_sizeAxis = new QComboBox;
    m_sizeAxis->addItem(tr("bits per weight"));
    m_sizeAxis->addItem(tr("bytes"));
    connect(m_sizeAxis, &QComboBox::currentIndexChanged, this, [this] { rebuildPlot(); });
    form->addRow(tr("Size axis"), m_sizeAxis);
    v->addLayout(form);

    buildActions(v);
    v->addStretch(1);
    return setup;
}

void SweepView::buildActions(QVBoxLayout* v) {
    auto* buttons = new QHBoxLayout;
    m_runButton = new QPushButton(tr("&Run sweep"));
    m_resumeButton = new QPushButton(tr("Resume…"));
    m_resumeButton->setToolTip(
        tr("continue a sweep file (.csv or .h5) written by quantscope-cli sweep or exported "
           "here: the setup is set from it, its stored points are kept, the missing ones measured"));
    m_cancelButton = new QPushButton(tr("Cancel"));
    connect(m_runButton, &QPushButton::clicked, this, &SweepView::start);
    connect(m_resumeButton, &QPushButton::clicked, this, &SweepView::resumeDialog);
    connect(m_cancelButton, &QPushButton::clicked, this, &SweepView::cancel);
    buttons->addWidget(m_runButton);
    buttons->addWidget(m_resumeButton);
    buttons->addWidget(m_cancelButton);
    v->addLayout(buttons);
    auto* exports = new QHBoxLayout;
    m_exportButton = new QPushButton(tr("Export table…"));
    m_exportButton->setToolTip(
        tr("the sweep file (.csv, as quantscope-cli sweep writes it) or an HDF5 table (.h5)"));
    m_saveButton = new QPushButton(tr("Save plot…"));
    m_saveButton->setToolTip(tr("PNG, SVG or PDF"));
    connect(m_exportButton, &QPushButton::clicked, this, &SweepView::exportTableDialog);
    connect(m_saveButton, &QPushButton::clicked, this, &SweepView::savePlotDialog);
    exports->addWidget(m_exportButton);
    exports->addWidget(m_saveButton);
    v->addLayout(exports);
    m_status = new QLabel(tr("Choose groups and schemes, then run. Click a point to apply its map."));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(m_status);
}

void SweepView::setGroups(const QStringList& groups) {
    for (auto& [name, box] : m_groupBoxes) box->setChecked(groups.contains(name));
}

QStringList SweepView::groups() const {
    QStringList out;
    for (const auto& [name, box] : m_groupBoxes)
        if (box->isChecked()) out << name;
    return out;
}

void SweepView::setSchemes(const QStringList& schemes) {
    m_schemes->setText(schemes.join(QLatin1Char(',')));
}

QStringList SweepView::schemes() const {
    QStringList out;
    for (const QString& s : m_schemes->text().split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (!s.trimmed().isEmpty()) out << s.trimmed();
    return out;
}

void SweepView::setMeasure(qs::SweepMeasure measure) {
    m_eval->setMeasure(measure);
}

qs::SweepMeasure SweepView::measure() const {
    return m_eval->measure();
}

void SweepView::setTextPath(const QString& path) {
    m_eval->setTextPath(path);
}
void SweepView::setProtocol(qs::PplProtocol protocol) {
    m_eval->setProtocol(protocol);
}
void SweepView::setContext(int tokens) {
    m_eval->setContext(tokens);
}
void SweepView::setMaxWindows(int windows) {
    m_eval->setMaxWindows(windows);
}
void SweepView::setSizeInBytes(bool bytes) {
    m_sizeAxis->setCurrentIndex(bytes ? 1 : 0);
}

QString SweepView::statusText() const {
    return m_status->text();
}

void SweepView::start() {
    if (m_running) return;
    auto model = m_document->model();
    if (!model) return void(m_status->setText(tr("Open a model first.")));
    SweepSetup setup;
    for (const QString& g : groups()) setup.groups.push_back(g.toStdString());
    for (const QString& s : schemes()) setup.schemes.push_back(s.toStdString());
    setup.measure = measure();
    setup.textPath = m_eval->textPath().toStdString();
    setup.perplexity = m_eval->perplexity();
    setup.baseline = m_document->quantMap();
    auto spec = buildSweepSpec(*model, setup);
    if (!spec) return void(m_status->setText(QString::fromStdString(spec.message())));
    m_spec = std::move(spec).value();
    m_points.clear();
    prepareAndStart(model, {});
}

namespace {

// What a sweep file records of the Document's calibration (the CLI's spec.calibration; "" without one).
std::string sweepCalibrationKey(const Document& doc) {
    auto set = doc.calibrationSet();
    return set ? qs::CalibrationCache::keyOf(set->provenance) : std::string();
}

bool specUsesCalibration(const qs::SweepSpec& spec) {
    auto calibrated = [](const std::string& name) {
        auto s = qs::findScheme(name);
        return s && !qs::isNone(s->calibrationNeeds());
    };
    for (const auto& group : spec.schemes)
        for (const std::string& s : group)
            if (calibrated(s)) return true;
    for (const qs::QuantRule& r : spec.baseline.rules)
        if (calibrated(r.scheme)) return true;
    return false;
}

}  // namespace

QString SweepView::loadSweepFile(const qs::SweepFile& file, const QString& origin, bool forResume) {
    auto model = m_document->model();
    if (!model) return tr("Open a model first.");
    auto spec = qs::sweepSpecFromJson(model->info, file.header["spec"]);
    if (!spec) return origin + QStringLiteral(": ") + QString::fromStdString(spec.message());
    if (forResume && !spec->calibration.empty() && spec->calibration != sweepCalibrationKey(*m_document))
        return tr("%1: the sweep used calibrated schemes with other statistics than the ones loaded; load or "
                  "collect the same calibration (Map editor → Calibration) to resume it")
            .arg(origin);
    std::vector<qs::SweepRow> rows;
    for (const auto& [point, line] : file.rows) {
        auto row = qs::parseSweepFileRow(*spec, line);
        if (!row)
            return tr("%1: point %2: %3").arg(origin).arg(point).arg(QString::fromStdString(row.message()));
        rows.push_back(std::move(row).value());
    }
    if (forResume) {  // the job's fingerprint and text hash are checked against the file
        spec->modelPath = model->path.toStdString();
        spec->modelBytes = 0;
        for (const auto& t : model->checkpoint->tensors) spec->modelBytes += t.bytes;
    }
    setFormFromSpec(*spec, origin);
    m_spec = std::move(spec).value();
    m_points = std::move(rows);
    rebuildPlot();
    rebuildTable();
    Q_EMIT pointsChanged();
    return {};
}

void SweepView::setFormFromSpec(const qs::SweepSpec& spec, const QString& origin) {
    QStringList boxes, unshown;
    for (const qs::SweepGroup& g : spec.groups) {
        const QString name = QString::fromStdString(g.name);
        const bool layer = name.startsWith(QLatin1String("layer")) && !name.contains(QLatin1Char('.'));
        const QString box = layer ? QStringLiteral("layers") : name;
        if (std::any_of(m_groupBoxes.begin(), m_groupBoxes.end(), [&](const auto& b) { return b.first == box; })) {
            if (!boxes.contains(box)) boxes << box;
        } else {
            unshown << name;
        }
    }
    setGroups(boxes);
    QStringList schemes;
    bool sameCandidates = true;
    for (const auto& c : spec.schemes) sameCandidates = sameCandidates && c == spec.schemes.front();
    if (!spec.schemes.empty())
        for (const auto& s : spec.schemes.front()) schemes << QString::fromStdString(s);
    setSchemes(schemes);
    m_eval->setMeasure(spec.measure);
    if (spec.measure != qs::SweepMeasure::WeightError) {
        m_eval->setProtocol(spec.perplexity.protocol);
        m_eval->setContext(spec.perplexity.context);
        m_eval->setMaxWindows(spec.perplexity.maxWindows);
    }
    QStringList notes;
    if (!unshown.isEmpty())
        notes << tr("its groups %1 have no box in the setup (the points keep them)").arg(unshown.join(QLatin1String(", ")));
    if (!sameCandidates) notes << tr("its groups have different candidate schemes; the setup shows the first group's");
    if (spec.measure != qs::SweepMeasure::WeightError)
        notes << tr("it was measured on a text of %1 bytes (FNV-1a %2): a run or resume needs that text")
                     .arg(spec.textBytes)
                     .arg(QString::fromStdString(spec.textHash));
    if (!notes.isEmpty())
        Q_EMIT logMessage(false, tr("Sweep"), tr("%1: %2.").arg(origin, notes.join(QLatin1String("; "))));
}

QString SweepView::showSweepFile(const qs::SweepFile& file, const QString& origin, std::function<void()> onShown) {
    if (m_running) cancel();
    auto refuse = [this](const QString& error) {
        clearPoints();  // what was shown before is not the refused file's: never leave it as if it were
        m_status->setText(error);
        Q_EMIT logMessage(true, tr("Sweep"), error);
        return error;
    };
    auto show = [this, file, origin, onShown]() -> QString {
        const QString error = loadSweepFile(file, origin, false);
        if (!error.isEmpty()) return error;
        m_status->setText(tr("%1 points of %2 shown.").arg(m_points.size()).arg(origin));
        updateControls();
        if (onShown) onShown();
        return {};
    };
    auto model = m_document->model();
    std::string want;
    if (const auto spec = file.header.find("spec"); spec != file.header.end() && spec->is_object())
        if (const auto fp = spec->find("model_fingerprint"); fp != spec->end() && fp->is_string())
            want = fp->get<std::string>();
    if (!model || want.empty()) {
        const QString error = show();
        return error.isEmpty() ? error : refuse(error);
    }
    // Points measured on other weights are never shown as this model's: the fingerprint (which reads the whole
    // checkpoint once) is computed in the background, and the file is shown only if it matches.
    tbb::task_arena* arena = m_runner->arena();
    Job* job = m_runner->start<std::string>(
        tr("Checking the sweep's model"), [ckpt = model->checkpoint, arena](const qs::ProgressFn& progress) {
            return qs::checkpointFingerprint(*ckpt, arena, progress);
        });
    connect(job, &Job::finished, this, [this, job, model, want, origin, show, refuse](Job::State state) {
        if (m_document->model() != model) return;  // another model was opened meanwhile
        if (state == Job::State::Failed) return void(refuse(tr("%1: %2").arg(origin, job->errorMessage())));
        auto have = job->result<std::string>();
        if (!have) return;  // cancelled
        if (*have != want)
            return void(refuse(tr("%1: the sweep was measured on other weights (model fingerprint %2; this model's "
                                  "is %3); not shown")
                                   .arg(origin, QString::fromStdString(want), QString::fromStdString(*have))));
        if (const QString error = show(); !error.isEmpty()) refuse(error);
    });
    return {};
}

std::optional<qs::SweepFile> SweepView::sweepFile() const {
    if (m_points.empty()) return std::nullopt;
    std::vector<qs::SweepRow> rows = m_points;
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.point < b.point; });
    std::string text = qs::sweepFileHeader(m_spec, qs::SweepShard{});
    for (const auto& r : rows) text += qs::sweepFileRow(m_spec, r);
    auto file = qs::parseSweepFileText(text, "the Sweep tab");
    if (!file) return std::nullopt;  // cannot happen: core's own writer and reader
    return std::move(file).value();
}

QString SweepView::resumeFrom(const QString& path) {
    auto fail = [this](const QString& why) {
        m_status->setText(why);
        Q_EMIT logMessage(true, tr("Resume sweep"), why);
        return why;
    };
    if (m_running) return fail(tr("A sweep is running; cancel it first."));
    if (!m_document->model()) return fail(tr("Open a model first."));
    auto file = isHdf5Table(path.toStdString()) ? qs::readSweepHdf5(path.toStdString())
                                                : qs::readSweepFile(path.toStdString());
    if (!file) return fail(QString::fromStdString(file.message()));
    // Nothing left to measure: the file is shown (after its model fingerprint is checked), without a job that
    // would ask for the text it was measured on.
    if (auto spec = qs::sweepSpecFromJson(m_document->model()->info, file->header["spec"]);
        spec && int64_t(file->rows.size()) >= spec->pointCount()) {
        Q_EMIT logMessage(false, tr("Resume sweep"),
                          tr("%1 is complete (all %2 points measured): shown, nothing to resume.")
                              .arg(path)
                              .arg(file->rows.size()));
        return showSweepFile(*file, path, {});
    }
    if (const QString error = loadSweepFile(*file, path, true); !error.isEmpty()) return fail(error);
    prepareAndStart(m_document->model(), path);
    return m_running ? QString() : m_status->text();
}

void SweepView::prepareAndStart(std::shared_ptr<const LoadedModel> model, const QString& resumePath) {
    m_running = true;
    if (m_eval->evaluates()) m_status->setText(tr("Loading the stored model…"));
    updateControls();
    QPointer<SweepView> self(this);
    m_eval->prepare(this, [self, model, resumePath](const QString& error, const EvalModels& models) {
        if (!self) return;
        self->m_running = false;
        if (!error.isEmpty()) {
            self->m_status->setText(error);
            Q_EMIT self->logMessage(true, resumePath.isEmpty() ? tr("Sweep") : tr("Resume sweep"), error);
            self->updateControls();
            return void(Q_EMIT self->sweepFinished(false));
        }
        self->startJob(model, models, resumePath);
    });
}

void SweepView::startJob(std::shared_ptr<const LoadedModel> model, const EvalModels& models,
                         const QString& resumePath) {
    m_queue = std::make_shared<SweepPointQueue>();
    SweepRequest request;
    request.evaluator.model = std::move(model);
    request.evaluator.measure = m_spec.measure;
    request.evaluator.perplexity = m_spec.perplexity;
    request.evaluator.textPath = m_eval->textPath().toStdString();
    request.evaluator.tokenizer = models.tokenizer;
    request.evaluator.unquantized = models.unquantized;
    request.evaluator.arena = m_runner->arena();
    request.evaluator.cache = m_document->quantCache();
    request.evaluator.calibration = m_document->calibrationSet();
    request.spec = m_spec;
    // Rows measured with calibrated schemes name their statistics, so resume and merge refuse other ones.
    if (request.spec.calibration.empty() && specUsesCalibration(request.spec))
        request.spec.calibration = sweepCalibrationKey(*m_document);
    request.queue = m_queue;
    request.resumePath = resumePath.toStdString();
    m_running = true;
    ++m_generation;
    const QString title = tr("%1 %2 points (%3)")
                              .arg(resumePath.isEmpty() ? tr("Sweep") : tr("Resume sweep"))
                              .arg(m_spec.pointCount())
                              .arg(QString::fromStdString(std::string(qs::sweepMeasureName(m_spec.measure))));
    Job* job = m_runner->start<qs::SweepRunResult>(title, sweepJob(std::move(request)));
    m_job = job;
    m_status->setText(tr("Sweeping %1 points…").arg(m_spec.pointCount()));
    connect(job, &Job::progressChanged, this, [this, job](double, const QString& stage) {
        if (job != m_job) return;
        drain();
        m_status->setText(tr("Sweeping: %1 of %2 points done (%3)")
                              .arg(m_points.size())
                              .arg(m_spec.pointCount())
                              .arg(stage));
    });
    connect(job, &Job::finished, this, [this, job, resumePath](Job::State state) {
        if (job != m_job) return;
        const QString error = job->errorMessage();
        const auto result = job->result<qs::SweepRunResult>();
        m_job = nullptr;
        m_running = false;
        drain();
        QString text;
        if (state == Job::State::Succeeded && result)
            text = tr("Swept %1 points in %2 s.")
                       .arg(result->measured)
                       .arg(QString::number(result->seconds, 'f', 1));
        else if (state == Job::State::Cancelled)
            text = tr("Sweep cancelled after %1 of %2 points.").arg(m_points.size()).arg(m_spec.pointCount());
        else
            text = tr("Sweep failed: %1").arg(error);
        if (result && !resumePath.isEmpty())
            text += tr(" %1 points were stored in %2 already; it now holds %3.")
                        .arg(result->skipped)
                        .arg(resumePath)
                        .arg(m_points.size());
        if (result)
            for (const std::string& w : result->warnings) {  // on the page and in the log (its count)
                text += tr("\nWarning: %1").arg(QString::fromStdString(w));
                Q_EMIT logMessage(false, resumePath.isEmpty() ? tr("Sweep") : tr("Resume sweep"),
                                  QString::fromStdString(w));
            }
        m_status->setText(text);
        if (state == Job::State::Failed)
            Q_EMIT logMessage(true, resumePath.isEmpty() ? tr("Sweep") : tr("Resume sweep"), text);
        updateControls();
        Q_EMIT sweepFinished(state == Job::State::Succeeded);
    });
    rebuildPlot();
    rebuildTable();
    updateControls();
}

void SweepView::drain() {
    if (!m_queue) return;
    std::vector<qs::SweepRow> rows = m_queue->take();
    if (rows.empty()) return;
    m_spec.modelFingerprint = m_queue->fingerprint();  // set before the first row, as the text's hash
    if (m_spec.measure != qs::SweepMeasure::WeightError)
        std::tie(m_spec.textHash, m_spec.textBytes) = m_queue->text();
    for (auto& r : rows) m_points.push_back(std::move(r));
    std::stable_sort(m_points.begin(), m_points.end(),  // a resumed file's points interleave with new ones
                     [](const auto& a, const auto& b) { return a.point < b.point; });
    rebuildPlot();
    rebuildTable();
    Q_EMIT pointsChanged();
}

void SweepView::cancel() {
    if (!m_running) return;
    if (m_job) return m_job->cancel();  // finishes as Cancelled through the slot above
    ++m_generation;
    m_eval->cancelPending();  // still waiting for the model build: drop its callback
    m_running = false;
    m_status->setText(tr("Sweep cancelled."));
    updateControls();
    Q_EMIT sweepFinished(false);
}

void SweepView::clearPoints() {
    m_points.clear();
    m_spec = {};
    rebuildPlot();
    rebuildTable();
    updateControls();
    Q_EMIT pointsChanged();
}

void SweepView::onModelChanged() {
    if (m_running) cancel();
    m_job = nullptr;  // a cancelled job's late points belong to the old model
    m_running = false;
    m_queue.reset();
    clearPoints();
    m_status->setText(tr("Choose groups and schemes, then run. Click a point to apply its map."));
}

double SweepView::measureOf(const qs::SweepRow& row) const {
    switch (m_spec.measure) {
        case qs::SweepMeasure::Ppl:
            return row.measure.ppl;
        case qs::SweepMeasure::Kld:
            return row.measure.kld;
        case qs::SweepMeasure::WeightError:
            break;
    }
    return row.measure.rmse;
}

double SweepView::sizeOf(const qs::SweepRow& row) const {
    return m_sizeAxis->currentIndex() == 1 ? double(row.measure.bytes) : row.measure.bpw;
}

std::vector<int> SweepView::frontier() const {
    std::vector<std::pair<double, double>> xy;
    xy.reserve(m_points.size());
    for (const auto& p : m_points)
        xy.emplace_back(double(p.measure.bytes), measureOf(p));  // bpw is bytes scaled
    return paretoFrontier(xy);
}

void SweepView::rebuildPlot() {
    QVector<double> x, y, fx, fy;
    bool allPositive = !m_points.empty();
    for (const auto& p : m_points) {
        x << sizeOf(p);
        y << measureOf(p);
        allPositive = allPositive && measureOf(p) > 0;
    }
    for (int i : frontier()) {
        fx << sizeOf(m_points[i]);
        fy << measureOf(m_points[i]);
    }
    m_plot->graph(0)->setData(x, y);
    m_plot->graph(1)->setData(fx, fy);
    QCPGraph* mix = m_plot->graph(2);
    mix->data()->clear();
    mix->removeFromLegend();
    if (autoMixPointShown()) {  // the same measure, so the same axes
        const double mx = m_sizeAxis->currentIndex() == 1 ? double(m_autoMixPoint.bytes) : m_autoMixPoint.bpw;
        const double my = measureOf(qs::SweepRow{-1, 0, 0, {}, m_autoMixPoint});
        mix->addData(mx, my);
        mix->setName(m_autoMixLabel);
        mix->addToLegend();
        allPositive = allPositive && my > 0;
    }
    const bool log = allPositive;
    m_plot->yAxis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (log)
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    else
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    m_plot->xAxis->setLabel(m_sizeAxis->currentIndex() == 1 ? tr("bytes") : tr("bits per weight"));
    const char* label = m_spec.measure == qs::SweepMeasure::Ppl   ? "perplexity"
                        : m_spec.measure == qs::SweepMeasure::Kld ? "KL divergence (nats)"
                                                                  : "RMSE of the quantized weights";
    m_plot->yAxis->setLabel(tr(label) + (log ? tr(" (log)") : QString()));
    m_plot->rescaleAxes();
    const QCPRange xr = m_plot->xAxis->range();
    const double pad = std::max(xr.size() * 0.05, xr.center() == 0 ? 1.0 : std::abs(xr.center()) * 0.01);
    m_plot->xAxis->setRange(xr.lower - pad, xr.upper + pad);
    const QCPRange yr = m_plot->yAxis->range();
    if (log)
        m_plot->yAxis->setRange(yr.lower / 1.3, yr.upper * 1.3);
    else
        m_plot->yAxis->setRange(yr.lower - std::max(yr.size() * 0.05, 1e-9),
                                yr.upper + std::max(yr.size() * 0.05, 1e-9));
    m_plot->replot();
}

void SweepView::rebuildTable() {
    QStringList headers{tr("#")};
    for (const auto& g : m_spec.groups) headers << QString::fromStdString(g.name);
    headers << tr("bytes") << tr("bits/weight") << tr("RMSE") << tr("SQNR dB");
    const bool ppl = m_spec.measure != qs::SweepMeasure::WeightError;
    const bool kld = m_spec.measure == qs::SweepMeasure::Kld;
    if (ppl) headers << tr("PPL");
    if (kld) headers << tr("KLD") << tr("top-1 %");
    headers << tr("frontier");
    m_table->setSortingEnabled(false);
    m_table->clearContents();
    m_table->setColumnCount(int(headers.size()));
    m_table->setHorizontalHeaderLabels(headers);
    m_table->setRowCount(int(m_points.size()));
    std::vector<bool> onFrontier(m_points.size(), false);
    for (int i : frontier()) onFrontier[size_t(i)] = true;
    for (int i = 0; i < int(m_points.size()); ++i) {
        const qs::SweepRow& p = m_points[size_t(i)];
        int c = 0;
        auto* first = new NumberItem(double(p.point), QString::number(p.point));
        first->setData(Qt::UserRole, i);
        m_table->setItem(i, c++, first);
        for (size_t j = 0; j < p.schemes.size(); ++j) {
            auto* item = new QTableWidgetItem(schemeLabel(p, j));
            if (item->text() != QString::fromStdString(p.schemes[j]))  // a fallback: the scheme asked for first
                item->setToolTip(tr("asked for %1; the tensors that do not fit it were stored with the scheme "
                                    "after the arrow (see the warnings)")
                                     .arg(QString::fromStdString(p.schemes[j])));
            m_table->setItem(i, c++, item);
        }
        m_table->setItem(i, c++, new NumberItem(double(p.measure.bytes), QString::number(p.measure.bytes)));
        m_table->setItem(i, c++, new NumberItem(p.measure.bpw, QString::number(p.measure.bpw, 'f', 4)));
        m_table->setItem(i, c++, new NumberItem(p.measure.rmse, number(p.measure.rmse)));
        m_table->setItem(i, c++,
                         new NumberItem(p.measure.sqnrDb, std::isinf(p.measure.sqnrDb)
                                                              ? QStringLiteral("inf")
                                                              : QString::number(p.measure.sqnrDb, 'f', 2)));
        if (ppl)
            m_table->setItem(i, c++, new NumberItem(p.measure.ppl, QString::number(p.measure.ppl, 'f', 4)));
        if (kld) {
            m_table->setItem(i, c++, new NumberItem(p.measure.kld, number(p.measure.kld)));
            m_table->setItem(i, c++,
                             new NumberItem(p.measure.top1, QString::number(100 * p.measure.top1, 'f', 2)));
        }
        m_table->setItem(i, c++, new QTableWidgetItem(onFrontier[size_t(i)] ? tr("yes") : QString()));
    }
    m_table->setSortingEnabled(true);
    m_table->resizeColumnsToContents();
}

QString SweepView::schemeLabel(const qs::SweepRow& row, size_t group) const {
    const QString requested = QString::fromStdString(row.schemes[group]);
    const auto model = m_document->model();
    if (row.measure.fallbacks.empty() || !model || group >= m_spec.groups.size()) return requested;
    return QString::fromStdString(
        qs::usedSchemeLabel(model->info, m_spec.groups[group], row.schemes[group], row.measure));
}

QString SweepView::pointText(int index) const {
    const qs::SweepRow& p = m_points[size_t(index)];
    QString text = tr("point #%1").arg(p.point);
    for (size_t j = 0; j < p.schemes.size() && j < m_spec.groups.size(); ++j)
        text += QStringLiteral("\n%1 = %2").arg(QString::fromStdString(m_spec.groups[j].name), schemeLabel(p, j));
    text += tr("\n%1 bytes, %2 bits/weight").arg(p.measure.bytes).arg(QString::number(p.measure.bpw, 'f', 4));
    text +=
        tr("\nRMSE %1, SQNR %2 dB").arg(number(p.measure.rmse), QString::number(p.measure.sqnrDb, 'f', 2));
    if (p.measure.hasPpl) text += tr("\nPPL %1").arg(QString::number(p.measure.ppl, 'f', 4));
    if (p.measure.hasKld)
        text += tr("\nKLD %1, top-1 %2 %")
                    .arg(number(p.measure.kld), QString::number(100 * p.measure.top1, 'f', 2));
    return text + tr("\n(click: apply this map)");
}

int SweepView::pointAt(const QPointF& pixel) const {
    // The nearest point within kMaxDistance pixels; a frontier point there wins over dominated points it
    // overlaps (the frontier is what one clicks for).
    constexpr double kMaxDistance = 8.0;  // pixels
    std::vector<bool> onFrontier(m_points.size(), false);
    for (int i : frontier()) onFrontier[size_t(i)] = true;
    int best = -1;
    double bestD = 0;
    for (int i = 0; i < int(m_points.size()); ++i) {
        const double px = m_plot->xAxis->coordToPixel(sizeOf(m_points[size_t(i)]));
        const double py = m_plot->yAxis->coordToPixel(measureOf(m_points[size_t(i)]));
        const double d = std::hypot(px - pixel.x(), py - pixel.y());
        if (d > kMaxDistance) continue;
        const bool better = best < 0 || (onFrontier[size_t(i)] && !onFrontier[size_t(best)]) ||
                            (onFrontier[size_t(i)] == onFrontier[size_t(best)] && d < bestD);
        if (better) {
            best = i;
            bestD = d;
        }
    }
    return best;
}

void SweepView::onPlotMouseMove(QMouseEvent* event) {
    const int i = pointAt(event->position());
    if (i < 0) return QToolTip::hideText();
    QToolTip::showText(event->globalPosition().toPoint(), pointText(i), m_plot);
}

void SweepView::onPlotMousePress(QMouseEvent* event) {
    if (event->button() != Qt::LeftButton) return;
    const int i = pointAt(event->position());
    if (i >= 0) applyPoint(i);
}

bool SweepView::applyPoint(int index) {
    const qs::ModelInfo* info = m_document->info();
    if (!info || index < 0 || index >= int(m_points.size())) return false;
    const qs::SweepRow& p = m_points[size_t(index)];
    std::vector<std::pair<qs::SweepGroup, std::string>> choices;
    for (size_t j = 0; j < m_spec.groups.size() && j < p.schemes.size(); ++j)
        choices.emplace_back(m_spec.groups[j], p.schemes[j]);
    auto map = qs::mapFor(*info, m_spec.baseline, choices);
    if (!map) {
        m_status->setText(tr("Point #%1: %2").arg(p.point).arg(QString::fromStdString(map.message())));
        return false;
    }
    m_document->setQuantMap(std::move(map).value(), tr("Sweep point #%1").arg(p.point));
    m_status->setText(tr("Applied point #%1 (Ctrl+Z undoes it).").arg(p.point));
    return true;
}

QString SweepView::exportTable(const QString& path) const {
    if (m_points.empty()) return tr("no points to export");
    std::vector<qs::SweepRow> rows = m_points;
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.point < b.point; });
    if (path.endsWith(QLatin1String(".h5"), Qt::CaseInsensitive)) {
        const qs::Status s = qs::writeSweepHdf5(path.toStdString(), m_spec, qs::SweepShard{}, rows);
        return s ? QString() : QString::fromStdString(s.message());
    }
    std::string text = qs::sweepFileHeader(m_spec, qs::SweepShard{});
    for (const auto& r : rows) text += qs::sweepFileRow(m_spec, r);
    QSaveFile out(path);
    if (!out.open(QIODevice::WriteOnly)) return path + QStringLiteral(": ") + out.errorString();
    out.write(text.data(), qint64(text.size()));
    if (!out.commit()) return path + QStringLiteral(": ") + out.errorString();
    return {};
}

QString SweepView::savePlot(const QString& path) const {
    bool ok = false;
    if (path.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive))
        ok = m_plot->savePdf(path);
    else if (path.endsWith(QLatin1String(".png"), Qt::CaseInsensitive))
        ok = m_plot->savePng(path, 0, 0, 2.0);
    else if (path.endsWith(QLatin1String(".svg"), Qt::CaseInsensitive))
        return savePlotSvg(m_plot, path, tr("QuantScope sweep"));
    else
        return path + tr(": give a .png, .svg or .pdf file name");
    return ok ? QString() : path + tr(": cannot be written");
}

void SweepView::exportTableDialog() {
    const QString path =
        QFileDialog::getSaveFileName(this, tr("Export the sweep"), QStringLiteral("sweep.csv"),
                                     tr("Sweep file (*.csv);;HDF5 table (*.h5)"));
    if (path.isEmpty()) return;
    const QString error = exportTable(path);
    m_status->setText(error.isEmpty() ? tr("Exported %1 points to %2.").arg(m_points.size()).arg(path)
                                      : error);
}

void SweepView::savePlotDialog() {
    const QString path =
        QFileDialog::getSaveFileName(this, tr("Save the plot"), QStringLiteral("sweep.png"),
                                     tr("PNG image (*.png);;SVG image (*.svg);;PDF (*.pdf)"));
    if (path.isEmpty()) return;
    const QString error = savePlot(path);
    m_status->setText(error.isEmpty() ? tr("Saved the plot to %1.").arg(path) : error);
}

void SweepView::updateControls() {
    m_runButton->setEnabled(!m_running && m_document->hasModel());
    m_resumeButton->setEnabled(!m_running && m_document->hasModel());
    m_cancelButton->setEnabled(m_running);
    m_exportButton->setEnabled(!m_points.empty());
    m_saveButton->setEnabled(!m_points.empty());
}

void SweepView::resumeDialog() {
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Resume a sweep"), QString(),
                                     tr("Sweep file (*.csv);;HDF5 sweep table (*.h5);;All files (*)"));
    if (!path.isEmpty()) resumeFrom(path);
}

void SweepView::setAutoMixPoint(qs::SweepMeasure measure, const qs::PointMeasure& point,
                                const QString& label) {
    m_hasAutoMix = true;
    m_autoMixMeasure = measure;
    m_autoMixPoint = point;
    m_autoMixLabel = label;
    rebuildPlot();
}

void SweepView::clearAutoMixPoint() {
    m_hasAutoMix = false;
    rebuildPlot();
}

bool SweepView::autoMixPointShown() const {
    return m_hasAutoMix && !m_points.empty() && m_autoMixMeasure == m_spec.measure;
}

}  // namespace qsui
