#!/bin/bash
# Check C++ sources against .clang-format without changing them: print, per
# file, how many lines clang-format would change, and exit 1 when any file is
# off. With LINT_VERBOSE=1, also print clang-format's own diagnostics.
#
#   run_format.sh FILE...
# Environment: CLANG_FORMAT (clang-format binary, version 14).
# To fix a file you own: clang-format-14 -i FILE
set -euo pipefail
: "${CLANG_FORMAT:=clang-format}"
: "${LINT_VERBOSE:=0}"
command -v "$CLANG_FORMAT" >/dev/null || { echo "run_format: $CLANG_FORMAT not found (apt-get install clang-format)" >&2; exit 1; }
[ $# -gt 0 ] || { echo "run_format: no source file" >&2; exit 1; }
off=0
lines=0
for f in "$@"; do
    if "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1; then continue; fi
    n=$("$CLANG_FORMAT" "$f" | diff "$f" - | grep -c '^<' || true)
    echo "$f: $n line(s) differ from .clang-format"
    if [ "$LINT_VERBOSE" = 1 ]; then "$CLANG_FORMAT" --dry-run "$f" || true; fi
    off=$((off + 1))
    lines=$((lines + n))
done
echo "clang-format: $# files checked, $off off ($lines line(s))"
[ "$off" = 0 ]
