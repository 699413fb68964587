// SPDX-License-Identifier: GPL-3.0-or-later
// Owns one libhdf5 identifier (hid_t) and closes it with the matching H5*close (H5Fclose, H5Dclose, ...) when it
// goes out of scope; a negative id (a failed H5*open/create) is never closed. Used by the HDF5 reader, writer and
// the session file. Thread-safety: as libhdf5's; callers hold io::hdf5Mutex() around every libhdf5 call, including
// the destructor's close.
#pragma once

#include <hdf5.h>

namespace qs::io {

class Hid {
public:
    Hid(hid_t id, herr_t (*close)(hid_t)) : m_id(id), m_close(close) {}
    ~Hid() {
        if (m_id >= 0) m_close(m_id);
    }
    Hid(const Hid&) = delete;
    Hid& operator=(const Hid&) = delete;
    hid_t get() const { return m_id; }
    bool ok() const { return m_id >= 0; }

private:
    hid_t m_id;
    herr_t (*m_close)(hid_t);
};

}  // namespace qs::io
