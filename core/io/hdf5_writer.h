// SPDX-License-Identifier: GPL-3.0-or-later
// A small RAII HDF5 writer over the libhdf5 C API, for sweep tables and session exports. The file is created
// under a temporary name in the destination's folder (".NAME.tmpPID") and renamed over the destination by
// commit(); a writer destroyed without commit() (an error, a cancel, an exception) removes the temporary file,
// so a failed write never leaves a half file and the old destination stays whole. A process killed outright
// (SIGKILL) leaves its hidden ".NAME.tmp<PID>"; the next writer of NAME removes those of dead processes.
//
// What it writes: groups, attributes (UTF-8 strings, f64, i64) on the root, a group or a dataset, and
// datasets: 1-D f64 / i64 / UTF-8 strings (variable length), n-D f32 / f64 / u8 with a shape (outermost first, the
// h5py/NumPy order). Datasets are contiguous and unfiltered; h5py reads them as float64/int64/str
// (bytes for old h5py)/float32/uint8 arrays. Object paths are absolute ("/sweep/bpw"); parent groups must
// exist (createGroup them first, outermost first).
//
// Errors: every call returns a Status naming the file, the object and libhdf5's own message. Thread-safety:
// one writer per thread; every libhdf5 call holds io::hdf5Mutex() (libhdf5 is not thread-safe as built).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/result.h"

namespace qs::io {

class Hdf5Writer {
public:
    // Creates the temporary file for `path`. Fails naming the folder when it cannot be created.
    static Result<std::unique_ptr<Hdf5Writer>> create(const std::string& path);
    ~Hdf5Writer();
    Hdf5Writer(const Hdf5Writer&) = delete;
    Hdf5Writer& operator=(const Hdf5Writer&) = delete;

    Status createGroup(const std::string& path);

    // Attributes on the object at `object` ("/" for the root, a group or a dataset).
    Status setAttribute(const std::string& object, const std::string& name, std::string_view value);
    Status setAttribute(const std::string& object, const std::string& name, double value);
    Status setAttribute(const std::string& object, const std::string& name, int64_t value);

    Status writeF64(const std::string& path, std::span<const double> values);
    Status writeI64(const std::string& path, std::span<const int64_t> values);
    Status writeStrings(const std::string& path, const std::vector<std::string>& values);
    // values.size() must equal the product of shape (checked: a mismatch is an error naming the dataset).
    Status writeF32(const std::string& path, std::span<const float> values, const std::vector<uint64_t>& shape);
    Status writeF64(const std::string& path, std::span<const double> values, const std::vector<uint64_t>& shape);
    Status writeU8(const std::string& path, std::span<const uint8_t> values, const std::vector<uint64_t>& shape);

    // Closes the file and renames it over the destination. After commit() no other call may be made.
    Status commit();

    const std::string& path() const { return m_path; }

private:
    Hdf5Writer(std::string path, std::string tmp, int64_t file) : m_path(std::move(path)), m_tmp(std::move(tmp)), m_file(file) {}
    Status writeNumeric(const std::string& path, const void* data, uint64_t count, const std::vector<uint64_t>& shape,
                        int64_t memType, int64_t fileType);
    Status failure(const std::string& what);

    std::string m_path, m_tmp;
    int64_t m_file = -1;  // hid_t
    bool m_committed = false;
};

}  // namespace qs::io
