#!/bin/bash
# layers.sh [ROOT] — the core's include direction (README, ARCHITECTURE).
#
# common/ is split by concern; a layer may include only its own headers and
# those of the layers below it:
#
#   base      Result, strings, clock, JSON         -> nothing
#   logic     pure rules: parsers, config/registry  -> base
#             grammar, decide()
#   os        the machine: safe files, NSS lookups  -> base logic
#   state     what changes: store, NSS index,       -> base logic os
#             session records
#   audit     the chained log and its twin          -> base logic os
#   services  who is a vendor, facts for decide(),  -> everything
#             accounts, key view
#
# Outside common/: nss_vendor/ (it lives in every process that resolves a
# user) may include nothing of the core but the index format. pam_vendor/ and
# vendorctl/ may include any layer. Includes are flat ("files.h"), so each
# header name must exist in one layer only. Prints one line per violation and
# exits 1 when there is any.
set -u
root=${1:-.}
cd "$root" || exit 2
declare -A allowed=(
    [base]="base"
    [logic]="base logic"
    [os]="base logic os"
    [state]="base logic os state"
    [audit]="base logic os audit"
    [services]="base logic os state audit services"
)
declare -A layer_of=()
bad=0
for d in common/*/; do
    l=$(basename "$d")
    if [ -z "${allowed[$l]+x}" ]; then
        echo "common/$l: not a known layer (add it to tests/lint/layers.sh and the Makefile)"
        bad=1
        continue
    fi
    for h in "$d"*.h; do
        [ -e "$h" ] || continue
        n=$(basename "$h")
        if [ -n "${layer_of[$n]+x}" ]; then
            echo "$h: header name also in common/${layer_of[$n]}/ (includes are flat)"
            bad=1
        fi
        layer_of[$n]=$l
    done
done
for f in common/*.cc common/*.h; do
    [ -e "$f" ] && { echo "$f: outside every layer (move it to a sub-folder of common/)"; bad=1; }
done
check_file() { # FILE ALLOWED-LAYERS
    local f=$1 ok=$2 n l
    while IFS= read -r n; do
        l=${layer_of[$n]:-}
        [ -n "$l" ] || continue # not a core header (the file's own folder, tests)
        case " $ok " in
        *" $l "*) ;;
        *) echo "$f: includes $n (common/$l/), which its layer may not use"; bad=1 ;;
        esac
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
}
for d in common/*/; do
    l=$(basename "$d")
    [ -n "${allowed[$l]+x}" ] || continue
    for f in "$d"*.cc "$d"*.h; do
        [ -e "$f" ] && check_file "$f" "${allowed[$l]}"
    done
done
for f in nss_vendor/*.cc nss_vendor/*.h; do
    [ -e "$f" ] || continue
    while IFS= read -r n; do
        [ -n "${layer_of[$n]:-}" ] || continue
        [ "$n" = nss_index.h ] && continue
        echo "$f: includes $n; the NSS module may use only nss_index.h of the core"
        bad=1
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
exit $bad
