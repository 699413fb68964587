// SPDX-License-Identifier: GPL-3.0-or-later
// core/io/hdf5_vlen.h: variable-length strings read from checked global heap collections.
//  - Files written here with the libhdf5 API (scalar and 1-D string attributes, string datasets, a user
//  block)
//    read back equal to the strings the writer was given: the writer's strings are the reference.
//  - Types other than variable-length strings are refused with a message.
//  - Damaged files, made by patching single fields of a valid file (located from the "GCOL" signature, HDF5
//    format spec III.E "Global Heap", and the stored reference: 4-byte length, collection address, 4-byte
//    object index), are refused with a message, never a crash or a hang.
#include <hdf5.h>

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/io/hdf5_handle.h"
#include "core/io/hdf5_reader.h"
#include "core/io/hdf5_vlen.h"

using namespace qs;
using qs::io::Hid;

namespace {

using Strings = std::vector<std::string>;

QByteArray readBytes(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool writeBytes(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
}

// A variable-length UTF-8 string type in memory (char* per element), as a writer uses it.
hid_t vlenStringType() {
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

std::vector<const char*> pointers(const Strings& s) {
    std::vector<const char*> p;
    for (const std::string& x : s) p.push_back(x.c_str());
    return p;
}

// Writes attribute `name` of `loc`: a scalar when `scalar` (one string), else a 1-D array.
bool writeStringAttribute(hid_t loc, const char* name, const Strings& values, bool scalar) {
    const hsize_t n = values.size();
    Hid type(vlenStringType(), H5Tclose);
    Hid space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
    Hid a(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const auto p = pointers(values);
    return a.ok() && H5Awrite(a.get(), type.get(), p.data()) >= 0;
}

// Creates 1-D dataset `name` of `size` strings (chunks of 2) and writes `values` to its first elements only;
// the others (and whole chunks) stay unwritten.
bool writeStringDataset(hid_t file, const char* name, hsize_t size, const Strings& values) {
    Hid type(vlenStringType(), H5Tclose);
    Hid space(H5Screate_simple(1, &size, nullptr), H5Sclose);
    Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    const hsize_t chunk = 2;
    H5Pset_chunk(dcpl.get(), 1, &chunk);
    Hid set(H5Dcreate2(file, name, type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
    if (!set.ok()) return false;
    if (values.empty()) return true;
    const hsize_t start = 0, count = values.size();
    Hid fileSpace(H5Dget_space(set.get()), H5Sclose);
    Hid memSpace(H5Screate_simple(1, &count, nullptr), H5Sclose);
    H5Sselect_hyperslab(fileSpace.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr);
    const auto p = pointers(values);
    return H5Dwrite(set.get(), type.get(), memSpace.get(), fileSpace.get(), H5P_DEFAULT, p.data()) >= 0;
}

// Creates contiguous 1-D dataset `name` of `size` strings, its storage allocated and zeroed (null references)
// at creation; `offset` gets its address in the file.
bool zeroedStringDataset(hid_t file, const char* name, hsize_t size, haddr_t& offset) {
    Hid type(vlenStringType(), H5Tclose);
    Hid space(H5Screate_simple(1, &size, nullptr), H5Sclose);
    Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_ALLOC);
    Hid set(H5Dcreate2(file, name, type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
    offset = set.ok() ? H5Dget_offset(set.get()) : HADDR_UNDEF;
    return offset != HADDR_UNDEF;
}

// Creates `path` (with a user block of `userBlock` bytes) and lets `fill` write into its root group.
bool makeFile(const QString& path, const std::function<bool(hid_t)>& fill, hsize_t userBlock = 0) {
    std::lock_guard lock(io::hdf5Mutex());
    Hid fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
    if (userBlock) H5Pset_userblock(fcpl.get(), userBlock);
    Hid file(H5Fcreate(path.toUtf8().constData(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
    return file.ok() && fill(file.get());
}

// Reads attribute `name` of the root group, or dataset `name`, of `path` through hdf5_vlen.
Result<Strings> readAttribute(const QString& path, const char* name) {
    std::lock_guard lock(io::hdf5Mutex());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    Hid file(H5Fopen(path.toUtf8().constData(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    Hid a(H5Aopen(file.get(), name, H5P_DEFAULT), H5Aclose);
    if (!a.ok()) return Error{"test: cannot open attribute"};
    return io::readVlenStringAttribute(file.get(), a.get());
}

Result<Strings> readDataset(const QString& path, const char* name) {
    std::lock_guard lock(io::hdf5Mutex());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    Hid file(H5Fopen(path.toUtf8().constData(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    Hid set(H5Dopen2(file.get(), name, H5P_DEFAULT), H5Dclose);
    if (!set.ok()) return Error{"test: cannot open dataset"};
    return io::readVlenStringDataset(file.get(), set.get());
}

QString describe(const Result<Strings>& r) {
    if (!r) return "error: " + QString::fromStdString(r.message());
    QStringList out;
    for (const std::string& s : *r) out << "\"" + QString::fromStdString(s) + "\"";
    return "[" + out.join(", ") + "]";
}

void putLE(QByteArray& bytes, qsizetype at, uint64_t value, int width) {
    for (int k = 0; k < width; ++k) bytes[at + k] = char((value >> (8 * k)) & 0xff);
}

uint64_t getLE(const QByteArray& bytes, qsizetype at, int width) {
    uint64_t v = 0;
    for (int k = width; k-- > 0;) v = (v << 8) | uint8_t(bytes[at + k]);
    return v;
}

// The byte positions of one string's storage in a file of default layout (8-byte offsets and lengths, no user
// block) holding a single global heap collection.
struct HeapLayout {
    qsizetype collection = -1;  // "GCOL"; also the collection's address (no user block)
    qsizetype object =
        -1;  // the string's heap object header: index (2), references (2), reserved (4), size (8)
    qsizetype freeSpace = -1;  // the free-space object (index 0) after it
    qsizetype reference = -1;  // the stored reference: length (4), collection address (8), object index (4)
};

constexpr char kDamaged[] = "a string to damage";  // 18 bytes: its heap object is padded to 24

HeapLayout locate(const QByteArray& file) {
    HeapLayout l;
    l.collection = file.indexOf("GCOL");
    if (l.collection < 0 || file.indexOf("GCOL", l.collection + 1) >= 0) return {};
    l.object = l.collection + 16;  // signature (4), version (1), reserved (3), collection size (8)
    l.freeSpace = l.object + 16 + 24;
    QByteArray reference(12, '\0');
    putLE(reference, 0, sizeof(kDamaged) - 1, 4);
    putLE(reference, 4, uint64_t(l.collection), 8);
    l.reference = file.indexOf(reference);
    return l;
}

}  // namespace

class TestHdf5Vlen : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;

    QString path(const QString& name) const { return m_dir.filePath(name); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void attributes_readBackAsWritten_data() {
        QTest::addColumn<bool>("scalar");
        QTest::addColumn<QStringList>("values");
        QTest::addColumn<int>("userBlock");
        QTest::newRow("scalar ascii") << true << QStringList{"hello, heap"} << 0;
        QTest::newRow("scalar empty") << true << QStringList{""} << 0;
        QTest::newRow("scalar utf-8")
            << true << QStringList{QString::fromUtf8("Grüße, 量子化 ✓ 🙂")} << 0;
        QTest::newRow("1-D mixed") << false
                                   << QStringList{"", "one", QString::fromUtf8("ünïcödé"), "",
                                                  QString(300, 'x')}
                                   << 0;
        QTest::newRow("1-D one") << false << QStringList{"alone"} << 0;
        QTest::newRow("user block 512") << false << QStringList{"after", "a user block"} << 512;
    }
    void attributes_readBackAsWritten() {
        QFETCH(bool, scalar);
        QFETCH(QStringList, values);
        QFETCH(int, userBlock);
        Strings written;
        for (const QString& v : values) written.push_back(v.toStdString());
        const QString file = path(QString("attr-%1.h5").arg(QTest::currentDataTag()).replace(' ', '_'));
        QVERIFY(makeFile(
            file, [&](hid_t f) { return writeStringAttribute(f, "text", written, scalar); },
            hsize_t(userBlock)));
        const auto read = readAttribute(file, "text");
        QVERIFY2(read && *read == written, qPrintable(describe(read)));
    }

    // A NUL inside a stored string (put there by patching the heap object: libhdf5's writer stops at the
    // first NUL) ends the string there, as libhdf5's own C strings do.
    void attribute_embeddedNul_cutThere() {
        const QString file = path("nul.h5");
        QVERIFY(makeFile(file, [](hid_t f) {
            return writeStringAttribute(f, "text", {"before", "cut#here"}, false);
        }));
        QByteArray bytes = readBytes(file);
        const qsizetype at = bytes.indexOf("cut#here");
        QVERIFY(at > 0 && bytes.indexOf("cut#here", at + 1) < 0);
        bytes[at + 3] = '\0';
        QVERIFY(writeBytes(file, bytes));
        const auto read = readAttribute(file, "text");
        QVERIFY2(read && *read == (Strings{"before", "cut"}), qPrintable(describe(read)));
    }

    // Written elements read back; elements never written (in a written chunk, in unwritten chunks, or a
    // dataset never written at all) read as "".
    void dataset_readBackAsWritten_unwrittenEmpty() {
        const QString file = path("dataset.h5");
        const Strings written{"", "first", QString::fromUtf8("zweite Zeichenkette äöü").toStdString()};
        QVERIFY(makeFile(file, [&](hid_t f) {
            return writeStringDataset(f, "/strings", 7, written) && writeStringDataset(f, "/never", 3, {});
        }));
        const auto read = readDataset(file, "/strings");
        Strings expected = written;
        expected.resize(7);
        QVERIFY2(read && *read == expected, qPrintable(describe(read)));
        const auto never = readDataset(file, "/never");
        QVERIFY2(never && *never == Strings(3), qPrintable(describe(never)));
    }

    // References all pointing at one 4000-byte object: "/few" (100) reads back, "/many" (30000, 120 MB of
    // strings from a file of about 0.5 MB) is refused before the strings are copied out.
    void manyReferencesToOneObject_refusedBeyondFileSize() {
        const QString file = path("many.h5");
        const std::string big(4000, 'y');
        haddr_t few = HADDR_UNDEF, many = HADDR_UNDEF;
        QVERIFY(makeFile(file, [&](hid_t f) {
            return writeStringAttribute(f, "big", {big}, true) && zeroedStringDataset(f, "/few", 100, few) &&
                   zeroedStringDataset(f, "/many", 30000, many);
        }));
        QByteArray bytes = readBytes(file);
        const qsizetype collection = bytes.indexOf("GCOL");
        QVERIFY(collection > 0 && bytes.indexOf("GCOL", collection + 1) < 0);
        QCOMPARE(getLE(bytes, collection + 16, 2), uint64_t(1));
        QCOMPARE(getLE(bytes, collection + 24, 8), uint64_t(big.size()));
        QVERIFY(few != HADDR_UNDEF && many != HADDR_UNDEF && qsizetype(many + 30000 * 16) <= bytes.size());
        for (auto [at, n] : {std::pair{few, 100}, std::pair{many, 30000}})
            for (int k = 0; k < n; ++k) {
                putLE(bytes, qsizetype(at) + 16 * k, big.size(), 4);
                putLE(bytes, qsizetype(at) + 16 * k + 4, uint64_t(collection), 8);
                putLE(bytes, qsizetype(at) + 16 * k + 12, 1, 4);
            }
        QVERIFY(writeBytes(file, bytes));
        const auto read = readDataset(file, "/few");
        QVERIFY2(read && *read == Strings(100, big), qPrintable(describe(read).left(200)));
        const auto refused = readDataset(file, "/many");
        QVERIFY2(!refused, "120 MB of strings accepted");
        QVERIFY2(refused.message().find("more memory") != std::string::npos,
                 qPrintable(QString::fromStdString(refused.message())));
    }

    void otherTypes_refused() {
        const QString file = path("types.h5");
        QVERIFY(makeFile(file, [](hid_t f) {
            Hid fixed(H5Tcopy(H5T_C_S1), H5Tclose);
            H5Tset_size(fixed.get(), 8);
            Hid scalar(H5Screate(H5S_SCALAR), H5Sclose);
            Hid a(H5Acreate2(f, "fixed", fixed.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
            Hid b(H5Acreate2(f, "number", H5T_NATIVE_INT32, scalar.get(), H5P_DEFAULT, H5P_DEFAULT),
                  H5Aclose);
            const int32_t value = 42;
            return H5Awrite(a.get(), fixed.get(), "eight ch") >= 0 &&
                   H5Awrite(b.get(), H5T_NATIVE_INT32, &value) >= 0;
        }));
        for (const char* name : {"fixed", "number"}) {
            const auto read = readAttribute(file, name);
            QVERIFY2(!read, qPrintable(QString(name) + ": accepted as " + describe(read)));
            QVERIFY2(read.message().find("variable-length string") != std::string::npos,
                     qPrintable(QString::fromStdString(read.message())));
        }
    }

    // One field of a valid one-string file patched: `field` names a position of HeapLayout plus an offset
    // into it, `width` bytes get `value`; the message says what is wrong.
    void damagedHeap_refused_data() {
        QTest::addColumn<QString>("field");
        QTest::addColumn<int>("offset");
        QTest::addColumn<int>("width");
        QTest::addColumn<quint64>("value");
        QTest::addColumn<QString>("expected");  // a part of the message
        QTest::newRow("signature") << "collection" << 0 << 4 << quint64(0x4c4f4358)
                                   << QString("no collection signature");  // "XCOL"
        QTest::newRow("collection version")
            << "collection" << 4 << 1 << quint64(2) << QString("no collection signature");
        QTest::newRow("collection size past EOF")
            << "collection" << 8 << 8 << (quint64(1) << 40) << QString("does not fit the file");
        QTest::newRow("collection size huge")
            << "collection" << 8 << 8 << ~quint64(0) << QString("does not fit the file");
        QTest::newRow("collection size below header")
            << "collection" << 8 << 8 << quint64(8) << QString("does not fit the file");
        QTest::newRow("collection size cuts object")
            << "collection" << 8 << 8 << quint64(16 + 16 + 8) << QString("runs past the collection's end");
        QTest::newRow("collection size header only")
            << "collection" << 8 << 8 << quint64(16) << QString("has no object 1");
        QTest::newRow("object size past collection")
            << "object" << 8 << 8 << (quint64(1) << 40) << QString("runs past the collection's end");
        QTest::newRow("object size huge")
            << "object" << 8 << 8 << ~quint64(0) << QString("runs past the collection's end");
        QTest::newRow("object size longer")
            << "object" << 8 << 8 << quint64(sizeof(kDamaged)) << QString("holds 19 bytes, string 0 says 18");
        QTest::newRow("object size shorter")
            << "object" << 8 << 8 << quint64(4) << QString("runs past the collection's end");
        QTest::newRow("object index other") << "object" << 0 << 2 << quint64(9) << QString("has no object 1");
        QTest::newRow("free space size 0 (libhdf5 hangs)")
            << "freeSpace" << 8 << 8 << quint64(0) << QString("free space of 0 bytes");
        QTest::newRow("free space size past end")
            << "freeSpace" << 8 << 8 << (quint64(1) << 20) << QString("free space of 1048576 bytes");
        QTest::newRow("reference length")
            << "reference" << 0 << 4 << quint64(1000) << QString("string 0 says 1000");
        QTest::newRow("reference length max")
            << "reference" << 0 << 4 << quint64(0xffffffff) << QString("string 0 says 4294967295");
        QTest::newRow("reference address past EOF")
            << "reference" << 4 << 8 << (quint64(1) << 40) << QString("lies outside the file");
        QTest::newRow("reference address max")
            << "reference" << 4 << 8 << ~quint64(0) - 1 << QString("lies outside the file");
        QTest::newRow("reference address not a heap")
            << "reference" << 4 << 8 << quint64(0x10) << QString("at address 16: no collection signature");
        QTest::newRow("reference index missing")
            << "reference" << 12 << 4 << quint64(7) << QString("has no object 7");
        QTest::newRow("reference index 0 (free space)")
            << "reference" << 12 << 4 << quint64(0) << QString("has no object 0");
        QTest::newRow("reference index max")
            << "reference" << 12 << 4 << quint64(0xffffffff) << QString("has no object 4294967295");
    }
    void damagedHeap_refused() {
        QFETCH(QString, field);
        QFETCH(int, offset);
        QFETCH(int, width);
        QFETCH(quint64, value);
        QFETCH(QString, expected);
        const QString file = path("damaged.h5");
        QVERIFY(makeFile(file, [](hid_t f) { return writeStringAttribute(f, "text", {kDamaged}, true); }));
        const auto valid = readAttribute(file, "text");
        QVERIFY2(valid && *valid == Strings{kDamaged}, qPrintable(describe(valid)));

        QByteArray bytes = readBytes(file);
        const HeapLayout l = locate(bytes);
        QVERIFY2(l.collection > 0 && l.reference > 0, "the collection or the stored reference was not found");
        // The layout assumed by the table (object 1 of 18 bytes padded to 24, then the free space).
        QCOMPARE(getLE(bytes, l.object, 2), uint64_t(1));
        QCOMPARE(getLE(bytes, l.object + 8, 8), uint64_t(sizeof(kDamaged) - 1));
        QCOMPARE(getLE(bytes, l.freeSpace, 2), uint64_t(0));
        QCOMPARE(getLE(bytes, l.reference + 12, 4), uint64_t(1));
        const qsizetype base = field == "collection"  ? l.collection
                               : field == "object"    ? l.object
                               : field == "freeSpace" ? l.freeSpace
                                                      : l.reference;
        putLE(bytes, base + offset, value, width);
        QVERIFY(writeBytes(file, bytes));

        const auto read = readAttribute(file, "text");
        QVERIFY2(!read, qPrintable("accepted as " + describe(read)));
        const QString message = QString::fromStdString(read.message());
        QVERIFY2(message.contains(expected), qPrintable(message));
    }
};

QTEST_GUILESS_MAIN(TestHdf5Vlen)
#include "test_hdf5_vlen.moc"
