// SPDX-License-Identifier: GPL-3.0-or-later
// A safetensors header's JSON read with nlohmann's SAX interface, one top-level entry at a time, so no tree of
// the whole header is ever built: the safetensors reader (safetensors_reader.cpp) turns each entry into a
// TensorInfo and the extent walk (checkpoint_extent.cpp) keeps only the data_offsets ends. Internal to core/io.
//
// What an entry's value holds (a small nlohmann::json, built for that entry and dropped after it):
// - a tensor entry (any key but "__metadata__") that is an object: only its "dtype", "shape" and "data_offsets"
//   members, each of at most kMaxMemberValues values (a longer one is an error naming the tensor); other
//   members are skipped without being built. An entry that is not an object is passed as it is (a scalar, or
//   an array of at most kMaxMemberValues values).
// - "__metadata__": the whole value when `keepMetadata` (at most kMaxMetadataValues values, else an error), null
//   otherwise.
// Limits: objects and arrays nest at most `maxDepth` deep (the top object is depth 1). Errors: the first one
// (a limit, a header that is not an object, or fail() from entry()) is kept in error() and nothing more is
// built or passed to entry(), but the text is still read to its end, so that a JSON syntax error anywhere wins
// (syntaxError() set, error() says at which byte), as it did when the whole header was parsed first.
// Thread-safety: one instance per parse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qs::io {

class SafetensorsHeaderSax : public nlohmann::json_sax<nlohmann::json> {
public:
    static constexpr size_t kMaxMemberValues = 1024;      // a shape of 1024 dimensions is no tensor
    static constexpr size_t kMaxMetadataValues = 100000;  // __metadata__ is a small string -> string map
    static constexpr const char* kNotAnObject = "the header is not a JSON object";  // error() when it is not

    SafetensorsHeaderSax(int maxDepth, bool keepMetadata) : m_maxDepth(maxDepth), m_keepMetadata(keepMetadata) {}

    // Runs the parse over text[0, n); true when the whole header was read and every entry() accepted.
    bool parse(const char* text, size_t n);
    const std::string& error() const { return m_error; }
    bool syntaxError() const { return m_syntaxError; }

    bool null() override { return scalar(nullptr); }
    bool boolean(bool v) override { return scalar(v); }
    bool number_integer(number_integer_t v) override { return scalar(v); }
    bool number_unsigned(number_unsigned_t v) override { return scalar(v); }
    bool number_float(number_float_t v, const string_t&) override { return scalar(v); }
    bool string(string_t& v) override { return scalar(std::move(v)); }
    bool binary(binary_t&) override { return fail("the header holds binary data"); }
    bool key(string_t& k) override;
    bool start_object(std::size_t) override { return open(nlohmann::json::value_t::object); }
    bool start_array(std::size_t) override { return open(nlohmann::json::value_t::array); }
    bool end_object() override { return close(); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t at, const std::string&, const nlohmann::detail::exception&) override;

protected:
    // One top-level entry (in file order), its value as described above; it may be moved from.
    virtual void entry(const std::string& name, nlohmann::json& value) = 0;
    // Keeps the first error; always true (the text is still read to its end, see above).
    bool fail(const std::string& what);

private:
    bool scalar(nlohmann::json v);
    bool open(nlohmann::json::value_t type);
    bool close();
    nlohmann::json* place(nlohmann::json v);
    void endEntry();
    bool building() const { return m_error.empty() && m_skipDepth == 0; }

    int m_maxDepth;
    bool m_keepMetadata;
    int m_depth = 0;                // 1 inside the top object
    int m_skipDepth = 0;            // > 0: inside a member that is not built, this many levels deep
    std::string m_name;             // the current top-level key
    std::string m_member;           // the current key inside it (a tensor entry's member)
    bool m_skipNext = false;        // the next value is not built (a member other than the three, or metadata)
    nlohmann::json m_value;         // the current entry's value
    nlohmann::json* m_slot = nullptr;      // where the next value goes when the innermost container is an object
    std::vector<nlohmann::json*> m_stack;  // open containers being built, innermost last
    size_t m_values = 0;            // values built in the current member (or __metadata__)
    std::string m_error;
    bool m_syntaxError = false;
};

}  // namespace qs::io
