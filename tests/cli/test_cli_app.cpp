// SPDX-License-Identifier: GPL-3.0-or-later
// The executables answer --help and --version without a display (a terminal over ssh, a packaging check):
// the GUI binary must not try to connect to an X server for them.
#include <QProcess>
#include <QProcessEnvironment>
#include <QTest>

#include "cli/cli_runner.h"

namespace {
struct Run {
    int exitCode = -1;
    bool finished = false;
    QByteArray out, err;
};

Run runWithoutDisplay(const QString& program, const QStringList& args) {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char* var : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}) env.remove(QString::fromLatin1(var));
    p.setProcessEnvironment(env);
    p.start(program, args);
    Run r;
    r.finished = p.waitForFinished(30000);
    if (!r.finished) p.kill();
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}
}  // namespace

class TestCliApp : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void cliVersion_printsProjectVersion() {
        const Run r = runWithoutDisplay(QStringLiteral(QS_CLI_PATH), {QStringLiteral("--version")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.startsWith("quantscope-cli ") && r.out.trimmed().split(' ').value(1).count('.') == 2, r.out.constData());
    }

    // Every command reads --threads the same way: 1..1024, 0 for all cores; out of range is a usage error
    // (exit 2) with the same message, before the model is opened.
    void threadsOption_sameLimitsEverywhere() {
        const QStringList commands[] = {{"quantize", "m", "--rule", "all=q8_0"}, {"generate", "m"}, {"ppl", "m", "--text", QStringLiteral(QS_CLI_PATH)},
                                        {"bench", "m"}, {"chat", "m"}, {"compare", "m", "--rule", "all=q8_0", "--prompt", "x"}, {"synth", "--shape", "15M", "--format", "gguf", "o"}};
        for (const QStringList& cmd : commands)
            for (const char* bad : {"-1", "1025", "x"}) {
                auto r = qstest::runCli(cmd + QStringList{"--threads", bad});
                QVERIFY2(r.exitCode == 2, qPrintable(cmd.join(' ') + " --threads " + bad));
                if (QByteArray(bad) != "x") QVERIFY2(r.err.contains("--threads must be between 1 and 1024 (0: all cores)"), r.err.constData());
            }
    }

    void guiHelpAndVersion_needNoDisplay_data() {
        QTest::addColumn<QString>("flag");
        QTest::addColumn<QString>("expected");
        QTest::newRow("--help") << "--help" << "Usage:";
        QTest::newRow("-h") << "-h" << "--screenshot";
        QTest::newRow("--version") << "--version" << "QuantScope ";
    }
    void guiHelpAndVersion_needNoDisplay() {
#ifndef QS_GUI_PATH
        QSKIP("the GUI is not built in this configuration (QS_BUILD_GUI=OFF)");
#else
        QFETCH(QString, flag);
        QFETCH(QString, expected);
        const Run r = runWithoutDisplay(QStringLiteral(QS_GUI_PATH), {flag});
        QVERIFY2(r.finished, "quantscope did not exit");
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.out.contains(expected.toUtf8()), r.out.constData());
#endif
    }

    // A usage error exits 2 in the GUI executable as in quantscope-cli (1 is a failed operation), with one
    // message naming the option.
    void guiUsageError_exits2() {
#ifndef QS_GUI_PATH
        QSKIP("the GUI is not built in this configuration (QS_BUILD_GUI=OFF)");
#else
        for (const QStringList& args : {QStringList{"--bogus"}, QStringList{"--size"}, QStringList{"-x"}}) {
            QProcess p;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert("QT_QPA_PLATFORM", "offscreen");
            p.setProcessEnvironment(env);
            p.start(QStringLiteral(QS_GUI_PATH), args);
            QVERIFY2(p.waitForFinished(30000), "quantscope did not exit");
            const QByteArray err = p.readAllStandardError();
            QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 2,
                     qPrintable(args.join(' ') + ": exit " + QString::number(p.exitCode()) + ": " + err));
            // Qt may warn first (e.g. XDG_RUNTIME_DIR not set); the usage error is the line of its own.
            const QByteArray option = args[0].mid(args[0].lastIndexOf('-') + 1).toUtf8();
            QVERIFY2(err.startsWith("quantscope: ") || err.contains("\nquantscope: "), err.constData());
            QVERIFY2(err.contains(option), err.constData());
        }
#endif
    }
};

QTEST_GUILESS_MAIN(TestCliApp)
#include "test_cli_app.moc"
