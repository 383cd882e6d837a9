#!/bin/bash
# configure_check.sh - configure stops with a message naming the Debian
# package to install when a library is missing (pkg-config sees none here).
. "$(dirname "$0")/../lib.sh"
mktmp_var D configure
[ -x "$TOP/configure" ] || setup_fail "$TOP/configure missing (run scripts/build)"
empty=$D/pkgconfig
mkdir -p "$empty" "$D/build"
cd "$D/build" || setup_fail "cd $D/build"
PKG_CONFIG_LIBDIR=$empty PKG_CONFIG_PATH= "$TOP/configure" -q \
    >"$D/out" 2>&1
rc=$?
out=$(cat "$D/out")
check "configure fails without the libraries (exit $rc)" test "$rc" -ne 0
like "$out" "milter not found: apt-get install libmilter-dev" \
    "the error names the Debian package (libmilter-dev)"
[ "$rc" -ne 0 ] || diag "$out"
done_testing
