// SPDX-License-Identifier: GPL-3.0-or-later
// HDF5 writer over the libhdf5 C API. See hdf5_writer.h.
#include "core/io/hdf5_writer.h"

#include "core/io/checkpoint_writer.h"
#include "core/io/mapped_file.h"

#include <hdf5.h>

#include <filesystem>
#include <mutex>

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "core/io/hdf5_handle.h"
#include "core/io/hdf5_reader.h"

namespace qs::io {

namespace {

// A variable-length UTF-8 string type (the caller closes it).
hid_t makeUtf8String() {
    const hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0) {
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
    }
    return t;
}

}  // namespace

namespace {

// Removes ".NAME.tmp<PID>" files beside `target` left by writers of processes that no longer exist (a kill -9
// mid-write): the next write of the same destination cleans up after it. Files of live processes are kept.
void removeStaleTemporaries(const std::filesystem::path& target) {
    const std::string prefix = "." + target.filename().string() + ".tmp";
    std::error_code ec;
    const auto folder = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
    for (const auto& e : std::filesystem::directory_iterator(folder, ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string digits = name.substr(prefix.size());
        if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        const pid_t pid = pid_t(std::stol(digits));
        if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove(e.path(), ec);
    }
}

}  // namespace

Result<std::unique_ptr<Hdf5Writer>> Hdf5Writer::create(const std::string& path) {
    if (MappedFile::isOpenInput(path)) return Error{inputRefusal(path)};
    // A FIFO, a device or a folder at `path` would be replaced by the rename (checkpoint_writer.h).
    if (auto s = checkOutputPath(path); !s) return s.error();
    const std::filesystem::path target(path);
    const std::string tmp = (target.parent_path() / ("." + target.filename().string() + ".tmp" + std::to_string(::getpid()))).string();
    removeStaleTemporaries(target);
    std::lock_guard lock(hdf5Mutex());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t f = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return Error{tmp + ": cannot create the HDF5 file: " + takeHdf5Error()};
    return std::unique_ptr<Hdf5Writer>(new Hdf5Writer(path, tmp, f));
}

Hdf5Writer::~Hdf5Writer() {
    if (m_file >= 0) {
        std::lock_guard lock(hdf5Mutex());
        H5Fclose(hid_t(m_file));
    }
    if (!m_committed) {
        std::error_code ec;
        std::filesystem::remove(m_tmp, ec);
    }
}

Status Hdf5Writer::failure(const std::string& what) { return Error{m_path + ": " + what + ": " + takeHdf5Error()}; }

Status Hdf5Writer::createGroup(const std::string& path) {
    std::lock_guard lock(hdf5Mutex());
    Hid g(H5Gcreate2(hid_t(m_file), path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g.ok()) return failure("cannot create group " + path);
    return {};
}

namespace {

template <class Fill>
Status writeAttribute(hid_t file, const std::string& object, const std::string& name, hid_t type, Fill&& write,
                      const std::string& who) {
    Hid obj(H5Oopen(file, object.c_str(), H5P_DEFAULT), H5Oclose);
    if (!obj.ok()) return Error{who + ": no object " + object + " for attribute " + name + ": " + takeHdf5Error()};
    if (H5Aexists(obj.get(), name.c_str()) > 0) H5Adelete(obj.get(), name.c_str());
    Hid space(H5Screate(H5S_SCALAR), H5Sclose);
    Hid attr(H5Acreate2(obj.get(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.ok() || write(attr.get()) < 0)
        return Error{who + ": cannot write attribute " + object + "@" + name + ": " + takeHdf5Error()};
    return {};
}

}  // namespace

Status Hdf5Writer::setAttribute(const std::string& object, const std::string& name, std::string_view value) {
    std::lock_guard lock(hdf5Mutex());
    Hid type(makeUtf8String(), H5Tclose);
    const std::string copy(value);
    const char* p = copy.c_str();
    return writeAttribute(hid_t(m_file), object, name, type.get(), [&](hid_t a) { return H5Awrite(a, type.get(), &p); }, m_path);
}

Status Hdf5Writer::setAttribute(const std::string& object, const std::string& name, double value) {
    std::lock_guard lock(hdf5Mutex());
    return writeAttribute(hid_t(m_file), object, name, H5T_IEEE_F64LE,
                          [&](hid_t a) { return H5Awrite(a, H5T_NATIVE_DOUBLE, &value); }, m_path);
}

Status Hdf5Writer::setAttribute(const std::string& object, const std::string& name, int64_t value) {
    std::lock_guard lock(hdf5Mutex());
    return writeAttribute(hid_t(m_file), object, name, H5T_STD_I64LE,
                          [&](hid_t a) { return H5Awrite(a, H5T_NATIVE_INT64, &value); }, m_path);
}

Status Hdf5Writer::writeNumeric(const std::string& path, const void* data, uint64_t count,
                                const std::vector<uint64_t>& shape, int64_t memType, int64_t fileType) {
    uint64_t elements = 1;
    std::vector<hsize_t> dims;
    for (uint64_t d : shape) {
        elements *= d;
        dims.push_back(hsize_t(d));
    }
    if (elements != count)
        return Error{m_path + ": dataset " + path + ": " + std::to_string(count) + " values for a shape of " +
                     std::to_string(elements) + " elements"};
    std::lock_guard lock(hdf5Mutex());
    Hid space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
    Hid set(H5Dcreate2(hid_t(m_file), path.c_str(), hid_t(fileType), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
    if (!space.ok() || !set.ok()) return failure("cannot create dataset " + path);
    if (count > 0 && H5Dwrite(set.get(), hid_t(memType), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        return failure("cannot write dataset " + path);
    return {};
}

Status Hdf5Writer::writeF64(const std::string& path, std::span<const double> v) {
    return writeNumeric(path, v.data(), v.size(), {v.size()}, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE);
}
Status Hdf5Writer::writeF64(const std::string& path, std::span<const double> v, const std::vector<uint64_t>& shape) {
    return writeNumeric(path, v.data(), v.size(), shape, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE);
}
Status Hdf5Writer::writeI64(const std::string& path, std::span<const int64_t> v) {
    return writeNumeric(path, v.data(), v.size(), {v.size()}, H5T_NATIVE_INT64, H5T_STD_I64LE);
}
Status Hdf5Writer::writeF32(const std::string& path, std::span<const float> v, const std::vector<uint64_t>& shape) {
    return writeNumeric(path, v.data(), v.size(), shape, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE);
}
Status Hdf5Writer::writeU8(const std::string& path, std::span<const uint8_t> v, const std::vector<uint64_t>& shape) {
    return writeNumeric(path, v.data(), v.size(), shape, H5T_NATIVE_UINT8, H5T_STD_U8LE);
}

Status Hdf5Writer::writeStrings(const std::string& path, const std::vector<std::string>& values) {
    std::vector<const char*> ptrs;
    for (const auto& s : values) ptrs.push_back(s.c_str());
    std::lock_guard lock(hdf5Mutex());
    Hid type(makeUtf8String(), H5Tclose);
    const hsize_t n = values.size();
    Hid space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    Hid set(H5Dcreate2(hid_t(m_file), path.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    if (!type.ok() || !space.ok() || !set.ok()) return failure("cannot create dataset " + path);
    if (n > 0 && H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
        return failure("cannot write dataset " + path);
    return {};
}

Status Hdf5Writer::commit() {
    {
        std::lock_guard lock(hdf5Mutex());
        const herr_t closed = H5Fclose(hid_t(m_file));
        m_file = -1;
        if (closed < 0) return failure("cannot close " + m_tmp);
    }
    std::error_code ec;
    std::filesystem::rename(m_tmp, m_path, ec);
    if (ec) return Error{m_path + ": cannot rename the temporary file " + m_tmp + " into place: " + ec.message()};
    m_committed = true;
    return {};
}

}  // namespace qs::io
