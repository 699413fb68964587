// SPDX-License-Identifier: GPL-3.0-or-later
// Owns one libhdf5 identifier (hid_t) and closes it with the matching H5*close (H5Fclose, H5Dclose, ...) when it
// goes out of scope; a negative id (a failed H5*open/create) is never closed. Used by the HDF5 reader, writer and
// the session file. Thread-safety: as libhdf5's; callers hold io::hdf5Mutex() around every libhdf5 call, including
// the destructor's close.
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

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

// The calling thread's libhdf5 error stack as one line, then cleared: the most specific entry ("function:
// description"), and the API function it was called from when they differ. "unknown libhdf5 error" when the stack
// is empty. Call with io::hdf5Mutex() held, right after the failed call.
inline std::string takeHdf5Error() {
    std::vector<std::string> items;  // H5E_WALK_DOWNWARD: from the API function inwards
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD,
             [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
                 static_cast<std::vector<std::string>*>(data)->push_back(std::string(e->func_name ? e->func_name : "?") +
                                                                         ": " + (e->desc ? e->desc : "?"));
                 return 0;
             },
             &items);
    H5Eclear2(H5E_DEFAULT);
    if (items.empty()) return "unknown libhdf5 error";
    return items.back() + (items.size() > 1 ? " (called from " + items.front() + ")" : "");
}

}  // namespace qs::io
