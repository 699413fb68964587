// SPDX-License-Identifier: GPL-3.0-or-later
// Memory of opening a metadata-only checkpoint (issue 13): 100,000 tensors of shape [0, 4096] and no data, as
// safetensors and as GGUF v3, written here byte by byte from the formats' documents (huggingface/safetensors
// "Format"; ggml docs/gguf.md), go through what `quantscope-cli inspect` does (openCheckpoint, analyzeModel,
// inspectText). The peak of the heap bytes live at once during that, over those live before it, must stay
// under kMaxHeapPerFileByte x the file's size. This executable replaces the global operator new and delete
// to count them (this test only: the product allocates as usual).
//
// Why 4: what must stay is one TensorInfo per tensor (88 bytes, a name and a shape on the heap: ~150 bytes),
// one TensorEntry and one sorted kind key (32 bytes), and inspect's text (one ~100-byte row per tensor) against
// ~90 bytes of header per tensor in either file: about 3x. Parsing the safetensors header into a JSON tree
// first, as before, peaked at ~10x; a tensor vector doubling without a reserve adds up to ~1x.
#include "core/io/checkpoint.h"
#include "core/model/inspect_report.h"
#include "core/model/model_info.h"

#include <QTemporaryDir>
#include <QTest>

#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <string>

namespace {

std::atomic<int64_t> g_live{0}, g_peak{0};

void* counted(std::size_t n) {
    void* p = std::malloc(n ? n : 1);
    if (!p) throw std::bad_alloc();
    const int64_t now = g_live.fetch_add(int64_t(malloc_usable_size(p))) + int64_t(malloc_usable_size(p));
    for (int64_t peak = g_peak.load(); now > peak && !g_peak.compare_exchange_weak(peak, now);) {}
    return p;
}

void uncounted(void* p) {
    if (!p) return;
    g_live.fetch_sub(int64_t(malloc_usable_size(p)));
    std::free(p);
}

}  // namespace

void* operator new(std::size_t n) { return counted(n); }
void* operator new[](std::size_t n) { return counted(n); }
void operator delete(void* p) noexcept { uncounted(p); }
void operator delete[](void* p) noexcept { uncounted(p); }
void operator delete(void* p, std::size_t) noexcept { uncounted(p); }
void operator delete[](void* p, std::size_t) noexcept { uncounted(p); }

namespace {

constexpr int kTensors = 100000;
constexpr double kMaxHeapPerFileByte = 4.0;

// Llama-style names (so analyzeModel classifies them and walks ~11,000 layers), 9 per layer.
std::string tensorName(int i) {
    static const char* kParts[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                   "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm",
                                   "post_attention_layernorm"};
    return "model.layers." + std::to_string(i / 9) + "." + kParts[i % 9] + ".weight";
}

void writeFile(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
}

template <typename T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// u64 little-endian header length, the JSON header, no data section.
std::string emptySafetensors() {
    std::string json = "{";
    for (int i = 0; i < kTensors; ++i)
        json += (i ? ",\"" : "\"") + tensorName(i) + "\":{\"dtype\":\"F32\",\"shape\":[0,4096],\"data_offsets\":[0,0]}";
    json += ",\"__metadata__\":{\"format\":\"pt\"}}";
    std::string out;
    put(out, uint64_t(json.size()));
    return out + json;
}

// GGUF v3: magic, version, tensor count, KV count (0); per tensor: name (u64 length + bytes), n_dims (u32),
// dims innermost first (u64), ggml type (u32, 0 = F32), offset in the data section (u64); padded to 32.
std::string emptyGguf() {
    std::string out = "GGUF";
    put(out, uint32_t(3));
    put(out, uint64_t(kTensors));
    put(out, uint64_t(0));
    for (int i = 0; i < kTensors; ++i) {
        const std::string name = tensorName(i);
        put(out, uint64_t(name.size()));
        out += name;
        put(out, uint32_t(2));
        put(out, uint64_t(4096));
        put(out, uint64_t(0));
        put(out, uint32_t(0));
        put(out, uint64_t(0));
    }
    out.resize((out.size() + 31) / 32 * 32, '\0');
    return out;
}

}  // namespace

class TestOpenMemory : public QObject {
    Q_OBJECT

    // Peak heap of inspect's path over the bytes live before it, per byte of the file.
    static double peakPerFileByte(const std::string& path, uint64_t fileBytes, size_t& tensors) {
        const int64_t before = g_live.load();
        g_peak.store(before);
        {
            auto ck = qs::openCheckpoint(path);
            if (!ck) qFatal("%s", ck.message().c_str());
            const qs::ModelInfo info = qs::analyzeModel(**ck);
            const std::string text = qs::inspectText(**ck, info);
            tensors = (*ck)->tensors.size();
            if (text.find(tensorName(kTensors - 1)) == std::string::npos) qFatal("the last tensor is not listed");
        }
        return double(g_peak.load() - before) / double(fileBytes);
    }

private Q_SLOTS:
    void metadataOnlyFiles_costLittleMoreThanTheirSize_data() {
        QTest::addColumn<QString>("format");
        QTest::newRow("safetensors") << QStringLiteral("safetensors");
        QTest::newRow("gguf") << QStringLiteral("gguf");
    }
    void metadataOnlyFiles_costLittleMoreThanTheirSize() {
        QFETCH(QString, format);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.filePath(QStringLiteral("empty.") + format).toStdString();
        uint64_t fileBytes = 0;
        {
            const std::string bytes = format == QStringLiteral("gguf") ? emptyGguf() : emptySafetensors();
            fileBytes = bytes.size();
            writeFile(path, bytes);
        }
        size_t tensors = 0;
        const double ratio = peakPerFileByte(path, fileBytes, tensors);
        QCOMPARE(tensors, size_t(kTensors));
        qInfo("%s: %llu bytes, peak heap %.2fx the file", qPrintable(format), (unsigned long long)fileBytes, ratio);
        QVERIFY2(ratio < kMaxHeapPerFileByte,
                 qPrintable(QStringLiteral("peak heap %1x the file's %2 bytes (limit %3x)")
                                .arg(ratio, 0, 'f', 2).arg(fileBytes).arg(kMaxHeapPerFileByte)));
    }

    // The counter sees what it should: a 10 MB vector shows in the peak, and is gone after.
    void counter_seesAllocations() {
        const int64_t before = g_live.load();
        g_peak.store(before);
        { std::vector<char> v(10 << 20, 'x'); QVERIFY(v.back() == 'x'); }
        QVERIFY(g_peak.load() - before >= (10 << 20));
        QCOMPARE(g_live.load(), before);
    }
};

QTEST_GUILESS_MAIN(TestOpenMemory)
#include "test_open_memory.moc"
