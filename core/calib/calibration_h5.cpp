// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/calib/calibration_h5.h"

#include <hdf5.h>

#include <map>
#include <mutex>

#include "core/io/hdf5_handle.h"
#include "core/io/hdf5_object_reader.h"
#include "core/io/hdf5_reader.h"
#include "core/io/hdf5_vlen.h"

namespace qs {

namespace {

constexpr const char* kGroup = "/calibration";

Status writeInput(io::Hdf5Writer& w, const std::string& g, const TensorCalibration& c,
                  const std::vector<std::string>& readers) {
    const uint64_t cols = uint64_t(c.cols);
    if (auto s = w.createGroup(g); !s) return s;
    if (auto s = w.setAttribute(g, "cols", c.cols); !s) return s;
    if (auto s = w.setAttribute(g, "tokens", c.tokens); !s) return s;
    if (auto s = w.writeStrings(g + "/tensors", readers); !s) return s;
    if (!c.sumSquares.empty())
        if (auto s = w.writeF64(g + "/sum_squares", c.sumSquares, {cols}); !s) return s;
    if (!c.sumAbs.empty())
        if (auto s = w.writeF64(g + "/sum_abs", c.sumAbs, {cols}); !s) return s;
    if (!c.maxAbs.empty())
        if (auto s = w.writeF32(g + "/max_abs", c.maxAbs, {cols}); !s) return s;
    if (!c.hessian.empty())
        if (auto s = w.writeF64(g + "/hessian", c.hessian, {cols, cols}); !s) return s;
    if (!c.samples.empty())
        if (auto s = w.writeF32(g + "/samples", c.samples, {uint64_t(c.nSamples()), cols}); !s) return s;
    return {};
}

using io::Hid;

struct GroupReader {
    hid_t file;
    std::string path;

    Error fail(const std::string& object, const std::string& what) const {
        return Error{path + ": " + object + ": " + what + " (damaged calibration statistics)"};
    }
    bool exists(const std::string& object) const { return H5Lexists(file, object.c_str(), H5P_DEFAULT) > 0; }

    // Any rank; the element count and the dimensions in `dims`.
    template <class T>
    Result<std::vector<T>> numbers(const std::string& object, hid_t memType, std::vector<uint64_t>* dims = nullptr) const {
        Hid set(H5Dopen2(file, object.c_str(), H5P_DEFAULT), H5Dclose);
        if (!set.ok()) return fail(object, "missing");
        Hid space(H5Dget_space(set.get()), H5Sclose);
        const int rank = H5Sget_simple_extent_ndims(space.get());
        if (rank < 1 || rank > 2) return fail(object, "not a vector or matrix");
        hsize_t d[2] = {0, 0};
        H5Sget_simple_extent_dims(space.get(), d, nullptr);
        uint64_t n = 1;
        for (int k = 0; k < rank; ++k)
            if (__builtin_mul_overflow(n, uint64_t(d[k]), &n)) return fail(object, "element count overflows 64 bits");
        if (std::string why; !io::hdf5FitsReadCap(file, n, sizeof(T), why)) return fail(object, why);
        if (dims) dims->assign(d, d + rank);
        std::vector<T> v(static_cast<size_t>(n));
        if (n && H5Dread(set.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
            return fail(object, "cannot be read as numbers");
        return v;
    }

    Result<std::vector<std::string>> strings(const std::string& object) const {
        Hid set(H5Dopen2(file, object.c_str(), H5P_DEFAULT), H5Dclose);
        if (!set.ok()) return fail(object, "missing");
        Hid space(H5Dget_space(set.get()), H5Sclose);
        if (H5Sget_simple_extent_ndims(space.get()) != 1) return fail(object, "not one-dimensional");
        hsize_t n = 0;
        H5Sget_simple_extent_dims(space.get(), &n, nullptr);
        if (std::string why; !io::hdf5FitsReadCap(file, uint64_t(n), sizeof(char*), why)) return fail(object, why);
        // Never through libhdf5's variable-length conversion, which trusts a damaged global heap (hdf5_vlen.h).
        auto out = io::readVlenStringDataset(file, set.get());
        if (!out) return fail(object, "cannot be read as strings: " + out.message());
        return out;
    }

    Result<int64_t> integer(const std::string& object, const char* name) const {
        if (H5Aexists_by_name(file, object.c_str(), name, H5P_DEFAULT) <= 0)
            return fail(object, std::string("attribute ") + name + " missing");
        Hid a(H5Aopen_by_name(file, object.c_str(), name, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
        int64_t v = 0;
        if (!a.ok() || H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0)
            return fail(object, std::string("attribute ") + name + " unreadable");
        return v;
    }

    Result<std::string> text(const std::string& object, const char* name) const {
        if (H5Aexists_by_name(file, object.c_str(), name, H5P_DEFAULT) <= 0)
            return fail(object, std::string("attribute ") + name + " missing");
        Hid a(H5Aopen_by_name(file, object.c_str(), name, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
        if (!a.ok()) return fail(object, std::string("attribute ") + name + " unreadable");
        auto values = io::readVlenStringAttribute(file, a.get());
        if (!values) return fail(object, std::string("attribute ") + name + " unreadable: " + values.message());
        if (values->size() != 1) return fail(object, std::string("attribute ") + name + " is not one string");
        return std::move(values->front());
    }
};

// A vector field of one input: absent is fine; present with the wrong size is damage.
template <class T>
Status readField(const GroupReader& r, const std::string& object, hid_t memType, uint64_t expect,
                 std::vector<T>& out) {
    if (!r.exists(object)) return {};
    auto v = r.numbers<T>(object, memType);
    if (!v) return v.error();
    if (expect && v->size() != expect)
        return r.fail(object, std::to_string(v->size()) + " values, expected " + std::to_string(expect));
    out = std::move(*v);
    return {};
}

Result<std::shared_ptr<TensorCalibration>> readInput(const GroupReader& r, const std::string& g) {
    auto cols = r.integer(g, "cols");
    auto tokens = r.integer(g, "tokens");
    if (!cols) return cols.error();
    if (!tokens) return tokens.error();
    if (*cols <= 0 || *cols > (int64_t(1) << 24) || *tokens < 0) return r.fail(g, "cols/tokens out of range");
    auto c = std::make_shared<TensorCalibration>();
    c->cols = *cols;
    c->tokens = *tokens;
    const uint64_t n = uint64_t(*cols);
    if (auto s = readField(r, g + "/sum_squares", H5T_NATIVE_DOUBLE, n, c->sumSquares); !s) return s.error();
    if (auto s = readField(r, g + "/sum_abs", H5T_NATIVE_DOUBLE, n, c->sumAbs); !s) return s.error();
    if (auto s = readField(r, g + "/max_abs", H5T_NATIVE_FLOAT, n, c->maxAbs); !s) return s.error();
    if (auto s = readField(r, g + "/hessian", H5T_NATIVE_DOUBLE, n * n, c->hessian); !s) return s.error();
    if (auto s = readField(r, g + "/samples", H5T_NATIVE_FLOAT, 0, c->samples); !s) return s.error();
    if (c->samples.size() % n != 0) return r.fail(g + "/samples", "not whole rows of cols values");
    return c;
}

Result<CalibrationSet> readGroup(const GroupReader& r) {
    CalibrationSet set;
    CalibrationProvenance& p = set.provenance;
    std::pair<const char*, std::string*> texts[] = {{"source", &p.source},
                                                    {"text_source", &p.textSource},
                                                    {"text_fnv1a", &p.textFingerprint},
                                                    {"model_fingerprint", &p.modelFingerprint},
                                                    {"settings", &p.settingsKey}};
    for (auto& [name, field] : texts) {
        auto v = r.text(kGroup, name);
        if (!v) return v.error();
        *field = std::move(*v);
    }
    std::pair<const char*, int64_t*> ints[] = {
        {"tokens", &p.tokens}, {"sequences", &p.sequences}, {"sequence_length", &p.sequenceLength}};
    for (auto& [name, field] : ints) {
        auto v = r.integer(kGroup, name);
        if (!v) return v.error();
        *field = *v;
    }
    auto collected = r.integer(kGroup, "collected");
    if (!collected) return collected.error();
    p.collected = CalibrationNeeds(uint32_t(*collected));
    for (int k = 0;; ++k) {
        const std::string g = std::string(kGroup) + "/inputs/" + std::to_string(k);
        if (!r.exists(std::string(kGroup) + "/inputs") || !r.exists(g)) break;
        auto input = readInput(r, g);
        if (!input) return input.error();
        auto readers = r.strings(g + "/tensors");
        if (!readers) return readers.error();
        for (const auto& name : *readers) set.tensors[name] = *input;
    }
    return set;
}

}  // namespace

Status writeCalibrationGroup(io::Hdf5Writer& w, const CalibrationSet& set) {
    const CalibrationProvenance& p = set.provenance;
    if (auto s = w.createGroup(kGroup); !s) return s;
    const std::pair<const char*, const std::string*> texts[] = {{"source", &p.source},
                                                                {"text_source", &p.textSource},
                                                                {"text_fnv1a", &p.textFingerprint},
                                                                {"model_fingerprint", &p.modelFingerprint},
                                                                {"settings", &p.settingsKey}};
    for (const auto& [name, v] : texts)
        if (auto s = w.setAttribute(kGroup, name, std::string_view(*v)); !s) return s;
    const std::pair<const char*, int64_t> ints[] = {{"tokens", p.tokens},
                                                    {"sequences", p.sequences},
                                                    {"sequence_length", p.sequenceLength},
                                                    {"collected", int64_t(uint32_t(p.collected))}};
    for (const auto& [name, v] : ints)
        if (auto s = w.setAttribute(kGroup, name, v); !s) return s;
    // One group per distinct input, in the order of its first reader's name.
    std::vector<const TensorCalibration*> order;
    std::map<const TensorCalibration*, std::vector<std::string>> readers;
    for (const auto& [name, c] : set.tensors) {
        if (!c) continue;
        auto& r = readers[c.get()];
        if (r.empty()) order.push_back(c.get());
        r.push_back(name);
    }
    if (auto s = w.createGroup(std::string(kGroup) + "/inputs"); !s) return s;
    for (size_t k = 0; k < order.size(); ++k)
        if (auto s = writeInput(w, std::string(kGroup) + "/inputs/" + std::to_string(k), *order[k], readers[order[k]]); !s)
            return s;
    return {};
}

Status writeCalibrationH5(const std::string& path, const CalibrationSet& set) {
    auto created = io::Hdf5Writer::create(path);
    if (!created) return created.error();
    io::Hdf5Writer& w = **created;
    if (auto s = w.setAttribute("/", io::kCalibrationMarker, int64_t(1)); !s) return s;
    if (auto s = writeCalibrationGroup(w, set); !s) return s;
    return w.commit();
}

Result<std::optional<CalibrationSet>> readCalibrationH5InProcess(const std::string& path) {
    std::lock_guard lock(io::hdf5Mutex());
    auto read = [&]() -> Result<std::optional<CalibrationSet>> {
        if (H5Fis_hdf5(path.c_str()) <= 0) return Error{path + ": cannot be opened as HDF5"};
        Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
        if (!file.ok()) return Error{path + ": cannot be opened as HDF5"};
        const GroupReader r{file.get(), path};
        if (!r.exists(kGroup)) return std::optional<CalibrationSet>{};
        auto set = readGroup(r);
        if (!set) return set.error();
        return std::optional<CalibrationSet>(std::move(*set));
    };
    std::optional<Result<std::optional<CalibrationSet>>> result;
    H5E_BEGIN_TRY {
        result.emplace(read());
    }  // libhdf5's own error printing off; its failures become messages
    H5E_END_TRY;
    return std::move(*result);
}

Result<std::optional<CalibrationSet>> readCalibrationH5(const std::string& path) {
    return io::readHdf5Isolated<std::optional<CalibrationSet>>(path, [&] { return readCalibrationH5InProcess(path); });
}

}  // namespace qs
