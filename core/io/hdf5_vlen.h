// SPDX-License-Identifier: GPL-3.0-or-later
// Variable-length strings of untrusted HDF5 files, read without libhdf5's variable-length conversion.
//
// Why: libhdf5 1.10.8 (Debian 12) trusts the global heap that holds variable-length data. When H5Aread/H5Dread
// convert a variable-length string (H5T__conv_vlen -> H5T__vlen_disk_read -> H5HG_read), it copies the heap
// object's stored size into a buffer sized by the reference's length, indexes the collection's object table with
// the reference's index unchecked (assertions only), and H5HG__cache_heap_deserialize loops forever on a
// free-space object whose size is 0. A damaged file therefore overflows the heap or hangs inside the library
// (tests/fuzz/regressions/hdf5/ and regressions/session_h5/ hold one such file each).
//
// How: the stored references (per element: a 4-byte length, a file address of sizeof-offsets bytes, a 4-byte
// object index; HDF5 format spec III.E "Global Heap" and IV.A.2.m) are read through libhdf5 as raw bytes (a soft
// conversion from variable-length strings to an opaque type of the same size that leaves the bytes as stored),
// then every referenced global heap collection is read from the file with pread and checked here: signature
// "GCOL", version 1, inside the file, every object header and object inside the collection, the referenced
// object present and exactly as long as the reference says. Only then are the strings copied out. A string
// ends at its first NUL byte, as libhdf5's C strings do. Memory: the collections held and the strings returned
// together stay within hdf5ReadCap(file size) (hdf5_object_reader.h), else the read fails.
//
// Thread-safety: callers hold io::hdf5Mutex() (libhdf5 calls, and the conversion registered on first use).
// Errors: a message without the file or object name (the caller adds both).
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

#include "core/util/result.h"

namespace qs::io {

// All strings of attribute `attr` (any dataspace, elements in storage order) of the open file `file`. Fails
// when the attribute is not of a variable-length string type, or any reference or heap collection is damaged.
Result<std::vector<std::string>> readVlenStringAttribute(hid_t file, hid_t attr);

// All strings of dataset `set` of `file`, as readVlenStringAttribute. Unwritten elements read as "".
Result<std::vector<std::string>> readVlenStringDataset(hid_t file, hid_t set);

}  // namespace qs::io
