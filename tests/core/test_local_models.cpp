// SPDX-License-Identifier: GPL-3.0-or-later
// Local models (core/io/local_models.h): the Hugging Face cache, Ollama and user-folder layouts built in a
// temporary folder (with the real stories260K files linked in where a file must open), what is listed and
// what is not (a template blob, a text file named .gguf, a tokenizer .bin, hidden folders, shards of an
// index), hostile manifests, a symbolic-link loop, the depth and visit limits, cancellation, the default roots
// from the environment and the cache JSON round trip; missing and unreadable folders warned about; partial
// GGUF and safetensors files (prefixes of the real stories260K files) not listed, with the extents
// (core/io/checkpoint_extent.h) checked against the sizes llama.cpp's and huggingface's writers gave the real
// files; a Hugging Face snapshot linked out of the cache not followed.
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>

#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/assets.h"
#include "core/io/checkpoint.h"
#include "core/io/bounded_text.h"
#include "core/io/checkpoint_extent.h"
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

// A complete GGUF v3 file: no metadata, one F32 tensor "w" of 4 values (docs/gguf.md): the 57 header bytes,
// padding to the 32-byte alignment, 16 data bytes.
std::string minimalGguf() {
    std::string out = "GGUF";
    auto put = [&](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
    put(uint32_t(3)), put(uint64_t(1)), put(uint64_t(0));                    // version, tensors, KVs
    put(uint64_t(1)), out += "w", put(uint32_t(1)), put(uint64_t(4));         // name, n_dims, ne[0]
    put(uint32_t(0)), put(uint64_t(0));                                       // F32, offset 0
    out.resize(64, '\0');
    return out + std::string(16, '\0');
}

std::string readAll(const QString& path) {
    std::ifstream in(path.toStdString(), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::span<const std::byte> bytesOf(const std::string& s, size_t n) {
    return std::as_bytes(std::span(s.data(), std::min(n, s.size())));
}

// Runs f on a thread without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (capabilities are per thread on Linux),
// so root is refused a mode-000 folder as any user is. False when the capabilities cannot be dropped.
bool runWithoutDacOverride(const std::function<void()>& f) {
    bool dropped = false;
    std::thread t([&] {
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[2]{};
        if (syscall(SYS_capget, &header, data) != 0) return;
        for (int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH}) data[0].effective &= ~(1u << cap);
        if (syscall(SYS_capset, &header, data) != 0) return;
        dropped = true;
        f();
    });
    t.join();
    return dropped;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const std::string& l : lines) s += l + "\n";
    return s;
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
        writeFile(quants / "m-Q4_K_M.gguf", minimalGguf());
        writeFile(quants / "README.gguf", "not a model");
        writeFile(quants / "Q8_0" / "m-Q8_0.gguf", minimalGguf());  // a quantization per folder
        writeFile(hub / "datasets--org--data" / "snapshots" / "r4" / "x.gguf", minimalGguf());

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

    // A snapshot file that links to a blob that is gone (a removed or interrupted download): a warning naming
    // the link and the repository, as a missing Ollama blob gets; a healthy snapshot beside it is listed.
    void hfSnapshot_danglingLink_warned() {
        QTemporaryDir tmp;
        const fs::path hub = tmp.path().toStdString();
        const fs::path repo = hub / "models--karpathy--stories260K";
        writeFile(repo / "blobs" / "b1", safetensorsBytes(4));
        fs::create_directories(repo / "snapshots" / "good");
        fs::create_symlink("../../blobs/b1", repo / "snapshots" / "good" / "model.safetensors");
        fs::create_directories(repo / "snapshots" / "broken999");
        fs::create_symlink("../../blobs/doesnotexist", repo / "snapshots" / "broken999" / "model.safetensors");

        auto scan = scanLocalModels({{hub.string(), ModelSource::HfCache}});
        QVERIFY(scan.ok());
        QCOMPARE(names(*scan), std::string("karpathy/stories260K"));
        QCOMPARE(scan->models[0].detail, std::string("revision good"));
        QCOMPARE(scan->warnings.size(), size_t(1));
        const std::string& w = scan->warnings[0];
        QVERIFY2(w.starts_with((repo / "snapshots" / "broken999" / "model.safetensors").string() +
                               " (karpathy/stories260K): a link to ../../blobs/doesnotexist, which does not exist"),
                 w.c_str());
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
        writeFile(root / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest", "not json");
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
        QVERIFY2(scan->warnings[0].ends_with(": not valid JSON, so not an Ollama manifest; skipped"),
                 scan->warnings[0].c_str());
        QVERIFY2(scan->warnings[1].find("/evil/") != std::string::npos &&
                     scan->warnings[1].find("is not sha256:<64 hex digits>") != std::string::npos,
                 scan->warnings[1].c_str());
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
        writeFile(root / ".hidden" / "x.gguf", minimalGguf());
        writeFile(root / "a" / "fake.gguf", "hello");
        fs::create_directory_symlink("..", root / "a" / "b" / "loop");  // never followed
        fs::path deep = root;
        for (int i = 0; i < 8; ++i) deep /= "d" + std::to_string(i);
        writeFile(deep / "deep.gguf", minimalGguf());

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

    // 90,000 damaged GGUF files gave 90,000 warning lines and a GUI log that dropped most silently: the first
    // ScanLimits::maxWarnings are named, one last line says how many more there were, and the cache JSON keeps
    // the count.
    void manyDamagedFiles_warningsCappedWithCount() {
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        std::string damaged = "GGUF";
        damaged += std::string("\x03\0\0\0", 4) + std::string(16, '\xff');  // v3, absurd counts: 24 bytes
        for (int i = 0; i < 50; ++i) writeFile(root / ("d" + std::to_string(i / 10)) / ("f" + std::to_string(i) + ".gguf"), damaged);
        writeFile(root / "ok" / "good.gguf", minimalGguf());
        auto scan = scanLocalModels({{root.string(), ModelSource::UserFolder}});
        QVERIFY(scan.ok());
        QCOMPARE(names(*scan), std::string("ok/good.gguf"));
        QCOMPARE(scan->warnings.size(), size_t(21));
        for (size_t i = 0; i < 20; ++i)
            QVERIFY2(scan->warnings[i].find(".gguf): GGUF offset 24") != std::string::npos, scan->warnings[i].c_str());
        QCOMPARE(scan->warningsNotListed, uint64_t(30));
        QVERIFY2(scan->warnings[20].starts_with("30 more warning(s) like the above not listed"), scan->warnings[20].c_str());
        auto again = localModelScanFromJson(localModelScanToJson(*scan));
        QVERIFY(again.ok());
        QCOMPARE(again->warningsNotListed, uint64_t(30));
        QCOMPARE(again->warnings, scan->warnings);
        ScanLimits all;
        all.maxWarnings = 1000;
        auto every = scanLocalModels({{root.string(), ModelSource::UserFolder}}, all);
        QVERIFY(every.ok());
        QCOMPARE(every->warnings.size(), size_t(50));
        QCOMPARE(every->warningsNotListed, uint64_t(0));
    }

    // A file name that is not UTF-8 (Linux allows any bytes but '/' and NUL): not listed, a warning names the
    // folder and says why, and the scan's JSON (the GUI's cache) dumps without throwing (it used to abort the GUI).
    void userFolder_nameNotUtf8_skippedWithWarning_jsonDumps() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        fs::create_directories(root / "sub");
        // QTemporaryDir cannot remove what a QString cannot name: these go first, whatever the test does.
        const auto remove = qScopeGuard([&] {
            std::error_code ec;
            fs::remove(root / "sub" / "a\xc0.gguf", ec);
            if (fs::exists(root / "b\xc0" / "x", ec)) fs::permissions(root / "b\xc0" / "x", fs::perms::owner_all, ec);
            fs::remove_all(root / "b\xc0", ec);
        });
        fs::copy_file(gguf.toStdString(), root / "sub" / "a\xc0.gguf");
        fs::copy_file(gguf.toStdString(), root / "ok.gguf");

        auto scan = scanLocalModels({{root.string(), ModelSource::UserFolder}});
        QVERIFY(scan.ok());
        QCOMPARE(names(*scan), std::string("ok.gguf"));
        QCOMPARE(scan->warnings.size(), size_t(1));
        const std::string& w = scan->warnings[0];
        QVERIFY2(w.starts_with((root / "sub").string() + ": a\xef\xbf\xbd.gguf "), w.c_str());  // U+FFFD shown
        QVERIFY2(w.find("not UTF-8: rename it to open it in QuantScope") != std::string::npos, w.c_str());
        std::string dumped;
        try {
            dumped = localModelScanToJson(*scan).dump();
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        QVERIFY(dumped.find("ok.gguf") != std::string::npos);

        // A folder with such a name that cannot be read: its warning shows U+FFFD too, and the JSON dumps.
        const fs::path bad = root / "b\xc0";
        fs::create_directories(bad / "x");
        fs::permissions(bad / "x", fs::perms::none);
        LocalModelScan again;
        auto scanAgain = [&] { again = *scanLocalModels({{root.string(), ModelSource::UserFolder}}); };
        const bool refused = geteuid() == 0 ? runWithoutDacOverride(scanAgain) : (scanAgain(), true);
        fs::permissions(bad / "x", fs::perms::owner_all);
        if (!refused) QSKIP("running as root without the right to drop CAP_DAC_OVERRIDE: cannot make it unreadable");
        QVERIFY2(joined(again.warnings).find("b\xef\xbf\xbd/x: cannot be read") != std::string::npos,
                 joined(again.warnings).c_str());
        try {
            (void)localModelScanToJson(again).dump();
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
    }

    // B6: a model folder whose own name is not UTF-8 (the files in it are) is named as the folder, once,
    // not as "a file name that is not UTF-8".
    void userFolder_folderNameNotUtf8_namesTheFolderOnce() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        const fs::path bad = root / "nu\xff\xfe";
        const auto remove = qScopeGuard([&] {
            std::error_code ec;
            fs::remove_all(bad, ec);
        });
        fs::create_directories(bad);
        fs::copy_file(gguf.toStdString(), bad / "model.gguf");
        fs::copy_file(gguf.toStdString(), bad / "other.gguf");
        auto scan = scanLocalModels({{root.string(), ModelSource::UserFolder}});
        QVERIFY(scan.ok());
        QVERIFY(scan->models.empty());
        QCOMPARE(scan->warnings.size(), size_t(1));
        const std::string& w = scan->warnings[0];
        const std::string shownBad = (root / "nu\xef\xbf\xbd\xef\xbf\xbd").string();
        QVERIFY2(w.starts_with(shownBad + ": the folder name nu\xef\xbf\xbd\xef\xbf\xbd is not UTF-8: rename the folder"), w.c_str());
        QVERIFY2(w.find("file name") == std::string::npos, w.c_str());
    }

    void userFolder_missingOrNotAFolder_warns_defaultRootsSilent() {
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        writeFile(root / "file.gguf", minimalGguf());
        auto scan = scanLocalModels({{(root / "nope").string(), ModelSource::UserFolder},
                                     {(root / "file.gguf").string(), ModelSource::UserFolder},
                                     {(root / "not-installed").string(), ModelSource::LmStudio},
                                     {(root / "no-hf").string(), ModelSource::HfCache}});
        QVERIFY(scan.ok());
        QVERIFY(scan->models.empty());
        QCOMPARE(scan->warnings.size(), size_t(2));
        QCOMPARE(scan->warnings[0], (root / "nope").string() + ": no such folder; not searched");
        QCOMPARE(scan->warnings[1], (root / "file.gguf").string() + ": not a folder; not searched");
    }

    void unreadableFolders_warned() {
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        writeFile(root / "ok" / "a.gguf", minimalGguf());
        writeFile(root / "locked" / "b.gguf", minimalGguf());
        fs::permissions(root / "locked", fs::perms::none);
        LocalModelScan sub, top;
        auto scanBoth = [&] {
            sub = *scanLocalModels({{root.string(), ModelSource::UserFolder}});
            top = *scanLocalModels({{(root / "locked").string(), ModelSource::UserFolder}});
        };
        // As root the test thread drops the capabilities that let root read any folder; otherwise mode 000
        // refuses the user already.
        const bool refused = geteuid() == 0 ? runWithoutDacOverride(scanBoth) : (scanBoth(), true);
        fs::permissions(root / "locked", fs::perms::owner_all);
        if (!refused) QSKIP("running as root without the right to drop CAP_DAC_OVERRIDE: cannot make a folder unreadable");
        QCOMPARE(names(sub), std::string("ok/a.gguf"));
        QCOMPARE(sub.warnings.size(), size_t(1));
        QVERIFY2(sub.warnings[0].starts_with((root / "locked").string() + ": cannot be read (Permission denied)"),
                 joined(sub.warnings).c_str());
        QVERIFY(top.models.empty());
        QCOMPARE(top.warnings.size(), size_t(1));
        QVERIFY2(top.warnings[0].find("Permission denied") != std::string::npos, joined(top.warnings).c_str());
    }

    // The extents of the real files against their sizes: huggingface's writer ends a safetensors file with the
    // last tensor; ggml's gguf writer pads every tensor, the last one too, to the alignment (32 here).
    void extents_matchTheRealFiles() {
        QS_REQUIRE_ASSET(f32, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(q4k, "models/stories260K-gguf/stories260K-Q4_K_M.gguf");
        QS_REQUIRE_ASSET(tiny, "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");
        QS_REQUIRE_ASSET(st, "models/stories260K-hf/model.safetensors");
        for (const QString& path : {f32, q4k, tiny}) {
            const std::string bytes = readAll(path);
            auto e = io::ggufExtent(bytesOf(bytes, bytes.size()));
            QVERIFY2(e.ok(), e.ok() ? "" : e.message().c_str());
            QVERIFY2(*e <= bytes.size() && bytes.size() - *e < 32,
                     qPrintable(path + QStringLiteral(": extent %1 of %2").arg(*e).arg(bytes.size())));
            // Every prefix shorter than the data end is refused or says it needs more than it holds.
            for (size_t n = 0; n < *e; n += n < 64 ? 1 : 997) {
                auto p = io::ggufExtent(bytesOf(bytes, n));
                QVERIFY2(!p.ok() || *p > n, qPrintable(path + QStringLiteral(": prefix of %1 bytes passes").arg(n)));
            }
        }
        const std::string bytes = readAll(st);
        auto e = io::safetensorsExtent(bytesOf(bytes, bytes.size()));
        QVERIFY2(e.ok(), e.ok() ? "" : e.message().c_str());
        QCOMPARE(*e, uint64_t(bytes.size()));
        for (size_t n = 0; n < bytes.size(); n += n < 64 ? 1 : 997) {
            auto p = io::safetensorsExtent(bytesOf(bytes, n));
            QVERIFY2(!p.ok() || *p > n, qPrintable(QStringLiteral("safetensors prefix of %1 bytes passes").arg(n)));
        }
        QCOMPARE(*io::ggufExtent(bytesOf(minimalGguf(), 80)), uint64_t(80));
        QVERIFY(!io::checkCheckpointComplete(st.toStdString(), "hdf5").ok());  // no extent rule: refused by name
    }

    void partialDownloads_notListed_warned() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(st, "models/stories260K-hf/model.safetensors");
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        const std::string g = readAll(gguf), s = readAll(st);
        writeFile(root / "whole.gguf", g);
        writeFile(root / "first600k.gguf", g.substr(0, 600000));
        writeFile(root / "magic.gguf", "GGUF");
        writeFile(root / "header-cut.gguf", g.substr(0, 100));
        writeFile(root / "whole.safetensors", s);
        writeFile(root / "cut.safetensors", s.substr(0, s.size() - 1));
        // An index whose second shard is cut: the index is not offered, nor are its shards on their own.
        const std::string shard = safetensorsBytes(8);
        writeFile(root / "sharded" / "m-1.safetensors", shard);
        writeFile(root / "sharded" / "m-2.safetensors", shard.substr(0, shard.size() - 4));
        writeFile(root / "sharded" / "model.safetensors.index.json",
                  "{\"weight_map\": {\"a\": \"m-1.safetensors\", \"b\": \"m-2.safetensors\"}}");
        auto scan = scanLocalModels({{root.string(), ModelSource::UserFolder}});
        QVERIFY(scan.ok());
        QCOMPARE(names(*scan), std::string("whole.gguf, whole.safetensors"));
        const std::string w = joined(scan->warnings);
        QCOMPARE(scan->warnings.size(), size_t(5));
        // The extent named is the real file's data end: within its last tensor's 32-byte padding.
        const std::string cut = (root / "first600k.gguf").string() + " (first600k.gguf): incomplete: 600000 bytes of the ";
        const size_t at = w.find(cut);
        QVERIFY2(at != std::string::npos, w.c_str());
        const uint64_t extent = std::stoull(w.substr(at + cut.size()));
        QVERIFY2(extent <= g.size() && g.size() - extent < 32, w.c_str());
        QVERIFY2(w.find("cut.safetensors (cut.safetensors): incomplete: " + std::to_string(s.size() - 1) +
                        " bytes of the " + std::to_string(s.size()) + " its header describes") != std::string::npos,
                 w.c_str());
        QVERIFY2(w.find("magic.gguf (magic.gguf): truncated GGUF header") != std::string::npos, w.c_str());
        QVERIFY2(w.find("header-cut.gguf (header-cut.gguf): GGUF offset") != std::string::npos, w.c_str());
        QVERIFY2(w.find("(sharded/model.safetensors.index.json): shard m-2.safetensors incomplete: 91 bytes of the 95 ") != std::string::npos, w.c_str());
    }

    void hfSnapshotLinkedOutOfTheCache_notFollowed() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir tmp, outside;
        const fs::path hub = tmp.path().toStdString();
        const fs::path out = outside.path().toStdString();
        fs::create_symlink(gguf.toStdString(), out / "elsewhere.gguf");
        fs::create_directories(hub / "models--evil--loop" / "snapshots");
        fs::create_directory_symlink(out, hub / "models--evil--loop" / "snapshots" / "away");
        fs::create_directory_symlink("/", hub / "models--evil--loop" / "snapshots" / "rootrev");
        // A snapshot linked to another folder inside the cache is followed; its file is a link into blobs/.
        const fs::path ok = hub / "models--org--ok";
        fs::create_directories(ok / "blobs");
        fs::create_symlink(gguf.toStdString(), ok / "blobs" / "b1");
        fs::create_directories(ok / "kept" / "r1");
        fs::create_symlink("../../blobs/b1", ok / "kept" / "r1" / "m.gguf");
        fs::create_directories(ok / "snapshots");
        fs::create_directory_symlink("../kept/r1", ok / "snapshots" / "r1");
        auto scan = scanLocalModels({{hub.string(), ModelSource::HfCache}});
        QVERIFY(scan.ok());
        QCOMPARE(names(*scan), std::string("org/ok/m.gguf"));
        QCOMPARE(scan->warnings.size(), size_t(2));
        const std::string w = joined(scan->warnings);
        QVERIFY2(scan->warnings[0].starts_with((hub / "models--evil--loop" / "snapshots" / "away").string() +
                                               ": a link to " + fs::canonical(out).string()),
                 w.c_str());
        QVERIFY2(scan->warnings[1].find("rootrev: a link to /, outside " + hub.string() + "; not followed") !=
                     std::string::npos,
                 w.c_str());
    }

    // The scan's header check and the safetensors reader refuse the same nesting with the same number: a header
    // 64 levels deep passes both depth checks, 65 is refused by both as "deeper than 64 levels" (the scan said
    // 8 and refused headers the reader opens).
    void safetensorsDepthLimit_sameAsTheReader() {
        QTemporaryDir tmp;
        for (const int depth : {10, io::kMaxJsonDepth, io::kMaxJsonDepth + 1}) {
            const std::string json = "{\"x\":" + std::string(size_t(depth - 1), '[') +
                                     std::string(size_t(depth - 1), ']') + "}";
            std::string bytes(8, '\0');
            const uint64_t n = json.size();
            std::memcpy(bytes.data(), &n, 8);
            const fs::path p = fs::path(tmp.path().toStdString()) / ("d" + std::to_string(depth) + ".safetensors");
            writeFile(p, bytes + json);
            const Status extent = io::checkCheckpointComplete(p.string(), "safetensors");
            auto opened = openCheckpoint(p.string());
            const std::string extentMsg = extent ? "" : extent.message();
            const std::string readerMsg = opened.ok() ? "" : opened.message();
            const bool tooDeep = depth > 64;
            QVERIFY2((extentMsg.find("deeper than 64 levels") != std::string::npos) == tooDeep, extentMsg.c_str());
            QVERIFY2((readerMsg.find("deeper than 64 levels") != std::string::npos) == tooDeep, readerMsg.c_str());
            if (!tooDeep) QVERIFY2(extent, extentMsg.c_str());
        }
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
