# SPDX-License-Identifier: GPL-3.0-or-later
# Writes the quantscope-cli(1) man page from the program's own help, at build time:
#   cmake -DCLI=path/to/quantscope-cli -DVERSION=0.1.0 -DSUMMARY="..." -DOUT=quantscope-cli.1.gz -P cli_man_page.cmake
# SYNOPSIS is the usage line of `quantscope-cli --help`, DESCRIPTION the rest of it, and COMMANDS one
# subsection per command listed there with that command's `--help`, verbatim (no-fill, so the option columns
# stay aligned). A command whose help fails or is empty stops the build: the page never goes out with a hole.
# The page is gzip-compressed (Debian policy 12.1) with a zero timestamp, so equal help gives equal bytes.
cmake_minimum_required(VERSION 3.25)
foreach(var CLI VERSION SUMMARY OUT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "cli_man_page.cmake: -D${var}=... is required")
    endif()
endforeach()

function(run_help out_var)
    execute_process(COMMAND "${CLI}" ${ARGN} --help RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE err)
    string(STRIP "${text}" text)
    if(NOT rc EQUAL 0 OR text STREQUAL "")
        string(JOIN " " args ${ARGN})
        message(FATAL_ERROR "cli_man_page.cmake: `${CLI} ${args} --help` exited with ${rc} and printed "
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
string(REGEX REPLACE "^[Uu]sage: *" "" usage "${usage}")
math(EXPR after "${nl} + 1")
string(SUBSTRING "${top}" ${after} -1 description)
string(STRIP "${description}" description)

# The command names: the first word of each indented line of the block after a "...commands:" line.
if(NOT top MATCHES "[Cc]ommands:\n(.*)")
    message(FATAL_ERROR "cli_man_page.cmake: no command list found in `${CLI} --help`:\n${top}")
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

to_roff(usage_roff "${usage}")
to_roff(description_roff "${description}")
set(page ".TH QUANTSCOPE\\-CLI 1 \"\" \"QuantScope ${VERSION}\" \"User Commands\"\n")
string(APPEND page ".SH NAME\nquantscope\\-cli \\- ${SUMMARY}\n")
string(APPEND page ".SH SYNOPSIS\n.nf\n${usage_roff}\n.fi\n")
string(APPEND page ".SH DESCRIPTION\n.nf\n${description_roff}\n.fi\n")
string(APPEND page ".SH COMMANDS\n")
foreach(command IN LISTS commands)
    run_help(help ${command})
    to_roff(help_roff "${help}")
    to_roff(command_roff "${command}")
    string(APPEND page ".SS ${command_roff}\n.nf\n${help_roff}\n.fi\n")
endforeach()
string(APPEND page ".SH \"SEE ALSO\"\nThe README in /usr/share/doc/quantscope; the desktop application, \\fBquantscope\\fR.\n")

string(REGEX REPLACE "\\.gz$" "" plain "${OUT}")
file(WRITE "${plain}" "${page}")
file(ARCHIVE_CREATE OUTPUT "${OUT}" PATHS "${plain}" FORMAT raw COMPRESSION GZip MTIME 0)
