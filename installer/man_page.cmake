# SPDX-License-Identifier: GPL-3.0-or-later
# Writes a section-1 man page from a program's own help, at build time:
#   cmake -DPROGRAM=path/to/quantscope-cli -DNAME=quantscope-cli -DVERSION=0.1.0 -DSUMMARY="..."
#         [-DSEE_ALSO=quantscope] [-DWITH_COMMANDS=ON] -DOUT=quantscope-cli.1.gz -P man_page.cmake
# SYNOPSIS is the usage line of `PROGRAM --help`, DESCRIPTION the rest of it; WITH_COMMANDS adds COMMANDS, one
# subsection per command listed under its "...commands:" line with that command's `--help`. Help text is kept
# verbatim (no-fill, so option columns stay aligned). A help that fails or is empty stops the build: the page
# never goes out with a hole. The page is gzip-compressed (Debian policy 12.1) with a zero timestamp, so equal
# help gives equal bytes.
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

run_help(top)
# Split with string functions, not CMake lists: help text holds ';' and unbalanced '[' that lists mangle.
string(FIND "${top}" "\n" nl)
string(SUBSTRING "${top}" 0 ${nl} usage)
string(REGEX REPLACE "^[Uu]sage: *[^ ]+" "${NAME}" usage "${usage}")  # the name, not the build path
math(EXPR after "${nl} + 1")
string(SUBSTRING "${top}" ${after} -1 description)
string(STRIP "${description}" description)

set(commands "")
if(WITH_COMMANDS)
    # The command names: the first word of each indented line of the block after a "...commands:" line.
    if(NOT top MATCHES "[Cc]ommands:\n(.*)")
        message(FATAL_ERROR "man_page.cmake: no command list found in `${PROGRAM} --help`:\n${top}")
    endif()
    set(block "${CMAKE_MATCH_1}")
    string(FIND "${block}" "\n\n" blank)
    string(SUBSTRING "${block}" 0 ${blank} block)
    string(REGEX MATCHALL "(^|\n)  +[a-z][a-z0-9-]*" names "${block}")
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

to_roff(usage_roff "${usage}")
to_roff(description_roff "${description}")
to_roff(name_roff "${NAME}")
string(TOUPPER "${name_roff}" title)
set(page ".TH ${title} 1 \"\" \"QuantScope ${VERSION}\" \"User Commands\"\n")
string(APPEND page ".SH NAME\n${name_roff} \\- ${SUMMARY}\n")
string(APPEND page ".SH SYNOPSIS\n.nf\n${usage_roff}\n.fi\n")
string(APPEND page ".SH DESCRIPTION\n.nf\n${description_roff}\n.fi\n")
if(NOT commands STREQUAL "")
    string(APPEND page ".SH COMMANDS\n")
endif()
foreach(command IN LISTS commands)
    run_help(help ${command})
    to_roff(help_roff "${help}")
    to_roff(command_roff "${command}")
    string(APPEND page ".SS ${command_roff}\n.nf\n${help_roff}\n.fi\n")
endforeach()
string(APPEND page ".SH \"SEE ALSO\"\n")
if(DEFINED SEE_ALSO)
    string(APPEND page "\\fB${SEE_ALSO}\\fR(1); ")
endif()
string(APPEND page "the README in /usr/share/doc/quantscope.\n")

string(REGEX REPLACE "\\.gz$" "" plain "${OUT}")
file(WRITE "${plain}" "${page}")
file(ARCHIVE_CREATE OUTPUT "${OUT}" PATHS "${plain}" FORMAT raw COMPRESSION GZip MTIME 0)
