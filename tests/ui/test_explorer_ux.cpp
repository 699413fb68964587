// SPDX-License-Identifier: GPL-3.0-or-later
// The explorer as a person uses it (issue 11), offscreen, on the real stories260K:
// - each role's share of the total, before and after the map, and bits per weight per role, in the footprint
//   table, the bar tooltips and labels, the summary and the status-bar text, computed here from the stored
//   tensor sizes and ggml's q8_0 block (34 bytes per 32 weights), not from the footprint code.
#include <QTableWidget>
#include <QTest>
#include <QUndoStack>

#include <cmath>

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "ui/footprint/footprint_view.h"
#include "ui/plot/stacked_bar_chart.h"
#include "ui/summary/summary_view.h"

using namespace qsui;

namespace {

constexpr const char* kLlama2c = "models/stories260K-llama2c/stories260K.bin";

QString pct(double v) { return QStringLiteral("%1 %").arg(v, 0, 'f', 1); }

}  // namespace

class TestExplorerUx : public QObject {
    Q_OBJECT

private slots:
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
        QVERIFY(html.contains(QStringLiteral("%1 → %2").arg(pct(shareBefore), pct(shareAfter)).toHtmlEscaped()) ||
                html.contains(QStringLiteral("%1 → %2").arg(pct(shareBefore), pct(shareAfter))));
        QVERIFY(html.contains(QStringLiteral("32.00 → 8.50")));

        // Undo: the shares go back to the stored ones (after == before).
        f.doc.undoStack()->undo();
        QVERIFY(std::abs(view.groupBytes(FootprintView::EmbeddingGroup).share.shareAfter - shareBefore) < 1e-9);
    }
};

QTEST_MAIN(TestExplorerUx)
#include "test_explorer_ux.moc"
