#!/bin/bash
# summary.sh RESULTS_DIR — print failures and skips, then the closing line
# "N passed, N failed, N skipped"; exit 1 when anything failed or nothing ran.
dir=$1
cat "$dir"/*.txt 2>/dev/null | grep '^SKIP' | sed 's/^/  /'
cat "$dir"/*.txt 2>/dev/null | grep '^FAIL' | sed 's/^/  /'
pass=$(cat "$dir"/*.txt 2>/dev/null | grep -c '^PASS')
fail=$(cat "$dir"/*.txt 2>/dev/null | grep -c '^FAIL')
skip=$(cat "$dir"/*.txt 2>/dev/null | grep -c '^SKIP')
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
