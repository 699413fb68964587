// SPDX-License-Identifier: GPL-3.0-or-later
// The quantization-map editor end to end, offscreen, on the real stories260K: a rule added through the
// editor's model changes the footprint's "after" numbers to exactly qs::footprintAfter's, Ctrl+Z / Ctrl+Shift+Z
// / Ctrl+Y sent to the window undo and redo it; a preset is one undo step; invalid input shows inline and
// leaves the map alone; bits/group edits rewrite the scheme; the resolved view shows the governing rules and
// stories260K's five ffn_down fallbacks for q4_0; JSON export -> import round-trips; the llama.cpp export
// refuses non-ggml schemes into the log; the Quantize job reports per-role SQNR equal to qs::applyMap's, a
// cancelled run changes nothing and a run overtaken by a map edit is discarded; the Q4_K_M-like preset
// reproduces llama-quantize's types on stories260K.gguf.
#include <QAction>
#include <QComboBox>
#include <QFile>
#include <QListWidget>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>

#include <cmath>
#include <memory>

#include <oneapi/tbb/task_arena.h>

#include "common/assets.h"
#include "common/test_arena.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "core/quant/footprint_after.h"
#include "core/quant/quant_map_resolve.h"
#include "ui/document.h"
#include "ui/footprint/footprint_view.h"
#include "ui/jobs/job_runner.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/main_window.h"
#include "ui/mapeditor/map_editor_dock.h"
#include "ui/mapeditor/map_presets.h"
#include "ui/mapeditor/map_rule_delegate.h"
#include "ui/mapeditor/map_rule_model.h"
#include "ui/mapeditor/quantize_controller.h"
#include "ui/mapeditor/resolved_tensor_model.h"
#include "ui/mapeditor/scheme_params.h"
#include "ui/plot/stacked_bar_chart.h"
#include "ui/util/format.h"

using namespace qsui;

namespace {

constexpr int kTimeoutMs = 30000;
constexpr const char* kLlama2c = "models/stories260K-llama2c/stories260K.bin";
constexpr const char* kGguf = "models/stories260K-gguf/stories260K.gguf";
constexpr const char* kGgufQ4KM = "models/stories260K-gguf/stories260K-Q4_K_M.gguf";

qs::QuantRule rule(qs::RuleRole role, const char* scheme) {
    qs::QuantRule r;
    r.role = role;
    r.scheme = scheme;
    return r;
}

int entriesWith(const LogModel* log, Severity severity, const QString& text) {
    int n = 0;
    for (const LogEntry& e : log->entries()) n += e.severity == severity && e.message.contains(text);
    return n;
}

std::string mapText(const qs::QuantMap& map) { return qs::quantMapToJson(map).dump(); }

}  // namespace

class TestMapEditor : public QObject {
    Q_OBJECT

    std::unique_ptr<tbb::task_arena> m_arena;
    std::unique_ptr<JobRunner> m_runner;
    std::unique_ptr<MainWindow> m_window;

    Document* doc() const { return m_window->document(); }
    MapEditorDock* editor() const { return m_window->mapEditor(); }

    bool load(const QString& path) {
        QSignalSpy finished(m_window->loader(), &LoadController::loadFinished);
        m_window->openPath(path);
        if (!finished.wait(kTimeoutMs) && finished.isEmpty()) return false;
        return finished.last().at(1).toBool();
    }

    // Expected per-group "after" bytes, from the core directly.
    qs::MapFootprint expectedFootprint() const {
        return qs::footprintAfter(*doc()->resolvedMap(), doc()->checkpoint()->tensors, *doc()->info());
    }

    void verifyFootprintMatchesCore() {
        const qs::MapFootprint fp = expectedFootprint();
        FootprintView* view = m_window->footprintView();
        const uint64_t body = fp.after.body();
        const uint64_t emb = fp.after.byRole[size_t(qs::Role::Embedding)];
        QCOMPARE(view->groupBytes(FootprintView::BodyGroup).after, body);
        QCOMPARE(view->groupBytes(FootprintView::EmbeddingGroup).after, emb);
        QCOMPARE(view->totalBytes().after, fp.after.total);
        QCOMPARE(view->totalBytes().before, fp.before.total);
        QCOMPARE(view->groupBytes(FootprintView::BodyGroup).afterMetadata, fp.afterOverhead.body());
        // The table and the plot show those numbers.
        QCOMPARE(view->table()->item(FootprintView::BodyGroup, FootprintView::AfterColumn)->text(), formatBytes(body));
        QCOMPARE(view->table()->item(FootprintView::GroupCount, FootprintView::AfterColumn)->text(),
                 formatBytes(fp.after.total));
        const double plotted = view->chart()->plottedTotal(FootprintView::BodyGroup, FootprintView::AfterBar);
        QVERIFY2(std::abs(plotted * view->chartUnit() - double(body)) < 0.5,
                 qPrintable(QStringLiteral("plotted %1 x %2 vs %3").arg(plotted).arg(view->chartUnit()).arg(body)));
        const double plottedMeta = view->chart()->plottedValue(FootprintView::BodyGroup, FootprintView::AfterBar,
                                                               FootprintView::MetadataSegment);
        QVERIFY(std::abs(plottedMeta * view->chartUnit() - double(fp.afterOverhead.body())) < 0.5);
    }

    void pressOnWindow(int key, Qt::KeyboardModifiers mods) {
        QTest::keyClick(m_window.get(), Qt::Key(key), mods);
    }

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("QuantScopeTests"));
        QCoreApplication::setApplicationName(QStringLiteral("test_map_editor"));
    }

    void init() {
        m_arena = std::make_unique<tbb::task_arena>(2);
        m_runner = std::make_unique<JobRunner>(m_arena.get());
        m_window = std::make_unique<MainWindow>(m_runner.get(), MainWindowOptions{/*useSettings=*/false});
        m_window->resize(1280, 720);
        m_window->show();
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
    }

    void cleanup() {
        m_window.reset();
        m_runner.reset();
        m_arena.reset();
    }

    void addRule_changesFootprint_undoRedoByKeys() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        FootprintView* view = m_window->footprintView();
        const uint64_t bodyBefore = view->groupBytes(FootprintView::BodyGroup).before;
        QCOMPARE(view->groupBytes(FootprintView::BodyGroup).after, bodyBefore);  // no rules yet
        QVERIFY(m_window->views().contains(QStringLiteral("map")));
        QVERIFY(m_window->views().show(QStringLiteral("map")));

        editor()->ruleModel()->addRule(rule(qs::RuleRole::Body, "q4_0"));
        QCOMPARE(doc()->undoStack()->count(), 1);
        const uint64_t bodyAfter = view->groupBytes(FootprintView::BodyGroup).after;
        QVERIFY(bodyAfter < bodyBefore / 3);  // q4_0 is 4.5 bpw, f16 fallbacks for ffn_down
        verifyFootprintMatchesCore();
        QVERIFY(view->sizeSummary().contains(QStringLiteral("→")));

        pressOnWindow(Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(doc()->quantMap().rules.size(), size_t(0));
        QCOMPARE(view->groupBytes(FootprintView::BodyGroup).after, bodyBefore);
        verifyFootprintMatchesCore();

        pressOnWindow(Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
        QCOMPARE(view->groupBytes(FootprintView::BodyGroup).after, bodyAfter);
        pressOnWindow(Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(view->groupBytes(FootprintView::BodyGroup).after, bodyBefore);
        pressOnWindow(Qt::Key_Y, Qt::ControlModifier);
        QCOMPARE(view->groupBytes(FootprintView::BodyGroup).after, bodyAfter);
        verifyFootprintMatchesCore();
        QVERIFY(m_window->undoAction()->isEnabled());
    }

    void preset_isOneUndoStep() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        editor()->ruleModel()->addRule(rule(qs::RuleRole::All, "q8_0"));
        const std::string before = mapText(doc()->quantMap());
        const int steps = doc()->undoStack()->count();
        QVERIFY(editor()->applyPreset(QStringLiteral("k-mix")));
        QCOMPARE(doc()->undoStack()->count(), steps + 1);
        QCOMPARE(doc()->quantMap().rules.size(), size_t(3));
        QCOMPARE(editor()->ruleModel()->rowCount(), 3);
        QVERIFY(doc()->undoStack()->undoText().contains(QStringLiteral("body q4_K, embedding q8_0, head q6_K")));
        verifyFootprintMatchesCore();
        // The tied pair: embedding q8_0 vs head q6_K disagree, listed under the table.
        bool tieWarning = false;
        for (int i = 0; i < editor()->warningsList()->count(); ++i)
            tieWarning |= editor()->warningsList()->item(i)->text().contains(QStringLiteral("disagree"));
        QVERIFY(tieWarning);
        m_window->undoAction()->trigger();
        QCOMPARE(mapText(doc()->quantMap()), before);

        // Every preset builds and resolves on this model; "clear" empties the map.
        for (const MapPreset& p : mapPresets()) {
            QVERIFY2(editor()->applyPreset(p.id), qPrintable(p.id));
            QVERIFY2(doc()->resolvedMap(), qPrintable(p.id));
        }
        QCOMPARE(doc()->quantMap().rules.size(), size_t(0));
        QVERIFY(!editor()->applyPreset(QStringLiteral("no-such-preset")));
        QCOMPARE(entriesWith(m_window->logModel(), Severity::Error, QStringLiteral("no-such-preset")), 1);
    }

    void presetInt8TwoBit_usesInt2g64ForBody() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        QVERIFY(editor()->applyPreset(QStringLiteral("int8-2bit")));
        const int wq = doc()->info()->findKind(qs::TensorKind::Wq, 2);
        const int emb = doc()->info()->findKind(qs::TensorKind::TokenEmbedding);
        QCOMPARE(doc()->resolvedMap()->tensors[size_t(wq)].scheme, std::string("int2_g64"));
        QCOMPARE(doc()->resolvedMap()->tensors[size_t(emb)].scheme, std::string("int8"));
    }

    void invalidLayerRange_showsInlineErrorAndKeepsMap() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        MapRuleModel* rules = editor()->ruleModel();
        rules->addRule(rule(qs::RuleRole::Body, "q4_0"));
        const std::string before = mapText(doc()->quantMap());
        const int steps = doc()->undoStack()->count();
        const QModelIndex layers = rules->index(0, MapRuleModel::LayersColumn);

        QVERIFY(!rules->setData(layers, QStringLiteral("0-x")));
        QCOMPARE(mapText(doc()->quantMap()), before);
        QCOMPARE(doc()->undoStack()->count(), steps);
        QCOMPARE(layers.data().toString(), QStringLiteral("0-x"));  // the typed text stays, marked
        QVERIFY(layers.data(Qt::BackgroundRole).value<QBrush>().color().red() > 200);
        QVERIFY(layers.data(Qt::ToolTipRole).toString().contains(QStringLiteral("bad layer range")));
        QVERIFY(!rules->invalidMessage(0, MapRuleModel::LayersColumn).isEmpty());

        // A bad scheme and a bad regex likewise; a valid value clears the mark and is one undo step.
        QVERIFY(!rules->setData(rules->index(0, MapRuleModel::SchemeColumn), QStringLiteral("q4_Q")));
        QVERIFY(rules->invalidMessage(0, MapRuleModel::SchemeColumn).contains(QStringLiteral("q4_Q")));
        QVERIFY(!rules->setData(rules->index(0, MapRuleModel::PatternColumn), QStringLiteral("regex:(")));
        QCOMPARE(mapText(doc()->quantMap()), before);

        QVERIFY(rules->setData(layers, QStringLiteral("0-2, 4")));
        QVERIFY(rules->invalidMessage(0, MapRuleModel::LayersColumn).isEmpty());
        QCOMPARE(doc()->quantMap().rules[0].layersText(), std::string("0-2,4"));
        QCOMPARE(doc()->undoStack()->count(), steps + 1);
        QCOMPARE(doc()->undoStack()->undoText(), QStringLiteral("Edit rule 1 layers"));
        const int wq3 = doc()->info()->findKind(qs::TensorKind::Wq, 3);
        QCOMPARE(doc()->resolvedMap()->tensors[size_t(wq3)].scheme, std::string());  // layer 3 left out
    }

    // The scheme picker is the registry's: LLM.int8 is offered, and a typed HQQ option name is taken.
    void schemePicker_offersTheRegistrysSchemes() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        MapRuleModel* rules = editor()->ruleModel();
        rules->addRule(rule(qs::RuleRole::Body, "int4_g128"));
        const QModelIndex scheme = rules->index(0, MapRuleModel::SchemeColumn);
        MapRuleDelegate delegate;
        QWidget parent;  // owns the editor
        auto* combo = qobject_cast<QComboBox*>(delegate.createEditor(&parent, QStyleOptionViewItem(), scheme));
        QVERIFY(combo);
        for (const auto& s : qs::listSchemes())
            QVERIFY2(combo->findText(QString::fromStdString(s->name())) >= 0, s->name().c_str());
        QVERIFY(combo->findText(QStringLiteral("llmint8")) >= 0);
        QVERIFY(rules->setData(scheme, QStringLiteral("hqq4_g64_axis0_scale")));
        QCOMPARE(scheme.data().toString(), QStringLiteral("hqq4_g64_axis0_scale"));
    }

    void bitsAndGroupEdits_rewriteTheScheme() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        MapRuleModel* rules = editor()->ruleModel();
        rules->addRule(rule(qs::RuleRole::Body, "int4_g128"));
        const QModelIndex scheme = rules->index(0, MapRuleModel::SchemeColumn);
        QCOMPARE(rules->index(0, MapRuleModel::BitsColumn).data().toString(), QStringLiteral("4"));
        QCOMPARE(rules->index(0, MapRuleModel::GroupColumn).data().toString(), QStringLiteral("128"));
        QVERIFY(rules->setData(rules->index(0, MapRuleModel::BitsColumn), QStringLiteral("3")));
        QCOMPARE(scheme.data().toString(), QStringLiteral("int3_g128"));
        QCOMPARE(doc()->undoStack()->undoText(), QStringLiteral("Edit rule 1 scheme"));
        QVERIFY(rules->setData(rules->index(0, MapRuleModel::GroupColumn), QStringLiteral("64")));
        QCOMPARE(scheme.data().toString(), QStringLiteral("int3_g64"));
        QVERIFY(!rules->setData(rules->index(0, MapRuleModel::BitsColumn), QStringLiteral("9")));
        QCOMPARE(scheme.data().toString(), QStringLiteral("int3_g64"));
        QVERIFY(rules->setData(scheme, QStringLiteral("nf4")));
        QVERIFY(!(rules->flags(rules->index(0, MapRuleModel::BitsColumn)) & Qt::ItemIsEditable));
        QCOMPARE(rules->index(0, MapRuleModel::GroupColumn).data().toString(), QStringLiteral("64"));
    }

    void schemeRewrites_data() {
        QTest::addColumn<QString>("scheme");
        QTest::addColumn<QString>("bits");
        QTest::addColumn<QString>("group");
        QTest::addColumn<QString>("expected");  // "" = refused
        QTest::newRow("rtn bits") << "int4_g128" << "3" << "" << "int3_g128";
        QTest::newRow("rtn bits keeps sym") << "int4_g128_sym" << "8" << "" << "int8_g128_sym";
        QTest::newRow("rtn group") << "int4_g128" << "" << "32" << "int4_g32";
        QTest::newRow("rtn to row") << "int4_g128_sym" << "" << "row" << "int4_sym";
        QTest::newRow("rtn to col") << "int8" << "" << "col" << "int8_col";
        QTest::newRow("rtn bits out of range") << "int4" << "1" << "" << "";
        QTest::newRow("rtn bad group") << "int4" << "" << "wide" << "";
        QTest::newRow("ggml k") << "q4_K" << "3" << "" << "q3_K";
        QTest::newRow("ggml _0") << "q4_0" << "5" << "" << "q5_0";
        QTest::newRow("ggml missing type") << "q4_0" << "2" << "" << "";
        QTest::newRow("ggml group fixed") << "q4_K" << "" << "128" << "";
        QTest::newRow("nf4 bits fixed") << "nf4" << "3" << "" << "";
        QTest::newRow("nf4 block") << "nf4_dq" << "" << "128" << "nf4_dq_g128";
        QTest::newRow("nf4 default block") << "nf4_g128" << "" << "64" << "nf4";
        QTest::newRow("f16") << "f16" << "8" << "" << "";
        QTest::newRow("hqq bits") << "hqq4_g64" << "2" << "" << "hqq2_g64";
        QTest::newRow("hqq 1 bit") << "hqq4_g64" << "1" << "" << "hqq1_g64";
        QTest::newRow("hqq group") << "hqq4_g64" << "" << "32" << "hqq4_g32";
        QTest::newRow("hqq no row") << "hqq4_g64" << "" << "row" << "";
        QTest::newRow("hqq group keeps options") << "hqq4_g64_axis0_scale" << "" << "16" << "hqq4_g16_axis0_scale";
        QTest::newRow("hqq bits keeps options") << "hqq4_g64_scale" << "3" << "" << "hqq3_g64_scale";
        QTest::newRow("llmint8 fixed") << "llmint8" << "4" << "" << "";
        QTest::newRow("hqq bits out of range") << "hqq4_g64" << "9" << "" << "";
        QTest::newRow("kmeans to row") << "kmeans4_g64" << "" << "row" << "kmeans4";
        QTest::newRow("kmeans group") << "kmeans4" << "" << "128" << "kmeans4_g128";
        QTest::newRow("kmeans group below codebook") << "kmeans4" << "" << "8" << "";
        QTest::newRow("sortbins bits") << "sortbins4_g64" << "3" << "" << "sortbins3_g64";
        QTest::newRow("sortbins no row") << "sortbins4_g64" << "" << "row" << "";
    }
    void schemeRewrites() {
        QFETCH(QString, scheme);
        QFETCH(QString, bits);
        QFETCH(QString, group);
        QFETCH(QString, expected);
        auto r = bits.isEmpty() ? schemeWithGroup(scheme.toStdString(), group) : schemeWithBits(scheme.toStdString(), bits);
        if (expected.isEmpty()) {
            QVERIFY2(!r.ok(), r.ok() ? r.value().c_str() : "");
            QVERIFY(!r.message().empty());
        } else {
            QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
            QCOMPARE(QString::fromStdString(*r), expected);
        }
    }

    void resolvedView_showsRulesAndFfnDownFallbacks() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        editor()->ruleModel()->addRule(rule(qs::RuleRole::All, "q8_0"));
        editor()->ruleModel()->addRule(rule(qs::RuleRole::Body, "q4_0"));
        ResolvedTensorModel* res = editor()->resolvedModel();
        const qs::ModelInfo* info = doc()->info();
        QCOMPARE(res->rowCount(), doc()->tensorCount());
        for (int layer = 0; layer < 5; ++layer) {
            const int wq = info->findKind(qs::TensorKind::Wq, layer);
            QCOMPARE(res->index(wq, ResolvedTensorModel::RuleColumn).data().toString(), QStringLiteral("2"));
            QVERIFY(res->index(wq, ResolvedTensorModel::SchemeColumn).data().toString().endsWith(QStringLiteral("q4_0")));
            const int down = info->findKind(qs::TensorKind::Down, layer);
            QVERIFY(res->index(down, ResolvedTensorModel::FallbackColumn).data().toString().contains(QStringLiteral("172")));
            QVERIFY(res->index(down, ResolvedTensorModel::SchemeColumn).data().toString().endsWith(QStringLiteral("f16")));
        }
        const int emb = info->findKind(qs::TensorKind::TokenEmbedding);
        QCOMPARE(res->index(emb, ResolvedTensorModel::RuleColumn).data().toString(), QStringLiteral("1"));
        QCOMPARE(doc()->resolvedMap()->fallbacks.size(), size_t(5));
        int fallbackWarnings = 0;
        for (int i = 0; i < editor()->warningsList()->count(); ++i)
            fallbackWarnings += editor()->warningsList()->item(i)->text().contains(QStringLiteral("feed_forward.w2"));
        QCOMPARE(fallbackWarnings, 5);
        // Norms are untouched by "all" and "body": no rule.
        const int norm = info->findKind(qs::TensorKind::AttnNorm, 0);
        QCOMPARE(res->index(norm, ResolvedTensorModel::RuleColumn).data().toString(), QStringLiteral("—"));

        // Selecting a rule highlights the tensors it governs (body: 5 layers x 7 matrices).
        editor()->ruleView()->setCurrentIndex(editor()->ruleModel()->index(1, MapRuleModel::RoleColumn));
        QCOMPARE(res->highlightedRule(), 1);
        QCOMPARE(res->highlightedCount(), 35);
        QCOMPARE(editor()->ruleModel()->index(1, MapRuleModel::TensorsColumn).data().toInt(), 35);
        int highlighted = 0;
        for (int r = 0; r < res->rowCount(); ++r) highlighted += res->index(r, 0).data(ResolvedTensorModel::HighlightedRole).toBool();
        QCOMPARE(highlighted, 35);

        // Selecting a tensor row selects it everywhere, and the other way round.
        const int w2 = info->findKind(qs::TensorKind::Down, 3);
        editor()->resolvedView()->setCurrentIndex(res->index(w2, ResolvedTensorModel::TensorColumn));
        QCOMPARE(doc()->selectedTensor(), w2);
        doc()->selectTensor(emb);
        QCOMPARE(editor()->resolvedView()->currentIndex().row(), emb);
    }

    void moveAndRemove_byKeysOnTheRuleTable() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        QVERIFY(m_window->views().show(QStringLiteral("map")));
        MapRuleModel* rules = editor()->ruleModel();
        rules->addRule(rule(qs::RuleRole::All, "q8_0"));
        rules->addRule(rule(qs::RuleRole::Body, "q4_0"));
        QTableView* view = editor()->ruleView();
        view->setFocus();
        view->setCurrentIndex(rules->index(1, MapRuleModel::RoleColumn));
        QTest::keyClick(view, Qt::Key_Up, Qt::ControlModifier);
        QCOMPARE(doc()->quantMap().rules[0].scheme, std::string("q4_0"));
        QCOMPARE(view->currentIndex().row(), 0);
        QTest::keyClick(view, Qt::Key_Down, Qt::ControlModifier);
        QCOMPARE(doc()->quantMap().rules[1].scheme, std::string("q4_0"));
        QTest::keyClick(view, Qt::Key_Delete);
        QCOMPARE(doc()->quantMap().rules.size(), size_t(1));
        QCOMPARE(doc()->quantMap().rules[0].scheme, std::string("q8_0"));
        QCOMPARE(doc()->undoStack()->undoText(), QStringLiteral("Remove rule 2"));
    }

    void jsonExportImport_roundTrip() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        QVERIFY(editor()->applyPreset(QStringLiteral("k-mix")));
        MapRuleModel* rules = editor()->ruleModel();
        QVERIFY(rules->setData(rules->index(0, MapRuleModel::PatternColumn), QStringLiteral("regex:attn|ffn")));
        QVERIFY(rules->setData(rules->index(0, MapRuleModel::LayersColumn), QStringLiteral("0-1,3")));
        QVERIFY(rules->setData(rules->index(0, MapRuleModel::CommentColumn), QStringLiteral("the body")));
        const std::string exported = mapText(doc()->quantMap());
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString file = dir.filePath(QStringLiteral("map.json"));
        QVERIFY(editor()->exportJson(file));
        QVERIFY(QFile::exists(file));

        QVERIFY(editor()->applyPreset(QStringLiteral("clear")));
        QVERIFY(editor()->importMap(file));
        QCOMPARE(mapText(doc()->quantMap()), exported);
        QCOMPARE(doc()->undoStack()->undoText(), QStringLiteral("Import map map.json"));

        // A broken file: an error in the log, the map unchanged.
        const QString broken = dir.filePath(QStringLiteral("broken.json"));
        QFile out(broken);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(R"({"version":1,"rules":[{"role":"bdy","scheme":"q4_0"}]})");
        out.close();
        QVERIFY(!editor()->importMap(broken));
        QCOMPARE(mapText(doc()->quantMap()), exported);
        QCOMPARE(entriesWith(m_window->logModel(), Severity::Error, QStringLiteral("bdy")), 1);
        QVERIFY(!editor()->importMap(dir.filePath(QStringLiteral("missing.json"))));
        QVERIFY(!editor()->exportJson(dir.filePath(QStringLiteral("no/such/dir/map.json"))));
    }

    void llamaCppExport_refusesNonGgmlIntoTheLog() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("types.txt"));
        QVERIFY(editor()->applyPreset(QStringLiteral("nf4")));
        QVERIFY(!editor()->exportLlamaCpp(file));
        QVERIFY(!QFile::exists(file));
        QCOMPARE(entriesWith(m_window->logModel(), Severity::Error, QStringLiteral("nf4")), 1);

        QVERIFY(editor()->applyPreset(QStringLiteral("q8_0")));
        QVERIFY(editor()->exportLlamaCpp(file));
        QFile in(file);
        QVERIFY(in.open(QIODevice::ReadOnly));
        const QByteArray text = in.readAll();
        QVERIFY(text.contains("=q8_0"));
        QVERIFY(text.contains("blk\\.0\\.attn_q\\.weight"));
    }

    void quantize_reportsPerRoleSqnr() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        editor()->ruleModel()->addRule(rule(qs::RuleRole::Body, "q4_0"));
        QuantizeController* q = m_window->quantizeController();
        QVERIFY(q->action()->isEnabled());
        QSignalSpy done(q, &QuantizeController::runFinished);
        const int steps = doc()->undoStack()->count();
        q->action()->trigger();
        QVERIFY(q->job());
        QVERIFY(done.wait(kTimeoutMs));
        QCOMPARE(done.last().at(0).toBool(), true);
        QVERIFY(q->measurement().has_value());
        const QuantizeController::Measurement& m = *q->measurement();
        QCOMPARE(m.quantizedTensors, 35);

        // Same numbers as the core computes directly (deterministic whatever the thread count).
        auto direct = qs::applyMap(*doc()->checkpoint(), *doc()->info(), *doc()->resolvedMap(), {},
                                   qstest::testArena());
        QVERIFY(direct.ok());
        qs::ErrorSums body = direct->roleError[size_t(qs::Role::Attention)].sums;
        body += direct->roleError[size_t(qs::Role::Mlp)].sums;
        const qs::ErrorStats expected = qs::ErrorStats::fromSums(body);
        QCOMPARE(m.groups[FootprintView::BodyGroup].sqnrDb, expected.sqnrDb);
        QCOMPARE(m.groups[FootprintView::BodyGroup].rmse, expected.rmse);
        QVERIFY(m.groups[FootprintView::BodyGroup].sqnrDb > 10 && m.groups[FootprintView::BodyGroup].sqnrDb < 40);
        QCOMPARE(m.groups[FootprintView::EmbeddingGroup].count, uint64_t(0));  // not quantized

        const QString panel = m_window->footprintView()->measuredText();
        QVERIFY(panel.contains(QStringLiteral("body SQNR %1 dB").arg(expected.sqnrDb, 0, 'f', 1)));
        QCOMPARE(entriesWith(m_window->logModel(), Severity::Info, QStringLiteral("body SQNR")), 1);
        QCOMPARE(doc()->undoStack()->count(), steps);  // quantizing is not an edit

        // The next map edit makes the measurement stale: it goes.
        editor()->ruleModel()->addRule(rule(qs::RuleRole::Embedding, "q8_0"));
        QVERIFY(!q->measurement().has_value());
        QVERIFY(m_window->footprintView()->measuredText().isEmpty());
    }

    void quantize_cancelledByEscChangesNothing() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        editor()->ruleModel()->addRule(rule(qs::RuleRole::All, "q4_K"));
        const std::string map = mapText(doc()->quantMap());
        const int steps = doc()->undoStack()->count();
        QuantizeController* q = m_window->quantizeController();
        QSignalSpy done(q, &QuantizeController::runFinished);
        QVERIFY(q->start());
        QPointer<Job> job = q->job();
        QVERIFY(job);
        // Esc reaches the window's cancel action before the job can deliver: a cancelled job never succeeds.
        pressOnWindow(Qt::Key_Escape, Qt::NoModifier);
        QVERIFY(job && job->isCancelRequested());
        QVERIFY(done.wait(kTimeoutMs));
        QCOMPARE(done.last().at(0).toBool(), false);
        QVERIFY(!q->measurement().has_value());
        QVERIFY(m_window->footprintView()->measuredText().isEmpty());
        QCOMPARE(mapText(doc()->quantMap()), map);
        QCOMPARE(doc()->undoStack()->count(), steps);
        QCOMPARE(entriesWith(m_window->logModel(), Severity::Info, QStringLiteral("cancelled")), 1);
    }

    void quantize_resultDiscardedWhenTheMapChangesMeanwhile() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(load(path));
        editor()->ruleModel()->addRule(rule(qs::RuleRole::Body, "q4_0"));
        QuantizeController* q = m_window->quantizeController();
        QSignalSpy done(q, &QuantizeController::runFinished);
        QVERIFY(q->start());
        // The job's completion is a queued signal: this edit lands before it is delivered.
        editor()->ruleModel()->addRule(rule(qs::RuleRole::Embedding, "q8_0"));
        QVERIFY(done.wait(kTimeoutMs));
        QCOMPARE(done.last().at(0).toBool(), false);
        QVERIFY(!q->measurement().has_value());
        QCOMPARE(entriesWith(m_window->logModel(), Severity::Info, QStringLiteral("discarded")), 1);
    }

    void q4KMPreset_matchesLlamaQuantizeTypes() {
        QS_REQUIRE_ASSET(f32Path, kGguf);
        QS_REQUIRE_ASSET(q4kmPath, kGgufQ4KM);
        auto f32 = qs::openCheckpoint(f32Path.toStdString());
        auto q4km = qs::openCheckpoint(q4kmPath.toStdString());
        QVERIFY(f32.ok() && q4km.ok());
        const qs::ModelInfo info = qs::analyzeModel(**f32);
        auto map = buildMapPreset(QStringLiteral("q4_k_m"), &info);
        QVERIFY2(map.ok(), map.ok() ? "" : map.message().c_str());
        QVERIFY(!buildMapPreset(QStringLiteral("q4_k_m"), nullptr).ok());  // needs the layer count
        auto resolved = qs::resolveMap(*map, (*f32)->tensors, info);
        QVERIFY(resolved.ok());
        // The converter stored output.weight as a byte copy of token_embd: QuantScope ties the pair and stores
        // it once at the later rule's type (head q6_K -> q8_0 for rows of 64), which is what llama-quantize gave
        // output.weight; llama-quantize, unaware of the tie, gave the copy in token_embd q4_K -> q5_0.
        QVERIFY(info.tie.has_value());
        const int emb = info.tie->embedding;
        QCOMPARE(resolved->tensors[size_t(emb)].scheme, std::string("q8_0"));
        QCOMPARE(qs::dtypeName((*q4km)->tensors[size_t((*q4km)->find("output.weight"))].dtype), std::string_view("Q8_0"));
        int compared = 0;
        for (const qs::TensorInfo& t : (*q4km)->tensors) {
            const int i = (*f32)->find(t.name);
            QVERIFY2(i >= 0, t.name.c_str());
            if (i == emb) continue;
            const qs::TensorPlan& p = resolved->tensors[size_t(i)];
            QString ours = p.scheme.empty() ? QString::fromUtf8(qs::dtypeName((*f32)->tensors[size_t(i)].dtype).data())
                                            : QString::fromStdString(p.scheme);
            const QString theirs = QString::fromUtf8(qs::dtypeName(t.dtype).data());
            QVERIFY2(ours.compare(theirs, Qt::CaseInsensitive) == 0,
                     qPrintable(QStringLiteral("%1: ours %2, llama-quantize %3").arg(QString::fromStdString(t.name), ours, theirs)));
            ++compared;
        }
        QCOMPARE(compared, 47);
    }
};

QTEST_MAIN(TestMapEditor)
#include "test_map_editor.moc"
