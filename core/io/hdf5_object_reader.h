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
#include "core/util/result.h"

namespace qs::io {

struct Hdf5ObjectReader {
    hid_t file;
    std::string path;
    std::string kind;  // "QuantScope session"

    Error fail(const std::string& object, const std::string& what) const {
        return Error{path + ": " + object + ": " + what + " (not a " + kind + ", or a damaged one)"};
    }
    bool exists(const std::string& object) const { return H5Lexists(file, object.c_str(), H5P_DEFAULT) > 0; }

    Result<uint64_t> length(const std::string& object, hid_t& set) const {
        set = H5Dopen2(file, object.c_str(), H5P_DEFAULT);
        if (set < 0) return fail(object, "missing");
        Hid space(H5Dget_space(set), H5Sclose);
        if (H5Sget_simple_extent_ndims(space.get()) != 1) return fail(object, "not one-dimensional");
        hsize_t n = 0;
        H5Sget_simple_extent_dims(space.get(), &n, nullptr);
        return uint64_t(n);
    }

    template <class T>
    Result<std::vector<T>> numbers(const std::string& object, hid_t memType) const {
        hid_t raw = -1;
        auto n = length(object, raw);
        Hid set(raw, H5Dclose);
        if (!n) return n.error();
        std::vector<T> v(static_cast<size_t>(n.value()));
        if (*n && H5Dread(set.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
            return fail(object, "cannot be read as numbers");
        return v;
    }

    Result<std::vector<std::string>> strings(const std::string& object) const {
        hid_t raw = -1;
        auto n = length(object, raw);
        Hid set(raw, H5Dclose);
        if (!n) return n.error();
        Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(type.get(), H5T_VARIABLE);
        H5Tset_cset(type.get(), H5T_CSET_UTF8);
        std::vector<char*> raws(size_t(*n), nullptr);
        if (*n && H5Dread(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raws.data()) < 0)
            return fail(object, "cannot be read as strings");
        std::vector<std::string> out;
        for (char* s : raws) out.emplace_back(s ? s : "");
        Hid space(H5Dget_space(set.get()), H5Sclose);
        if (*n) H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, raws.data());
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

    Result<std::string> stringAttribute(const std::string& object, const std::string& name) const {
        if (H5Aexists_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT) <= 0)
            return fail(object, "attribute " + name + " missing");
        Hid a(H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
        Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(type.get(), H5T_VARIABLE);
        H5Tset_cset(type.get(), H5T_CSET_UTF8);
        char* s = nullptr;
        if (!a.ok() || H5Aread(a.get(), type.get(), &s) < 0)
            return fail(object, "attribute " + name + " unreadable");
        std::string out = s ? s : "";
        H5free_memory(s);
        return out;
    }
};

}  // namespace qs::io
