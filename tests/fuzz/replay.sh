#!/bin/bash
# replay.sh BINDIR CORPUSDIR TARGET... — run BINDIR/replay_TARGET over
# CORPUSDIR/TARGET for each target and print TAP, one test per target. The
# output of a failing target (sanitizer report, invariant) is shown as
# comments, with the input that crashed it last.
set -u
bindir=$1 corpus=$2
shift 2
echo "1..$#"
n=0 rc=0
for t in "$@"; do
    n=$((n + 1))
    out=$("$bindir/replay_$t" "$corpus/$t" 2>&1)
    status=$?
    if [ $status -eq 0 ]; then
        echo "ok $n - $t ($(printf '%s\n' "$out" | tail -n 1))"
    else
        printf '%s\n' "$out" | tail -n 60 | sed 's/^/# /'
        echo "not ok $n - $t (exit status $status)"
        rc=1
    fi
done
exit $rc
