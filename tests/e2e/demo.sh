#!/bin/bash
# tests/e2e/demo.sh — `make demo`: a narrated walk-through of pam_vendor for a
# sysadmin, on a real OpenSSH server, in the sandbox of tests/e2e/lib.sh (its
# private /etc, /run and /var/log vanish when the demo ends; nothing on this
# machine changes). Non-interactive; exits 0 when every step behaved as told.
#
#   demo.sh --module PAM_SO --vendorctl VENDORCTL --nss SANDBOX_NSS_SO
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"

MODULE= VENDORCTL= NSS_SO=
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --module) MODULE=$2; shift 2 ;;
        --vendorctl) VENDORCTL=$2; shift 2 ;;
        --nss) NSS_SO=$2; shift 2 ;;
        *) echo "usage: demo.sh --module PAM_SO --vendorctl VENDORCTL --nss NSS_SO" >&2; exit 2 ;;
    esac
done

if [ "${SBX_INSIDE:-}" != 1 ]; then
    if ! why=$(sbx_can_sandbox); then echo "make demo: cannot run here: $why" >&2; exit 1; fi
    for f in "$MODULE" "$VENDORCTL" "$NSS_SO"; do
        [ -f "$f" ] || { echo "make demo: missing build output '$f'" >&2; exit 1; }
    done
    sbx_enter "$0" "${ARGS[@]}"
    exit 1
fi

# ---------------------------------------------------------------- inside
R=$SBX_ROOT
C=$R/client
if [ -t 1 ]; then B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' RED=$'\e[31m' N=$'\e[0m'; else B= D= G= RED= N=; fi
STEP=0
START=$(date +%s)

step() { STEP=$((STEP + 1)); printf '\n%s== %d. %s%s\n' "$B" "$STEP" "$1" "$N"; shift; local l; for l in "$@"; do echo "   $l"; done; }
say() { echo "   $*"; }
# quote ARG... — the arguments as one would type them in a shell.
quote() {
    local a out=
    for a in "$@"; do
        if [[ "$a" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
            out+=" $a"
        elif [[ "$a" != *"'"* ]]; then
            out+=" '$a'"
        else
            out+=" $(printf '%q' "$a")"
        fi
    done
    printf '%s' "${out# }"
}
# show_run COMMAND... — print the command as typed, run it, indent its output.
show_run() {
    printf '   %s$ %s%s\n' "$G" "$(quote "$@")" "$N"
    "$@" 2>&1 | sed 's/^/     /'
    return "${PIPESTATUS[0]}"
}
die() {
    printf '\n%sdemo failed: %s%s\n' "$RED" "$*" "$N" >&2
    [ -f "$R/sshd-demo.log" ] && sed 's/^/  sshd: /' "$R/sshd-demo.log" | tail -n 20 >&2
    exit 1
}
expect_rc() { local want=$1 got=$2 what=$3; [ "$got" = "$want" ] || die "$what: exit status $got, expected $want"; }

cleanup() {
    sbx_stop_sshd demo
    sbx_del_user "$SBX_KEYS_USER"
    printf '\n%s== Done.%s sshd stopped; the sandbox (its /etc copy, /run, /var/log, users, keys,\n' "$B" "$N"
    echo "   state and audit log) disappears with this process: nothing was changed on this machine."
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

printf '%spam_vendor demo%s — vendor remote access locked down per the CERT Santé guideline\n' "$B" "$N"
echo "A real OpenSSH server on 127.0.0.1 with this build's pam_vendor.so, libnss_vendor.so.2 and"
echo "vendorctl, in a sandbox: private mount and PID namespaces, a private copy of /etc, a private"
echo "/run. The vendor's laptop is played by ssh from 127.0.0.2; an intruder by ssh from 127.0.0.3."

# ---------------------------------------------------------------- setup
sbx_setup_fs "$NSS_SO" || die "sandbox setup"
sbx_add_system_user "$SBX_KEYS_USER" || die "useradd $SBX_KEYS_USER"
# The default config path, so that every command below is what you would type.
sbx_write_vendor_conf /etc/security/pam_vendor.conf
# sshd runs AuthorizedKeysCommand only from a root-owned, non-writable path;
# a build tree under /tmp (sticky, world-writable) is not one: use a copy in
# the sandbox's private /run.
if ! sbx_path_safe_for_sshd "$VENDORCTL" >/dev/null; then
    install -D -m 0755 "$VENDORCTL" "$R/libexec/vendorctl"
    VENDORCTL=$R/libexec/vendorctl
fi
ln -s "$VENDORCTL" "$R/bin/vendorctl"
export PATH=$R/bin:$PATH
sbx_path_safe_for_sshd "$VENDORCTL" >/dev/null || die "sshd would refuse AuthorizedKeysCommand $VENDORCTL (owner/modes)"
sbx_write_pam_service "$MODULE" "" || die "pam.d service"
sbx_askpass
sbx_serve demo "$VENDORCTL" "" "" no "" || die "sshd did not start"
PORT=$SBX_PORT_demo
sbx_known_hosts "$PORT"
cat >"$C/ssh_config" <<EOF
# the vendor's ~/.ssh/config (sandbox)
Host sandbox
    HostName 127.0.0.1
    Port $PORT
    UserKnownHostsFile $C/known_hosts
    StrictHostKeyChecking yes
    IdentitiesOnly yes
    IdentityAgent none
    ConnectTimeout 10
    NumberOfPasswordPrompts 1
    LogLevel ERROR
EOF

step "The setup a sysadmin does once (here, in the sandbox's /etc)" \
    "sshd runs as $R/sbin/$SBX_SERVICE -> /usr/sbin/sshd: its PAM service is /etc/pam.d/$SBX_SERVICE."
show_run cat "/etc/pam.d/$SBX_SERVICE"
show_run grep -E '^(passwd|group|shadow):' /etc/nsswitch.conf
say "sshd_config, the pam_vendor part:"
sed -n '/^Match Group vendors/,$p' "$R/ssh/sshd_config_demo" | sed 's/^/     /'
show_run cat /etc/security/pam_vendor.conf

# ---------------------------------------------------------------- story
step "The vendor (ACME Imaging) sends its public key; here we make one" \
    "Only ANSSI-grade algorithms are accepted: ed25519, ecdsa, RSA >= 3072."
show_run ssh-keygen -q -t ed25519 -N '' -C "tech@acme-imaging.example" -f "$C/acme" || die "ssh-keygen"

step "Add the vendor account: bound to the vendor's address, key pinned, disabled by default" \
    "access grant+otp: usable only while activated by the helpdesk, and each login needs a code"
show_run vendorctl add acme1 --vendor "ACME Imaging" --from 127.0.0.2/32 --access grant+otp \
    --key "$C/acme.pub" --comment "PACS maintenance" || die "vendorctl add"
say "A local account served by nss_vendor — /etc/passwd is untouched:"
show_run getent passwd acme1 || die "getent passwd acme1"

SSH=(ssh -F "$C/ssh_config")
vendor_login() {  # vendor_login SOURCE CODE
    printf '   %s$ ssh -F %s -b %s -i %s acme1@sandbox id -un%s\n' "$G" "$C/ssh_config" "$1" "$C/acme" "$N"
    [ -n "$2" ] && printf '   %s  (typed at the "One-time code:" prompt: %s)%s\n' "$D" "$2" "$N"
    HOME=$C SBX_CODE=$2 SSH_ASKPASS=$C/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
        timeout 30 "${SSH[@]}" -b "$1" -i "$C/acme" acme1@sandbox id -un </dev/null 2>&1 | sed 's/^/     /'
    return "${PIPESTATUS[0]}"
}
sshd_mark() { SMARK=$(wc -l <"$R/sshd-demo.log"); }
sshd_since() { tail -n +"$((SMARK + 1))" "$R/sshd-demo.log" | grep -E "$1" | sed 's/^/     sshd: /'; }

step "The vendor tries to log in before anyone activated the account"
sshd_mark
vendor_login 127.0.0.2 ""
rc=$?
expect_rc 255 "$rc" "login while inactive"
say "Refused. sshd never got a key for acme1: vendorctl authorized-keys (sshd's"
say "AuthorizedKeysCommand) prints nothing while the account is inactive, so the login stops"
say "in sshd before PAM. sshd's log says so, and vendorctl explain gives pam_vendor's reason:"
sleep 0.3
sshd_since 'acme1'
show_run vendorctl authorized-keys acme1
show_run vendorctl explain acme1 --from 127.0.0.2
[ $? = 1 ] || die "explain should deny"

step "The vendor phones the helpdesk; the helpdesk activates the account for one hour" \
    "The code is read to the vendor over the phone (never sent in writing); it is valid once."
out=$(vendorctl activate acme1 --for 1h --ticket INC-1234 --reason "PACS update" 2>&1) || die "activate: $out"
printf '   %s$ %s%s\n' "$G" "$(quote vendorctl activate acme1 --for 1h --ticket INC-1234 --reason "PACS update")" "$N"
sed 's/^/     /' <<<"$out"
CODE=$(sed -n 's/^one-time code for acme1: //p' <<<"$out" | tr -d ' ')
[ -n "$CODE" ] || die "no code printed"
say "sshd now gets the pinned key, limited to the vendor's address and the grant's end:"
show_run vendorctl authorized-keys acme1

step "The vendor logs in from its address, with its key and the code"
vendor_login 127.0.0.2 "$CODE"
rc=$?
expect_rc 0 "$rc" "login with key and code"
say "${G}Accepted${N}: the key first (publickey), then the code through PAM (keyboard-interactive)."

step "A maintenance session is not a tunnel into the hospital network" \
    "The vendor asks sshd to forward to an internal service (here sshd's own port, ssh -W):"
code_w=$(vendorctl otp acme1 --quiet) || die "vendorctl otp"
printf '   %s$ ssh -F %s -b 127.0.0.2 -i %s -W 127.0.0.1:%s acme1@sandbox%s\n' "$G" "$C/ssh_config" \
    "$C/acme" "$PORT" "$N"
printf '   %s  (typed at the "One-time code:" prompt: %s)%s\n' "$D" "$code_w" "$N"
sshd_mark
HOME=$C SBX_CODE=$code_w SSH_ASKPASS=$C/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    timeout 30 "${SSH[@]}" -b 127.0.0.2 -i "$C/acme" -W "127.0.0.1:$PORT" acme1@sandbox \
    </dev/null 2>&1 | grep -v '^SSH-2.0' | sed 's/^/     /'
rc=${PIPESTATUS[0]}
expect_rc 255 "$rc" "ssh -W through a vendor session"
say "Refused: DisableForwarding in the Match block, restrict in the key options:"
sleep 0.3
sshd_since 'refused|forward' | head -3

step "Someone else tries from another address (127.0.0.3), even with the key and a fresh code"
code2=$(vendorctl otp acme1 --quiet) || die "vendorctl otp"
sshd_mark
vendor_login 127.0.0.3 "$code2"
rc=$?
expect_rc 255 "$rc" "login from 127.0.0.3"
say "Refused by sshd: the key is only valid from=\"127.0.0.2/32\" (and pam_vendor checks the"
say "source again in auth and account):"
sleep 0.3
sshd_since 'acme1'
show_run vendorctl explain acme1 --from 127.0.0.3

step "The helpdesk cannot turn root or an administrator into a vendor account" \
    "That would lock them out of su, the console and sshd; vendorctl refuses:"
show_run vendorctl add root --existing --vendor "ACME Imaging" --from 127.0.0.2/32 --access otp
[ $? = 1 ] || die "vendorctl add root must be refused"

step "What the helpdesk sees"
show_run vendorctl status || die "vendorctl status"
sleep 0.3
show_run vendorctl log || die "vendorctl log"
say "Every line is chained to the previous one (hash); tampering is detected:"
show_run vendorctl log --verify || die "vendorctl log --verify"

step "End of the intervention: the helpdesk ends the grant now"
show_run vendorctl deactivate acme1 || die "deactivate"
vendor_login 127.0.0.2 "$(vendorctl otp acme1 --quiet)"
rc=$?
expect_rc 255 "$rc" "login after deactivate"
say "Refused again."

echo
printf '%sAll steps behaved as described%s (%ds).\n' "$B" "$N" "$(( $(date +%s) - START ))"
exit 0
