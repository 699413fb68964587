// SPDX-License-Identifier: GPL-3.0-or-later
// Variable-length strings read from checked global heap collections. See hdf5_vlen.h.
#include "core/io/hdf5_vlen.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <map>

#include "core/io/hdf5_handle.h"
#include "core/io/hdf5_object_reader.h"

namespace qs::io {

namespace {

constexpr const char* kRawTag = "QuantScope stored variable-length reference";

// The soft conversion variable-length string -> our opaque type of the same size: the conversion buffer already
// holds the stored bytes (H5A__read / H5D__read copy them in before converting), so converting is doing nothing.
// It applies only to our tag and only when both sizes match (a string in its file location, not in memory).
herr_t keepStoredBytes(hid_t src, hid_t dst, H5T_cdata_t* cdata, size_t, size_t, size_t, void*, void*, hid_t) {
    if (cdata->command != H5T_CONV_INIT) return 0;
    char* tag = H5Tget_tag(dst);
    const bool ours = tag && std::strcmp(tag, kRawTag) == 0;
    H5free_memory(tag);
    if (!ours || H5Tis_variable_str(src) <= 0 || H5Tget_size(src) != H5Tget_size(dst)) return -1;
    cdata->need_bkg = H5T_BKG_NO;
    return 0;
}

bool registerRawConversion() {
    static const bool registered = [] {
        Hid vlen(H5Tcopy(H5T_C_S1), H5Tclose);
        Hid opaque(H5Tcreate(H5T_OPAQUE, 1), H5Tclose);
        return vlen.ok() && opaque.ok() && H5Tset_size(vlen.get(), H5T_VARIABLE) >= 0 &&
               H5Tregister(H5T_PERS_SOFT, "qs_keep_stored_vlen", vlen.get(), opaque.get(), keepStoredBytes) >= 0;
    }();
    return registered;
}

uint64_t littleEndian(const unsigned char* p, size_t bytes) {
    uint64_t v = 0;
    for (size_t k = bytes; k-- > 0;) v = (v << 8) | p[k];
    return v;
}

// The open file's layout parameters and a read-only descriptor of it (closed by the destructor).
struct HeapFile {
    int fd = -1;
    uint64_t size = 0;       // bytes
    uint64_t base = 0;       // HDF5 address 0 in the file (the user block size)
    size_t addrBytes = 8;    // "size of offsets"
    size_t lengthBytes = 8;  // "size of lengths"
    ~HeapFile() {
        if (fd >= 0) ::close(fd);
    }
    bool read(uint64_t offset, void* out, size_t n) const {
        size_t done = 0;
        while (done < n) {
            const ssize_t got = ::pread(fd, static_cast<char*>(out) + done, n - done, off_t(offset + done));
            if (got <= 0) return false;
            done += size_t(got);
        }
        return true;
    }
};

Result<bool> openHeapFile(hid_t file, HeapFile& hf) {
    Hid fcpl(H5Fget_create_plist(file), H5Pclose);
    hsize_t userblock = 0;
    if (!fcpl.ok() || H5Pget_sizes(fcpl.get(), &hf.addrBytes, &hf.lengthBytes) < 0 ||
        H5Pget_userblock(fcpl.get(), &userblock) < 0)
        return Error{"cannot read the file's creation properties"};
    if (hf.addrBytes < 2 || hf.addrBytes > 8 || hf.lengthBytes < 2 || hf.lengthBytes > 8)
        return Error{"offsets of " + std::to_string(hf.addrBytes) + " bytes or lengths of " +
                     std::to_string(hf.lengthBytes) + " bytes are not supported for variable-length strings"};
    hf.base = userblock;
    const ssize_t nameLength = H5Fget_name(file, nullptr, 0);
    if (nameLength <= 0) return Error{"cannot tell the file's name"};
    std::string name(size_t(nameLength), '\0');
    H5Fget_name(file, name.data(), name.size() + 1);
    hf.fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (hf.fd < 0 || ::fstat(hf.fd, &st) != 0) return Error{"cannot reopen the file to read its global heap"};
    hf.size = uint64_t(st.st_size);
    return true;
}

// One global heap collection: its objects (index -> offset and size within `bytes`).
struct HeapObject {
    size_t begin = 0;
    uint64_t size = 0;
};
struct HeapCollection {
    std::vector<unsigned char> bytes;
    std::map<uint64_t, HeapObject> objects;
};

std::string at(uint64_t address) { return "global heap collection at address " + std::to_string(address); }

// Walks the objects the way libhdf5's H5HG__cache_heap_deserialize does, refusing what it would mishandle: an
// object running past the collection's end and a free-space object too short to advance past its own header.
Result<bool> walkObjects(HeapCollection& c, const HeapFile& hf, uint64_t address) {
    const size_t header = 8 + hf.lengthBytes, objectHeader = 8 + hf.lengthBytes;
    const size_t end = c.bytes.size();
    size_t p = header;
    while (p < end && end - p >= objectHeader) {
        const unsigned char* h = c.bytes.data() + p;
        const uint64_t index = littleEndian(h, 2);
        const uint64_t size = littleEndian(h + 8, hf.lengthBytes);
        const uint64_t room = end - p;
        if (index == 0) {  // free space: its size counts its header
            if (size < objectHeader || size > room)
                return Error{at(address) + ": free space of " + std::to_string(size) + " bytes at byte " +
                             std::to_string(p) + " does not fit its " + std::to_string(room) + " remaining bytes"};
            p += size_t(size);
            continue;
        }
        if (size > room - objectHeader || ((size + 7) & ~uint64_t(7)) > room - objectHeader)
            return Error{at(address) + ": object " + std::to_string(index) + " of " + std::to_string(size) +
                         " bytes runs past the collection's end"};
        c.objects[index] = HeapObject{p + objectHeader, size};
        p += objectHeader + size_t((size + 7) & ~uint64_t(7));
    }
    return true;
}

Result<HeapCollection> readCollection(const HeapFile& hf, uint64_t address) {
    const size_t header = 8 + hf.lengthBytes;
    if (address > hf.size || hf.base > hf.size - address || hf.size - address - hf.base < header)
        return Error{at(address) + " lies outside the file of " + std::to_string(hf.size) + " bytes"};
    const uint64_t offset = hf.base + address;
    unsigned char head[16] = {};
    if (!hf.read(offset, head, header)) return Error{at(address) + ": cannot be read"};
    if (std::memcmp(head, "GCOL", 4) != 0 || head[4] != 1)
        return Error{at(address) + ": no collection signature (GCOL, version 1) there"};
    const uint64_t size = littleEndian(head + 8, hf.lengthBytes);
    if (size < header || size > hf.size - offset)
        return Error{at(address) + ": size " + std::to_string(size) + " does not fit the file"};
    HeapCollection c;
    c.bytes.resize(size_t(size));
    if (!hf.read(offset, c.bytes.data(), c.bytes.size())) return Error{at(address) + ": cannot be read"};
    if (auto walked = walkObjects(c, hf, address); !walked) return walked.error();
    return c;
}

// The strings that the stored references `raw` (elementBytes each) point to. The collections held and the strings
// copied out together stay within hdf5ReadCap of the file's size: many references to one large object, or many
// overlapping collections, would otherwise make a small file allocate without bound.
Result<std::vector<std::string>> resolve(const HeapFile& hf, const std::vector<unsigned char>& raw,
                                         size_t elementBytes) {
    std::map<uint64_t, HeapCollection> collections;
    std::vector<std::string> out;
    uint64_t budget = hdf5ReadCap(hf.size);
    auto spend = [&](uint64_t bytes) {
        if (bytes > budget) return false;
        budget -= bytes;
        return true;
    };
    const auto overBudget = [&] {
        return Error{"its strings (string " + std::to_string(out.size()) + " of " +
                     std::to_string(raw.size() / elementBytes) + ") need more memory than a file of " +
                     std::to_string(hf.size) + " bytes can justify"};
    };
    for (size_t at0 = 0; at0 + elementBytes <= raw.size(); at0 += elementBytes) {
        const unsigned char* e = raw.data() + at0;
        const uint64_t length = littleEndian(e, 4);
        const uint64_t address = littleEndian(e + 4, hf.addrBytes);
        const uint64_t index = littleEndian(e + 4 + hf.addrBytes, 4);
        if (address == 0 || length == 0) {  // a null string (libhdf5 reads it as a null pointer) or ""
            out.emplace_back();
            continue;
        }
        auto found = collections.find(address);
        if (found == collections.end()) {
            auto c = readCollection(hf, address);
            if (!c) return c.error();
            if (!spend(c->bytes.size())) return overBudget();
            found = collections.emplace(address, std::move(*c)).first;
        }
        const auto object = found->second.objects.find(index);
        if (index == 0 || object == found->second.objects.end())
            return Error{at(address) + ": has no object " + std::to_string(index) + " (string " +
                         std::to_string(out.size()) + " refers to it)"};
        if (object->second.size != length)
            return Error{at(address) + ": object " + std::to_string(index) + " holds " +
                         std::to_string(object->second.size) + " bytes, string " + std::to_string(out.size()) +
                         " says " + std::to_string(length)};
        const char* s = reinterpret_cast<const char*>(found->second.bytes.data() + object->second.begin);
        const size_t kept = strnlen(s, size_t(length));
        if (!spend(kept + sizeof(std::string))) return overBudget();
        out.emplace_back(s, kept);
    }
    return out;
}

// Reads the stored references of `object` with `read(memType, buffer)` and resolves them.
template <class ReadRaw>
Result<std::vector<std::string>> readStrings(hid_t file, hid_t storedType, hid_t space, ReadRaw read) {
    if (storedType < 0 || H5Tis_variable_str(storedType) <= 0) return Error{"not of a variable-length string type"};
    const hssize_t points = H5Sget_simple_extent_npoints(space);
    if (points < 0) return Error{"its dataspace cannot be read"};
    HeapFile hf;
    if (auto opened = openHeapFile(file, hf); !opened) return opened.error();
    const size_t elementBytes = 4 + hf.addrBytes + 4;
    if (uint64_t(points) > hdf5ReadCap(hf.size) / elementBytes)
        return Error{"declares " + std::to_string(points) + " strings, more than a file of " +
                     std::to_string(hf.size) + " bytes can hold"};
    if (!registerRawConversion()) return Error{"libhdf5 refused the stored-reference conversion"};
    Hid rawType(H5Tcreate(H5T_OPAQUE, elementBytes), H5Tclose);
    if (!rawType.ok() || H5Tset_tag(rawType.get(), kRawTag) < 0) return Error{"cannot make the reference type"};
    std::vector<unsigned char> raw(size_t(points) * elementBytes);
    if (points > 0 && read(rawType.get(), raw.data()) < 0) return Error{"its stored references cannot be read"};
    return resolve(hf, raw, elementBytes);
}

}  // namespace

Result<std::vector<std::string>> readVlenStringAttribute(hid_t file, hid_t attr) {
    Hid type(H5Aget_type(attr), H5Tclose);
    Hid space(H5Aget_space(attr), H5Sclose);
    if (!type.ok() || !space.ok()) return Error{"its type or dataspace cannot be read"};
    return readStrings(file, type.get(), space.get(), [&](hid_t mem, void* buf) { return H5Aread(attr, mem, buf); });
}

Result<std::vector<std::string>> readVlenStringDataset(hid_t file, hid_t set) {
    Hid type(H5Dget_type(set), H5Tclose);
    Hid space(H5Dget_space(set), H5Sclose);
    if (!type.ok() || !space.ok()) return Error{"its type or dataspace cannot be read"};
    return readStrings(file, type.get(), space.get(),
                       [&](hid_t mem, void* buf) { return H5Dread(set, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); });
}

}  // namespace qs::io
