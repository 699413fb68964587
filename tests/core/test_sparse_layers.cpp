// SPDX-License-Identifier: GPL-3.0-or-later
// Layer indices far apart in tensor NAMES ("model.layers.999999999..." in a 136-byte file): the runnability check
// and the sweep's per-layer groups follow the tensors present, not the highest index. Layers without any tensor
// are one range in the runnable verdict whatever the count's source (a declaration or the names), and 'layers' /
// 'layer-parts' make groups only for blocks that have tensors. The files are built here, a few bytes each.
#include <QTemporaryDir>
#include <QTest>

#include <string>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/io_fixtures.h"
#include "core/model/model_info.h"
#include "core/sweep/sweep_groups.h"

using namespace qs;

namespace {

// A safetensors file of 2x2 F32 tensors with these names.
std::string safetensorsNamed(const std::vector<std::string>& names) {
    std::vector<qstest::StEntry> entries;
    for (const std::string& n : names) entries.push_back({n, "F32", {2, 2}, std::string(16, '\0')});
    return qstest::makeSafetensors(entries);
}

ModelInfo analyzed(const QTemporaryDir& dir, const std::string& file, const std::string& bytes) {
    const std::string path = dir.path().toStdString() + "/" + file;
    qstest::writeBytes(path, bytes);
    auto ck = openCheckpoint(path);
    if (!ck) qFatal("%s", ck.message().c_str());
    return analyzeModel(**ck);
}

}  // namespace

class TestSparseLayers : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // The count comes from the names (no config.json, no block_count): layers 0 .. 999999998 have no tensor and
    // are one range. The check used to scan every index up to the name's (minutes; the GUI froze on open).
    void layerIndexInName_isOneMissingRange_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        QTest::newRow("safetensors, one tensor")
            << "m.safetensors" << QByteArray::fromStdString(safetensorsNamed({"model.layers.999999999.mlp.down_proj.weight"}))
            << "every tensor of layers 0 to 999999998";
        QTest::newRow("safetensors, layers 0 and 99999999")
            << "m.safetensors"
            << QByteArray::fromStdString(safetensorsNamed(
                   {"model.layers.0.mlp.down_proj.weight", "model.layers.99999999.mlp.down_proj.weight"}))
            << "every tensor of layers 1 to 99999998";
        QTest::newRow("safetensors, one empty layer between")
            << "m.safetensors"
            << QByteArray::fromStdString(safetensorsNamed(
                   {"model.layers.0.mlp.down_proj.weight", "model.layers.2.mlp.down_proj.weight"}))
            << "every tensor of layer 1,";
        const std::string gguf = qstest::makeGguf({{"general.architecture", "llama"}},
                                                  {{"blk.999999999.attn_q.weight", {2, 2}, 0, std::string(16, '\0')}});
        QTest::newRow("gguf, one tensor") << "m.gguf" << QByteArray::fromStdString(gguf)
                                          << "every tensor of layers 0 to 999999998";
    }
    void layerIndexInName_isOneMissingRange() {
        QFETCH(QString, file);
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const ModelInfo info = analyzed(dir, file.toStdString(), bytes.toStdString());
        QVERIFY(!info.runnable);
        QVERIFY2(info.runnableReason.find(expected.toStdString()) != std::string::npos, info.runnableReason.c_str());
    }

    // The layers that have tensors are still checked tensor by tensor, after the ranges.
    void layersWithTensors_stillNameTheirMissingWeights() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const ModelInfo info = analyzed(
            dir, "m.safetensors",
            safetensorsNamed({"model.layers.0.mlp.down_proj.weight", "model.layers.5.mlp.down_proj.weight"}));
        QVERIFY2(info.runnableReason.find("every tensor of layers 1 to 4, token_embedding, final_norm, output, "
                                          "attn_norm[0], wq[0]") != std::string::npos,
                 info.runnableReason.c_str());
    }

    // 'layers' and 'layer-parts' make a group per block that has matrices of the group's kind; the index in a name
    // is not a count (10^8 groups ran out of memory).
    void sweepLayerGroups_onlyForLayersWithTensors() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const ModelInfo info = analyzed(
            dir, "m.safetensors",
            safetensorsNamed({"model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight",
                              "model.layers.99999999.mlp.down_proj.weight"}));
        auto layers = expandGroups(info, {"layers"});
        QVERIFY2(layers.ok(), layers.ok() ? "" : layers.message().c_str());
        QCOMPARE(layers->size(), size_t(2));
        QCOMPARE((*layers)[0].name, std::string("layer0"));
        QCOMPARE((*layers)[0].tensors, 2);
        QCOMPARE((*layers)[1].name, std::string("layer99999999"));
        QCOMPARE((*layers)[1].tensors, 1);
        auto parts = expandGroups(info, {"layer-parts"});
        QVERIFY2(parts.ok(), parts.ok() ? "" : parts.message().c_str());
        std::vector<std::string> names;
        for (const SweepGroup& g : *parts) names.push_back(g.name);
        QCOMPARE(names, (std::vector<std::string>{"layer0.attention", "layer0.mlp", "layer99999999.mlp"}));
        QVERIFY(checkDisjointGroups(info, *parts).ok());
    }
};

QTEST_GUILESS_MAIN(TestSparseLayers)
#include "test_sparse_layers.moc"
