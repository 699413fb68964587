// SPDX-License-Identifier: GPL-3.0-or-later
// The synth shapes are the published models: parameter counts and config.json values of the real checkpoints
// (figures from their Hugging Face model cards / config.json, cited below) against what synth would write.
// Nothing is written: the tensor plan and the side files are computed only.
#include "core/model/synth.h"

#include <QTest>

#include <algorithm>

#include <nlohmann/json.hpp>

class TestSynth : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // Parameter counts as the Hugging Face hub reports them for the safetensors checkpoints:
    // meta-llama/Llama-3.2-1B 1,235,814,400; Qwen/Qwen2.5-0.5B 494,032,768; google/gemma-2-2b 2,614,341,888;
    // meta-llama/Meta-Llama-3-8B 8,030,261,248; TinyLlama/TinyLlama-1.1B 1,100,048,384.
    void synthTensors_matchPublishedParameterCounts_data() {
        QTest::addColumn<QString>("shape");
        QTest::addColumn<qulonglong>("parameters");
        QTest::newRow("llama3-1B") << "llama3-1B" << qulonglong(1235814400);
        QTest::newRow("qwen2.5-0.5B") << "qwen2.5-0.5B" << qulonglong(494032768);
        QTest::newRow("gemma2-2B") << "gemma2-2B" << qulonglong(2614341888);
        QTest::newRow("8B") << "8B" << qulonglong(8030261248);
        QTest::newRow("1B") << "1B" << qulonglong(1100048384);
    }
    void synthTensors_matchPublishedParameterCounts() {
        QFETCH(QString, shape);
        QFETCH(qulonglong, parameters);
        const qs::SynthShape* s = qs::findSynthShape(shape.toStdString());
        QVERIFY(s);
        for (auto format : {qs::SynthFormat::Safetensors, qs::SynthFormat::Gguf}) {
            uint64_t n = 0;
            for (const auto& t : qs::synthTensors(*s, format, qs::DType::BF16, 1))
                if (t.name != "rope_freqs.weight")
                    n += t.elements();  // a buffer llama.cpp adds, not a parameter
            QCOMPARE(qulonglong(n), parameters);
        }
    }

    // config.json values of the real checkpoints (huggingface.co/<repo>/blob/main/config.json).
    void synthHfConfig_hasThePublishedValues_data() {
        QTest::addColumn<QString>("shape");
        QTest::addColumn<QString>("expected");  // a JSON subset the written config must contain
        QTest::newRow("llama3-1B")
            << "llama3-1B"
            << R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":2048,
            "intermediate_size":8192,"num_hidden_layers":16,"num_attention_heads":32,"num_key_value_heads":8,
            "head_dim":64,"vocab_size":128256,"max_position_embeddings":131072,"rms_norm_eps":1e-05,
            "rope_theta":500000.0,"tie_word_embeddings":true,"bos_token_id":128000,"eos_token_id":128001,
            "hidden_act":"silu","attention_bias":false,"mlp_bias":false,
            "rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,
                            "original_max_position_embeddings":8192,"rope_type":"llama3"}})";
        QTest::newRow("qwen2.5-0.5B")
            << "qwen2.5-0.5B"
            << R"({"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":896,
            "intermediate_size":4864,"num_hidden_layers":24,"num_attention_heads":14,"num_key_value_heads":2,
            "vocab_size":151936,"max_position_embeddings":32768,"rms_norm_eps":1e-06,"rope_theta":1000000.0,
            "tie_word_embeddings":true,"bos_token_id":151643,"eos_token_id":151643,"hidden_act":"silu",
            "max_window_layers":24,"sliding_window":32768,"use_sliding_window":false})";
        QTest::newRow("gemma2-2B")
            << "gemma2-2B"
            << R"({"architectures":["Gemma2ForCausalLM"],"model_type":"gemma2","hidden_size":2304,
            "intermediate_size":9216,"num_hidden_layers":26,"num_attention_heads":8,"num_key_value_heads":4,
            "head_dim":256,"vocab_size":256000,"max_position_embeddings":8192,"rms_norm_eps":1e-06,
            "rope_theta":10000.0,"attn_logit_softcapping":50.0,"final_logit_softcapping":30.0,
            "query_pre_attn_scalar":256,"sliding_window":4096,"hidden_activation":"gelu_pytorch_tanh",
            "bos_token_id":2,"eos_token_id":1,"pad_token_id":0,"attention_bias":false})";
    }
    void synthHfConfig_hasThePublishedValues() {
        QFETCH(QString, shape);
        QFETCH(QString, expected);
        const qs::SynthShape* s = qs::findSynthShape(shape.toStdString());
        QVERIFY(s);
        const auto got = nlohmann::json::parse(qs::synthHfConfigJson(*s, qs::DType::BF16));
        const auto want = nlohmann::json::parse(expected.toStdString());
        for (auto it = want.begin(); it != want.end(); ++it) {
            QVERIFY2(got.contains(it.key()), it.key().c_str());
            QVERIFY2(got[it.key()] == it.value(), (it.key() + ": " + got[it.key()].dump()).c_str());
        }
        QCOMPARE(got["torch_dtype"].get<std::string>(), std::string("bfloat16"));
    }

    // The synthetic vocabulary: real size, specials at the real ids, 256 byte tokens, every piece distinct.
    void synthVocabulary_hasTheRealSizeAndSpecialIds() {
        const qs::SynthShape* s = qs::findSynthShape("gemma2-2B");
        QVERIFY(s);
        const qs::SynthVocabulary v = qs::synthVocabulary(*s);
        QCOMPARE(v.pieces.size(), size_t(256000));
        QCOMPARE(v.pieces[2], std::string("<bos>"));
        QCOMPARE(v.pieces[1], std::string("<eos>"));
        QCOMPARE(v.pieces[0], std::string("<pad>"));
        int bytes = 0;
        for (int t : v.types) bytes += t == 6;
        QCOMPARE(bytes, 256);
        std::vector<std::string> sorted = v.pieces;
        std::sort(sorted.begin(), sorted.end());
        QVERIFY(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    }
};

QTEST_GUILESS_MAIN(TestSynth)
#include "test_synth.moc"
