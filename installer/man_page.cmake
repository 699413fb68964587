# SPDX-License-Identifier: GPL-3.0-or-later
# Writes a section-1 man page from a program's own help, at build time:
#   cmake -DPROGRAM=path/to/quantscope-cli -DNAME=quantscope-cli -DVERSION=0.1.0 -DSUMMARY="..."
#         [-DSEE_ALSO=quantscope] [-DWITH_COMMANDS=ON] -DOUT=quantscope-cli.1.gz -P man_page.cmake
# SYNOPSIS is the usage line of `PROGRAM --help`, DESCRIPTION the rest of it; WITH_COMMANDS adds COMMANDS, one
# subsection per command listed under its "...commands:" line (a line indented by exactly two spaces) with that
# command's `--help`. The help text is turned into filled roff, so man wraps it to the reader's terminal
# (MANWIDTH=80 included) instead of printing it at the width it was written for: prose lines become filled
# paragraphs; a line indented by two spaces is a table entry, "TAG  text" (an option and its help, a command,
# a protocol), set as a tagged paragraph (.TP) with the lines indented further as the rest of its text; a
# line ending with ':' after a blank line is a group heading. '/' may break a long path or URL. A help that
# "exit status:" block after a blank line is set as the EXIT STATUS section. A help that
# fails or is empty stops the build: the page never goes out with a hole. The page is gzip-compressed (Debian
# policy 12.1) with a zero timestamp, so equal help gives equal bytes.
cmake_minimum_required(VERSION 3.25)
foreach(var PROGRAM NAME VERSION SUMMARY OUT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "man_page.cmake: -D${var}=... is required")
    endif()
endforeach()

function(run_help out_var)
    execute_process(COMMAND "${PROGRAM}" ${ARGN} --help RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE err)
    string(STRIP "${text}" text)
    if(NOT rc EQUAL 0 OR text STREQUAL "")
        string(JOIN " " args ${ARGN})
        message(FATAL_ERROR "man_page.cmake: `${PROGRAM} ${args} --help` exited with ${rc} and printed "
                            "${text}${err}")
    endif()
    set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# Text as roff: backslashes escaped first, then '-' as a real minus (options stay copy-pasteable), and a line
# starting with a control character ('.' or ') made literal.
function(to_roff out_var text)
    string(REPLACE "\\" "\\e" text "${text}")
    string(REPLACE "-" "\\-" text "${text}")
    string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
    set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# Running text as roff, with a break allowed after each '/' (\: prints nothing), so that a long path or URL
# can wrap rather than run past the right margin.
function(text_to_roff out_var text)
    to_roff(text "${text}")
    string(REPLACE "/" "/\\:" text "${text}")
    set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# A table entry's tag: its first word in bold (the option or command), the rest (the value's placeholder) roman.
function(tag_to_roff out_var tag)
    string(REGEX MATCH "^[^ ]+" first "${tag}")
    string(LENGTH "${first}" n)
    string(SUBSTRING "${tag}" ${n} -1 rest)
    to_roff(first "${first}")
    to_roff(rest "${rest}")
    set(${out_var} "\\fB${first}\\fR${rest}" PARENT_SCOPE)
endfunction()

# Help text (without its usage line) as filled roff: paragraphs, headings and tagged entries (see the top).
# Walked line by line with string(FIND): help text holds ';' and unbalanced '[' that CMake lists mangle.
function(help_to_roff out_var text)
    set(out "")
    set(state "blank")  # blank (after a blank line or at the start), prose, or entry
    string(APPEND text "\n")
    while(NOT text STREQUAL "")
        string(FIND "${text}" "\n" nl)
        string(SUBSTRING "${text}" 0 ${nl} line)
        math(EXPR next "${nl} + 1")
        string(SUBSTRING "${text}" ${next} -1 text)
        string(REGEX REPLACE " +$" "" line "${line}")
        if(line STREQUAL "")
            set(state "blank")
        elseif(line MATCHES "^  [^ ]")  # an entry: TAG, then two or more spaces, then its text
            string(STRIP "${line}" line)
            if(line MATCHES "^([^ ]+( [^ ]+)*)   *(.*)$")
                set(tag "${CMAKE_MATCH_1}")
                set(body "${CMAKE_MATCH_3}")
            else()
                set(tag "${line}")
                set(body "")
            endif()
            tag_to_roff(tag "${tag}")
            string(APPEND out ".TP\n${tag}\n")
            if(NOT body STREQUAL "")
                text_to_roff(body "${body}")
                string(APPEND out "${body}\n")
            endif()
            set(state "entry")
        elseif(line MATCHES "^   ")  # the rest of an entry's text (or of a paragraph)
            string(STRIP "${line}" line)
            text_to_roff(line "${line}")
            string(APPEND out "${line}\n")
        else()  # prose; after a blank line or an entry it starts a paragraph
            text_to_roff(roff "${line}")
            if(state STREQUAL "blank" AND line MATCHES ":$")  # a group heading ("Options:")
                string(APPEND out ".PP\n\\fB${roff}\\fR\n")
                set(state "blank")
            else()
                if(NOT state STREQUAL "prose")
                    string(APPEND out ".PP\n")
                endif()
                string(APPEND out "${roff}\n")
                set(state "prose")
            endif()
        endif()
    endwhile()
    set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

run_help(top)
# Split with string functions, not CMake lists: help text holds ';' and unbalanced '[' that lists mangle.
string(FIND "${top}" "\n" nl)
string(SUBSTRING "${top}" 0 ${nl} usage)
string(REGEX REPLACE "^[Uu]sage: *[^ ]+" "${NAME}" usage "${usage}")  # the name, not the build path
math(EXPR after "${nl} + 1")
string(SUBSTRING "${top}" ${after} -1 description)
string(STRIP "${description}" description)
# A block headed "exit status:" (after a blank line) becomes the EXIT STATUS section, after COMMANDS.
set(exit_status "")
string(FIND "${description}" "\n\nexit status:\n" at)
if(at GREATER_EQUAL 0)
    math(EXPR rest "${at} + 15")
    string(SUBSTRING "${description}" ${rest} -1 exit_status)
    string(SUBSTRING "${description}" 0 ${at} description)
endif()

set(commands "")
if(WITH_COMMANDS)
    # The command names: the first word of each line indented by two spaces in the block after a "...commands:"
    # line (the lines indented further are the commands' summaries).
    if(NOT top MATCHES "[Cc]ommands:\n(.*)")
        message(FATAL_ERROR "man_page.cmake: no command list found in `${PROGRAM} --help`:\n${top}")
    endif()
    set(block "${CMAKE_MATCH_1}")
    string(FIND "${block}" "\n\n" blank)
    string(SUBSTRING "${block}" 0 ${blank} block)
    string(REGEX MATCHALL "(^|\n)  [a-z][a-z0-9-]*" names "${block}")
    set(commands "")
    foreach(name IN LISTS names)
        string(STRIP "${name}" name)
        list(APPEND commands "${name}")
    endforeach()
    list(REMOVE_DUPLICATES commands)
    if(commands STREQUAL "")
        message(FATAL_ERROR "man_page.cmake: no command names under the command list of `${PROGRAM} --help`")
    endif()
endif()

text_to_roff(usage_roff "${usage}")
help_to_roff(description_roff "${description}")
to_roff(name_roff "${NAME}")
string(TOUPPER "${name_roff}" title)
# .nh and .ad l: no hyphenation (an option split at a hyphen reads as two) and a ragged right margin.
set(page ".TH ${title} 1 \"\" \"QuantScope ${VERSION}\" \"User Commands\"\n.nh\n.ad l\n")
string(APPEND page ".SH NAME\n${name_roff} \\- ${SUMMARY}\n")
string(APPEND page ".SH SYNOPSIS\n${usage_roff}\n")
string(APPEND page ".SH DESCRIPTION\n${description_roff}")
if(NOT commands STREQUAL "")
    string(APPEND page ".SH COMMANDS\n")
endif()
foreach(command IN LISTS commands)
    run_help(help ${command})
    # The usage line ("usage: quantscope-cli COMMAND SYNOPSIS") as the subsection's first paragraph.
    string(FIND "${help}" "\n" nl)
    string(SUBSTRING "${help}" 0 ${nl} command_usage)
    string(SUBSTRING "${help}" ${nl} -1 help)
    string(REGEX REPLACE "^[Uu]sage: *" "" command_usage "${command_usage}")
    text_to_roff(command_usage "${command_usage}")
    help_to_roff(help_roff "${help}")
    to_roff(command_roff "${command}")
    string(APPEND page ".SS ${command_roff}\n.PP\n${command_usage}\n${help_roff}")
endforeach()
if(NOT exit_status STREQUAL "")
    help_to_roff(exit_status_roff "${exit_status}")
    string(APPEND page ".SH \"EXIT STATUS\"\n${exit_status_roff}")
endif()
string(APPEND page ".SH \"SEE ALSO\"\n")
if(DEFINED SEE_ALSO)
    string(APPEND page "\\fB${SEE_ALSO}\\fR(1); ")
endif()
string(APPEND page "the README in /usr/share/doc/quantscope.\n")

string(REGEX REPLACE "\\.gz$" "" plain "${OUT}")
file(WRITE "${plain}" "${page}")
file(ARCHIVE_CREATE OUTPUT "${OUT}" PATHS "${plain}" FORMAT raw COMPRESSION GZip MTIME 0)
