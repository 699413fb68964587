// SPDX-License-Identifier: GPL-3.0-or-later
// llama.cpp imatrix files (core/calib/imatrix_file.h): files built byte by byte in the test from llama.cpp's
// documented layouts (legacy binary and GGUF) read as llama-quantize reads them; write/read round trips in
// both formats; the mapping of llama.cpp names to the checkpoint's own names (HF, llama2.c) by tensor kind and
// layer; hostile files refused by name.
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/assets.h"
#include "core/calib/imatrix_file.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"

using namespace qs;

namespace {
struct Bytes {
    std::vector<std::byte> b;
    template <class T>
    Bytes& put(T v) {
        const auto* p = reinterpret_cast<const std::byte*>(&v);
        b.insert(b.end(), p, p + sizeof v);
        return *this;
    }
    Bytes& raw(const std::string& s) {
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        b.insert(b.end(), p, p + s.size());
        return *this;
    }
    Bytes& str64(const std::string& s) { return put(uint64_t(s.size())).raw(s); }  // GGUF string
};

// Legacy: n_entries; {len, name, ncall, nval, values}; tail {last_chunk, dataset_len, dataset}.
Bytes legacyFile(bool tail) {
    Bytes f;
    f.put(int32_t(2));
    f.put(int32_t(19)).raw("blk.0.attn_q.weight").put(int32_t(10)).put(int32_t(3));
    f.put(30.0f).put(0.5f).put(7.0f);
    f.put(int32_t(13)).raw("output.weight").put(int32_t(0)).put(int32_t(2));
    f.put(2.0f).put(3.0f);
    if (tail) f.put(int32_t(10)).put(int32_t(8)).raw("wiki.raw");
    return f;
}

// GGUF v3 imatrix with one weight: in_sum2 ne [4, 1] and counts ne [1, 1], data aligned to 32.
Bytes ggufFile(float count, float firstSum, bool withCounts = true, const char* type = "imatrix") {
    Bytes f;
    f.raw("GGUF").put(uint32_t(3)).put(uint64_t(withCounts ? 2 : 1)).put(uint64_t(4));
    f.str64("general.type").put(uint32_t(8)).str64(type);
    f.str64("imatrix.datasets").put(uint32_t(9)).put(uint32_t(8)).put(uint64_t(1)).str64("wiki.test.raw");
    f.str64("imatrix.chunk_count").put(uint32_t(4)).put(uint32_t(5));
    f.str64("imatrix.chunk_size").put(uint32_t(4)).put(uint32_t(512));
    f.str64("blk.1.ffn_down.weight.in_sum2").put(uint32_t(2)).put(uint64_t(4)).put(uint64_t(1)).put(uint32_t(0));
    f.put(uint64_t(0));
    if (withCounts) f.str64("blk.1.ffn_down.weight.counts").put(uint32_t(2)).put(uint64_t(1)).put(uint64_t(1)).put(uint32_t(0)).put(uint64_t(32));
    while (f.b.size() % 32) f.put(uint8_t(0));
    f.put(firstSum).put(2.0f).put(0.0f).put(1e6f);
    for (int i = 0; i < 4; ++i) f.put(0.0f);  // pad to 32
    if (withCounts) f.put(count);
    return f;
}

QString writeTemp(const QTemporaryDir& dir, const char* name, const Bytes& f) {
    const QString p = dir.filePath(name);
    FILE* out = std::fopen(p.toLocal8Bit().constData(), "wb");
    std::fwrite(f.b.data(), 1, f.b.size(), out);
    std::fclose(out);
    return p;
}

struct Loaded {
    std::unique_ptr<Checkpoint> ckpt;
    ModelInfo info;
};
}  // namespace

class TestImatrixFile : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void legacy_readAsLlamaQuantizeDoes() {
        for (bool tail : {false, true}) {
            auto r = parseLegacyImatrix(legacyFile(tail).b, "test.dat");
            if (!r.ok()) QFAIL(r.message().c_str());
            QCOMPARE(r->entries.size(), size_t(2));
            QCOMPARE(r->entries[0].name, std::string("blk.0.attn_q.weight"));  // sorted by name
            QCOMPARE(r->entries[0].tokens, int64_t(10));
            QCOMPARE(r->entries[1].tokens, int64_t(1));  // ncall 0: the values as stored
            TensorCalibration c;
            c.cols = 3;
            c.tokens = r->entries[0].tokens;
            c.sumSquares = r->entries[0].sumSquares;
            const std::vector<float> imp = c.importance();
            QCOMPARE(imp, (std::vector<float>{30.0f / 10.0f, 0.5f / 10.0f, 7.0f / 10.0f}));  // llama: v /= ncall
            QCOMPARE(r->datasets, tail ? std::vector<std::string>{"wiki.raw"} : std::vector<std::string>{});
        }
    }

    void gguf_readAsLlamaQuantizeDoes() {
        QTemporaryDir dir;
        auto r = readImatrix(writeTemp(dir, "a.gguf", ggufFile(3.0f, 6.0f)).toStdString());
        if (!r.ok()) QFAIL(r.message().c_str());
        QCOMPARE(r->entries.size(), size_t(1));
        QCOMPARE(r->entries[0].name, std::string("blk.1.ffn_down.weight"));
        QCOMPARE(r->entries[0].sumSquares, (std::vector<double>{6.0, 2.0, 0.0, 1e6}));
        QCOMPARE(r->entries[0].tokens, int64_t(3));
        QCOMPARE(r->datasets, std::vector<std::string>{"wiki.test.raw"});
        QCOMPARE(r->chunkCount, int64_t(5));
        QCOMPARE(r->chunkSize, int64_t(512));
        // Count 0: llama-quantize uses importance 1 for every column.
        auto z = readImatrix(writeTemp(dir, "z.gguf", ggufFile(0.0f, 6.0f)).toStdString());
        QVERIFY(z.ok());
        QCOMPARE(z->entries[0].sumSquares, (std::vector<double>{1, 1, 1, 1}));
        QCOMPARE(z->warnings.size(), size_t(1));
    }

    void hostile_refusedByName() {
        const Bytes full = legacyFile(true);
        const size_t entriesEnd = legacyFile(false).b.size();
        for (size_t n = 0; n < full.b.size(); ++n) {
            auto r = parseLegacyImatrix(std::span(full.b.data(), n), "cut.dat");
            if (n == entriesEnd) QVERIFY(r.ok());
            else QVERIFY2(!r.ok() && r.message().rfind("cut.dat", 0) == 0, qPrintable(QString::number(n)));
        }
        auto patched = [&](size_t offset, auto value) {
            Bytes f = legacyFile(true);
            std::memcpy(f.b.data() + offset, &value, sizeof value);
            auto r = parseLegacyImatrix(f.b, "bad.dat");
            return r.ok() ? std::string() : r.message();
        };
        QVERIFY(patched(0, int32_t(-1)).find("entry count -1") != std::string::npos);
        QVERIFY(patched(4, int32_t(1 << 30)).find("name length") != std::string::npos);
        QVERIFY(patched(4 + 4 + 19 + 4, int32_t(1 << 29)).find("declares 536870912 values") != std::string::npos);
        QVERIFY(patched(4 + 4 + 19 + 8, std::nanf("")).find("column 0 is nan") != std::string::npos);
        QVERIFY(patched(4 + 4 + 19 + 12, -1.0f).find("column 1 is -1") != std::string::npos);
        Bytes extra = legacyFile(true);
        extra.put(uint8_t(1));
        QVERIFY(!parseLegacyImatrix(extra.b, "x.dat").ok());

        QTemporaryDir dir;
        auto msg = [&](const Bytes& f) {
            auto r = readImatrix(writeTemp(dir, "h.gguf", f).toStdString());
            return r.ok() ? std::string() : r.message();
        };
        QVERIFY(msg(ggufFile(1.5f, 1.0f)).find("a whole number") != std::string::npos);
        QVERIFY(msg(ggufFile(-1.0f, 1.0f)).find("a whole number") != std::string::npos);
        QVERIFY(msg(ggufFile(2.0f, std::nanf(""))).find("column 0 is nan") != std::string::npos);
        QVERIFY(msg(ggufFile(2.0f, 1.0f, false)).find("mismatched sums and counts") != std::string::npos);
        QVERIFY(msg(ggufFile(2.0f, 1.0f, true, "model")).find("not an imatrix") != std::string::npos);
        Bytes cut = ggufFile(2.0f, 1.0f);
        cut.b.resize(cut.b.size() - 2);
        QVERIFY(!msg(cut).empty());
    }

    void modelGguf_isNotAnImatrix() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto r = readImatrix(path.toStdString());
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("not an imatrix") != std::string::npos, r.message().c_str());
    }

    // llama.cpp names map to each checkpoint's own names through (kind, layer); both formats round-trip.
    void roundTrip_bothFormats_onHfAndLlama2cNames() {
        QS_REQUIRE_ASSET(hf, "models/stories260K-hf/model.safetensors");
        QS_REQUIRE_ASSET(l2c, "models/stories260K-llama2c/stories260K.bin");
        QTemporaryDir dir;
        ImatrixFile f;
        f.format = ImatrixFormat::Gguf;
        f.datasets = {"wiki.test.raw"};
        f.chunkCount = 2;
        f.chunkSize = 64;
        for (const char* n : {"blk.0.attn_q.weight", "blk.4.ffn_down.weight", "blk.2.ffn_up.weight"}) {
            const int cols = std::string(n).find("ffn_down") != std::string::npos ? 172 : 64;
            ImatrixEntry e{n, {}, 128};
            for (int j = 0; j < cols; ++j) e.sumSquares.push_back(double(j % 7) * 0.25 + 1.0);
            f.entries.push_back(e);
        }
        std::sort(f.entries.begin(), f.entries.end(), [](auto& a, auto& b) { return a.name < b.name; });
        for (const QString& model : {hf, l2c}) {
            auto ck = openCheckpoint(model.toStdString());
            QVERIFY(ck.ok());
            const ModelInfo info = analyzeModel(**ck);
            for (ImatrixFormat fmt : {ImatrixFormat::Gguf, ImatrixFormat::Legacy}) {
                f.format = fmt;
                const std::string path = dir.filePath(fmt == ImatrixFormat::Gguf ? "m.gguf" : "m.dat").toStdString();
                QVERIFY(writeImatrix(path, f).ok());
                auto back = readImatrix(path);
                if (!back.ok()) QFAIL(back.message().c_str());
                auto set = imatrixToCalibration(*back, **ck, info, path);
                if (!set.ok()) QFAIL(set.message().c_str());
                QCOMPARE(set->tensors.size(), size_t(3));
                const int q = info.findKind(TensorKind::Wq, 0);
                const TensorCalibration* c = set->find((*ck)->tensors[size_t(q)].name);
                QVERIFY2(c, (*ck)->tensors[size_t(q)].name.c_str());
                QCOMPARE(c->cols, int64_t(64));
                TensorCalibration orig;
                orig.cols = 64;
                orig.tokens = 128;
                orig.sumSquares = f.entries[0].sumSquares;
                QCOMPARE(c->importance(), orig.importance());
                auto again = calibrationToImatrix(*set, **ck, info, fmt);
                QVERIFY(again.ok());
                QCOMPARE(again->entries.size(), size_t(3));
                for (size_t i = 0; i < 3; ++i) QCOMPARE(again->entries[i].name, f.entries[i].name);
            }
            ImatrixFile wrong = f;
            wrong.entries[0].name = "blk.9.attn_q.weight";
            auto refused = imatrixToCalibration(wrong, **ck, info, "w.gguf");
            QVERIFY(!refused.ok() && refused.message().find("names no tensor") != std::string::npos);
            wrong = f;
            wrong.entries[0].sumSquares.pop_back();
            refused = imatrixToCalibration(wrong, **ck, info, "w.gguf");
            QVERIFY(!refused.ok() && refused.message().find("another model") != std::string::npos);
        }
    }
};

QTEST_GUILESS_MAIN(TestImatrixFile)
#include "test_imatrix_file.moc"
