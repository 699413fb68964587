// SPDX-License-Identifier: GPL-3.0-or-later
// Runs the real quantscope-cli binary (QS_CLI_PATH, set by CMake) and captures its exit code and output.
#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>

namespace qstest {

struct CliRun {
    int exitCode = -1;
    bool crashed = false;
    QByteArray out, err;
};

inline CliRun runCli(const QStringList& args, const QByteArray& stdinData = {}, int timeoutMs = 120000) {
    QProcess p;
    p.start(QStringLiteral(QS_CLI_PATH), args);
    CliRun r;
    if (!p.waitForStarted()) return r;
    if (!stdinData.isEmpty()) p.write(stdinData);
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        r.crashed = true;
    }
    r.crashed = r.crashed || p.exitStatus() == QProcess::CrashExit;
    r.exitCode = p.exitCode();
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

}  // namespace qstest
