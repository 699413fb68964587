#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The package tests (registered in tests/CMakeLists.txt; the packages come from installer/CMakeLists.txt):
#   check_package.sh build BUILD_DIR OUT_DIR VERSION   cpack from BUILD_DIR's install rules (no second build) into
#                                                      OUT_DIR, then the .deb extracted into OUT_DIR/root (the
#                                                      fixture the other checks use)
#   check_package.sh contents OUT_DIR VERSION          files, permissions, Depends, Maintainer, changelog, license,
#                                                      icons, the README's images, man pages (80 columns), TGZ
#   check_package.sh desktop OUT_DIR                   desktop-file-validate; the entry's program, icon and MIME types
#   check_package.sh smoke OUT_DIR                     the extracted executables run: --version, an offscreen screenshot
# A missing tool fails the check (installer/setup.sh installs every one); a missing shared asset fails under
# QS_REQUIRE_ASSETS=1 and skips (exit 77) otherwise, like the Qt tests.
set -euo pipefail

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
need_tool() {  # tool, Debian package
    command -v "$1" >/dev/null || die "'$1' not found: install the Debian package $2 (installer/setup.sh deps does)"
}
finish() {
    if [ "$failures" -gt 0 ]; then echo "$failures check(s) failed" >&2; exit 1; fi
    echo "all checks passed"
}
the_deb() {  # OUT_DIR -> the one .deb in it
    local debs=("$1"/quantscope_*.deb)
    if [ "${#debs[@]}" -ne 1 ] || [ ! -f "${debs[0]}" ]; then
        die "expected one quantscope_*.deb in $1, found: ${debs[*]}"
    fi
    echo "${debs[0]}"
}
shared_asset() {  # path under the shared folder -> absolute path, or fail/skip as the Qt tests do
    local dir="${QS_SHARED_DIR:-${QS_DEFAULT_SHARED_DIR:-}}"
    local path="$dir/$1"
    if [ ! -f "$path" ]; then
        [ "${QS_REQUIRE_ASSETS:-}" = 1 ] && die "required asset missing: $path"
        echo "SKIP: asset missing (set QS_SHARED_DIR): $path" >&2
        exit 77
    fi
    echo "$path"
}
png_size() {  # file -> "WIDTHxHEIGHT" from the IHDR chunk, or "not-a-png"
    local sig
    sig="$(od -An -tx1 -N8 "$1" | tr -d ' \n')"
    if [ "$sig" != 89504e470d0a1a0a ]; then echo not-a-png; return; fi
    local b
    read -r -a b <<<"$(od -An -tu1 -j16 -N8 "$1")"
    echo "$(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]))x$(((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]))"
}

cmd_build() {  # BUILD_DIR OUT_DIR VERSION
    local build="$1" out="$2" version="$3"
    need_tool cpack cmake
    need_tool dpkg-deb dpkg
    # Without dpkg-shlibdeps CPack quietly writes a package with no Depends at all.
    need_tool dpkg-shlibdeps dpkg-dev
    [ -f "$build/CPackConfig.cmake" ] || die "$build/CPackConfig.cmake missing: configure the build first"
    rm -rf "$out"
    mkdir -p "$out"
    local start
    start="$(date +%s%N)"
    if ! cpack --config "$build/CPackConfig.cmake" -B "$out" >"$out/cpack.log" 2>&1; then
        cat "$out/cpack.log" >&2
        die "cpack failed (is everything built? the package installs both executables and the man page)"
    fi
    echo "cpack (DEB + TGZ) took $((($(date +%s%N) - start) / 1000000)) ms"
    local deb
    deb="$(the_deb "$out")"
    [ -f "$out/quantscope-$version-Linux.tar.gz" ] || die "quantscope-$version-Linux.tar.gz missing in $out"
    dpkg-deb -x "$deb" "$out/root"
    ls -l "$out"/*.deb "$out"/*.tar.gz
}

cmd_contents() {  # OUT_DIR VERSION
    local out="$1" version="$2" deb
    need_tool dpkg-deb dpkg
    need_tool dpkg-parsechangelog dpkg-dev
    need_tool man man-db
    deb="$(the_deb "$out")"
    local listing
    listing="$(dpkg-deb -c "$deb")"
    expect_file() {  # mode prefix, path
        grep -qE "^$1 root/root +[0-9]+ [0-9-]+ [0-9:]+ \./usr/$2\$" <<<"$listing" || fail "$deb lacks $1 ./usr/$2"
    }
    expect_file -rwxr-xr-x bin/quantscope
    expect_file -rwxr-xr-x bin/quantscope-cli
    expect_file -rw-r--r-- share/applications/quantscope.desktop
    expect_file -rw-r--r-- share/mime/packages/quantscope.xml
    expect_file -rw-r--r-- share/man/man1/quantscope-cli.1.gz
    expect_file -rw-r--r-- share/man/man1/quantscope.1.gz
    expect_file -rw-r--r-- share/doc/quantscope/copyright
    expect_file -rw-r--r-- share/icons/hicolor/scalable/apps/quantscope.svg
    local s
    for s in 16 22 24 32 48 64 128 256; do
        expect_file -rw-r--r-- "share/icons/hicolor/${s}x${s}/apps/quantscope.png"
        local png="$out/root/usr/share/icons/hicolor/${s}x${s}/apps/quantscope.png"
        if [ -f "$png" ] && [ "$(png_size "$png")" != "${s}x${s}" ]; then
            fail "$png is $(png_size "$png"), not ${s}x${s}"
        fi
    done

    # Control fields: Depends from dpkg-shlibdeps names the libraries the executables link.
    local field
    [ "$(dpkg-deb -f "$deb" Package)" = quantscope ] || fail "Package is not quantscope"
    [ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version is not $version"
    [ "$(dpkg-deb -f "$deb" Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is not $(dpkg --print-architecture)"
    local depends
    depends="$(dpkg-deb -f "$deb" Depends)"
    echo "Depends: $depends"
    for field in 'libqt6core6 \(' 'libqt6gui6 \(' 'libqt6widgets6 \(' 'libqt6svg6 \(' 'libqcustomplot[0-9.]*-qt6' \
        'libtbb[0-9]+ \(' 'libicu[0-9]+ \(' 'libhdf5-[0-9]' 'libsentencepiece[0-9]' 'libpcre2-8-0' 'libstdc\+\+6' 'libc6 \('; do
        grep -qE "(^|, )$field" <<<"$depends" || fail "Depends lacks /$field/: $depends"
    done
    dpkg-deb -f "$deb" Description | grep -qx ' License: GPL-3.0-or-later.' || fail "Description does not state the license"
    # Maintainer: a name and an email address (Debian policy 5.6.2).
    local maintainer
    maintainer="$(dpkg-deb -f "$deb" Maintainer)"
    grep -qE '^[^<>]+ <[^<>@ ]+@[^<>@ ]+>$' <<<"$maintainer" || fail "Maintainer '$maintainer' is not 'Name <address>'"
    # The Debian changelog: parseable, this version, signed by the Maintainer.
    local doc="$out/root/usr/share/doc/quantscope"
    expect_file -rw-r--r-- share/doc/quantscope/changelog.Debian.gz
    if [ -f "$doc/changelog.Debian.gz" ]; then
        zcat "$doc/changelog.Debian.gz" >"$out/changelog.Debian"
        local parsed
        if parsed="$(dpkg-parsechangelog -l "$out/changelog.Debian" 2>&1)"; then
            grep -qx "Version: $version" <<<"$parsed" || fail "changelog.Debian is not for version $version: $parsed"
            grep -qxF "Maintainer: $maintainer" <<<"$parsed" || fail "changelog.Debian is not signed by '$maintainer': $parsed"
        else
            fail "dpkg-parsechangelog refuses changelog.Debian: $parsed"
        fi
    fi
    # Every image the installed README shows is in the package, at the path its link names.
    local image images
    images="$(grep -oE '!\[[^]]*\]\([^)]+\)' "$doc/README.md" | sed -E 's/.*\(([^)]+)\)$/\1/' | sort -u)"
    [ "$(wc -w <<<"$images")" -ge 10 ] || fail "found only these images in the installed README: $images"
    for image in $images; do
        [[ "$image" =~ ^https?: ]] && continue
        [ -f "$doc/$image" ] || fail "the installed README shows $image, which is not in the package ($doc/$image)"
    done
    local copyright="$out/root/usr/share/doc/quantscope/copyright"
    if ! grep -qx 'Files: \*' "$copyright" || ! grep -qx 'License: GPL-3.0-or-later' "$copyright"; then
        fail "$copyright does not license every file GPL-3.0-or-later"
    fi

    # The man pages: quantscope-cli's has one section per command the program lists; groff renders both
    # without a warning.
    local page="$out/root/usr/share/man/man1/quantscope-cli.1.gz" roff commands name
    roff="$(zcat "$page")"
    # The command list: one line per command indented by two spaces, its summary under it indented further.
    commands="$("$out/root/usr/bin/quantscope-cli" --help | awk '/^[A-Za-z ]*[Cc]ommands:$/ {on=1; next} on && /^  [a-z]/ {print $1; next} on && /^   / {next} {on=0}')"
    [ "$(wc -w <<<"$commands")" -ge 10 ] || fail "found only these commands in quantscope-cli --help: $commands"
    for name in $commands; do
        grep -qxF ".SS ${name//-/\\-}" <<<"$roff" || fail "$page has no section for '$name'"
    done
    # The exit codes the program documents in its --help, as the EXIT STATUS section with one entry per code.
    grep -qxF '.SH "EXIT STATUS"' <<<"$roff" || fail "$page has no EXIT STATUS section"
    for code in 0 1 2 3; do
        sed -n '/^\.SH "EXIT STATUS"/,/^\.SH "SEE ALSO"/p' <<<"$roff" | grep -qxF "\\fB${code}\\fR" ||
            fail "$page: EXIT STATUS does not list exit code $code"
    done
    # Both render without a warning, and fit an 80-column terminal: the help text is filled, not kept verbatim
    # (installer/man_page.cmake). No tolerance: a long path or URL may break after a '/'.
    local warnings line long LC_ALL=C.UTF-8  # ${#line} counts characters, not bytes
    for page in "$page" "$out/root/usr/share/man/man1/quantscope.1.gz"; do
        warnings="$(LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)" || fail "man -l $page failed"
        [ -z "$warnings" ] || fail "man -l $page warns: $warnings"
        long=0
        while IFS= read -r line; do
            if [ "${#line}" -gt 80 ]; then
                long=$((long + 1))
                [ "$long" -le 3 ] && echo "over 80 columns (${#line}): $line" >&2
            fi
        done < <(LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$page" 2>/dev/null)
        [ "$long" -eq 0 ] || fail "MANWIDTH=80 man -l $page has $long line(s) over 80 columns"
    done

    # The TGZ holds the same files as the .deb (both come from the same install rules).
    local deb_files tgz_files
    deb_files="$(grep -v '^d' <<<"$listing" | awk '{print $6}' | sed 's|^\./usr/||' | sort)"
    tgz_files="$(tar tzf "$out/quantscope-$version-Linux.tar.gz" | grep -v '/$' | sed "s|^quantscope-$version-Linux/||" | sort)"
    [ "$deb_files" = "$tgz_files" ] || fail "the TGZ and the .deb differ: $(diff <(echo "$deb_files") <(echo "$tgz_files") || true)"
    finish
}

cmd_desktop() {  # OUT_DIR
    local root="$1/root/usr"
    need_tool desktop-file-validate desktop-file-utils
    local entry="$root/share/applications/quantscope.desktop"
    [ -f "$entry" ] || die "$entry missing"
    local report
    # Errors fail it with a non-zero exit, hints and warnings are printed only: either fails the check.
    local rc=0
    report="$(desktop-file-validate "$entry" 2>&1)" || rc=$?
    if [ "$rc" -ne 0 ] || [ -n "$report" ]; then fail "desktop-file-validate (exit $rc): $report"; fi
    local exec icon
    exec="$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$entry")"
    [ -x "$root/bin/$exec" ] || fail "Exec=$exec is not an executable of the package"
    grep -q '^Exec=[^ ]* %[fFuU]$' "$entry" || fail "Exec does not pass the double-clicked file (%f)"
    icon="$(sed -n 's/^Icon=//p' "$entry")"
    [ -f "$root/share/icons/hicolor/scalable/apps/$icon.svg" ] || fail "Icon=$icon has no scalable icon"
    # MimeType lists exactly the types the package's MIME XML declares.
    local listed declared
    listed="$(sed -n 's/^MimeType=//p' "$entry" | tr ';' '\n' | sed '/^$/d' | sort)"
    declared="$(grep -o '<mime-type type="[^"]*"' "$root/share/mime/packages/quantscope.xml" | sed 's/.*type="//; s/"$//' | sort)"
    if [ -z "$declared" ] || [ "$listed" != "$declared" ]; then
        fail "MimeType lists [${listed//$'\n'/ }], the MIME XML declares [${declared//$'\n'/ }]"
    fi
    finish
}

cmd_smoke() {  # OUT_DIR
    local out="$1" bin="$1/root/usr/bin"
    local model
    model="$(shared_asset models/stories260K-llama2c/stories260K.bin)"
    local exe
    for exe in quantscope quantscope-cli; do
        local missing
        missing="$(ldd "$bin/$exe" | grep 'not found' || true)"
        [ -z "$missing" ] || fail "$exe: libraries not found: $missing"
    done
    local version
    version="$(QT_QPA_PLATFORM=offscreen "$bin/quantscope" --version)" || fail "quantscope --version failed"
    grep -qE '^QuantScope [0-9]+\.[0-9]+\.[0-9]+$' <<<"$version" || fail "quantscope --version printed '$version'"
    version="$("$bin/quantscope-cli" --version)" || fail "quantscope-cli --version failed"
    grep -qE '^quantscope-cli [0-9]+\.[0-9]+\.[0-9]+$' <<<"$version" || fail "quantscope-cli --version printed '$version'"
    local shot="$out/smoke-tree.png"
    rm -f "$shot"
    QT_QPA_PLATFORM=offscreen timeout 120 "$bin/quantscope" --screenshot "$shot" --view tree --size 640x400 "$model" \
        || fail "quantscope --screenshot exited with $?"
    if [ -s "$shot" ]; then
        # The window may grow past the asked size to its layout's minimum (640x490 here); a PNG it must be.
        [[ "$(png_size "$shot")" =~ ^640x[1-9][0-9]+$ ]] || fail "$shot is $(png_size "$shot"), not a PNG 640 wide"
    else
        fail "quantscope --screenshot wrote no PNG ($shot missing or empty)"
    fi
    finish
}

cmd="${1:-}"
shift || true
case "$cmd" in
    build) [ $# -eq 3 ] || die "usage: $0 build BUILD_DIR OUT_DIR VERSION"; cmd_build "$@" ;;
    contents) [ $# -eq 2 ] || die "usage: $0 contents OUT_DIR VERSION"; cmd_contents "$@" ;;
    desktop) [ $# -eq 1 ] || die "usage: $0 desktop OUT_DIR"; cmd_desktop "$@" ;;
    smoke) [ $# -eq 1 ] || die "usage: $0 smoke OUT_DIR"; cmd_smoke "$@" ;;
    *) die "usage: $0 {build|contents|desktop|smoke} ..." ;;
esac
