// SPDX-License-Identifier: GPL-3.0-or-later
// Opening a session file the GUI way (SessionController::openSession, on the GUI thread) reads it bounded, as every
// JSON read: a FIFO is refused before it is opened (opening it blocked the window for good), a link to /dev/zero and
// a 3 GB file are refused before they are read (an unbounded read aborted with std::bad_alloc), each naming the file.
// A session that does not parse says where.
#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <oneapi/tbb/task_arena.h>

#include "ui/document.h"
#include "ui/jobs/job_runner.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/session_controller.h"

using namespace qsui;

namespace {

QString lastError(const LogModel& log) {
    for (auto it = log.entries().rbegin(); it != log.entries().rend(); ++it)
        if (it->severity == Severity::Error) return it->message;
    return {};
}

// Opens the FIFO's writing end once a reader waits on it, then closes it: a reader blocked in open() (the bug)
// gets end-of-file, so the test fails on the message instead of hanging. Stops when `done` is set.
void unblockReaderOf(const std::string& fifo, const std::atomic<bool>& done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && std::chrono::steady_clock::now() < until) {
        const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // ENXIO while nobody reads
        if (fd >= 0) {
            ::close(fd);
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace

class TestSessionOpen : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void openSession_refusesFilesThatCannotBeSessions_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("message");  // after "<path>: "
        QTest::newRow("fifo") << "fifo" << "not a regular file";
        QTest::newRow("link to /dev/zero") << "zero" << "not a regular file";
        QTest::newRow("3 GB file") << "big" << "3221225472 bytes, more than the 268435456-byte limit of a session";
        QTest::newRow("syntax error") << "syntax" << "not valid JSON (syntax error at byte 25)";
    }
    void openSession_refusesFilesThatCannotBeSessions() {
        QFETCH(QString, kind);
        QFETCH(QString, message);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("s.qsession.json"));
        const std::string p = path.toStdString();
        if (kind == "fifo") {
            QCOMPARE(::mkfifo(p.c_str(), 0600), 0);
        } else if (kind == "zero") {
            QCOMPARE(::symlink("/dev/zero", p.c_str()), 0);
        } else {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            if (kind == "big") QVERIFY(f.resize(qint64(3) << 30));  // sparse: no disk used
            else f.write(R"({"quantscope_session":1,})");
        }
        Document doc;
        tbb::task_arena arena(1);
        JobRunner runner(&arena);
        LogModel log;
        LoadController loader(&doc, &runner, &log);
        SessionController session(&doc, &loader, &log, nullptr, nullptr, /*useSettings=*/false);
        std::atomic<bool> done{false};
        std::thread writer;
        if (kind == "fifo") writer = std::thread(unblockReaderOf, p, std::cref(done));
        const auto start = std::chrono::steady_clock::now();
        const bool opened = session.openSession(path);
        const auto took = std::chrono::steady_clock::now() - start;
        done = true;
        if (writer.joinable()) writer.join();
        QVERIFY(!opened);
        QVERIFY2(lastError(log).endsWith(path + QStringLiteral(": ") + message), qPrintable(lastError(log)));
        QVERIFY(took < std::chrono::seconds(5));
    }
};

QTEST_MAIN(TestSessionOpen)
#include "test_session_open.moc"
