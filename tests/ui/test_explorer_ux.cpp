// SPDX-License-Identifier: GPL-3.0-or-later
// The explorer as a person uses it (issue 11), offscreen, on the real stories260K:
// - each role's share of the total, before and after the map, and bits per weight per role, in the footprint
//   table, the bar tooltips and labels, the summary and the status-bar text, computed here from the stored
//   tensor sizes and ggml's q8_0 block (34 bytes per 32 weights), not from the footprint code;
// - the map is never lost: a session file round-trips map, model and view; quit and opening another model
//   ask Save/Discard/Cancel on unsaved edits (Cancel keeps everything); a map carried to another model is
//   said in the log with the rules that match nothing there; reopening a model restores its last map;
// - a map that quantizes tensors of an already quantized GGUF says so (log and map editor warnings);
// - the layer heat table: equal values share one colour (not pale to deep red), nearly equal SQNRs do not
//   span the ramp, and the legend goes with the data (a cancelled first run leaves none);
// - tensor names: one label ("L3 · self_attn.q_proj", full name in the tooltip) in the tree, the layer
//   table and the map table;
// - layout: the window goes down to 960x600 with a model loaded (every view), Ctrl+1..4 switch the tabs, the
//   llama.cpp export refuses nf4 before any file dialog;
// - one rule numbering (from 1): the map table, the tie-conflict warning and the exported JSON agree.
#include <QApplication>
#include <QFile>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QTest>
#include <QUndoStack>

#include <cmath>
#include <memory>

#include <QSettings>
#include <QSignalSpy>

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "ui/footprint/footprint_view.h"
#include "core/quant/quant_map_export.h"
#include "ui/jobs/job.h"
#include "ui/mapeditor/map_editor_dock.h"
#include "ui/mapeditor/map_rule_model.h"
#include "ui/mapeditor/resolved_tensor_model.h"
#include <QComboBox>
#include <QLineEdit>
#include <QTableView>
#include <QDockWidget>
#include <QAction>
#include <QTabWidget>
#include "ui/tree/model_tree_dock.h"
#include "ui/tree/model_tree_model.h"
#include "ui/util/tensor_label.h"
#include "ui/layers/heat_legend.h"
#include "ui/layers/layer_overview_model.h"
#include "ui/layers/layer_overview_view.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/main_window.h"
#include "ui/session_controller.h"
#include "ui/plot/stacked_bar_chart.h"
#include "ui/summary/summary_view.h"

using namespace qsui;

namespace {

constexpr const char* kLlama2c = "models/stories260K-llama2c/stories260K.bin";
constexpr const char* kGguf = "models/stories260K-gguf/stories260K.gguf";
constexpr const char* kGgufQ4KM = "models/stories260K-gguf/stories260K-Q4_K_M.gguf";
constexpr int kTimeoutMs = 30000;

// Answers the next modal message box with `button` (polls until it shows; the box runs its own loop).
void answerNextPrompt(QMessageBox::StandardButton button, QString* text = nullptr) {
    auto* timer = new QTimer;
    timer->setInterval(20);
    QObject::connect(timer, &QTimer::timeout, [timer, button, text] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box) return;
        if (text) *text = box->text();
        timer->stop();
        timer->deleteLater();
        box->button(button)->click();
    });
    timer->start();
}

int logEntriesWith(const LogModel* log, const QString& text) {
    int n = 0;
    for (const LogEntry& e : log->entries()) n += e.message.contains(text);
    return n;
}

QString pct(double v) { return QStringLiteral("%1 %").arg(v, 0, 'f', 1); }

}  // namespace

class TestExplorerUx : public QObject {
    Q_OBJECT

    std::unique_ptr<tbb::task_arena> m_arena;
    std::unique_ptr<JobRunner> m_runner;
    std::unique_ptr<MainWindow> m_window;

    void makeWindow(bool useSettings) {
        m_window = std::make_unique<MainWindow>(m_runner.get(), MainWindowOptions{useSettings});
        m_window->resize(1280, 720);
        m_window->show();
    }
    bool load(const QString& path, QMessageBox::StandardButton answer = QMessageBox::NoButton) {
        QSignalSpy finished(m_window->loader(), &LoadController::loadFinished);
        if (answer != QMessageBox::NoButton) answerNextPrompt(answer);
        m_window->openPath(path);
        if (finished.isEmpty() && !finished.wait(kTimeoutMs)) return false;
        return finished.last().at(1).toBool();
    }
    Document* doc() const { return m_window->document(); }
    std::string mapText() const { return qs::quantMapToJson(doc()->quantMap()).dump(); }

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("QuantScopeTests"));
        QCoreApplication::setApplicationName(QStringLiteral("test_explorer_ux"));
        QSettings().clear();
    }
    void init() {
        m_arena = std::make_unique<tbb::task_arena>(2);
        m_runner = std::make_unique<JobRunner>(m_arena.get());
    }
    void cleanup() {
        m_window.reset();
        m_runner.reset();
        m_arena.reset();
        QSettings().clear();
    }

    void footprint_showsRoleSharesInPercentAndBitsPerWeight() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        QVERIFY(model);
        f.doc.setModel(model);
        FootprintView view(&f.doc);
        SummaryView summary(&f.doc);
        f.doc.setQuantMap(qstest::mapOf({"embedding=q8_0"}), QStringLiteral("test"));

        // Independent arithmetic: the stored bytes of every tensor (llama2.c stories260K stores no head: the
        // classifier is the embedding), the embedding 512 x 64 fp32 -> q8_0 = 512 * 64 / 32 * 34 bytes.
        uint64_t totalBefore = 0, embBefore = 0;
        for (const qs::TensorInfo& t : model->checkpoint->tensors) {
            totalBefore += t.bytes;
            if (t.name == "tok_embeddings.weight") embBefore = t.bytes;
        }
        QCOMPARE(embBefore, uint64_t(512 * 64 * 4));
        const uint64_t embAfter = 512 * 64 / 32 * 34;
        const uint64_t totalAfter = totalBefore - embBefore + embAfter;
        const double shareBefore = 100.0 * double(embBefore) / double(totalBefore);
        const double shareAfter = 100.0 * double(embAfter) / double(totalAfter);

        const qs::RoleShare& s = view.groupBytes(FootprintView::EmbeddingGroup).share;
        QVERIFY(std::abs(s.shareBefore - shareBefore) < 1e-9);
        QVERIFY(std::abs(s.shareAfter - shareAfter) < 1e-9);
        QCOMPARE(s.bitsBefore, 32.0);
        QCOMPARE(s.bitsAfter, 8.5);
        QCOMPARE(view.table()->item(FootprintView::EmbeddingGroup, FootprintView::ShareColumn)->text(),
                 QStringLiteral("%1 → %2").arg(pct(shareBefore), pct(shareAfter)));
        QCOMPARE(view.table()->item(FootprintView::EmbeddingGroup, FootprintView::BitsColumn)->text(),
                 QStringLiteral("32.00 → 8.50"));
        QCOMPARE(view.table()->item(FootprintView::GroupCount, FootprintView::ShareColumn)->text(),
                 QStringLiteral("100.0 % → 100.0 %"));
        // The shares of the groups add up to the whole on both sides.
        double sumBefore = 0, sumAfter = 0;
        for (int g = 0; g < FootprintView::GroupCount; ++g) {
            sumBefore += view.groupBytes(FootprintView::Group(g)).share.shareBefore;
            sumAfter += view.groupBytes(FootprintView::Group(g)).share.shareAfter;
        }
        QVERIFY(std::abs(sumBefore - 100.0) < 1e-9 && std::abs(sumAfter - 100.0) < 1e-9);

        // Chart: the label carries the share after the map, the tooltips both.
        QVERIFY(view.chart()->barLabel(FootprintView::EmbeddingGroup, FootprintView::AfterBar).endsWith(pct(shareAfter)));
        QVERIFY(view.chart()->barTooltip(FootprintView::EmbeddingGroup, FootprintView::BeforeBar)
                    .contains(pct(shareBefore) + QStringLiteral(" of the total")));
        QVERIFY(view.chart()->barTooltip(FootprintView::EmbeddingGroup, FootprintView::AfterBar)
                    .contains(pct(shareAfter) + QStringLiteral(" of the total")));
        // Status bar text: embedding + head (tied: 0) share before -> after.
        QVERIFY2(view.sizeSummary().contains(QStringLiteral("embedding + head %1 → %2").arg(pct(shareBefore), pct(shareAfter))),
                 qPrintable(view.sizeSummary()));
        // Summary: the role table with share and bits per weight.
        const QString html = summary.summaryHtml();
        auto unbroken = [](QString s) { return s.replace(QLatin1Char(' '), QStringLiteral("&nbsp;")); };
        QVERIFY(html.contains(unbroken(QStringLiteral("%1 → %2").arg(pct(shareBefore), pct(shareAfter)))));
        QVERIFY(html.contains(unbroken(QStringLiteral("32.00 → 8.50"))));

        // Undo: the shares go back to the stored ones (after == before).
        f.doc.undoStack()->undo();
        QVERIFY(std::abs(view.groupBytes(FootprintView::EmbeddingGroup).share.shareAfter - shareBefore) < 1e-9);
    }

    void session_mapIsNeverLostSilently() {
        QS_REQUIRE_ASSET(a, kLlama2c);
        QS_REQUIRE_ASSET(b, kGguf);
        makeWindow(/*useSettings=*/true);
        SessionController* session = m_window->session();
        QVERIFY(load(a));
        QVERIFY(!session->isModified());
        doc()->setQuantMap(qstest::mapOf({"body=q4_0"}), QStringLiteral("test"));
        QVERIFY(session->isModified());
        QVERIFY(m_window->isWindowModified());

        // Save: the file holds the model, the map and the view; the map is then clean.
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("s.qsession.json"));
        doc()->selectTensor(doc()->checkpoint()->find("layers.2.attention.wq.weight"));
        QVERIFY(session->saveSession(file));
        QVERIFY(!session->isModified() && !m_window->isWindowModified());
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        auto saved = sessionFromJson(f.readAll(), file);
        QVERIFY2(saved.ok(), saved.ok() ? "" : saved.message().c_str());
        QCOMPARE(QFileInfo(saved->modelPath), QFileInfo(a));
        QCOMPARE(saved->map.rules.size(), size_t(1));
        QCOMPARE(saved->selectedTensor, QStringLiteral("layers.2.attention.wq.weight"));
        const std::string savedMap = mapText();

        // An unsaved edit (a rule only the llama2.c names match): quit and open ask; Cancel keeps everything.
        qs::QuantMap edited = doc()->quantMap();
        auto r = qs::makePatternRule(qstest::mapOf({"embedding=q8_0"}).rules[0], "glob:tok_embeddings.weight");
        QVERIFY(r.ok());
        edited.rules.push_back(*r);
        doc()->setQuantMap(edited, QStringLiteral("test"));
        const std::string editedMap = mapText();
        QString prompt;
        answerNextPrompt(QMessageBox::Cancel, &prompt);
        QVERIFY(!m_window->close());
        QVERIFY(prompt.contains(QStringLiteral("unsaved")));
        QVERIFY(m_window->isVisible());
        answerNextPrompt(QMessageBox::Cancel);
        m_window->openPath(b);
        QVERIFY(!m_window->loader()->isLoading());
        QCOMPARE(QFileInfo(doc()->path()), QFileInfo(a));
        QCOMPARE(mapText(), editedMap);

        // Discard: the other model opens; the map is carried over and the log says so, naming rule 2 (1-based,
        // like the rule table) as matching nothing in the GGUF's names.
        QVERIFY(load(b, QMessageBox::Discard));
        QCOMPARE(QFileInfo(doc()->path()), QFileInfo(b));
        QCOMPARE(mapText(), editedMap);
        QCOMPARE(logEntriesWith(m_window->logModel(), QStringLiteral("carried over from stories260K.bin to stories260K.gguf")), 1);
        QCOMPARE(logEntriesWith(m_window->logModel(), QStringLiteral("rule(s) 2 match nothing in this model")), 1);

        // B gets its own map; going back to A restores A's last map (the unsaved edit included); undo brings
        // back the carried one.
        doc()->setQuantMap(qstest::mapOf({"all=q8_0"}), QStringLiteral("test"));
        const std::string mapB = mapText();
        QVERIFY(load(a, QMessageBox::Discard));
        QCOMPARE(mapText(), editedMap);
        QCOMPARE(logEntriesWith(m_window->logModel(), QStringLiteral("Restored this model's last quantization map")), 1);
        doc()->undoStack()->undo();
        QCOMPARE(mapText(), mapB);
        doc()->undoStack()->redo();

        // Opening the session file brings its map and selection back, clean.
        answerNextPrompt(QMessageBox::Discard);
        QVERIFY(session->maybeSave());
        QVERIFY(session->openSession(file));
        QCOMPARE(mapText(), savedMap);
        QVERIFY(!session->isModified());
        QCOMPARE(doc()->selectedTensor(), doc()->checkpoint()->find("layers.2.attention.wq.weight"));

        // New Map: empties the map (clean, nothing to ask).
        session->newMap();
        QVERIFY(doc()->quantMap().rules.empty());
        QVERIFY(m_window->close());
    }

    void requantize_alreadyQuantizedModel_saysSoInLogAndEditor() {
        QS_REQUIRE_ASSET(path, kGgufQ4KM);
        makeWindow(/*useSettings=*/false);
        QVERIFY(load(path));
        QCOMPARE(logEntriesWith(m_window->logModel(), QStringLiteral("--allow-requantize")), 0);
        doc()->setQuantMap(qstest::mapOf({"embedding=q8_0"}), QStringLiteral("test"));
        QCOMPARE(doc()->resolvedMap()->requantized.size(), size_t(1));
        QCOMPARE(logEntriesWith(m_window->logModel(), QStringLiteral("re-quantizing 1 tensor(s) already stored quantized")), 1);
        auto* list = m_window->findChild<QListWidget*>(QStringLiteral("mapWarnings"));
        QVERIFY(list);
        bool listed = false;
        for (int i = 0; i < list->count(); ++i)
            listed |= list->item(i)->text().contains(QStringLiteral("precision lost earlier cannot come back"));
        QVERIFY(listed);
        // The same map on the float GGUF: nothing re-quantized, nothing said.
        QS_REQUIRE_ASSET(f32, kGguf);
        QVERIFY(load(f32, QMessageBox::Discard));
        QVERIFY(doc()->resolvedMap()->requantized.empty());
    }

    void layerHeat_equalValuesShareOneColour_legendGoesWithTheData() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        qstest::AnalysisFixture f;
        f.doc.setModel(qstest::loadModel(path));
        f.doc.setQuantMap(qstest::mapOf({"attention=q4_0"}), QStringLiteral("test"));
        LayerOverviewView view(&f.doc, &f.runner);
        view.setAutoRecompute(false);
        view.resize(900, 500);
        // A first run cancelled at once: no data, no legend.
        view.show();
        QVERIFY(view.currentJob());
        view.currentJob()->cancel();
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        if (!view.model()->data()) {
            QVERIFY(view.legend()->isHidden());
            QVERIFY(view.legend()->betterText().isEmpty());
        }
        view.recompute();
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy() && view.model()->data(), kTimeoutMs);
        QVERIFY(!view.legend()->isHidden());
        LayerOverviewModel* m = view.model();

        // Bits per weight: every attention cell is q4_0, 4.5 bits exactly; one colour, the ramp's middle.
        m->setMetric(LayerOverviewModel::Metric::Bits);
        int att = -1;
        for (int c = 0; c < m->columnCount(); ++c)
            if (m->roleOfColumn(c) == qs::Role::Attention) att = c;
        QVERIFY(att >= 0);
        const QColor first = m->index(0, att).data(Qt::BackgroundRole).value<QColor>();
        for (int layer = 0; layer < 5; ++layer) {
            QCOMPARE(m->index(layer, att).data(LayerOverviewModel::ValueRole).toDouble(), 4.5);
            QCOMPARE(m->index(layer, att).data(Qt::BackgroundRole).value<QColor>(), first);
        }
        QCOMPARE(first, LayerOverviewModel::heatColor(0.5));
        QVERIFY(m->maxValue() - m->minValue() >= 1.0);

        // SQNR: the layers' values lie within a few dB; the scale spans at least 6 dB, so the best and the
        // worst cell are not the two ends of the ramp.
        m->setMetric(LayerOverviewModel::Metric::Sqnr);
        double lo = 1e300, hi = -1e300;
        for (int layer = 0; layer < 5; ++layer) {
            const double v = m->index(layer, att).data(LayerOverviewModel::ValueRole).toDouble();
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        QVERIFY2(hi - lo < 6.0, qPrintable(QStringLiteral("%1 .. %2").arg(lo).arg(hi)));
        QVERIFY(m->maxValue() - m->minValue() >= 6.0);
        QVERIFY(m->index(0, att).data(Qt::BackgroundRole).value<QColor>() != LayerOverviewModel::heatColor(1.0) ||
                m->index(1, att).data(Qt::BackgroundRole).value<QColor>() != LayerOverviewModel::heatColor(0.0));
        int ends = 0;
        for (int layer = 0; layer < 5; ++layer) {
            const QColor c = m->index(layer, att).data(Qt::BackgroundRole).value<QColor>();
            ends += c == LayerOverviewModel::heatColor(1.0) || c == LayerOverviewModel::heatColor(0.0);
        }
        QCOMPARE(ends, 0);

        // A new model clears the data and the legend with it.
        f.doc.setModel(nullptr);
        QVERIFY(view.legend()->isHidden());
    }

    void ruleNumbers_countFromOneEverywhere() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        qstest::AnalysisFixture f;
        f.doc.setModel(qstest::loadModel(path));
        // stories260K ties the head to the embedding: two rules for the pair conflict; the second one wins.
        f.doc.setQuantMap(qstest::mapOf({"embedding=q8_0", "head=q4_0"}), QStringLiteral("test"));
        const qs::ResolvedMap* res = f.doc.resolvedMap();
        QVERIFY(res && res->tieDisagreement);
        QString warning;
        for (const std::string& w : res->warnings)
            if (w.find("tied embedding/head") != std::string::npos) warning = QString::fromStdString(w);
        QVERIFY2(warning.contains(QStringLiteral("rule 1 (embedding")) && warning.contains(QStringLiteral("rule 2 (head")),
                 qPrintable(warning));
        const int emb = f.doc.checkpoint()->find("tok_embeddings.weight");
        ResolvedTensorModel table(&f.doc);
        int row = -1;
        for (int r = 0; r < table.rowCount(); ++r)
            if (table.index(r, 0).data().toString().contains(QStringLiteral("tok_embeddings")) ||
                table.index(r, 0).data(Qt::ToolTipRole).toString().contains(QStringLiteral("tok_embeddings.weight")))
                row = r;
        QVERIFY(row >= 0);
        QCOMPARE(table.index(row, ResolvedTensorModel::RuleColumn).data().toString(), QStringLiteral("2"));
        const nlohmann::json j = qs::resolvedMapJson(*res, f.doc.checkpoint()->tensors, *f.doc.info());
        for (const auto& t : j["resolved"])
            if (t["tensor"] == "tok_embeddings.weight") QCOMPARE(t["rule"].get<int>(), 2);
        QCOMPARE(res->tensors[size_t(emb)].rule, 1);  // the index inside the program stays 0-based
    }

    void tensorLabel_elidesTheCommonPrefix() {
        QCOMPARE(tensorLabel("model.layers.3.self_attn.q_proj.weight", 3), QStringLiteral("L3 · self_attn.q_proj"));
        QCOMPARE(tensorLabel("blk.12.attn_q.weight", 12), QStringLiteral("L12 · attn_q"));
        QCOMPARE(tensorLabel("layers.0.attention.wq.weight", 0), QStringLiteral("L0 · attention.wq"));
        QCOMPARE(tensorLabel("model.layers.3.self_attn.q_proj.bias", 3), QStringLiteral("L3 · self_attn.q_proj.bias"));
        QCOMPARE(tensorLabel("model.embed_tokens.weight", -1), QStringLiteral("embed_tokens.weight"));
        QCOMPARE(tensorLabel("output.weight", -1), QStringLiteral("output.weight"));
        // Issue 13 tryout: a bidi override showed "blk.0.attn_v.\u202eweight" as "attn_v.thgiew"; escapes and
        // control characters are written out, as the CLI does.
        QCOMPARE(tensorLabel("blk.0.attn_v.\xe2\x80\xae" "weight", 0), QStringLiteral("L0 · attn_v.\\u202eweight"));
        QCOMPARE(tensorLabel("x\x1b[31m\n", -1), QStringLiteral("x\\x1b[31m\\n"));
        QCOMPARE(printableName("a\xe2\x81\xa6" "b"), QStringLiteral("a\\u2066b"));
    }

    void tensorNames_sameLabelInTreeAndMapTable_fullNameInTooltip() {
        QS_REQUIRE_ASSET(path, "models/stories260K-hf");
        qstest::AnalysisFixture f;
        f.doc.setModel(qstest::loadModel(path));
        QVERIFY(f.doc.hasModel());
        const int q3 = f.doc.checkpoint()->find("model.layers.3.self_attn.q_proj.weight");
        QVERIFY(q3 >= 0);
        ModelTreeModel tree(&f.doc);
        const QModelIndex t = tree.indexOfTensor(q3);
        QCOMPARE(t.siblingAtColumn(ModelTreeModel::NameColumn).data().toString(), QStringLiteral("L3 · self_attn.q_proj"));
        QCOMPARE(t.siblingAtColumn(ModelTreeModel::NameColumn).data(Qt::ToolTipRole).toString(),
                 QStringLiteral("model.layers.3.self_attn.q_proj.weight"));
        ResolvedTensorModel table(&f.doc);
        QCOMPARE(table.index(q3, ResolvedTensorModel::TensorColumn).data().toString(), QStringLiteral("L3 · self_attn.q_proj"));
        QCOMPARE(table.index(q3, ResolvedTensorModel::TensorColumn).data(Qt::ToolTipRole).toString(),
                 QStringLiteral("model.layers.3.self_attn.q_proj.weight"));
    }

    void layout_fitsIn960x600_tabShortcuts_exportRefusesBeforeDialog() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        makeWindow(/*useSettings=*/false);
        QVERIFY(load(path));
        m_window->resize(960, 600);
        QTest::qWait(50);
        QCOMPARE(m_window->size(), QSize(960, 600));
        for (const char* view : {"footprint", "histogram", "layers", "outliers", "map", "tree", "chat"}) {
            m_window->views().show(view);
            QTest::qWait(20);
            QVERIFY2(m_window->size() == QSize(960, 600), view);
        }
        // The "Measured after quantizing" box does not grow the window.
        m_window->views().show(QStringLiteral("footprint"));
        m_window->footprintView()->setMeasuredText(
            QStringLiteral("<b>Measured after quantizing</b> (35 tensors): SQNR 22.9 dB, a long line that wraps ") +
            QString(200, QLatin1Char('x')));
        QTest::qWait(30);
        QCOMPARE(m_window->size(), QSize(960, 600));

        // Ctrl+1 .. Ctrl+4 pick the central tabs.
        auto* tabs = m_window->findChild<QTabWidget*>(QStringLiteral("centralTabs"));
        QVERIFY(tabs);
        for (int i = tabs->count(); i >= 1; --i) {
            QTest::keyClick(m_window.get(), Qt::Key(Qt::Key_0 + i), Qt::ControlModifier);
            QCOMPARE(tabs->currentIndex(), i - 1);
        }

        // An nf4 map cannot go to llama.cpp: the export says so in the log and no file dialog opens.
        QVERIFY(m_window->mapEditor()->applyPreset(QStringLiteral("nf4")));
        bool dialogShown = false;
        QTimer guard;
        guard.setInterval(10);
        QObject::connect(&guard, &QTimer::timeout, [&dialogShown] {
            if (QWidget* modal = QApplication::activeModalWidget()) {
                dialogShown = true;
                modal->close();
            }
        });
        guard.start();
        QAction* exportAction = nullptr;
        for (QAction* a : m_window->mapEditor()->findChildren<QAction*>())
            if (a->text().startsWith(QStringLiteral("Export llama.cpp"))) exportAction = a;
        QVERIFY(exportAction);
        exportAction->trigger();
        QTest::qWait(50);
        QVERIFY(!dialogShown);
        QCOMPARE(logEntriesWith(m_window->logModel(), QStringLiteral("Cannot export for llama.cpp")), 1);
        doc()->undoStack()->setClean();
    }

    void addRule_insertsNextUsefulRule_oneEnterCommitsTypedScheme() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        makeWindow(/*useSettings=*/false);
        QVERIFY(load(path));
        MapEditorDock* editor = m_window->mapEditor();
        editor->show();
        editor->raise();
        QAction* add = nullptr;
        for (QAction* a : editor->findChildren<QAction*>())
            if (a->text().remove(QLatin1Char('&')).startsWith(QStringLiteral("Add"))) add = a;
        QVERIFY(add);
        add->trigger();
        add->trigger();
        add->trigger();
        // body, then the embedding; the head is tied to it (skipped); attention and mlp are in the body: norm.
        const auto& rules = doc()->quantMap().rules;
        QCOMPARE(rules.size(), size_t(3));
        QCOMPARE(int(rules[0].role), int(qs::RuleRole::Body));
        QCOMPARE(rules[0].scheme, std::string("q4_K"));
        QCOMPARE(int(rules[1].role), int(qs::RuleRole::Embedding));
        QCOMPARE(rules[1].scheme, std::string("q8_0"));
        QCOMPARE(int(rules[2].role), int(qs::RuleRole::Norm));

        // A typed scheme: one Enter commits it.
        auto* view = editor->findChild<QTableView*>(QStringLiteral("mapRuleView"));
        QVERIFY(view);
        const QModelIndex cell = view->model()->index(0, MapRuleModel::SchemeColumn);
        view->setCurrentIndex(cell);
        view->edit(cell);
        QTest::qWait(20);
        auto* combo = view->findChild<QComboBox*>();
        QVERIFY(combo && combo->isEditable());
        combo->lineEdit()->selectAll();
        QTest::keyClicks(combo->lineEdit(), QStringLiteral("q5_0"));
        QTest::keyClick(combo->lineEdit(), Qt::Key_Return);
        QTRY_COMPARE(doc()->quantMap().rules[0].scheme, std::string("q5_0"));
        doc()->undoStack()->setClean();
    }

    void session_rejectsFilesThatAreNotSessions() {
        auto bad = sessionFromJson(R"({"version":1,"rules":[]})", QStringLiteral("map.json"));
        QVERIFY(!bad.ok());
        QVERIFY(QString::fromStdString(bad.message()).contains(QStringLiteral("map.json: no \"quantscope_session\"")));
        auto future = sessionFromJson(R"({"quantscope_session":9,"model":"x","map":{"version":1,"rules":[]}})", "f");
        QVERIFY(!future.ok() && QString::fromStdString(future.message()).contains(QStringLiteral("version 9")));
    }
};

QTEST_MAIN(TestExplorerUx)
#include "test_explorer_ux.moc"
