// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli quant-raw / dequant-raw: raw little-endian float32 matrices to packed blocks (ggml's exact
// layout for ggml types) and back. Output is written to a temporary name and renamed, so a failure never
// leaves a half-written file.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <tbb/task_arena.h>

#include "app/cli/command_line.h"
#include "app/cli/commands.h"
#include "app/cli/shared_options.h"
#include "core/io/checkpoint_writer.h"
#include "core/quant/quant_map_export.h"
#include "core/quant/quantize_parallel.h"
#include "core/quant/scheme.h"

namespace qscli {

namespace {
struct RawArgs {
    std::shared_ptr<const qs::Scheme> scheme;
    long long rows = 0, cols = 0;
    std::string in, out;
    int threads = 1;  // quant-raw's --threads (dequant-raw runs serially)
};

// Parses the shared options (and --threads when `threaded`); returns an exit code (kExitOk to continue, -1
// after --help or --scheme list).
int parseRawArgs(const char* command, const char* what, bool threaded, int argc, char** argv, int first,
                 RawArgs& ra) {
    CommandLine cl(command, what);
    cl.positionals("IN OUT", "the input and the output file");
    std::optional<std::string> schemeName;
    std::optional<long long> rows, cols;
    addText(cl.app(), "--scheme", schemeName, "NAME",
            "registry name of the scheme (q8_0, q4_K, nf4, int4_g128, ...); `--scheme list` lists them");
    addInteger(cl.app(), "--rows", rows, "R", "rows of the matrix");
    addInteger(cl.app(), "--cols", cols, "C", "columns of the matrix (the blocks run along a row)");
    std::optional<long long> threads;
    if (threaded) addThreadsOption(cl.app(), threads);
    if (auto rc = cl.parse(argc, argv, first)) return *rc == kExitOk ? -1 : *rc;
    if (threaded)
        if (int rc = resolveThreads(command, threads, ra.threads); rc != kExitOk) return rc;
    if (schemeName.value_or("") == "list") {  // the registry's representative set, one per line
        for (const auto& sc : qs::listSchemes())
            std::printf("%-14s %s\n", sc->name().c_str(), sc->description().c_str());
        std::printf("(RTN names take any bit width 2-8 and group: int3_g64, int5_sym, ...)\n");
        return -1;
    }
    if (!schemeName || !rows || !cols) return fail(command, "needs --scheme NAME --rows R --cols C", kExitUsage);
    if (cl.positional().size() != 2) return fail(command, "expects IN and OUT paths", kExitUsage);
    if (*rows <= 0 || *cols <= 0 || *rows > (1LL << 40) / *cols)
        return fail(command, "--rows and --cols must be positive and rows*cols at most 2^40", kExitUsage);
    auto scheme = qs::parseScheme(*schemeName);
    if (!scheme) return fail(command, scheme.message(), kExitUsage);  // an unknown name, as a bad --rule
    ra.scheme = *scheme;
    ra.rows = *rows;
    ra.cols = *cols;
    ra.in = cl.positional()[0];
    ra.out = cl.positional()[1];
    // Before any work, as every writer: OUT must be a file name a new file can be renamed to (not a FIFO or a
    // device: the rename replaced them), and not IN itself (the output replaced its own input).
    if (auto s = qs::checkOutputPath(ra.out); !s) return fail(command, "OUT " + s.message());
    if (std::error_code ec; std::filesystem::equivalent(ra.in, ra.out, ec) && !ec)
        return fail(command, "OUT " + ra.out + " is IN itself; give another name for the output");
    return kExitOk;
}

// Reads a whole file whose size must be `expected` bytes.
bool readExactly(const std::string& path, uint64_t expected, const char* meaning, std::vector<char>& data,
                 std::string& error) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) {
        error = path + ": cannot read: " + ec.message();
        return false;
    }
    if (size != expected) {
        error = path + ": size is " + std::to_string(size) + " bytes, expected " + std::to_string(expected) + " (" +
                meaning + ")";
        return false;
    }
    data.resize(size_t(size));
    std::ifstream f(path, std::ios::binary);
    if (!f.read(data.data(), std::streamsize(size))) {
        error = path + ": read failed";
        return false;
    }
    return true;
}

// Through the one atomic writer (io/checkpoint_writer.h PartialFile: an unnamed temporary renamed into place,
// FIFOs and devices refused).
bool writeAtomically(const std::string& path, const void* data, size_t size, std::string& error) {
    if (auto s = qs::writeFileAtomically(path, std::string_view(static_cast<const char*>(data), size)); !s) {
        error = s.message();
        return false;
    }
    return true;
}
}  // namespace

int runQuantRaw(int argc, char** argv, int first) {
    RawArgs ra;
    if (int rc = parseRawArgs("quant-raw",
                              "Quantizes a raw little-endian float32 matrix [R, C] into packed blocks.", true,
                              argc, argv, first, ra);
        rc != kExitOk)
        return rc < 0 ? kExitOk : rc;
    if (std::string why = ra.scheme->rejectReason(ra.rows, ra.cols); !why.empty())
        return fail("quant-raw", ra.scheme->name() + " cannot take " + std::to_string(ra.rows) + " x " +
                                     std::to_string(ra.cols) + ": " + why);
    std::vector<char> bytes;
    std::string error;
    const uint64_t n = uint64_t(ra.rows) * uint64_t(ra.cols);
    if (!readExactly(ra.in, n * 4, "rows x cols x 4 float32 bytes", bytes, error)) return fail("quant-raw", error);
    std::vector<float> x(n);
    std::memcpy(x.data(), bytes.data(), bytes.size());
    tbb::task_arena arena(ra.threads);
    auto q = qs::quantizeParallel(*ra.scheme, x, ra.rows, ra.cols, ra.in, &arena, nullptr);
    if (!q) return fail("quant-raw", q.message());
    if (!writeAtomically(ra.out, q->data.data(), q->data.size(), error)) return fail("quant-raw", error);
    return kExitOk;
}

int runDequantRaw(int argc, char** argv, int first) {
    RawArgs ra;
    if (int rc = parseRawArgs("dequant-raw",
                              "Dequantizes packed blocks back to a raw little-endian float32 matrix.", false,
                              argc, argv, first, ra);
        rc != kExitOk)
        return rc < 0 ? kExitOk : rc;
    if (std::string why = ra.scheme->rejectReason(ra.rows, ra.cols); !why.empty())
        return fail("dequant-raw", ra.scheme->name() + " cannot take " + std::to_string(ra.rows) + " x " +
                                       std::to_string(ra.cols) + ": " + why);
    const qs::ByteBreakdown b = ra.scheme->packedBytes(ra.rows, ra.cols);
    std::vector<char> bytes;
    std::string error;
    if (!readExactly(ra.in, b.total(), (ra.scheme->name() + " packed size of the shape").c_str(), bytes, error))
        return fail("dequant-raw", error);
    qs::QuantizedTensor q;
    q.scheme = ra.scheme->name();
    q.rows = ra.rows;
    q.cols = ra.cols;
    q.bytes = b;
    q.data.resize(bytes.size());
    std::memcpy(q.data.data(), bytes.data(), bytes.size());
    std::vector<float> y(size_t(ra.rows * ra.cols));
    ra.scheme->dequantize(q, y.data());
    if (!writeAtomically(ra.out, y.data(), y.size() * 4, error)) return fail("dequant-raw", error);
    return kExitOk;
}

}  // namespace qscli
