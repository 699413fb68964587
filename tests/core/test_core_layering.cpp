// SPDX-License-Identifier: GPL-3.0-or-later
// core/ is a plain C++ library: no file under it may include a Qt header (STYLE.md, "Layers").
#include <QDirIterator>
#include <QFile>
#include <QRegularExpression>
#include <QTest>

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
};

QTEST_GUILESS_MAIN(TestCoreLayering)
#include "test_core_layering.moc"
