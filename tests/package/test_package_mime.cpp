// SPDX-License-Identifier: GPL-3.0-or-later
// What a double-click on a checkpoint does once the .deb is installed: the file manager asks the
// shared-mime-info database for the file's type and opens the desktop entries listing it. This test builds
// that database from the system's freedesktop.org.xml plus the package's quantscope.xml (as dpkg's trigger
// does with update-mime-database), resolves the real checkpoints in ../shared with Qt's QMimeDatabase
// (the same database every file manager reads), and checks that the package's desktop entry lists each type.
// The extracted package root comes from the package_build fixture (QS_PACKAGE_ROOT, tests/CMakeLists.txt).
#include <QDir>
#include <QFile>
#include <QMimeDatabase>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "common/assets.h"

namespace {

const char* const kSystemMimeXml =
    "/usr/share/mime/packages/freedesktop.org.xml";  // package shared-mime-info

}  // namespace

class TestPackageMime : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;  // share/mime (the database), links/ (checkpoints under other names)
    QString m_root;       // the extracted package: <root>/usr/share/...

    // A link named `name` to the shared asset `relative`, so that a type can be resolved from another name.
    QString linkTo(const QString& relative, const QString& name) {
        const QString target = qstest::assetPath(relative);
        const QString link = m_dir.filePath(QStringLiteral("links/") + name);
        QFile::remove(link);
        return QFile::link(target, link) ? link : QString();
    }

    // The MimeType list of the package's desktop entry (its ';' would start a comment for QSettings).
    QStringList desktopMimeTypes() const {
        QFile entry(m_root + QStringLiteral("/usr/share/applications/quantscope.desktop"));
        if (!entry.open(QIODevice::ReadOnly | QIODevice::Text)) return {};
        const QByteArray key = "MimeType=";
        while (!entry.atEnd()) {
            const QByteArray line = entry.readLine().trimmed();
            if (line.startsWith(key))
                return QString::fromUtf8(line.mid(key.size())).split(QLatin1Char(';'), Qt::SkipEmptyParts);
        }
        return {};
    }

private Q_SLOTS:
    void initTestCase() {
        m_root = qEnvironmentVariable("QS_PACKAGE_ROOT");
        QVERIFY2(!m_root.isEmpty(), "QS_PACKAGE_ROOT is not set (the package_build fixture sets it)");
        const QString packageXml = m_root + QStringLiteral("/usr/share/mime/packages/quantscope.xml");
        QVERIFY2(QFile::exists(packageXml), qPrintable(packageXml + QStringLiteral(" missing")));
        QVERIFY2(QFile::exists(kSystemMimeXml),
                 qPrintable(QStringLiteral("%1 missing: install the Debian package shared-mime-info")
                                .arg(kSystemMimeXml)));
        QVERIFY(m_dir.isValid());
        const QString mimeDir = m_dir.filePath(QStringLiteral("share/mime"));
        QVERIFY(QDir().mkpath(mimeDir + QStringLiteral("/packages")));
        QVERIFY(QDir().mkpath(m_dir.filePath(QStringLiteral("links"))));
        QVERIFY(QFile::copy(kSystemMimeXml, mimeDir + QStringLiteral("/packages/freedesktop.org.xml")));
        QVERIFY(QFile::copy(packageXml, mimeDir + QStringLiteral("/packages/quantscope.xml")));

        // Only this database: the user's and the system's own are left out (update-mime-database
        // warns when the folder it writes is not among them). QMimeDatabase reads the paths
        // when first used, which is after this point.
        qputenv("XDG_DATA_HOME", m_dir.filePath(QStringLiteral("data-home")).toUtf8());
        qputenv("XDG_DATA_DIRS", m_dir.filePath(QStringLiteral("share")).toUtf8());
        qputenv("PKGSYSTEM_ENABLE_FSYNC",
                "0");  // a scratch database: its fsyncs cost seconds and buy nothing
        QProcess update;
        update.start(QStringLiteral("update-mime-database"), {mimeDir});
        QVERIFY2(update.waitForStarted(),
                 "update-mime-database not found: install the Debian package shared-mime-info");
        QVERIFY(update.waitForFinished(60000));
        const QByteArray errors = update.readAllStandardError();
        QVERIFY2(update.exitStatus() == QProcess::NormalExit && update.exitCode() == 0, errors.constData());
        // update-mime-database reports what it cannot read in the XML on stderr, without failing.
        QVERIFY2(errors.trimmed().isEmpty(), errors.constData());
    }

    void checkpointType_data() {
        QTest::addColumn<QString>("asset");
        QTest::addColumn<QString>("name");  // empty: the asset's own name
        QTest::addColumn<QString>("type");
        const QString gguf = QStringLiteral("models/stories260K-gguf/stories260K.gguf");
        const QString safetensors = QStringLiteral("models/stories260K-hf/model.safetensors");
        const QString h5 = QStringLiteral("models/keras-h5-lstm/lstm.h5");
        QTest::newRow("gguf") << gguf << QString() << "application/x-gguf";
        QTest::newRow("gguf quantized") << QStringLiteral("models/stories260K-gguf/stories260K-Q4_K_M.gguf")
                                        << QString() << "application/x-gguf";
        QTest::newRow("gguf by its magic, no extension") << gguf << "stories260K"
                                                         << "application/x-gguf";
        QTest::newRow("safetensors") << safetensors << QString() << "application/x-safetensors";
        QTest::newRow("safetensors shard") << safetensors << "model-00001-of-00002.safetensors"
                                           << "application/x-safetensors";
        QTest::newRow("keras h5") << h5 << QString() << "application/x-hdf5";
        QTest::newRow("hdf5 extension") << h5 << "weights.hdf5"
                                        << "application/x-hdf5";
        QTest::newRow("hdf5 by its signature, no extension") << h5 << "weights"
                                                             << "application/x-hdf5";
    }

    void checkpointType() {
        QFETCH(QString, asset);
        QFETCH(QString, name);
        QFETCH(QString, type);
        QS_REQUIRE_ASSET(path, asset);
        const QString file = name.isEmpty() ? path : linkTo(asset, name);
        QVERIFY(!file.isEmpty());
        const QMimeType resolved = QMimeDatabase().mimeTypeForFile(file);
        QCOMPARE(resolved.name(), type);
        const QStringList listed = desktopMimeTypes();
        QVERIFY2(listed.contains(type),
                 qPrintable(QStringLiteral("quantscope.desktop's MimeType (%1) lacks %2")
                                .arg(listed.join(QLatin1Char(';')), type)));
    }

    // The package declares no type for llama2.c checkpoints (".bin" is any binary file and the header has
    // no magic), so a double-click on one does not offer QuantScope.
    void llama2cCheckpoint_isNotClaimed() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        const QString type = QMimeDatabase().mimeTypeForFile(path).name();
        QVERIFY2(!desktopMimeTypes().contains(type), qPrintable(type));
    }

    // HDF5 is its own type under the system's application/x-hdf, so an application listing HDF is still
    // offered for .h5 files.
    void hdf5Type_isASubclassOfTheSystemHdfType() {
        const QMimeType hdf5 = QMimeDatabase().mimeTypeForName(QStringLiteral("application/x-hdf5"));
        QVERIFY(hdf5.isValid());
        QCOMPARE(hdf5.name(), QStringLiteral("application/x-hdf5"));
        QVERIFY2(hdf5.inherits(QStringLiteral("application/x-hdf")), qPrintable(hdf5.parentMimeTypes().join(' ')));
    }

    // The system's application/x-hdf also covers HDF4, which QuantScope cannot open: an HDF4 file (by its
    // extension or its magic, 0e 03 13 01) must not offer QuantScope, i.e. the desktop entry lists neither its
    // type nor any type it inherits from (a file manager offers the applications of both).
    void hdf4Files_areNotClaimed_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("*.hdf") << "scan.hdf";
        QTest::newRow("*.hdf4") << "scan.hdf4";
        QTest::newRow("*.h4") << "scan.h4";
        QTest::newRow("HDF4 magic, no extension") << "scan";
    }
    void hdf4Files_areNotClaimed() {
        QFETCH(QString, name);
        const QString path = m_dir.filePath(QStringLiteral("links/") + name);
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        QByteArray bytes("\x0e\x03\x13\x01", 4);  // the HDF4 magic, then an empty data descriptor block
        bytes.append(QByteArray(60, '\0'));
        QVERIFY(f.write(bytes) == bytes.size());
        f.close();
        const QMimeType type = QMimeDatabase().mimeTypeForFile(path);
        QCOMPARE(type.name(), QStringLiteral("application/x-hdf"));
        for (const QString& listed : desktopMimeTypes())
            QVERIFY2(!type.inherits(listed),
                     qPrintable(QStringLiteral("%1 is %2, which quantscope.desktop's MimeType entry %3 claims")
                                    .arg(name, type.name(), listed)));
    }
};

QTEST_GUILESS_MAIN(TestPackageMime)
#include "test_package_mime.moc"
