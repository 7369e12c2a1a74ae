#!/bin/bash
# Run clang-tidy over C++ sources in parallel, one log per file, then print
# the diagnostics and a summary. Exit 1 when clang-tidy reports an error
# (a check listed in WarningsAsErrors of .clang-tidy, or code that does not
# compile), 0 otherwise; plain warnings are reported but do not fail.
#
#   run_tidy.sh OUTDIR FILE...
# Environment: CLANG_TIDY (clang-tidy binary), TIDY_FLAGS (compiler flags),
#              LINT_JOBS (parallel runs, default: number of CPUs).
set -euo pipefail
out=$1
shift
[ $# -gt 0 ] || { echo "run_tidy: no source file" >&2; exit 1; }
: "${CLANG_TIDY:=clang-tidy}"
: "${TIDY_FLAGS:=-std=c++20 -Icommon/base -Icommon/logic -Icommon/os -Icommon/state -Icommon/audit -Icommon/services}"
: "${LINT_JOBS:=$(nproc)}"
command -v "$CLANG_TIDY" >/dev/null || { echo "run_tidy: $CLANG_TIDY not found (apt-get install clang-tidy)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
export CLANG_TIDY TIDY_FLAGS out

one() {
    local f=$1 log
    log="$out/$(printf '%s' "$f" | tr / _).log"
    # TIDY_FLAGS is a list of words on purpose.
    # shellcheck disable=SC2086
    if "$CLANG_TIDY" --quiet --extra-arg=-Wstring-conversion "$f" -- $TIDY_FLAGS >"$log" 2>&1; then
        echo 0 >"$log.rc"
    else
        echo 1 >"$log.rc"
    fi
}
export -f one
# shellcheck disable=SC2016  # $1 is expanded by the inner bash, on purpose
printf '%s\n' "$@" | xargs -P "$LINT_JOBS" -I{} bash -c 'one "$1"' _ {}

failed=0
for f in "$@"; do
    log="$out/$(printf '%s' "$f" | tr / _).log"
    if [ "$(cat "$log.rc")" != 0 ]; then
        failed=$((failed + 1))
        echo "run_tidy: $f: error(s)" >&2
    fi
done
# Print every finding once: a header is seen once per file that includes it.
# A finding is its "FILE:LINE:COL: warning|error: ..." line and the notes
# that follow it, up to the next finding; paths are made relative.
for f in "$@"; do cat "$out/$(printf '%s' "$f" | tr / _).log"; done |
    sed "s|^$PWD/||" |
    grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' |
    awk -v out="$out/findings.txt" '
        /^[^ ].*:[0-9]+:[0-9]+: (warning|error): / {
            key = $0; sub(/^\/[^:]*\//, "", key)
            show = !(key in seen); seen[key] = 1
            if (show) { print; print > out }
            next
        }
        show { print }
    '
touch "$out/findings.txt"
warnings=$(grep -cE ': warning: ' "$out/findings.txt" || true)
errors=$(grep -cE ': error: ' "$out/findings.txt" || true)
echo "clang-tidy: $# files, $warnings warning(s), $errors error(s), $failed file(s) failing"
[ "$failed" = 0 ]
