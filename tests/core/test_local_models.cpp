// SPDX-License-Identifier: GPL-3.0-or-later
// Local models (core/io/local_models.h): the Hugging Face cache, Ollama and user-folder layouts built in a
// temporary folder (with the real stories260K files linked in where a file must open), what is listed and
// what is not (a template blob, a text file named .gguf, a tokenizer .bin, hidden folders, shards of an
// index), hostile manifests, a symbolic-link loop, the depth and visit limits, cancellation, the default roots
// from the environment and the cache JSON round trip.
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/assets.h"
#include "core/io/checkpoint.h"
#include "core/io/local_models.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

void writeFile(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

// A minimal valid safetensors file: one F32 tensor of `n` values.
std::string safetensorsBytes(int n) {
    const std::string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(n) +
                               "],\"data_offsets\":[0," + std::to_string(4 * n) + "]}}";
    std::string out(8, '\0');
    const uint64_t len = header.size();
    std::memcpy(out.data(), &len, 8);
    return out + header + std::string(size_t(4 * n), '\0');
}

const LocalModel* find(const LocalModelScan& scan, const std::string& name) {
    for (const LocalModel& m : scan.models)
        if (m.name == name) return &m;
    return nullptr;
}

std::string names(const LocalModelScan& scan) {
    std::string s;
    for (const LocalModel& m : scan.models) s += (s.empty() ? "" : ", ") + m.name;
    return s;
}

const std::string kHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

}  // namespace

class TestLocalModels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void hfCache_snapshotsIndexesAndGguf() {
        QTemporaryDir tmp;
        const fs::path hub = tmp.path().toStdString();
        // A single-file repository: the snapshot file is a symlink into blobs/, refs/main names the revision.
        const fs::path tiny = hub / "models--org--tiny";
        writeFile(tiny / "blobs" / "b1", safetensorsBytes(4));
        writeFile(tiny / "refs" / "main", "abcdef0123456789\n");
        fs::create_directories(tiny / "snapshots" / "abcdef0123456789");
        fs::create_symlink("../../blobs/b1", tiny / "snapshots" / "abcdef0123456789" / "model.safetensors");
        writeFile(tiny / "snapshots" / "abcdef0123456789" / "config.json", "{}");
        // A sharded repository: the index stands for its two shards, a stray consolidated file is its own entry.
        const fs::path snap = hub / "models--org--sharded" / "snapshots" / "r2";
        writeFile(snap / "model-00001-of-00002.safetensors", safetensorsBytes(8));
        writeFile(snap / "model-00002-of-00002.safetensors", safetensorsBytes(16));
        writeFile(snap / "model.safetensors.index.json",
                  "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", "
                  "\"b\": \"model-00002-of-00002.safetensors\", \"c\": \"model-00002-of-00002.safetensors\"}}");
        writeFile(snap / "consolidated.safetensors", safetensorsBytes(2));
        // GGUF files in a repository; a text file named .gguf is not listed; datasets are not models.
        const fs::path quants = hub / "models--org--quants" / "snapshots" / "r3";
        writeFile(quants / "m-Q4_K_M.gguf", "GGUF" + std::string(28, '\0'));
        writeFile(quants / "README.gguf", "not a model");
        writeFile(quants / "Q8_0" / "m-Q8_0.gguf", "GGUF" + std::string(28, '\0'));  // a quantization per folder
        writeFile(hub / "datasets--org--data" / "snapshots" / "r4" / "x.gguf", "GGUF" + std::string(28, '\0'));

        auto scan = scanLocalModels({{hub.string(), ModelSource::HfCache}});
        QVERIFY2(scan.ok(), scan.ok() ? "" : scan.message().c_str());
        QCOMPARE(scan->models.size(), size_t(5));
        QVERIFY2(find(*scan, "org/quants/Q8_0/m-Q8_0.gguf"), names(*scan).c_str());
        const LocalModel* t = find(*scan, "org/tiny");
        QVERIFY2(t, names(*scan).c_str());
        QCOMPARE(t->format, std::string("safetensors"));
        QCOMPARE(t->detail, std::string("revision abcdef01 (main)"));
        QCOMPARE(t->bytes, uint64_t(safetensorsBytes(4).size()));
        QCOMPARE(t->root, hub.string());
        const LocalModel* s = find(*scan, "org/sharded");
        QVERIFY2(s, names(*scan).c_str());
        QVERIFY(s->path.ends_with("model.safetensors.index.json"));
        QCOMPARE(s->bytes, uint64_t(safetensorsBytes(8).size() + safetensorsBytes(16).size()));  // each shard once
        QVERIFY(find(*scan, "org/sharded/consolidated.safetensors"));
        const LocalModel* q = find(*scan, "org/quants/m-Q4_K_M.gguf");
        QVERIFY2(q, names(*scan).c_str());
        QCOMPARE(q->format, std::string("gguf"));
        QCOMPARE(q->source, ModelSource::HfCache);
    }

    void ollama_manifestToBlob_opens() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        fs::create_directories(root / "blobs");
        fs::create_symlink(gguf.toStdString(), root / "blobs" / ("sha256-" + kHash));
        writeFile(root / "blobs" / ("sha256-" + std::string(64, 'e')), "{{ .Prompt }}");  // a template blob
        const std::string manifest =
            "{\"schemaVersion\": 2, \"layers\": ["
            "{\"mediaType\": \"application/vnd.ollama.image.template\", \"digest\": \"sha256:" + std::string(64, 'e') +
            "\"}, {\"mediaType\": \"application/vnd.ollama.image.model\", \"digest\": \"sha256:" + kHash +
            "\", \"size\": 1}]}";
        writeFile(root / "manifests" / "registry.ollama.ai" / "library" / "stories" / "latest", manifest);
        writeFile(root / "manifests" / "registry.ollama.ai" / "someone" / "tiny" / "q4", manifest);  // same blob
        // Hostile or damaged manifests: skipped with a warning each, never a path built from the digest.
        writeFile(root / "manifests" / "registry.ollama.ai" / "library" / "evil" / "latest",
                  "{\"layers\": [{\"mediaType\": \"application/vnd.ollama.image.model\", "
                  "\"digest\": \"sha256:../../../etc/passwd\"}]}");
        writeFile(root / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest", "{\"layers\": [");
        writeFile(root / "manifests" / "registry.ollama.ai" / "library" / "typed" / "latest",
                  "{\"layers\": [{\"mediaType\": 7, \"digest\": [\"x\"]}]}");
        writeFile(root / "manifests" / "registry.ollama.ai" / "library" / "huge" / "latest", std::string(2 << 20, ' '));
        std::string gone = manifest;
        gone.replace(gone.find(kHash), 64, std::string(64, 'd'));  // a blob that is not there
        writeFile(root / "manifests" / "registry.ollama.ai" / "library" / "gone" / "latest", gone);

        auto scan = scanLocalModels({{root.string(), ModelSource::Ollama}});
        QVERIFY(scan.ok());
        // Two tags of one blob: one entry (the first manifest in name order), the other named in its detail.
        QVERIFY2(names(*scan) == "stories:latest", names(*scan).c_str());
        QCOMPARE(scan->models[0].detail,
                 "blob sha256-" + kHash.substr(0, 12) + "; also someone/tiny:q4");
        QCOMPARE(scan->warnings.size(), size_t(4));  // evil digest, broken JSON, a missing blob, huge; "typed" has no
                                                     // model layer
        QVERIFY(scan->warnings[0].find("/broken/") != std::string::npos);  // manifests in name order
        QVERIFY(scan->warnings[2].find("missing or not a GGUF") != std::string::npos);
        const LocalModel* m = find(*scan, "stories:latest");
        QCOMPARE(m->format, std::string("gguf"));
        auto ck = openCheckpoint(m->path);
        QVERIFY2(ck.ok(), ck.ok() ? "" : ck.message().c_str());
        QCOMPARE((*ck)->tensors.size(), size_t(48));
    }

    void userFolder_contentChecked_hiddenAndLoopsSkipped() {
        QS_REQUIRE_ASSET(bin, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(tok, "models/stories260K-llama2c/tok512.bin");
        QS_REQUIRE_ASSET(h5, "models/keras-h5-lstm/lstm.h5");
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        fs::create_directories(root / "a" / "b");
        fs::create_symlink(bin.toStdString(), root / "a" / "stories260K.bin");
        fs::create_symlink(tok.toStdString(), root / "a" / "tok512.bin");  // a tokenizer, not a model
        fs::create_symlink(h5.toStdString(), root / "a" / "b" / "lstm.h5");
        // HDF5 with a user block: the superblock signature at 1024 (HDF5 format spec 2.1); at 1000 it is not one.
        const std::string hdf5Signature("\x89HDF\r\n\x1a\n", 8);
        writeFile(root / "a" / "userblock.h5", std::string(1024, '\0') + hdf5Signature + std::string(64, '\0'));
        writeFile(root / "a" / "misplaced.h5", std::string(1000, '\0') + hdf5Signature + std::string(64, '\0'));
        writeFile(root / ".hidden" / "x.gguf", "GGUF" + std::string(28, '\0'));
        writeFile(root / "a" / "fake.gguf", "hello");
        fs::create_directory_symlink("..", root / "a" / "b" / "loop");  // never followed
        fs::path deep = root;
        for (int i = 0; i < 8; ++i) deep /= "d" + std::to_string(i);
        writeFile(deep / "deep.gguf", "GGUF" + std::string(28, '\0'));

        auto scan = scanLocalModels({{root.string(), ModelSource::UserFolder}});
        QVERIFY(scan.ok());
        QCOMPARE(names(*scan), std::string("a/b/lstm.h5, a/stories260K.bin, a/userblock.h5"));
        QCOMPARE(find(*scan, "a/stories260K.bin")->format, std::string("llama2c"));
        QCOMPARE(find(*scan, "a/userblock.h5")->format, std::string("hdf5"));
        QCOMPARE(find(*scan, "a/b/lstm.h5")->format, std::string("hdf5"));

        ScanLimits deeper;
        deeper.maxDepth = 10;
        auto all = scanLocalModels({{root.string(), ModelSource::UserFolder}}, deeper);
        QVERIFY(all.ok());
        QVERIFY2(find(*all, "d0/d1/d2/d3/d4/d5/d6/d7/deep.gguf"), names(*all).c_str());

        ScanLimits few;
        few.maxVisited = 3;
        auto cut = scanLocalModels({{root.string(), ModelSource::UserFolder}}, few);
        QVERIFY(cut.ok());
        QVERIFY(cut->truncated);
        QCOMPARE(cut->visited, uint64_t(4));  // the fourth look is the one refused
        QVERIFY(!cut->warnings.empty());
    }

    void cancel_returnsCancelled() {
        QTemporaryDir tmp;
        auto scan = scanLocalModels({{tmp.path().toStdString(), ModelSource::UserFolder}}, {},
                                    [](double, std::string_view) { return false; });
        QVERIFY(!scan.ok());
        QCOMPARE(scan.message(), std::string(kCancelledMessage));
    }

    void defaultRoots_followTheToolsVariables() {
        auto paths = [](const std::vector<ScanRoot>& roots, ModelSource s) {
            std::vector<std::string> out;
            for (const ScanRoot& r : roots)
                if (r.source == s) out.push_back(r.path);
            return out;
        };
        const auto home = defaultScanRoots({{"HOME", "/h"}});
        QCOMPARE(paths(home, ModelSource::HfCache), std::vector<std::string>{"/h/.cache/huggingface/hub"});
        QCOMPARE(paths(home, ModelSource::Ollama),
                 (std::vector<std::string>{"/h/.ollama/models", "/usr/share/ollama/.ollama/models"}));
        QCOMPARE(paths(home, ModelSource::LmStudio),
                 (std::vector<std::string>{"/h/.lmstudio/models", "/h/.cache/lm-studio/models"}));
        QCOMPARE(paths(home, ModelSource::LlamaCpp), std::vector<std::string>{"/h/.cache/llama.cpp"});
        const auto env = defaultScanRoots({{"HOME", "/h"}, {"XDG_CACHE_HOME", "/x"}, {"HF_HOME", "/hf"},
                                           {"OLLAMA_MODELS", "/o"}, {"LLAMA_CACHE", "/l"}});
        QCOMPARE(paths(env, ModelSource::HfCache), std::vector<std::string>{"/hf/hub"});
        QCOMPARE(paths(env, ModelSource::Ollama).front(), std::string("/o"));
        QCOMPARE(paths(env, ModelSource::LlamaCpp), std::vector<std::string>{"/l"});
        const auto hub = defaultScanRoots({{"HF_HUB_CACHE", "/c"}, {"HF_HOME", "/hf"}});
        QCOMPARE(paths(hub, ModelSource::HfCache), std::vector<std::string>{"/c"});
        QCOMPARE(paths(hub, ModelSource::LmStudio), std::vector<std::string>{});  // no HOME, no XDG: not guessed
    }

    void cacheJson_roundTripAndDamageRefused() {
        LocalModelScan scan;
        scan.models.push_back({"org/tiny", "/m/model.safetensors", "safetensors", ModelSource::HfCache,
                               "revision abcdef01 (main)", 1234, 1700000000, "/m"});
        scan.models.push_back({"stories:latest", "/o/blobs/sha256-x", "gguf", ModelSource::Ollama, "", 99, 5, "/o"});
        scan.warnings.push_back("w");
        scan.visited = 17;
        const nlohmann::json j = localModelScanToJson(scan);
        auto back = localModelScanFromJson(nlohmann::json::parse(j.dump()));
        QVERIFY(back.ok());
        QCOMPARE(localModelScanToJson(*back), j);

        nlohmann::json badSource = j;
        badSource["models"][1]["source"] = "napster";
        QVERIFY(!localModelScanFromJson(badSource).ok());
        nlohmann::json badBytes = j;
        badBytes["models"][0]["bytes"] = "1234";
        QVERIFY(!localModelScanFromJson(badBytes).ok());
        nlohmann::json badDetail = j;
        badDetail["models"][0]["detail"] = 5;  // an optional field of the wrong type reads as absent
        QVERIFY(localModelScanFromJson(badDetail).ok());
        QVERIFY(!localModelScanFromJson(nlohmann::json::array()).ok());
        QVERIFY(!localModelScanFromJson({{"version", "1"}, {"models", nlohmann::json::array()}}).ok());
    }
};

QTEST_GUILESS_MAIN(TestLocalModels)
#include "test_local_models.moc"
