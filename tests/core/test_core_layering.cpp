// SPDX-License-Identifier: GPL-3.0-or-later
// core/ is a plain C++ library: no file under it may include a Qt header (STYLE.md, "Layers"), and its
// folders form a tree, not a cycle: a folder includes only folders of a lower layer (kLayers, ARCHITECTURE.md
// "Folders"). And core's one TBB arena convention (ARCHITECTURE.md "Thread model"), in the source: parallel
// work enters an arena the function was given, and core never creates an arena or picks a thread count
// (test_arena_convention checks the run-time half: null = serially on the calling thread).
#include <algorithm>
#include <utility>
#include <vector>

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

// The code of a source file without comments (a comment naming tbb::parallel_for is not a call) and without
// the contents of string literals; newlines are kept, so offsets still give line numbers.
QString codeOf(const QString& text) {
    QString out;
    out.reserve(text.size());
    const qsizetype n = text.size();
    for (qsizetype i = 0; i < n; ++i) {
        const QChar c = text[i], next = i + 1 < n ? text[i + 1] : QChar();
        if (c == '/' && next == '/') {
            while (i < n && text[i] != '\n') ++i;
            if (i < n) out += '\n';
        } else if (c == '/' && next == '*') {
            for (i += 2; i + 1 < n && !(text[i] == '*' && text[i + 1] == '/'); ++i)
                if (text[i] == '\n') out += '\n';
            ++i;
        } else if (c == 'R' && next == '"' &&
                   (i == 0 || !(text[i - 1].isLetterOrNumber() || text[i - 1] == '_'))) {
            const qsizetype open = text.indexOf('(', i + 2);
            if (open < 0) return out;
            const QString end = ')' + text.mid(i + 2, open - i - 2) + '"';
            const qsizetype close = text.indexOf(end, open);
            if (close < 0) return out;
            out += QString(text.mid(i, close + end.size() - i).count('\n'), '\n');
            i = close + end.size() - 1;
        } else if (c == '"' || c == '\'') {
            out += c;
            for (++i; i < n && text[i] != c; ++i)
                if (text[i] == '\\') ++i;
            out += c;
        } else {
            out += c;
        }
    }
    return out;
}

// Offset of the ')' matching the '(' at `open` in code (code.size() when there is none), and the top-level
// arguments in between.
qsizetype closingParen(const QString& code, qsizetype open, QStringList* args = nullptr) {
    int depth = 0;
    qsizetype start = open + 1;
    for (qsizetype i = open; i < code.size(); ++i) {
        const QChar c = code[i];
        if (c == '(' || c == '[' || c == '{') {
            ++depth;
        } else if (c == ')' || c == ']' || c == '}') {
            if (--depth == 0) {
                if (args) *args << code.mid(start, i - start).trimmed();
                return i;
            }
        } else if (c == ',' && depth == 1 && args) {
            *args << code.mid(start, i - start).trimmed();
            start = i + 1;
        }
    }
    return code.size();
}

int lineAt(const QString& code, qsizetype offset) {
    return int(code.left(offset).count('\n')) + 1;
}

// Everything the arena rules find wrong in one file's code (rel: its path for the messages).
QStringList arenaOffences(const QString& rel, const QString& code) {
    QStringList out;
    auto where = [&](qsizetype at) { return rel + ":" + QString::number(lineAt(code, at)) + ": "; };
    // Where an arena is entered: the argument lists of `<arena>->execute(`.
    static const QRegularExpression enter(
        QStringLiteral("([A-Za-z_][\\w.]*(?:\\(\\))?)\\s*->\\s*execute\\s*\\("));
    std::vector<std::pair<qsizetype, qsizetype>> entered;
    for (auto it = enter.globalMatch(code); it.hasNext();) {
        const auto m = it.next();
        if (!m.captured(1).contains(QLatin1String("arena"), Qt::CaseInsensitive))
            out << where(m.capturedStart()) + "execute on '" + m.captured(1) +
                       "', which does not name an arena";
        entered.emplace_back(m.capturedEnd(), closingParen(code, m.capturedEnd() - 1));
    }
    // A TBB algorithm called directly must sit inside such an entry (not in a lambda entered elsewhere or not
    // at all, which would run it in whatever arena the caller is in).
    static const QRegularExpression direct(QStringLiteral("\\btbb::(parallel_\\w+|task_group|flow::\\w+)"));
    for (auto it = direct.globalMatch(code); it.hasNext();) {
        const auto m = it.next();
        const qsizetype at = m.capturedStart();
        const bool inside = std::any_of(entered.begin(), entered.end(),
                                        [at](const auto& s) { return at >= s.first && at < s.second; });
        if (!inside) out << where(at) + "tbb::" + m.captured(1) + " outside <arena>->execute(...)";
    }
    // core's own helpers get the arena the caller was given: an expression naming an arena, never nullptr.
    static const QRegularExpression helper(
        QStringLiteral("\\b(fixedReduce\\s*<[^>;]*>|parallelFor|runInArena|runIsolated)\\s*\\("));
    for (auto it = helper.globalMatch(code); it.hasNext();) {
        const auto m = it.next();
        QStringList args;
        closingParen(code, m.capturedEnd() - 1, &args);
        const int index = m.captured(1).startsWith(QLatin1String("fixedReduce")) ? 1 : 0;
        const QString arena = args.size() > index ? args[index] : QString();
        if (!arena.contains(QLatin1String("arena"), Qt::CaseInsensitive) ||
            arena.contains(QLatin1String("nullptr")))
            out << where(m.capturedStart()) + m.captured(1) + " given '" + arena +
                       "' instead of the arena passed in";
    }
    // No arena of its own, no thread count of its own.
    static const QRegularExpression own(QStringLiteral(
        "\\btbb::task_arena\\s+\\w+\\s*[({;]|\\btbb::task_arena\\s*[({]|\\bnew\\s+tbb::task_arena|"
        "make_(?:unique|shared)\\s*<\\s*tbb::task_arena|this_task_arena::(?:max_concurrency|current_thread_"
        "index)|"
        "\\binfo::default_concurrency|\\bglobal_control\\b|hardware_concurrency|task_scheduler_init"));
    for (auto it = own.globalMatch(code); it.hasNext();) {
        const auto m = it.next();
        out << where(m.capturedStart()) + "'" + m.captured(0) +
                   "': core creates no arena and picks no thread count";
    }
    return out;
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

    // The rule checker itself, on snippets it must accept and reject (so a broken pattern cannot pass
    // silently over the whole tree).
    void arenaRules_acceptTheConventionAndRejectItsBreaches() {
        const QString ok =
            codeOf(QStringLiteral("void f(tbb::task_arena* arena) {\n"
                                  "    // tbb::parallel_for(0, 1, g); in a comment\n"
                                  "    arena->execute([&] { tbb::parallel_for(0, n, g); });\n"
                                  "    parallelFor(arena, 0, n, 1, body);\n"
                                  "    auto p = stats::fixedReduce<Part>(chunks, m_arena, [&](uint64_t c) { "
                                  "return g(c); }, merge);\n"
                                  "    runIsolated(m_options.arena, [&] { h(); });\n"
                                  "    const char* s = \"tbb::parallel_for\";\n"
                                  "}\n"));
        QVERIFY2(arenaOffences("ok.cpp", ok).isEmpty(), qPrintable(arenaOffences("ok.cpp", ok).join("\n")));
        const QStringList bad = arenaOffences(
            "bad.cpp",
            codeOf(QStringLiteral(
                "void f(tbb::task_arena* arena) {\n"
                "    tbb::parallel_for(0, n, g);\n"                       // 2: not entered
                "    auto body = [&] { tbb::parallel_invoke(a, b); };\n"  // 3: entered elsewhere
                "    if (arena) arena->execute(body); else body();\n"
                "    fixedReduce<Part>(chunks, [&](uint64_t c) { return g(c); }, merge);\n"  // 5: no arena
                "    parallelFor(nullptr, 0, n, 1, body);\n"                                 // 6: nullptr
                "    tbb::task_arena mine(4);\n"                                             // 7: creates one
                "    int t = tbb::this_task_arena::max_concurrency();\n"  // 8: picks a count
                "    pool->execute(body);\n"                              // 9: not an arena
                "}\n")));
        QCOMPARE(bad.size(), 7);
        for (int line : {2, 3, 5, 6, 7, 8, 9})
            QVERIFY2(bad.filter(QStringLiteral("bad.cpp:%1:").arg(line)).size() == 1,
                     qPrintable(bad.join("\n")));
    }

    // Every core function with parallel work enters an arena it was given; none creates one.
    void coreParallelWork_entersAnExplicitlyPassedArena() {
        const QString source = qEnvironmentVariable("QS_SOURCE_DIR");
        QVERIFY2(!source.isEmpty(), "QS_SOURCE_DIR is not set (CTest sets it)");
        const QString core = source + "/core/";
        int files = 0, parallelFiles = 0;
        QStringList offenders;
        QDirIterator it(core, {"*.h", "*.hpp", "*.cpp", "*.cc", "*.inc"}, QDir::Files,
                        QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString path = it.next();
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            ++files;
            const QString code = codeOf(QString::fromUtf8(f.readAll()));
            if (code.contains(QLatin1String("tbb::parallel_")) ||
                code.contains(QLatin1String("fixedReduce<")))
                ++parallelFiles;
            offenders << arenaOffences(path.mid(core.size()), code);
        }
        QVERIFY2(files > 10 && parallelFiles > 10, "core sources with parallel work not found");
        QVERIFY2(offenders.isEmpty(),
                 qPrintable("core parallel work outside the arena convention:\n" + offenders.join("\n")));
    }
};

QTEST_GUILESS_MAIN(TestCoreLayering)
#include "test_core_layering.moc"
