// SPDX-License-Identifier: GPL-3.0-or-later
// Runs the real quantscope-cli binary (QS_CLI_PATH, set by CMake) and captures its exit code and output.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <functional>

#include <QElapsedTimer>
#include <QProcess>
#include <QString>
#include <QStringList>

namespace qstest {

struct CliRun {
    int exitCode = -1;
    bool crashed = false;
    QByteArray out, err;
};

// Called with everything the process has written to stderr so far, each time more arrives (e.g. to send it
// SIGINT once a progress line appears).
using StderrHook = std::function<void(const QByteArray& errSoFar, QProcess& process)>;

// Runs the CLI with `args`, feeding `stdinData`; a run longer than timeoutMs is killed and reported as crashed.
// addressSpaceBytes > 0: the CLI runs under that RLIMIT_AS (as `ulimit -v` sets it).
inline CliRun runCli(const QStringList& args, const QByteArray& stdinData = {}, int timeoutMs = 120000,
                     const StderrHook& onStderr = {}, uint64_t addressSpaceBytes = 0) {
    QProcess p;
    if (addressSpaceBytes > 0)
        p.setChildProcessModifier([addressSpaceBytes] {
            const rlimit limit{rlim_t(addressSpaceBytes), rlim_t(addressSpaceBytes)};
            ::setrlimit(RLIMIT_AS, &limit);
        });
    p.start(QStringLiteral(QS_CLI_PATH), args);
    CliRun r;
    if (!p.waitForStarted()) return r;
    if (!stdinData.isEmpty()) p.write(stdinData);
    p.closeWriteChannel();
    QElapsedTimer clock;
    clock.start();
    if (onStderr) {
        p.setReadChannel(QProcess::StandardError);
        while (p.state() != QProcess::NotRunning && clock.elapsed() < timeoutMs) {
            p.waitForReadyRead(50);
            const QByteArray more = p.readAllStandardError();
            if (more.isEmpty()) continue;
            r.err += more;
            if (p.state() == QProcess::Running) onStderr(r.err, p);
        }
    }
    if (p.state() != QProcess::NotRunning && !p.waitForFinished(int(std::max<qint64>(timeoutMs - clock.elapsed(), 1)))) {
        p.kill();
        p.waitForFinished();
        r.crashed = true;
    }
    r.crashed = r.crashed || p.exitStatus() == QProcess::CrashExit;
    r.exitCode = p.exitCode();
    r.out = p.readAllStandardOutput();
    r.err += p.readAllStandardError();
    return r;
}

}  // namespace qstest
