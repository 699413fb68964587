// SPDX-License-Identifier: GPL-3.0-or-later
// core/ is a plain C++ library: no file under it may include a Qt header (STYLE.md, "Layers"), and its
// folders form a tree, not a cycle: a folder includes only folders of a lower layer (kLayers, ARCHITECTURE.md
// "Folders").
#include <QDirIterator>
#include <QFile>
#include <QRegularExpression>
#include <QTest>

namespace {

// THE table of core's layers, lowest first. A file in core/<folder>/ may include core/<other>/ only when
// <other>'s layer is lower than <folder>'s (folders of one layer do not include each other). A new folder
// needs a row here; ARCHITECTURE.md's folder table says the same in words.
struct Layer {
    int rank;
    const char* folder;
};
constexpr Layer kLayers[] = {
    {0, "util"},  {0, "jobs"},  {1, "tensor"}, {2, "ggml"},  {3, "io"},    {4, "model"},  {4, "stats"},
    {5, "calib"}, {6, "quant"}, {7, "infer"},  {8, "collect"}, {9, "sweep"}, {10, "export"},
};

int rankOf(const QString& folder) {
    for (const Layer& l : kLayers)
        if (folder == QLatin1String(l.folder)) return l.rank;
    return -1;
}

}  // namespace

class TestCoreLayering : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void coreSources_includeNoQtHeader() {
        const QString source = qEnvironmentVariable("QS_SOURCE_DIR");
        QVERIFY2(!source.isEmpty(), "QS_SOURCE_DIR is not set (CTest sets it)");
        // Built from pieces so that moc's own preprocessor does not take the pattern for a directive.
        const QString pattern = QStringLiteral("^\\s*") + QChar('#') + QStringLiteral("\\s*include\\s*[<\"](Q[A-Za-z]|qt[a-z]*/)");
        const QRegularExpression qtInclude(pattern,
                                           QRegularExpression::MultilineOption);
        int files = 0;
        QStringList offenders;
        QDirIterator it(source + "/core", {"*.h", "*.hpp", "*.cpp", "*.cc"}, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            QFile f(it.next());
            QVERIFY(f.open(QIODevice::ReadOnly));
            ++files;
            if (qtInclude.match(QString::fromUtf8(f.readAll())).hasMatch()) offenders << f.fileName();
        }
        QVERIFY2(files > 10, "core sources not found");
        QVERIFY2(offenders.isEmpty(), qPrintable("Qt headers included in core: " + offenders.join(", ")));
    }

    // Every include of another core folder goes down the layer table; so the folder graph has no cycle.
    void coreFolders_includeOnlyLowerLayers() {
        const QString source = qEnvironmentVariable("QS_SOURCE_DIR");
        QVERIFY2(!source.isEmpty(), "QS_SOURCE_DIR is not set (CTest sets it)");
        const QString core = source + "/core/";
        const QRegularExpression include(QStringLiteral("^\\s*") + QChar('#') +
                                             QStringLiteral("\\s*include\\s*\"(core/([a-z_]+)/|\\.\\./)"),
                                         QRegularExpression::MultilineOption);
        int files = 0;
        QStringList offenders;
        QDirIterator it(core, {"*.h", "*.hpp", "*.cpp", "*.cc", "*.inc"}, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString path = it.next();
            const QString rel = path.mid(core.size());
            const QString folder = rel.section('/', 0, 0);
            const int rank = rankOf(folder);
            if (rel.count('/') == 0 || rank < 0) {
                offenders << rel + ": folder not in kLayers";
                continue;
            }
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            ++files;
            auto matches = include.globalMatch(QString::fromUtf8(f.readAll()));
            while (matches.hasNext()) {
                const auto m = matches.next();
                if (m.captured(1) == "../") {
                    offenders << rel + ": relative include (write core/<folder>/...)";
                    continue;
                }
                const QString target = m.captured(2);
                if (target == folder) continue;
                const int targetRank = rankOf(target);
                if (targetRank < 0 || targetRank >= rank)
                    offenders << rel + " includes core/" + target + "/ (layer " + QString::number(targetRank) +
                                     " is not below " + folder + "'s layer " + QString::number(rank) + ")";
            }
        }
        QVERIFY2(files > 10, "core sources not found");
        QVERIFY2(offenders.isEmpty(), qPrintable("core folders include upward:\n" + offenders.join("\n")));
    }
};

QTEST_GUILESS_MAIN(TestCoreLayering)
#include "test_core_layering.moc"
