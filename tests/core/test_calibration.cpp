// SPDX-License-Identifier: GPL-3.0-or-later
// The calibration interface: TensorCalibration's derived values, the by-name refusal of a calibrated scheme
// without data (calibrationFor / checkCalibration), and the uncalibrated schemes ignoring calibration.
#include "common/test_arena.h"
#include "core/calib/calibration.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/quantize_parallel.h"

#include <QTest>

#include <memory>

namespace {

// A scheme that needs the importance and then quantizes as q8_0: stands in for the calibrated schemes here
// (the registry's own ones are tested with their families).
class NeedsImportance : public qs::ChunkedScheme {
public:
    NeedsImportance() : m_base(std::dynamic_pointer_cast<const qs::ChunkedScheme>(qs::findScheme("q8_0"))) {}
    std::string name() const override { return "test_im"; }
    std::string family() const override { return "test"; }
    std::string description() const override { return "q8_0 needing an importance"; }
    double nominalBits() const override { return 8; }
    std::string rejectReason(int64_t r, int64_t c) const override { return m_base->rejectReason(r, c); }
    qs::ByteBreakdown packedBytes(int64_t r, int64_t c) const override { return m_base->packedBytes(r, c); }
    void dequantizeRows(const qs::QuantizedTensor& q, int64_t f, int64_t n, float* d) const override {
        m_base->dequantizeRows(q, f, n, d);
    }
    qs::CalibrationNeeds calibrationNeeds() const override { return qs::CalibrationNeeds::Importance; }
    qs::Result<std::unique_ptr<qs::QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                                    std::string_view name, qs::QuantPath path) const override {
        return startCalibrated(src, rows, cols, name, path, nullptr);
    }
    qs::Result<std::unique_ptr<qs::QuantJob>> startCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                              std::string_view name, qs::QuantPath path,
                                                              const qs::TensorCalibration* c) const override {
        if (auto s = qs::checkCalibration(*this, c, name, cols); !s) return s.error();
        return m_base->start(src, rows, cols, name, path);
    }

private:
    std::shared_ptr<const qs::ChunkedScheme> m_base;
};

std::shared_ptr<qs::TensorCalibration> importanceOf(int64_t cols, int64_t tokens) {
    auto c = std::make_shared<qs::TensorCalibration>();
    c->cols = cols;
    c->tokens = tokens;
    c->sumSquares.assign(size_t(cols), 0.0);
    for (int64_t j = 0; j < cols; ++j) c->sumSquares[size_t(j)] = double(j + 1) * double(tokens);
    return c;
}

std::vector<float> ramp(int64_t n) {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[size_t(i)] = float((i * 37) % 101) / 50.0f - 1.0f;
    return x;
}

}  // namespace

class TestCalibration : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void importance_isMeanSquareAndFieldsSayWhatWasCollected() {
        qs::TensorCalibration c;
        c.cols = 3;
        c.tokens = 4;
        QVERIFY(qs::isNone(c.collected()));
        QVERIFY(c.importance().empty());
        c.sumSquares = {4.0, 2.0, 1.0};
        c.maxAbs = {1, 1, 1};
        QCOMPARE(c.importance(), (std::vector<float>{1.0f, 0.5f, 0.25f}));
        QCOMPARE(c.collected(), qs::CalibrationNeeds::Importance | qs::CalibrationNeeds::MaxAbs);
        c.hessian.assign(9, 0.0);
        c.samples.assign(6, 0.0f);
        QCOMPARE(c.nSamples(), int64_t(2));
        QVERIFY(qs::hasAll(c.collected(), qs::CalibrationNeeds::Hessian | qs::CalibrationNeeds::Samples));
        QVERIFY(!qs::hasAll(c.collected(), qs::CalibrationNeeds::MeanAbs));
        QCOMPARE(qs::calibrationNeedsText(qs::CalibrationNeeds::Importance | qs::CalibrationNeeds::Hessian),
                 std::string("importance, hessian"));
        QCOMPARE(qs::calibrationNeedsText(qs::CalibrationNeeds::None), std::string("none"));
    }

    void calibrationFor_refusesByNameWithoutData() {
        NeedsImportance s;
        auto none = qs::calibrationFor(s, nullptr, "blk.0.attn_q.weight", 64);
        QVERIFY(!none.ok());
        QCOMPARE(none.message(), std::string("test_im on 'blk.0.attn_q.weight' needs calibration data "
                                             "(pass --calib FILE or --imatrix FILE)"));
        qs::CalibrationSet set;
        set.tensors["blk.0.attn_q.weight"] = importanceOf(64, 10);
        auto embd = qs::calibrationFor(s, &set, "token_embd.weight", 64);
        QVERIFY(!embd.ok());
        QVERIFY2(embd.message().rfind("test_im on 'token_embd.weight' needs calibration data (pass --calib FILE or "
                                      "--imatrix FILE); the calibration set has none for this tensor", 0) == 0,
                 embd.message().c_str());
        auto wrongCols = qs::calibrationFor(s, &set, "blk.0.attn_q.weight", 128);
        QVERIFY(!wrongCols.ok());
        QVERIFY2(wrongCols.message().find("128 input columns") != std::string::npos, wrongCols.message().c_str());
        auto found = qs::calibrationFor(s, &set, "blk.0.attn_q.weight", 64);
        QVERIFY2(found.ok(), found.ok() ? "" : found.message().c_str());
        QCOMPARE(*found, set.tensors["blk.0.attn_q.weight"].get());
    }

    void checkCalibration_namesTheMissingStatistic() {
        NeedsImportance s;
        qs::TensorCalibration onlyMax;
        onlyMax.cols = 32;
        onlyMax.tokens = 5;
        onlyMax.maxAbs.assign(32, 1.0f);
        auto st = qs::checkCalibration(s, &onlyMax, "blk.1.ffn_down.weight", 32);
        QVERIFY(!st.ok());
        QVERIFY2(st.message().find("(importance); the calibration given has only maxAbs") != std::string::npos,
                 st.message().c_str());
        qs::TensorCalibration noTokens = *importanceOf(32, 1);
        noTokens.tokens = 0;
        QVERIFY(!qs::checkCalibration(s, &noTokens, "t", 32).ok());
    }

    void calibratedScheme_quantizeRefusesAndQuantizeCalibratedRuns() {
        NeedsImportance s;
        const int64_t rows = 4, cols = 64;
        const std::vector<float> x = ramp(rows * cols);
        auto plain = s.quantize(x, rows, cols, "blk.0.ffn_up.weight");
        QVERIFY(!plain.ok());
        QVERIFY(plain.message().find("needs calibration data") != std::string::npos);
        auto c = importanceOf(cols, 7);
        auto cal = s.quantizeCalibrated(x, rows, cols, "blk.0.ffn_up.weight", c.get());
        QVERIFY2(cal.ok(), cal.ok() ? "" : cal.message().c_str());
        // The parallel paths hand the calibration through as well, and refuse without it.
        auto par = qs::quantizeParallel(s, x, rows, cols, "blk.0.ffn_up.weight", qstest::testArena(), nullptr,
                                        c.get());
        QVERIFY(par.ok());
        QVERIFY(par->data == cal->data);
        QVERIFY(!qs::quantizeParallel(s, x, rows, cols, "blk.0.ffn_up.weight", qstest::testArena(), nullptr)
                     .ok());
        auto withStats = qs::quantizeWithErrorStats(s, x, rows, cols, "blk.0.ffn_up.weight", {},
                                                    qstest::testArena(), nullptr, c.get());
        QVERIFY(withStats.ok());
        QVERIFY(withStats->tensor.data == cal->data);
        QVERIFY(!qs::quantizeWithErrorStats(s, x, rows, cols, "blk.0.ffn_up.weight", {}, qstest::testArena(),
                                            nullptr)
                     .ok());
    }

    void uncalibratedSchemes_needNothingAndIgnoreCalibration() {
        for (const auto& s : qs::listSchemes()) {
            if (!qs::isNone(s->calibrationNeeds())) continue;
            auto none = qs::calibrationFor(*s, nullptr, "token_embd.weight", 256);
            QVERIFY(none.ok());
            QCOMPARE(*none, static_cast<const qs::TensorCalibration*>(nullptr));
        }
        auto q4 = qs::findScheme("q4_K");
        const std::vector<float> x = ramp(2 * 256);
        auto c = importanceOf(256, 3);
        auto a = q4->quantize(x, 2, 256, "t");
        auto b = q4->quantizeCalibrated(x, 2, 256, "t", c.get());
        QVERIFY(a.ok() && b.ok());
        QVERIFY(a->data == b->data);
    }
};

QTEST_APPLESS_MAIN(TestCalibration)
#include "test_calibration.moc"
