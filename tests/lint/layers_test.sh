#!/bin/bash
# layers_test.sh RESULTS — the include-direction lint (layers.sh) on this tree,
# and on copies with one planted violation each (a lint that cannot fail
# proves nothing). One PASS/FAIL line per case into RESULTS.
set -u
out=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$(dirname "$out")"
: >"$out"
report() { echo "$1 layers: $2" | tee -a "$out"; }

if msg=$("$here/layers.sh" . 2>&1); then
    report PASS "tree respects the include direction"
else
    report FAIL "tree: $(echo "$msg" | tr '\n' ';')"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plant() { # NAME EXPECTED-TEXT COMMAND...
    local name=$1 want=$2
    shift 2
    rm -rf "$tmp/t" && mkdir -p "$tmp/t" && cp -r common nss_vendor "$tmp/t/"
    (cd "$tmp/t" && eval "$*")
    local got
    if got=$("$here/layers.sh" "$tmp/t" 2>&1); then
        report FAIL "$name: not detected"
    elif grep -q -- "$want" <<<"$got"; then
        report PASS "$name: detected"
    else
        report FAIL "$name: wrong message: $(echo "$got" | tr '\n' ';')"
    fi
}
plant "pure logic includes an OS header" "policy.cc: includes files.h" \
    "sed -i '1i #include \"files.h\"' common/logic/policy.cc"
plant "state includes a service" "includes identity.h\\|includes facts.h\\|includes accounts.h" \
    "sed -i '1i #include \"accounts.h\"' common/state/session_record.cc"
plant "NSS module includes the core" "the NSS module may use only" \
    "sed -i '1i #include \"util.h\"' nss_vendor/entry.cc"
plant "header name in two layers" "header name also in" \
    "cp common/base/util.h common/services/util.h"
plant "file outside every layer" "outside every layer" "touch common/stray.cc"
plant "unknown layer" "not a known layer" "mkdir common/misc"
