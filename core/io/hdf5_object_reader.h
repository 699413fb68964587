// SPDX-License-Identifier: GPL-3.0-or-later
// Reading named objects of an open HDF5 file with the libhdf5 C API: 1-D numeric and UTF-8 string datasets
// and scalar attributes, each failure a message naming the file, the object and `kind` (what the file was
// expected to be: "QuantScope session", "QuantScope sweep table"). Used by the session and sweep-table
// readers. Thread-safety: callers hold io::hdf5Mutex() around every use (libhdf5 is not thread-safe here).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/io/hdf5_handle.h"
#include "core/io/hdf5_vlen.h"
#include "core/util/result.h"

namespace qs::io {

// The most bytes a reader allocates for the values of one dataset of an HDF5 file of `fileBytes`: 64 x the file
// plus 64 MiB (the bound readHdf5 applies to checkpoint tensors). Compressed values may outgrow their storage, but
// a few-KB file that declares 2^40 elements (chunks never written read back as the fill value) is refused by
// name instead of allocated.
inline uint64_t hdf5ReadCap(uint64_t fileBytes) { return fileBytes * 64 + (64ull << 20); }

// The size of the open file `file` in bytes (0 when libhdf5 cannot tell).
inline uint64_t hdf5FileBytes(hid_t file) {
    hsize_t n = 0;
    return H5Fget_filesize(file, &n) < 0 ? 0 : uint64_t(n);
}

// Fails (a message naming nothing: the caller adds the file and object) when `elements` values of `elementBytes`
// each exceed hdf5ReadCap for `file`.
inline bool hdf5FitsReadCap(hid_t file, uint64_t elements, uint64_t elementBytes, std::string& why) {
    const uint64_t fileBytes = hdf5FileBytes(file);
    if (elements <= hdf5ReadCap(fileBytes) / elementBytes) return true;
    why = "declares " + std::to_string(elements) + " elements, more than a file of " + std::to_string(fileBytes) +
          " bytes can hold";
    return false;
}

struct Hdf5ObjectReader {
    hid_t file;
    std::string path;
    std::string kind;  // "QuantScope session"

    Error fail(const std::string& object, const std::string& what) const {
        return Error{path + ": " + object + ": " + what + " (not a " + kind + ", or a damaged one)"};
    }
    bool exists(const std::string& object) const { return H5Lexists(file, object.c_str(), H5P_DEFAULT) > 0; }

    // The element count of a 1-D dataset whose values take `elementBytes` each in memory; refuses counts beyond
    // hdf5ReadCap.
    Result<uint64_t> length(const std::string& object, hid_t& set, uint64_t elementBytes) const {
        set = H5Dopen2(file, object.c_str(), H5P_DEFAULT);
        if (set < 0) return fail(object, "missing");
        Hid space(H5Dget_space(set), H5Sclose);
        if (H5Sget_simple_extent_ndims(space.get()) != 1) return fail(object, "not one-dimensional");
        hsize_t n = 0;
        H5Sget_simple_extent_dims(space.get(), &n, nullptr);
        if (std::string why; !hdf5FitsReadCap(file, uint64_t(n), elementBytes, why)) return fail(object, why);
        return uint64_t(n);
    }

    template <class T>
    Result<std::vector<T>> numbers(const std::string& object, hid_t memType) const {
        hid_t raw = -1;
        auto n = length(object, raw, sizeof(T));
        Hid set(raw, H5Dclose);
        if (!n) return n.error();
        std::vector<T> v(static_cast<size_t>(n.value()));
        if (*n && H5Dread(set.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
            return fail(object, "cannot be read as numbers");
        return v;
    }

    // A 1-D dataset of variable-length strings, read through readVlenStrings (hdf5_vlen.h: never through
    // libhdf5's own conversion, which trusts a damaged global heap).
    Result<std::vector<std::string>> strings(const std::string& object) const {
        hid_t raw = -1;
        auto n = length(object, raw, sizeof(char*));
        Hid set(raw, H5Dclose);
        if (!n) return n.error();
        auto out = readVlenStringDataset(file, set.get());
        if (!out) return fail(object, "cannot be read as strings: " + out.message());
        return out;
    }

    template <class T>
    Result<T> attribute(const std::string& object, const std::string& name, hid_t memType) const {
        if (H5Aexists_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT) <= 0)
            return fail(object, "attribute " + name + " missing");
        Hid a(H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
        T v{};
        if (!a.ok() || H5Aread(a.get(), memType, &v) < 0)
            return fail(object, "attribute " + name + " unreadable");
        return v;
    }

    // A scalar variable-length string attribute (hdf5_vlen.h).
    Result<std::string> stringAttribute(const std::string& object, const std::string& name) const {
        if (H5Aexists_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT) <= 0)
            return fail(object, "attribute " + name + " missing");
        Hid a(H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
        if (!a.ok()) return fail(object, "attribute " + name + " unreadable");
        auto values = readVlenStringAttribute(file, a.get());
        if (!values) return fail(object, "attribute " + name + " unreadable: " + values.message());
        if (values->size() != 1) return fail(object, "attribute " + name + " is not one string");
        return std::move(values->front());
    }
};

}  // namespace qs::io
