#!/bin/bash
# Man-page coverage: every config key, vendorctl command and option, and
# policy reason that the code defines must be documented.
#
#   config keys   `vendorctl config --keys` (first field)  -> man/pam_vendor.conf.5
#                 (a ".TP" item whose tag is ".B KEY")
#   commands      commands() in vendorctl/main.cc         -> man/vendorctl.8
#                 (a ".TP" item whose tag starts with ".B COMMAND")
#   options       every "--option" of that table          -> man/vendorctl.8
#   reasons       `vendorctl reasons` (first field)        -> man/pam_vendor.8
#                 (a ".TP" item whose tag is ".B REASON")
#
# Keys and reasons come from the program's own tables (common/logic/config.cc,
# common/logic/policy.cc) through the built vendorctl: $VENDORCTL, default
# ${B:-build}/vendorctl/vendorctl (make lint-man builds it first).
#
# Exit 0 when everything is covered, 1 with the list of what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail=0
missing() {
    echo "man_coverage: $1" >&2
    fail=1
}

# The tag line of every .TP item of a man page, one per line.
tp_tags() {
    awk 'prev == ".TP" { print } { prev = $0 }' "$1"
}

# roff spells a hyphen in a name as \- ; turn "check-sshd" into "check\-sshd".
roff() {
    printf '%s' "$1" | sed 's/-/\\-/g'
}

# A block of a source file, from the first line matching $2 to the first
# following line matching $3.
block() {
    awk -v a="$2" -v b="$3" '$0 ~ a { on = 1 } on { print } on && $0 ~ b { exit }' "$1"
}

for f in vendorctl/main.cc man/pam_vendor.conf.5 man/vendorctl.8 man/pam_vendor.8; do
    [ -f "$f" ] || { echo "man_coverage: $f not found" >&2; exit 1; }
done
VENDORCTL=${VENDORCTL:-${B:-build}/vendorctl/vendorctl}
[ -x "$VENDORCTL" ] || { echo "man_coverage: $VENDORCTL not built (make vendorctl)" >&2; exit 1; }
# A sanitizer build reports leaks at exit; the listing is what counts here.
table_of() {
    ASAN_OPTIONS=detect_leaks=0 "$VENDORCTL" "$@" | cut -f1
}

# --- configuration keys ------------------------------------------------------
keys=$(table_of config --keys) || missing "vendorctl config --keys failed"
[ -n "$keys" ] || missing "vendorctl config --keys listed no key"
conf_tags=$(tp_tags man/pam_vendor.conf.5)
nkeys=0
for k in $keys; do
    nkeys=$((nkeys + 1))
    grep -qxF ".B $(roff "$k")" <<<"$conf_tags" ||
        missing "config key '$k' has no entry in man/pam_vendor.conf.5"
done

# --- vendorctl commands and options ------------------------------------------
table=$(block vendorctl/main.cc 'commands\(\) \{' 'return \*cmds;')
# One entry per command: {"name", cmd_fn, ...} on one line, or {"name", alone
# on its line when clang-format wraps the entry.
cmds=$(sed -n -e 's/^[[:space:]]*{"\([a-z][a-z0-9-]*\)", *cmd_.*/\1/p' \
              -e 's/^[[:space:]]*{"\([a-z][a-z0-9-]*\)",[[:space:]]*$/\1/p' <<<"$table")
[ -n "$cmds" ] || missing "no command found in commands() (has vendorctl/main.cc changed shape?)"
ctl_tags=$(tp_tags man/vendorctl.8)
ncmds=0
for c in $cmds; do
    ncmds=$((ncmds + 1))
    grep -qE "^\.B $(roff "$c" | sed 's/\\/\\\\/g')( |$)" <<<"$ctl_tags" ||
        missing "vendorctl command '$c' has no entry in man/vendorctl.8"
done
opts=$(grep -o '"--[a-z][a-z0-9-]*"' <<<"$table" | tr -d '"' | sort -u)
nopts=0
for o in $opts --config --json --help --version; do
    nopts=$((nopts + 1))
    grep -qF -- "$(roff "$o")" man/vendorctl.8 ||
        missing "vendorctl option '$o' is not in man/vendorctl.8"
done

# --- reasons -----------------------------------------------------------------
reasons=$(table_of reasons) || missing "vendorctl reasons failed"
[ -n "$reasons" ] || missing "vendorctl reasons listed no reason"
pam_tags=$(tp_tags man/pam_vendor.8)
nreasons=0
for r in $reasons; do
    nreasons=$((nreasons + 1))
    grep -qxF ".B $r" <<<"$pam_tags" ||
        missing "reason '$r' has no entry in man/pam_vendor.8 (REASONS)"
done

if [ "$fail" = 0 ]; then
    echo "man_coverage: ok ($nkeys config keys, $ncmds commands, $nopts options, $nreasons reasons)"
fi
exit "$fail"
