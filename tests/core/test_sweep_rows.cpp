// SPDX-License-Identifier: GPL-3.0-or-later
// The row check of a sweep file (parseSweepFileText, what inspect, resume and merge read): an edited or damaged
// cell is refused naming the line and the column, before a merge copies it into a table. The files are written
// here: the header of a 2-group weight-error sweep and rows as the CLI writes them.
#include <QTest>

#include <string>

#include "core/sweep/sweep.h"

using namespace qs;

namespace {

const std::string kHeader =
    "# quantscope-sweep {\"shard\":\"0/1\",\"spec\":{\"baseline\":[],\"groups\":[\"attention\",\"mlp\"],\"measure\":"
    "\"weight-error\",\"model\":\"m\",\"model_fingerprint\":\"6b1150cb759797c1\",\"model_tensor_bytes\":1040128,"
    "\"schemes\":{\"attention\":[\"int4_g64\",\"int8_g64\"],\"mlp\":[\"int4_g64\",\"int8_g64\"]}},\"version\":1}\n"
    "point,groups,scheme_attention,scheme_mlp,bytes,bpw,rmse,sqnr_db\n";

// Point 0 (both groups int4_g64) with these groups and bytes cells.
std::string pointZero(const std::string& groups, const std::string& bytes) {
    return "0," + groups + ",int4_g64,int4_g64," + bytes + ",7.9500369185331037,0.012088114587475812,21.115832144601882\n";
}

const std::string kPointOne =
    "1,attention+mlp,int4_g64,int8_g64,341608,10.509721880383953,0.0073548927281824493,25.431476650544962\n";

}  // namespace

class TestSweepRows : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void goodRows_areRead() {
        auto f = parseSweepFileText(kHeader + pointZero("attention+mlp", "258408") + kPointOne, "s.csv");
        QVERIFY2(f.ok(), f.ok() ? "" : f.message().c_str());
        QCOMPARE(f->rows.size(), size_t(2));
    }

    void badCells_areRefusedNamingLineAndColumn_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        // strtoll saturates at 2^63-1 with ERANGE: the row was written to an HDF5 table as 9223372036854775807.
        QTest::newRow("bytes overflow")
            << QString::fromStdString(kHeader + kPointOne + pointZero("attention+mlp", "99999999999999999999999"))
            << "s.csv: line 4: point 0: bytes (column 5) '99999999999999999999999' is out of range (a byte count is "
               "at most 2^63-1)";
        QTest::newRow("bytes negative")
            << QString::fromStdString(kHeader + pointZero("attention+mlp", "-258408"))
            << "s.csv: line 3: point 0: bytes (column 5) '-258408' is negative (a byte count)";
        QTest::newRow("groups cell not the spec's")
            << QString::fromStdString(kHeader + pointZero("embedding", "258408"))
            << "s.csv: line 3: point 0: groups (column 2) 'embedding' is not the spec's groups 'attention+mlp'";
        QTest::newRow("groups cell reordered")
            << QString::fromStdString(kHeader + pointZero("mlp+attention", "258408"))
            << "s.csv: line 3: point 0: groups (column 2) 'mlp+attention' is not the spec's groups 'attention+mlp'";
        QTest::newRow("bytes not a number")
            << QString::fromStdString(kHeader + pointZero("attention+mlp", "12x"))
            << "s.csv: line 3: point 0: bytes (column 5) '12x' is not a number";
        QTest::newRow("point overflow")
            << QString::fromStdString(kHeader + "99999999999999999999" + pointZero("attention+mlp", "1").substr(1))
            << "s.csv: line 3: bad point index '99999999999999999999'";
    }
    void badCells_areRefusedNamingLineAndColumn() {
        QFETCH(QString, text);
        QFETCH(QString, message);
        auto f = parseSweepFileText(text.toStdString(), "s.csv");
        QVERIFY(!f.ok());
        QCOMPARE(QString::fromStdString(f.message()), message);
    }

    // A CRLF file: the carriage return is named with its line and column instead of "'21.11...' is not a number"
    // about a cell that looks like a number.
    void carriageReturn_isNamed() {
        std::string text = kHeader + pointZero("attention+mlp", "258408");
        for (size_t at = 0; (at = text.find('\n', at)) != std::string::npos; at += 2) text.insert(at, 1, '\r');
        auto f = parseSweepFileText(text, "s.csv");
        QVERIFY(!f.ok());
        const std::string line1 = kHeader.substr(0, kHeader.find('\n'));
        QCOMPARE(f.message(), "s.csv: line 1, column " + std::to_string(line1.size() + 1) +
                                  ": a carriage return (CRLF line ends?); sweep files end their lines with LF only");
        // Only in the last row: named there.
        auto row = parseSweepFileText(kHeader + kPointOne.substr(0, kPointOne.size() - 1) + "\r\n", "s.csv");
        QVERIFY(!row.ok());
        QCOMPARE(row.message(), "s.csv: line 3, column " + std::to_string(kPointOne.size()) +
                                    ": a carriage return (CRLF line ends?); sweep files end their lines with LF only");
    }
};

QTEST_GUILESS_MAIN(TestSweepRows)
#include "test_sweep_rows.moc"
