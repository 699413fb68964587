// SPDX-License-Identifier: GPL-3.0-or-later
// Result<T>: a value or an Error. Bad files and bad input are results, never exceptions or crashes; the
// message names the file, the offset or tensor, and what was expected (see STYLE.md, "Errors").
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace qs {

struct Error {
    std::string message;
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : m_v(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return m_v.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(m_v); }
    const T& value() const& { return std::get<0>(m_v); }
    T&& value() && { return std::get<0>(std::move(m_v)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { return std::get<1>(m_v); }
    const std::string& message() const { return error().message; }

private:
    std::variant<T, Error> m_v;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Error error) : m_error(std::move(error)), m_failed(true) {}
    bool ok() const { return !m_failed; }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return m_error; }
    const std::string& message() const { return m_error.message; }

private:
    Error m_error;
    bool m_failed = false;
};

}  // namespace qs
