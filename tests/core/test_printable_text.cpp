// SPDX-License-Identifier: GPL-3.0-or-later
// io::printableText, the one conversion of a user's name (a tensor, file or piece) to a line a terminal or a view
// shows: what it must escape so that a name cannot forge a line, a column or another name, and what it must keep.
#include "core/io/utf8.h"

#include <QTest>

#include <string>

class TestPrintableText : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void printableText_escapesWhatHidesOrMoves_data() {
        QTest::addColumn<QByteArray>("in");
        QTest::addColumn<QByteArray>("out");
        QTest::newRow("plain ASCII") << QByteArray("blk.0.attn_q.weight") << QByteArray("blk.0.attn_q.weight");
        QTest::newRow("CJK, emoji, meta space kept") << QByteArray("\xE4\xB8\x96\xF0\x9F\x98\x80\xE2\x96\x81x")
                                                     << QByteArray("\xE4\xB8\x96\xF0\x9F\x98\x80\xE2\x96\x81x");
        QTest::newRow("newline, tab, CR") << QByteArray("a\nb\tc\rd") << QByteArray("a\\nb\\tc\\rd");
        QTest::newRow("ESC and DEL") << QByteArray("\x1b[31mx\x7f") << QByteArray("\\x1b[31mx\\x7f");
        QTest::newRow("C1 control U+009B") << QByteArray("a\xC2\x9B" "b") << QByteArray("a\\u009bb");
        QTest::newRow("RLO U+202E (CVE-2021-42574)") << QByteArray("attn_v.\xE2\x80\xAEweight")
                                                     << QByteArray("attn_v.\\u202eweight");
        QTest::newRow("Arabic letter mark U+061C") << QByteArray("a\xD8\x9C" "b") << QByteArray("a\\u061cb");
        QTest::newRow("line separator U+2028") << QByteArray("a\xE2\x80\xA8" "b") << QByteArray("a\\u2028b");
        QTest::newRow("isolate U+2066") << QByteArray("a\xE2\x81\xA6" "b") << QByteArray("a\\u2066b");
        QTest::newRow("zero width space U+200B") << QByteArray("attn_q\xE2\x80\x8B.weight")
                                                 << QByteArray("attn_q\\u200b.weight");
        QTest::newRow("zero width joiner U+200D") << QByteArray("a\xE2\x80\x8D" "b") << QByteArray("a\\u200db");
        QTest::newRow("word joiner U+2060") << QByteArray("a\xE2\x81\xA0" "b") << QByteArray("a\\u2060b");
        QTest::newRow("BOM U+FEFF") << QByteArray("\xEF\xBB\xBFname") << QByteArray("\\ufeffname");
        QTest::newRow("visible neighbours kept: U+2010, U+2070") << QByteArray("\xE2\x80\x90\xE2\x81\xB0")
                                                                 << QByteArray("\xE2\x80\x90\xE2\x81\xB0");
        QTest::newRow("not UTF-8 -> U+FFFD") << QByteArray("a\xFF" "b\xE2\x80") << QByteArray("a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
    }
    void printableText_escapesWhatHidesOrMoves() {
        QFETCH(QByteArray, in);
        QFETCH(QByteArray, out);
        QCOMPARE(QByteArray::fromStdString(qs::io::printableText(in.toStdString())), out);
    }
};

QTEST_GUILESS_MAIN(TestPrintableText)
#include "test_printable_text.moc"
