// SPDX-License-Identifier: GPL-3.0-or-later
// HDF5 reader over the libhdf5 C API (1.10+). See hdf5_reader.h.
#include "core/io/hdf5_reader.h"

#include <hdf5.h>

#include <cstring>

#include "core/io/hdf5_handle.h"
#include "core/io/hdf5_vlen.h"
#include "core/io/side_files.h"
#include "core/io/utf8.h"

namespace qs::io {

std::mutex& hdf5Mutex() {
    static std::mutex m;
    return m;
}

bool isHdf5File(const std::string& path) {
    if (!isRegularFile(path)) return false;
    std::lock_guard lock(hdf5Mutex());
    bool hdf5 = false;
    H5E_BEGIN_TRY { hdf5 = H5Fis_hdf5(path.c_str()) > 0; }
    H5E_END_TRY;
    return hdf5;
}

namespace {

using nlohmann::json;

// Maps an HDF5 numeric type to a DType; nullopt for anything else. Floats are matched on their bit fields so
// a bfloat16 (8-bit exponent in 2 bytes) is not mistaken for IEEE half.
std::optional<DType> dtypeOf(hid_t type) {
    const H5T_class_t cls = H5Tget_class(type);
    const size_t size = H5Tget_size(type);
    if (cls == H5T_INTEGER) {
        const bool sign = H5Tget_sign(type) == H5T_SGN_2;
        switch (size) {
            case 1: return sign ? DType::I8 : DType::U8;
            case 2: return sign ? DType::I16 : DType::U16;
            case 4: return sign ? DType::I32 : DType::U32;
            case 8: return sign ? DType::I64 : DType::U64;
            default: return std::nullopt;
        }
    }
    if (cls != H5T_FLOAT) return std::nullopt;
    size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) return std::nullopt;
    if (size == 2 && esize == 5 && msize == 10) return DType::F16;
    if (size == 2 && esize == 8 && msize == 7) return DType::BF16;
    if (size == 4 && esize == 8 && msize == 23) return DType::F32;
    if (size == 8 && esize == 11 && msize == 52) return DType::F64;
    return std::nullopt;
}

class Hdf5Checkpoint : public Checkpoint {
public:
    ~Hdf5Checkpoint() override {
        std::lock_guard lock(hdf5Mutex());
        if (m_file >= 0) H5Fclose(m_file);
    }

    Result<TensorData> data(size_t i) const override {
        if (i < tensors.size() && tensors[i].file >= 0) return Checkpoint::data(i);
        if (i >= tensors.size()) return Error{path + ": tensor index " + std::to_string(i) + " out of range"};
        const TensorInfo& t = tensors[i];
        if (t.bytes == 0) return TensorData{};
        if (t.bytes > m_readCap)
            return Error{path + ": dataset '" + t.name + "' claims " + std::to_string(t.bytes) +
                         " bytes, far more than the file could hold even compressed; not read"};
        auto buf = std::make_shared<std::vector<std::byte>>(size_t(t.bytes));
        std::lock_guard lock(hdf5Mutex());
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        Hid ds(H5Dopen2(m_file, t.name.c_str(), H5P_DEFAULT), H5Dclose);
        if (!ds.ok()) return Error{path + ": dataset '" + t.name + "': " + takeHdf5Error()};
        Hid ftype(H5Dget_type(ds.get()), H5Tclose);
        Hid mtype(ftype.ok() ? H5Tcopy(ftype.get()) : -1, H5Tclose);
        // Read in little-endian order whatever the file uses; libhdf5 converts.
        if (!mtype.ok() || H5Tset_order(mtype.get(), H5T_ORDER_LE) < 0 ||
            H5Dread(ds.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf->data()) < 0)
            return Error{path + ": reading dataset '" + t.name + "': " + takeHdf5Error()};
        TensorData d;
        d.bytes = std::span<const std::byte>(buf->data(), buf->size());
        d.owner = buf;
        return d;
    }

    hid_t m_file = -1;
    uint64_t m_readCap = 0;
};

struct VisitContext {
    Hdf5Checkpoint* ck;
    uint64_t fileSize;
    bool mappable;  // false when a user block shifts HDF5 addresses
    ProgressSink* progress;
    bool cancelled = false;
    int skipped = 0;
    std::string unreadable;  // the first dataset skipped by unreadableStorage, as its warning says it
};

void skip(VisitContext& ctx, const std::string& name, const std::string& why) {
    constexpr int kMaxListed = 20;
    if (++ctx.skipped <= kMaxListed) ctx.ck->warnings.push_back(ctx.ck->path + ": dataset '" + name + "' skipped: " + why);
}

// Why a dataset read on demand cannot be read for what it declares ("" when it can), judged from its stored size
// before any byte is read: declared but never written (libhdf5 would hand back its fill value, and QuantScope would
// allocate the declared size for it), written in part (unfiltered, with fewer bytes stored than declared: chunks
// missing), or compressed and claiming more than the file could expand to (Hdf5Checkpoint::m_readCap).
std::string unreadableStorage(const VisitContext& ctx, hid_t ds, hid_t dcpl, uint64_t declared) {
    const uint64_t stored = H5Dget_storage_size(ds);
    H5Eclear2(H5E_DEFAULT);
    const std::string claim = "declares " + std::to_string(declared) + " bytes but ";
    if (stored == 0) return claim + "none are stored (never written); not read";
    const bool filtered = H5Pget_nfilters(dcpl) > 0;
    if (!filtered && stored < declared)
        return claim + "only " + std::to_string(stored) + " are stored (some chunks never written); not read";
    if (filtered && declared > ctx.ck->m_readCap)
        return claim + "only " + std::to_string(stored) + " are stored compressed, far more than the file (" +
               std::to_string(ctx.fileSize) + " bytes) could expand to; not read";
    return {};
}

void addDataset(VisitContext& ctx, hid_t ds, const std::string& name) {
    Hid type(H5Dget_type(ds), H5Tclose);
    Hid space(H5Dget_space(ds), H5Sclose);
    Hid dcpl(H5Dget_create_plist(ds), H5Pclose);
    if (!type.ok() || !space.ok() || !dcpl.ok()) return skip(ctx, name, takeHdf5Error());
    const auto dtype = dtypeOf(type.get());
    if (!dtype) return skip(ctx, name, "not a numeric type");
    const H5S_class_t sc = H5Sget_simple_extent_type(space.get());
    if (sc == H5S_NULL) return skip(ctx, name, "empty (null) dataspace");
    TensorInfo t;
    t.name = name;
    t.dtype = *dtype;
    uint64_t elements = 1;
    if (sc == H5S_SIMPLE) {
        const int rank = H5Sget_simple_extent_ndims(space.get());
        if (rank < 0 || rank > H5S_MAX_RANK) return skip(ctx, name, "bad rank");
        hsize_t dims[H5S_MAX_RANK];
        H5Sget_simple_extent_dims(space.get(), dims, nullptr);
        for (int d = 0; d < rank; ++d) {
            if (dims[d] > uint64_t(INT64_MAX) || __builtin_mul_overflow(elements, uint64_t(dims[d]), &elements))
                return skip(ctx, name, "dimensions overflow 64 bits");
            t.shape.push_back(int64_t(dims[d]));
        }
    }
    const uint64_t esize = H5Tget_size(type.get());
    if (__builtin_mul_overflow(elements, esize, &t.bytes)) return skip(ctx, name, "size overflows 64 bits");
    if (H5Pget_external_count(dcpl.get()) > 0)
        return skip(ctx, name, "its data lives in an external file, which QuantScope does not follow");
    // A view into the mapping needs the bytes stored plainly, in place and in little-endian order.
    const bool plain = ctx.mappable && H5Pget_layout(dcpl.get()) == H5D_CONTIGUOUS &&
                       H5Pget_nfilters(dcpl.get()) == 0 && H5Tget_order(type.get()) == H5T_ORDER_LE;
    if (plain && t.bytes > 0) {
        const haddr_t off = H5Dget_offset(ds);
        if (off != HADDR_UNDEF && off <= ctx.fileSize && t.bytes <= ctx.fileSize - off) {
            t.file = 0;
            t.offset = off;
        }
    }
    H5Eclear2(H5E_DEFAULT);  // H5Dget_offset reports an error for unallocated storage; that is not a failure
    if (t.file < 0 && t.bytes > 0) {
        if (auto why = unreadableStorage(ctx, ds, dcpl.get(), t.bytes); !why.empty()) {
            if (ctx.unreadable.empty()) ctx.unreadable = ctx.ck->path + ": dataset '" + name + "' " + why;
            return skip(ctx, name, why);
        }
    }
    ctx.ck->tensors.push_back(std::move(t));
}

herr_t visitLink(hid_t root, const char* name, const H5L_info_t* info, void* data) {
    auto& ctx = *static_cast<VisitContext*>(data);
    if ((ctx.ck->tensors.size() & 63) == 0 && !ctx.progress->report(0.5, "walking HDF5 groups")) {
        ctx.cancelled = true;
        return 1;  // positive: stop iterating
    }
    if (info->type != H5L_TYPE_HARD) return 0;  // soft/external links are not followed
    Hid obj(H5Oopen(root, name, H5P_DEFAULT), H5Oclose);
    if (!obj.ok()) {
        skip(ctx, name, takeHdf5Error());
        return 0;
    }
    if (H5Iget_type(obj.get()) == H5I_DATASET) addDataset(ctx, obj.get(), name);
    return 0;
}

std::string fileString(std::string_view s) {
    std::string out;
    appendUtf8(s, out);
    return out;
}

// The root group's attributes as metadata. An attribute of a type we do not show is skipped; a variable-length
// string whose global heap is damaged stops the walk and refuses the file (`damaged` says why).
struct RootAttributes {
    json& metadata;
    std::string damaged;
};

herr_t readAttribute(hid_t loc, const char* name, const H5A_info_t*, void* data) {
    auto& root = *static_cast<RootAttributes*>(data);
    json& md = root.metadata;
    Hid a(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
    if (!a.ok()) return 0;
    Hid type(H5Aget_type(a.get()), H5Tclose);
    Hid space(H5Aget_space(a.get()), H5Sclose);
    if (!type.ok() || !space.ok()) return 0;
    const hssize_t npoints = H5Sget_simple_extent_npoints(space.get());
    constexpr hssize_t kMaxValues = 1 << 20;
    if (npoints < 0 || npoints > kMaxValues) return 0;
    const size_t n = size_t(npoints);
    const bool scalar = H5Sget_simple_extent_type(space.get()) == H5S_SCALAR;
    json values = json::array();
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_STRING) {
        if (H5Tis_variable_str(type.get()) > 0) {
            // Not through libhdf5's variable-length conversion, which trusts a damaged global heap (hdf5_vlen.h).
            Hid file(H5Iget_file_id(loc), H5Fclose);
            auto strings = readVlenStringAttribute(file.get(), a.get());
            if (!strings) {
                root.damaged = "attribute " + fileString(name) + ": " + strings.message();
                return -1;
            }
            for (const std::string& p : *strings) values.push_back(fileString(p));
        } else {
            const size_t size = H5Tget_size(type.get());
            if (size == 0 || n > (size_t(64) << 20) / size) return 0;
            std::vector<char> buf(n * size);
            if (H5Aread(a.get(), type.get(), buf.data()) < 0) return 0;
            for (size_t k = 0; k < n; ++k) {
                const char* s = buf.data() + k * size;
                values.push_back(fileString(std::string_view(s, strnlen(s, size))));
            }
        }
    } else if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
        const bool isSigned = cls == H5T_FLOAT || H5Tget_sign(type.get()) == H5T_SGN_2;
        if (cls == H5T_FLOAT) {
            std::vector<double> v(n);
            if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, v.data()) < 0) return 0;
            for (double x : v) values.push_back(x);
        } else if (isSigned) {
            std::vector<long long> v(n);
            if (H5Aread(a.get(), H5T_NATIVE_LLONG, v.data()) < 0) return 0;
            for (long long x : v) values.push_back(int64_t(x));
        } else {
            std::vector<unsigned long long> v(n);
            if (H5Aread(a.get(), H5T_NATIVE_ULLONG, v.data()) < 0) return 0;
            for (unsigned long long x : v) values.push_back(uint64_t(x));
        }
    } else {
        return 0;  // compound, enum, reference...: not metadata a user reads
    }
    md[fileString(name)] = scalar && values.size() == 1 ? values[0] : values;
    return 0;
}

QuantScopeHdf5 kindOf(hid_t file) {
    if (H5Aexists_by_name(file, "/", kSessionMarker, H5P_DEFAULT) > 0) return QuantScopeHdf5::Session;
    if (H5Aexists_by_name(file, "/", kCalibrationMarker, H5P_DEFAULT) > 0) return QuantScopeHdf5::Calibration;
    if (H5Lexists(file, "/sweep", H5P_DEFAULT) > 0 && H5Aexists_by_name(file, "/sweep", "spec", H5P_DEFAULT) > 0)
        return QuantScopeHdf5::SweepTable;
    H5Eclear2(H5E_DEFAULT);
    return QuantScopeHdf5::None;
}

// Why a QuantScope output is not opened as a checkpoint, and where it is used instead ("" for other files).
std::string notACheckpoint(QuantScopeHdf5 kind) {
    switch (kind) {
        case QuantScopeHdf5::Session:
            return "a QuantScope session (written by `export --h5`), not a checkpoint: `quantscope-cli inspect` "
                   "shows its map and results; open the model it was made from";
        case QuantScopeHdf5::Calibration:
            return "a QuantScope calibration file (written by `calibrate --out`), not a checkpoint: give it to "
                   "--calib, or Load... it in the GUI's Calibration section";
        case QuantScopeHdf5::SweepTable:
            return "a QuantScope sweep table (written by `sweep --out`), not a checkpoint: `quantscope-cli inspect` "
                   "shows it; the GUI's Sweep tab opens it with Resume...";
        case QuantScopeHdf5::None:
            break;
    }
    return {};
}

// quantScopeHdf5Kind's reading, in whichever process runs it; an Error when libhdf5 cannot open the file (so that
// this process never opens a file that failed in the separate one: libhdf5 1.10.8 leaks on some of those failures).
Result<QuantScopeHdf5> kindInProcess(const std::string& path) {
    std::lock_guard lock(hdf5Mutex());
    std::optional<Result<QuantScopeHdf5>> kind;
    H5E_BEGIN_TRY {
        const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        if (file >= 0) {
            kind.emplace(kindOf(file));
            H5Fclose(file);
        } else {
            kind.emplace(Error{path + ": not a readable HDF5 file"});
        }
    }
    H5E_END_TRY;
    return std::move(*kind);
}

Result<std::unique_ptr<Checkpoint>> readInProcess(std::shared_ptr<const MappedFile> file, const OpenOptions& options,
                                                  ProgressSink& progress) {
    const std::string& path = file->path();
    if (!progress.report(0.0, "opening HDF5 file")) return Error{std::string(kCancelledMessage)};
    auto ck = std::make_unique<Hdf5Checkpoint>();
    ck->path = path;
    ck->format = FileFormat::Hdf5;
    ck->files.push_back(file);
    // Compressed datasets may legitimately expand; a dataset claiming far more is a hostile header.
    ck->m_readCap = file->size() * 64 + (64u << 20);
    VisitContext ctx{ck.get(), file->size(), true, &progress, false, 0, {}};
    {
        std::lock_guard lock(hdf5Mutex());
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        ck->m_file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        if (ck->m_file < 0) return Error{path + ": not a readable HDF5 file: " + takeHdf5Error()};
        unsigned superVersion = 0;
        {
            Hid fcpl(H5Fget_create_plist(ck->m_file), H5Pclose);
            hsize_t userblock = 0;
            if (fcpl.ok()) {
                H5Pget_userblock(fcpl.get(), &userblock);
                H5Pget_version(fcpl.get(), &superVersion, nullptr, nullptr, nullptr);
            }
            ctx.mappable = fcpl.ok() && userblock == 0;
        }
        ck->formatDetail = "HDF5 (superblock v" + std::to_string(superVersion) + ")";
        if (auto ours = notACheckpoint(kindOf(ck->m_file)); !ours.empty()) return Error{path + ": " + ours};
        RootAttributes root{ck->metadata, {}};
        if (H5Aiterate2(ck->m_file, H5_INDEX_NAME, H5_ITER_INC, nullptr, readAttribute, &root) < 0) {
            if (!root.damaged.empty()) return Error{path + ": root " + root.damaged};
            ck->warnings.push_back(path + ": some root attributes could not be read: " + takeHdf5Error());
        }
        if (H5Lvisit(ck->m_file, H5_INDEX_NAME, H5_ITER_INC, visitLink, &ctx) < 0)
            return Error{path + ": walking the HDF5 groups failed: " + takeHdf5Error()};
        H5Eclear2(H5E_DEFAULT);
    }
    if (ctx.cancelled) return Error{std::string(kCancelledMessage)};
    if (ck->tensors.empty() && !ctx.unreadable.empty())
        return Error{ctx.unreadable + "; the file holds no other dataset QuantScope can read"};
    if (ctx.skipped > 20)
        ck->warnings.push_back(path + ": " + std::to_string(ctx.skipped - 20) + " more datasets skipped");
    if (ck->tensors.empty() && ctx.skipped == 0) ck->warnings.push_back(path + ": no datasets found");
    // Keras keeps its config in the model_config attribute; a config.json beside is read as for safetensors.
    if (options.readSideFiles) ck->config = readConfigJson(folderOf(path), ck->warnings);
    progress.report(1.0, "HDF5 file read");
    return std::unique_ptr<Checkpoint>(std::move(ck));
}

// The separate process's read: the checkpoint as readInProcess reads it, then every dataset that libhdf5 decodes on
// demand (not a view into the mapping). A dataset's own Error is not the child's: this process meets it again when
// the tensor is used, and reports it there.
Status vetInChild(const std::shared_ptr<const MappedFile>& file, const OpenOptions& options, ProgressSink& progress) {
    OpenOptions child = options;
    child.readSideFiles = false;
    auto ck = readInProcess(file, child, progress);
    if (!ck) return ck.error();
    const auto& tensors = (*ck)->tensors;
    for (size_t i = 0; i < tensors.size(); ++i) {
        if (tensors[i].file >= 0) continue;
        progress.report(double(i) / double(tensors.size()), "reading chunked or converted HDF5 datasets");
        childLongStep();  // one libhdf5 read, silent until it returns
        (void)(*ck)->data(i);
    }
    return {};
}

}  // namespace

QuantScopeHdf5 quantScopeHdf5Kind(const std::string& path) {
    if (!isHdf5File(path)) return QuantScopeHdf5::None;  // the signature only: nothing parsed yet
    // None also when libhdf5 fails in the separate process: the reader the caller picks next says why.
    auto kind = readHdf5Isolated<QuantScopeHdf5>(path, [&] { return kindInProcess(path); }, nullptr,
                                                 Hdf5Read::Metadata);
    return kind ? *kind : QuantScopeHdf5::None;
}

Result<std::unique_ptr<Checkpoint>> readHdf5(std::shared_ptr<const MappedFile> file, const OpenOptions& options,
                                             ProgressSink& progress) {
    const Status vetted = runInChildProcess(file->path(), kLibhdf5Reading,
                                            [&](ProgressSink& p) { return vetInChild(file, options, p); },
                                            hdf5ChildOptions(&progress));
    if (!vetted) return vetted.error();
    return readInProcess(std::move(file), options, progress);
}

}  // namespace qs::io
