// SPDX-License-Identifier: GPL-3.0-or-later
// The HDF5 session (see session_h5.h): collected with applyMap, written with io::Hdf5Writer, read back with
// the libhdf5 C API under io::hdf5Mutex().
#include "core/export/session_h5.h"

#include <hdf5.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "core/calib/calibration_h5.h"
#include "core/io/hdf5_handle.h"
#include "core/io/hdf5_object_reader.h"
#include "core/io/hdf5_reader.h"
#include "core/io/hdf5_writer.h"
#include "core/io/utf8.h"
#include "core/quant/apply_map.h"
#include "core/sweep/sweep_hdf5.h"
#include "core/util/format.h"

namespace qs {

namespace {

constexpr const char* kStatNames[] = {"mse",    "rmse",          "max_abs_error",    "sqnr_db",
                                      "cosine", "rel_frobenius", "fraction_clipped", "fraction_zeroed"};

double* statField(ErrorStats& s, int k) {
    double* fields[] = {&s.mse,    &s.rmse,         &s.maxAbsError,     &s.sqnrDb,
                        &s.cosine, &s.relFrobenius, &s.fractionClipped, &s.fractionZeroed};
    return fields[k];
}

Status writeHistogram(io::Hdf5Writer& w, const std::string& path, const Histogram& h) {
    std::vector<int64_t> counts(h.counts.begin(), h.counts.end());
    if (auto s = w.writeI64(path, counts); !s) return s;
    if (auto s = w.setAttribute(path, "lo", h.lo); !s) return s;
    if (auto s = w.setAttribute(path, "hi", h.hi); !s) return s;
    if (auto s = w.setAttribute(path, "below", int64_t(h.below)); !s) return s;
    return w.setAttribute(path, "above", int64_t(h.above));
}

// --- reading ---

using io::Hid;

struct Reader : io::Hdf5ObjectReader {
    Status histogram(const std::string& object, Histogram& h) const {
        auto counts = numbers<int64_t>(object, H5T_NATIVE_INT64);
        if (!counts) return counts.error();
        auto lo = attribute<double>(object, "lo", H5T_NATIVE_DOUBLE);
        auto hi = attribute<double>(object, "hi", H5T_NATIVE_DOUBLE);
        auto below = attribute<int64_t>(object, "below", H5T_NATIVE_INT64);
        auto above = attribute<int64_t>(object, "above", H5T_NATIVE_INT64);
        if (!lo || !hi || !below || !above) return fail(object, "histogram attributes missing");
        h.counts.assign(counts->begin(), counts->end());
        h.lo = *lo, h.hi = *hi, h.below = uint64_t(*below), h.above = uint64_t(*above);
        return {};
    }
};

Status readQuantized(const Reader& r, const std::string& object, SessionTensor& t) {
    auto bytes = r.numbers<uint8_t>(object, H5T_NATIVE_UINT8);
    if (!bytes) return bytes.error();
    QuantizedTensor q;
    auto scheme = r.stringAttribute(object, "scheme");
    if (!scheme) return scheme.error();
    q.scheme = *scheme;
    uint64_t* parts[] = {&q.bytes.payload,  &q.bytes.scales,   &q.bytes.zeros,
                         &q.bytes.codebook, &q.bytes.outliers, &q.bytes.meta};
    const char* names[] = {"payload", "scales", "zeros", "codebook", "outliers", "meta"};
    for (int k = 0; k < 6; ++k) {
        auto v = r.attribute<int64_t>(object, names[k], H5T_NATIVE_INT64);
        if (!v) return v.error();
        *parts[k] = uint64_t(*v);
    }
    auto rows = r.attribute<int64_t>(object, "rows", H5T_NATIVE_INT64);
    auto cols = r.attribute<int64_t>(object, "cols", H5T_NATIVE_INT64);
    if (!rows || !cols) return r.fail(object, "rows/cols missing");
    q.rows = *rows, q.cols = *cols;
    q.data.resize(bytes->size());
    std::memcpy(q.data.data(), bytes->data(), bytes->size());
    t.quantized = std::move(q);
    return {};
}

Result<Session> readOpen(const Reader& r) {
    Session s;
    auto model = r.stringAttribute("/", "model");
    auto format = r.stringAttribute("/", "model_format");
    auto rules = r.stringAttribute("/map", "rules_json");
    // The first one missing or damaged says which and why (a damaged global heap: where).
    for (const Result<std::string>* a : {&model, &format, &rules})
        if (!*a) return a->error();
    s.model = *model, s.modelFormat = *format;
    auto map = parseQuantMap(*rules);
    if (!map) return Error{r.path + ": /map: " + map.message()};
    s.map = std::move(*map);
    auto names = r.strings("/tensors/name");
    auto roles = r.strings("/tensors/role");
    auto schemes = r.strings("/tensors/scheme");
    for (const auto* column : {&names, &roles, &schemes})
        if (!*column) return column->error();  // names the dataset: missing, or declaring more than the file holds
    const size_t n = names->size();
    std::vector<std::vector<int64_t>> ints;
    for (const char* c : {"layer", "rows", "cols", "bytes", "count"}) {
        auto v = r.numbers<int64_t>(std::string("/tensors/") + c, H5T_NATIVE_INT64);
        if (!v) return v.error();
        ints.push_back(std::move(*v));
    }
    std::vector<std::vector<double>> stats;
    for (const char* c : kStatNames) {
        auto v = r.numbers<double>(std::string("/tensors/") + c, H5T_NATIVE_DOUBLE);
        if (!v) return v.error();
        stats.push_back(std::move(*v));
    }
    for (const auto& v : ints)
        if (v.size() != n) return r.fail("/tensors", "columns of different lengths");
    for (const auto& v : stats)
        if (v.size() != n) return r.fail("/tensors", "columns of different lengths");
    if (roles->size() != n || schemes->size() != n) return r.fail("/tensors", "columns of different lengths");
    for (size_t i = 0; i < n; ++i) {
        SessionTensor t;
        t.name = (*names)[i], t.role = (*roles)[i], t.scheme = (*schemes)[i];
        t.layer = ints[0][i], t.rows = ints[1][i], t.cols = ints[2][i], t.bytes = ints[3][i];
        t.stats.count = uint64_t(ints[4][i]);
        for (int k = 0; k < 8; ++k) *statField(t.stats, k) = stats[size_t(k)][i];
        const std::string h = "/histograms/" + std::to_string(i);
        if (r.exists("/histograms") && r.exists(h)) {
            if (auto st = r.histogram(h + "/weight", t.weightHistogram); !st) return st.error();
            if (auto st = r.histogram(h + "/error", t.errorHistogram); !st) return st.error();
        }
        const std::string q = "/quantized/" + std::to_string(i);
        if (r.exists("/quantized") && r.exists(q))
            if (auto st = readQuantized(r, q, t); !st) return st.error();
        s.tensors.push_back(std::move(t));
    }
    if (r.exists("/sweep")) {
        auto sweep = readSweepGroup(r);
        if (!sweep) return sweep.error();
        s.sweep = std::move(*sweep);
    }
    return s;
}

}  // namespace

Result<Session> buildSession(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                             tbb::task_arena* arena, const SessionOptions& options) {
    Session s;
    s.model = ckpt.path;
    s.modelFormat = std::string(fileFormatName(ckpt.format));
    s.map = resolved.map;
    s.tensors.resize(ckpt.tensors.size());
    if (options.calibration) s.calibration = std::make_shared<const CalibrationSet>(*options.calibration);
    ApplyOptions ao;
    ao.histogramBins = options.histogramBins;
    ao.progress = options.progress;
    ao.calibration = options.calibration;
    // A session's packed tensors stand alone (each dequantizes to its weights): AWQ keeps its s vectors, no
    // norm is replaced.
    ao.foldAwqScales = false;
    auto applied = applyMap(ckpt, info, resolved, ao, arena,
                            [&](int i, QuantizedTensor&& q, const ErrorReport&) -> Status {
                                if (options.tensors) s.tensors[size_t(i)].quantized = std::move(q);
                                return Status{};
                            });
    if (!applied) return applied.error();
    for (size_t i = 0; i < ckpt.tensors.size(); ++i) {
        SessionTensor& t = s.tensors[i];
        const AppliedTensor& a = applied->tensors[i];
        const TensorPlan& p = resolved.tensors[i];
        t.name = ckpt.tensors[i].name;
        t.role = std::string(roleName(info.entries[i].role));
        t.layer = info.entries[i].layer;
        t.scheme = a.scheme.empty() ? std::string(kKeepScheme) : a.scheme;
        t.rows = p.rows, t.cols = p.cols;
        t.bytes = int64_t(a.bytes.total());
        t.stats = a.error().stats;
        t.stats.sums = {};
        if (a.quantized)
            t.weightHistogram = a.error().weightHistogram, t.errorHistogram = a.error().errorHistogram;
    }
    return s;
}

Status writeSessionH5(const std::string& path, const Session& session) {
    auto created = io::Hdf5Writer::create(path);
    if (!created) return created.error();
    io::Hdf5Writer& w = **created;
    const size_t n = session.tensors.size();
    std::vector<std::string> names, roles, schemes;
    std::vector<std::vector<int64_t>> ints(5, std::vector<int64_t>(n));
    std::vector<std::vector<double>> stats(8, std::vector<double>(n));
    for (size_t i = 0; i < n; ++i) {
        const SessionTensor& t = session.tensors[i];
        names.push_back(t.name), roles.push_back(t.role), schemes.push_back(t.scheme);
        ints[0][i] = t.layer, ints[1][i] = t.rows, ints[2][i] = t.cols, ints[3][i] = t.bytes;
        ints[4][i] = int64_t(t.stats.count);
        ErrorStats copy = t.stats;
        for (int k = 0; k < 8; ++k) stats[size_t(k)][i] = *statField(copy, k);
    }
    auto run = [&]() -> Status {
        if (auto s = w.setAttribute("/", io::kSessionMarker, int64_t(1)); !s) return s;
        if (auto s = w.setAttribute("/", "model", session.model); !s) return s;
        if (auto s = w.setAttribute("/", "model_format", session.modelFormat); !s) return s;
        if (auto s = w.createGroup("/map"); !s) return s;
        if (auto s = w.setAttribute("/map", "rules_json", quantMapToJson(session.map).dump()); !s) return s;
        if (auto s = w.createGroup("/tensors"); !s) return s;
        if (auto s = w.writeStrings("/tensors/name", names); !s) return s;
        if (auto s = w.writeStrings("/tensors/role", roles); !s) return s;
        if (auto s = w.writeStrings("/tensors/scheme", schemes); !s) return s;
        const char* intNames[] = {"layer", "rows", "cols", "bytes", "count"};
        for (int k = 0; k < 5; ++k)
            if (auto s = w.writeI64(std::string("/tensors/") + intNames[k], ints[size_t(k)]); !s) return s;
        for (int k = 0; k < 8; ++k)
            if (auto s = w.writeF64(std::string("/tensors/") + kStatNames[k], stats[size_t(k)]); !s) return s;
        bool histGroup = false, quantGroup = false;
        for (size_t i = 0; i < n; ++i) {
            const SessionTensor& t = session.tensors[i];
            const std::string idx = std::to_string(i);
            if (!t.weightHistogram.empty()) {
                if (!histGroup)
                    if (auto s = w.createGroup("/histograms"); !s) return s;
                histGroup = true;
                if (auto s = w.createGroup("/histograms/" + idx); !s) return s;
                if (auto s = writeHistogram(w, "/histograms/" + idx + "/weight", t.weightHistogram); !s)
                    return s;
                if (auto s = writeHistogram(w, "/histograms/" + idx + "/error", t.errorHistogram); !s)
                    return s;
            }
            if (t.quantized) {
                if (!quantGroup)
                    if (auto s = w.createGroup("/quantized"); !s) return s;
                quantGroup = true;
                const QuantizedTensor& q = *t.quantized;
                const std::string obj = "/quantized/" + idx;
                const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(q.data.data()),
                                                     q.data.size());
                if (auto s = w.writeU8(obj, bytes, {uint64_t(bytes.size())}); !s) return s;
                if (auto s = w.setAttribute(obj, "scheme", q.scheme); !s) return s;
                if (auto s = w.setAttribute(obj, "rows", q.rows); !s) return s;
                if (auto s = w.setAttribute(obj, "cols", q.cols); !s) return s;
                const std::pair<const char*, uint64_t> parts[] = {
                    {"payload", q.bytes.payload},   {"scales", q.bytes.scales},     {"zeros", q.bytes.zeros},
                    {"codebook", q.bytes.codebook}, {"outliers", q.bytes.outliers}, {"meta", q.bytes.meta}};
                for (const auto& [name, v] : parts)
                    if (auto s = w.setAttribute(obj, name, int64_t(v)); !s) return s;
            }
        }
        if (session.calibration)
            if (auto s = writeCalibrationGroup(w, *session.calibration); !s) return s;
        if (session.sweep)
            if (auto s = writeSweepGroup(w, *session.sweep); !s) return s;
        return w.commit();
    };
    return run();
}

namespace {
Result<Session> readSessionTables(const std::string& path) {
    std::lock_guard lock(io::hdf5Mutex());
    auto read = [&]() -> Result<Session> {
        if (H5Fis_hdf5(path.c_str()) <= 0) return Error{path + ": cannot be opened as HDF5"};
        Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
        if (!file.ok()) return Error{path + ": cannot be opened as HDF5"};
        const Reader r{{file.get(), path, "QuantScope session"}};
        if (H5Aexists_by_name(file.get(), "/", io::kSessionMarker, H5P_DEFAULT) <= 0)
            return Error{path + ": not a QuantScope session (no quantscope_session attribute on the root)"};
        return readOpen(r);
    };
    std::optional<Result<Session>> result;
    H5E_BEGIN_TRY {
        result.emplace(read());
    }  // libhdf5's own error printing off; its failures become messages
    H5E_END_TRY;
    return std::move(*result);
}

// readSessionH5's reading, in whichever process runs it (readSessionH5 vets the whole of it in one separate process).
Result<Session> readSessionInProcess(const std::string& path) {
    auto session = readSessionTables(path);
    if (!session) return session.error();
    auto calibration = readCalibrationH5InProcess(path);  // takes the libhdf5 mutex itself
    if (!calibration) return calibration.error();
    if (*calibration) session->calibration = std::make_shared<const CalibrationSet>(std::move(**calibration));
    return session;
}
}  // namespace

Result<Session> readSessionH5(const std::string& path) {
    return io::readHdf5Isolated<Session>(path, [&] { return readSessionInProcess(path); });
}

Result<QuantMap> loadMapOrSession(const std::string& path) {
    if (isSessionH5(path)) {
        auto session = readSessionH5(path);
        if (!session) return session.error();
        return std::move(session->map);
    }
    if (io::isHdf5File(path))
        return Error{path + ": an HDF5 file that is not a QuantScope session (no quantscope_session attribute at /, "
                            "e.g. a sweep table); a map is a map JSON or a session written by `export --h5`"};
    return loadQuantMap(path);
}

bool isSessionH5(const std::string& path) {
    return io::quantScopeHdf5Kind(path) == io::QuantScopeHdf5::Session;
}

Status checkSweepFingerprint(const SweepFile& sweep, const std::string& fingerprint, const std::string& origin) {
    const nlohmann::json& spec = sweep.header["spec"];
    const std::string stored = spec.contains("model_fingerprint") && spec["model_fingerprint"].is_string()
                                   ? spec["model_fingerprint"].get<std::string>()
                                   : std::string();
    if (stored.empty())
        return Error{origin + ": the sweep carries no model fingerprint, so it cannot be tied to these weights"};
    if (stored != fingerprint)
        return Error{origin + ": the sweep was measured on other weights (model fingerprint " + stored +
                     ", this model's is " + fingerprint + ")"};
    return {};
}

std::string sessionSummaryText(const Session& s) {
    // Every text from the file (model path, names, schemes, the map) shown printable (io::printableText): a
    // session made from a model whose names hold escapes or bidi overrides must not forge lines or reorder them.
    std::string out = "QuantScope session\n  model         " + io::printableText(s.model) + " (" +
                      io::printableText(s.modelFormat) + ")\n  map           " +
                      io::printableText(quantMapToJson(s.map)["rules"].dump(-1, ' ', false,
                                                                            nlohmann::json::error_handler_t::replace)) +
                      "\n\n";
    char line[512];
    std::snprintf(line, sizeof line, "  %-32s %-12s %12s %12s %10s\n", "tensor", "scheme", "bytes", "rmse",
                  "sqnr dB");
    out += line;
    for (const SessionTensor& t : s.tensors) {
        // The name and scheme whole and padded (a fixed line buffer cut long names together with the row's end).
        const std::string name = io::printableText(t.name), scheme = io::printableText(t.scheme);
        out += "  " + name + std::string(name.size() < 32 ? 32 - name.size() : 0, ' ') + " " + scheme +
               std::string(scheme.size() < 12 ? 12 - scheme.size() : 0, ' ');
        if (t.scheme == kKeepScheme) {  // nothing was quantized, so there is no error to show (not SQNR 0)
            std::snprintf(line, sizeof line, " %12lld %14s %12s\n", (long long)t.bytes, "\u2013", "\u2013 (kept)");
        } else {
            std::snprintf(line, sizeof line, " %12lld %12.4g %10.2f%s\n", (long long)t.bytes, t.stats.rmse,
                          t.stats.sqnrDb, t.quantized ? "  (tensor stored)" : "");
        }
        out += line;
    }
    if (s.sweep)
        out += "\n  sweep         " + std::to_string(s.sweep->rows.size()) + " points (/sweep), measure " +
               io::printableText(s.sweep->header["spec"].value("measure", std::string("?"))) + "\n";
    return out;
}

}  // namespace qs
