// SPDX-License-Identifier: GPL-3.0-or-later
// checkFiniteWeights: NaN/Inf in f32/f16/bf16 tensors are found and named (tensor, element, row, column);
// integer tensors are not read as floats; the report does not depend on the thread count.
#include <tbb/task_arena.h>

#include "core/infer/weight_check.h"

#include <QTemporaryDir>
#include <QTest>

#include <limits>

#include "core/io/checkpoint.h"
#include "core/io_fixtures.h"

using namespace qs;
using qstest::StEntry;

namespace {

std::string f32(std::vector<float> v) {
    std::string s;
    for (float x : v) qstest::putLE<float>(s, x);
    return s;
}

std::string u16(std::vector<uint16_t> v) {
    std::string s;
    for (uint16_t x : v) qstest::putLE<uint16_t>(s, x);
    return s;
}

std::string i64AllOnes(int n) { return std::string(size_t(n) * 8, '\xff'); }  // NaN bit patterns if read as floats

std::string check(const QTemporaryDir& dir, const std::vector<StEntry>& entries, int threads) {
    const std::string path = dir.filePath("model.safetensors").toStdString();
    qstest::writeBytes(path, qstest::makeSafetensors(entries));
    auto ckpt = openCheckpoint(path, {false});
    if (!ckpt) return "open failed: " + ckpt.message();
    tbb::task_arena arena(threads);
    const Status s = checkFiniteWeights(**ckpt, &arena);
    return s ? std::string() : s.message();
}

}  // namespace

class TestWeightCheck : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void check_namesTheFirstBadTensorAndElement() {
        QTemporaryDir dir;
        const float inf = std::numeric_limits<float>::infinity();
        std::vector<StEntry> e = {
            {"position_ids", "I64", {1, 4}, i64AllOnes(4)},
            {"model.embed_tokens.weight", "F32", {2, 3}, f32({1, 2, 3, 4, 5, 6})},
            {"model.layers.0.self_attn.q_proj.weight", "F16", {2, 4}, u16({0x3C00, 0, 0, 0, 0, 0x7E00, 0, 0})},
            {"model.layers.1.mlp.up_proj.weight", "BF16", {2, 2}, u16({0, 0, 0, 0x7F80})},
            {"lm_head.weight", "F32", {2, 3}, f32({0, 0, 0, 0, -inf, 0})},
        };
        for (int threads : {1, 4}) {
            const std::string m = check(dir, e, threads);
            QVERIFY2(m.find("'model.layers.0.self_attn.q_proj.weight'") != std::string::npos, m.c_str());
            QVERIFY2(m.find("NaN at element 5 (row 1, column 1)") != std::string::npos, m.c_str());
            QVERIFY2(m.find("model.safetensors") != std::string::npos, m.c_str());
        }
        e.erase(e.begin() + 2);
        std::string m = check(dir, e, 4);
        QVERIFY2(m.find("'model.layers.1.mlp.up_proj.weight' (BF16) holds +Inf at element 3") != std::string::npos, m.c_str());
        e.erase(e.begin() + 2);
        m = check(dir, e, 2);
        QVERIFY2(m.find("'lm_head.weight' (F32) holds -Inf at element 4") != std::string::npos, m.c_str());
        e.pop_back();
        QCOMPARE(check(dir, e, 2), std::string());  // finite floats; the I64 tensor is not read as floats
    }
};

QTEST_GUILESS_MAIN(TestWeightCheck)
#include "test_weight_check.moc"
