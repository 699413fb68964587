// SPDX-License-Identifier: GPL-3.0-or-later
// Architectures against independent references: the llama.cpp outputs of ../shared/archref (Llama 3 rope
// scaling, Qwen 2, Gemma 2, Qwen 3, Gemma 3; each as GGUF and as the Hugging Face folder): greedy ids of three
// prompts (24 steps, EOS masked) exactly, and llamacpp-protocol perplexity (ctx 64) within 1e-4 relative
// (1e-3 for Gemma: llama.cpp's fp16 GELU table). And the float64 reference values of ../shared/cases
// (rope_scaling linear/llama3, GGUF rope.scaling, rope_theta; attention biases). Values are read from the
// reference files at run time.
#include "core/infer/inference_model.h"
#include "core/infer/perplexity.h"

#include <QFile>
#include <QTest>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/assets.h"

using namespace qs;
using nlohmann::json;

namespace {

std::string readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll().toStdString();
}

// Greedy continuation with EOS masked (llama-cli --temp 0 --ignore-eos).
std::vector<int> greedy(Transformer& t, const std::vector<int>& prompt, int steps, int eos, int vocab) {
    std::vector<float> logits(static_cast<size_t>(vocab));
    std::vector<int> out;
    if (!t.evaluate(prompt, logits)) return out;
    for (int s = 0; s < steps; ++s) {
        if (eos >= 0 && eos < vocab) logits[size_t(eos)] = -std::numeric_limits<float>::infinity();
        int best = 0;
        for (int i = 1; i < vocab; ++i)
            if (logits[size_t(i)] > logits[size_t(best)]) best = i;
        out.push_back(best);
        const int tok[1] = {best};
        if (!t.evaluate(tok, logits)) break;
    }
    return out;
}

double meanNll(const QString& model, const QString& textPath, PplProtocol protocol, int ctx) {
    auto m = openInferenceModel(model.toStdString(), {}, nullptr);
    if (!m) {
        qWarning("%s", m.message().c_str());
        return std::nan("");
    }
    tbb::task_arena arena(2);
    Transformer t(m->weights, &arena);
    PerplexityOptions o;
    o.protocol = protocol;
    o.context = ctx;
    auto r = evaluatePerplexity(t, *m->tokenizer, readAll(textPath), o);
    if (!r) {
        qWarning("%s", r.message().c_str());
        return std::nan("");
    }
    return r->nll;
}

}  // namespace

class TestInferArchref : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void archref_matchesLlamaCpp_data() {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("encoding");
        for (const char* a : {"llama3", "qwen2", "gemma2", "qwen3", "gemma3"})
            for (const char* e : {"gguf", "hf_dir"}) QTest::newRow((std::string(a) + " " + e).c_str()) << a << e;
    }
    void archref_matchesLlamaCpp() {
        QFETCH(QString, arch);
        QFETCH(QString, encoding);
        QS_REQUIRE_ASSET(expectedPath, "archref/expected.json");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        const json all = json::parse(readAll(expectedPath));
        const json& e = all.at(arch.toStdString());
        const QString model = qstest::assetPath("archref/" + QString::fromStdString(e.at(encoding.toStdString()).get<std::string>()));
        auto m = openInferenceModel(model.toStdString(), {}, nullptr);
        QVERIFY2(m.ok(), m ? "" : m.message().c_str());
        QVERIFY2(m->info.runnable, m->info.runnableReason.c_str());
        int changedSteps = 0;
        for (const auto& [prompt, ids] : e.at("prompts").items()) {
            const std::vector<int> want = ids.get<std::vector<int>>();
            const std::vector<int> promptIds = m->tokenizer->encode(prompt, true);
            QCOMPARE(promptIds, e.at("prompt_token_ids").at(prompt).get<std::vector<int>>());
            Transformer t(m->weights, nullptr);
            const std::vector<int> got = greedy(t, promptIds, int(want.size()), m->tokenizer->eos(), m->weights->config.vocab);
            QCOMPARE(got.size(), want.size());
            for (size_t i = 0; i < want.size(); ++i) changedSteps += got[i] != want[i];
            QVERIFY2(got == want, qPrintable(QString("%1 '%2': greedy ids differ").arg(arch, QString::fromStdString(prompt))));
        }
        QCOMPARE(changedSteps, 0);

        tbb::task_arena arena(2);
        Transformer t(m->weights, &arena);
        PerplexityOptions o;
        o.protocol = PplProtocol::LlamaCpp;
        o.context = e.at("ppl").at("ctx").get<int>();
        auto r = evaluatePerplexity(t, *m->tokenizer, readAll(textPath), o);
        QVERIFY2(r.ok(), r ? "" : r.message().c_str());
        QCOMPARE(r->tokens, e.at("ppl").at("n_scored_tokens").get<int64_t>());
        const double want = e.at("ppl").at("value").get<double>();
        const double tolerance = arch.startsWith("gemma") ? 1e-3 : 1e-4;
        const double rel = std::fabs(r->ppl - want) / want;
        QVERIFY2(rel <= tolerance, qPrintable(QString("ppl %1, llama.cpp %2, relative difference %3")
                                                  .arg(r->ppl, 0, 'f', 4).arg(want, 0, 'f', 4).arg(rel)));
    }

    void ropeScalingCases_matchReference_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("entry");
        QTest::addColumn<QString>("field");
        QTest::newRow("hf linear") << "linear" << "linear" << "nll_with_scaling";
        QTest::newRow("hf llama3") << "llama3" << "llama3" << "nll_with_scaling";
        QTest::newRow("gguf rope.scaling linear") << "stories260K-ropelinear4.gguf" << "gguf_linear4" << "nll_with_scaling";
        QTest::newRow("hf theta 500k") << "hf-theta500k" << "theta_control" << "nll_theta_500000";
        QTest::newRow("gguf theta 500k") << "stories260K-theta500k.gguf" << "theta_control" << "nll_theta_500000";
    }
    void ropeScalingCases_matchReference() {
        QFETCH(QString, model);
        QFETCH(QString, entry);
        QFETCH(QString, field);
        QS_REQUIRE_ASSET(refPath, "cases/rope-scaling/reference.json");
        QS_REQUIRE_ASSET(textPath, "cases/rope-scaling/text.txt");
        QS_REQUIRE_ASSET(path, "cases/rope-scaling/" + model);
        const json ref = json::parse(readAll(refPath));
        const double want = ref.at(entry.toStdString()).at(field.toStdString()).get<double>();
        const double got = meanNll(path, textPath, PplProtocol::Gptq, 53);
        QVERIFY2(std::fabs(got - want) <= 1e-5 * std::max(1.0, std::fabs(want)),
                 qPrintable(QString("mean NLL %1, reference %2").arg(got, 0, 'f', 6).arg(want, 0, 'f', 6)));
    }

    void attentionBiasCase_matchesReference_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("llama attention_bias") << "llama-bias";
        QTest::newRow("qwen2") << "model";
    }
    void attentionBiasCase_matchesReference() {
        QFETCH(QString, model);
        QS_REQUIRE_ASSET(refPath, "cases/attention-bias/reference.json");
        QS_REQUIRE_ASSET(textPath, "cases/attention-bias/text.txt");
        QS_REQUIRE_ASSET(path, "cases/attention-bias/" + model);
        const json ref = json::parse(readAll(refPath));
        const double want = ref.at("with_bias").at("mean_nll").get<double>();
        const double got = meanNll(path, textPath, PplProtocol::Gptq, 15);
        QVERIFY2(std::fabs(got - want) <= 1e-5 * std::max(1.0, std::fabs(want)),
                 qPrintable(QString("mean NLL %1, reference %2").arg(got, 0, 'f', 6).arg(want, 0, 'f', 6)));

        // Greedy ids from BOS + "Once upon a time" (the prompt's ids included in the reference list).
        auto m = openInferenceModel(path.toStdString(), {}, nullptr);
        QVERIFY2(m.ok(), m ? "" : m.message().c_str());
        const std::vector<int> want_ids = ref.at("with_bias").at("greedy_ids").get<std::vector<int>>();
        const std::vector<int> prompt = m->tokenizer->encode("Once upon a time", true);
        QVERIFY(prompt.size() < want_ids.size());
        QCOMPARE(prompt, std::vector<int>(want_ids.begin(), want_ids.begin() + std::ptrdiff_t(prompt.size())));
        Transformer t(m->weights, nullptr);
        std::vector<int> got_ids = prompt;
        for (int id : greedy(t, prompt, int(want_ids.size() - prompt.size()), -1, m->weights->config.vocab)) got_ids.push_back(id);
        QCOMPARE(got_ids, want_ids);
    }
};

QTEST_GUILESS_MAIN(TestInferArchref)
#include "test_infer_archref.moc"
