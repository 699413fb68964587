// SPDX-License-Identifier: GPL-3.0-or-later
// shared/cases/added-tokens: stories260K (516 embedding rows) with a tokenizer.json whose added tokens lie past
// the 512-piece model vocabulary. For each text of reference.json, the documents protocol must feed Hugging
// Face's ids (BOS, special and non-special added tokens matched) and score them with the independently computed
// mean NLL.
#include "core/infer/inference_model.h"
#include "core/infer/perplexity.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "common/assets.h"

using namespace qs;

class TestAddedTokensCase : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void documentsProtocol_matchesReference() {
        QS_REQUIRE_ASSET(folder, "cases/added-tokens/model");
        QS_REQUIRE_ASSET(refPath, "cases/added-tokens/reference.json");
        auto m = openInferenceModel(folder.toStdString(), {}, nullptr);
        QVERIFY2(m.ok(), m ? "" : m.message().c_str());
        for (const auto& w : m->warnings) QVERIFY2(w.find("the tokenizer") == std::string::npos, w.c_str());
        std::ifstream in(refPath.toStdString());
        const auto ref = nlohmann::json::parse(in, nullptr, false);
        QVERIFY(ref.is_object() && ref.size() == 5);
        Transformer t(m->weights, nullptr);
        for (auto it = ref.begin(); it != ref.end(); ++it) {
            PerplexityOptions o;
            o.protocol = PplProtocol::Documents;
            o.context = 512;
            std::vector<std::string> warnings;
            auto windows = buildEvalWindows(*m->tokenizer, it.key(), o, warnings);
            QVERIFY2(windows.ok(), windows ? "" : windows.message().c_str());
            QCOMPARE(windows->size(), size_t(1));
            QCOMPARE(windows->front().tokens, it.value()["ids"].get<std::vector<int>>());
            auto r = evaluatePerplexity(t, *m->tokenizer, it.key(), o);
            QVERIFY2(r.ok(), r ? "" : r.message().c_str());
            QCOMPARE(r->tokens, it.value()["n_scored"].get<int64_t>());
            const double want = it.value()["mean_nll"].get<double>();
            QVERIFY2(std::abs(r->nll - want) <= 1e-4 * std::max(1.0, want),
                     qPrintable(QString::fromStdString(it.key()) + ": " + QString::number(r->nll, 'g', 10) +
                                " vs " + QString::number(want, 'g', 10)));
        }
    }
};

QTEST_GUILESS_MAIN(TestAddedTokensCase)
#include "test_added_tokens_case.moc"
