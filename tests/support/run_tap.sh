#!/bin/bash
# run_tap.sh RESULTS_FILE NAME -- CMD ARGS...
# Runs one test program that speaks TAP (CMocka with CMOCKA_MESSAGE_OUTPUT=TAP,
# or our own shell/PAM drivers), shows its output, and appends one line per
# test case to RESULTS_FILE: "PASS name", "FAIL name" or "SKIP name".
# A program that dies (sanitizer report, signal) is one more FAIL.
set -u
results=$1 name=$2
shift 3
mkdir -p "$(dirname "$results")"
log=$(mktemp)
CMOCKA_MESSAGE_OUTPUT=TAP "$@" >"$log" 2>&1
rc=$?
cat "$log"
saw_fail=0
while IFS= read -r line; do
    case "$line" in
        # CMocka 1.1 prints a skipped test as "not ok N # SKIP name".
        "not ok "*"# SKIP"*|"not ok "*"# skip"*) echo "SKIP $name: ${line#not ok }" >>"$results" ;;
        "not ok "*) echo "FAIL $name: ${line#not ok }" >>"$results"; saw_fail=1 ;;
        "ok "*"# SKIP"*|"ok "*"# skip"*) echo "SKIP $name: ${line#ok }" >>"$results" ;;
        "ok "*) echo "PASS $name: ${line#ok }" >>"$results" ;;
    esac
done <"$log"
if [ $rc -ne 0 ] && [ $saw_fail -eq 0 ]; then
    echo "FAIL $name: exited with status $rc" >>"$results"
fi
if ! grep -qE '^(not )?ok ' "$log"; then
    echo "FAIL $name: ran no test" >>"$results"
fi
rm -f "$log"
exit 0
