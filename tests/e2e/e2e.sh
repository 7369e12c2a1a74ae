#!/bin/bash
# tests/e2e/e2e.sh — pam_vendor end to end on a real OpenSSH server, TAP output.
#
#   e2e.sh --module PAM_SO --vendorctl VENDORCTL --nss SANDBOX_NSS_SO
#
# Root only (every scenario is reported "# SKIP needs root" otherwise). Runs in
# the sandbox of tests/e2e/lib.sh: nothing on the machine changes, every
# process it starts dies with it. Each scenario asserts exit codes, what the
# client saw, and the audit log (the JSON lines pam_vendor and vendorctl
# write), and for denials *which layer* denied: sshd itself (the key that
# vendorctl authorized-keys withholds or restricts with from=) or pam_vendor.
#
# Accounts (all bound to 127.0.0.2/32, key k1 pinned):
#   v1    grant+otp  the normal vendor: Match Group vendors (publickey,keyboard-interactive)
#   vpk   grant      publickey only (Match User: AuthenticationMethods publickey)
#   vhr   hours      a window around now, publickey only
#   vhx   hours      a window away from now; sshd misconfigured for it (keys also
#                    from ~/.ssh) so that PAM's account phase is what refuses it
#   vmis  grant+otp  sshd misconfigured for it: keys also from ~/.ssh (k1 and the
#                    unpinned k2), keyboard-interactive allowed alone — pam_vendor
#                    alone must still refuse what sshd lets through
#   e2e-local        an ordinary local user (key k3 in ~/.ssh/authorized_keys)
#   e2e-probe        an ordinary local user whose PAM session is made to fail
#
# E2E_VERBOSE=1: print sshd's log, the PAM environment log and the audit log at the end.
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
        *) echo "usage: e2e.sh --module PAM_SO --vendorctl VENDORCTL --nss NSS_SO" >&2; exit 2 ;;
    esac
done

SCENARIOS=(
    "setup: sandbox (private /etc, /run, /var/log), vendor accounts, sshd -t, sshd running as pam-vendor-e2e"
    "nss: vendor accounts and group resolve through nss_vendor; sshd applies Match Group vendors"
    "inactive: authorized-keys withholds the key, sshd refuses before PAM (no audit line), explain says not_activated"
    "inactive, key let through by a misconfigured sshd: pam_vendor auth denies not_activated"
    "activated, pinned key, code from 127.0.0.2: id -un runs in the vendor's home; otp_used, account, session_open/close with duration"
    "code replay: the used code is refused (otp_failed), no session"
    "from 127.0.0.3: the key's from= makes sshd refuse it before PAM (no audit line)"
    "from 127.0.0.3, key let through by a misconfigured sshd: pam_vendor denies source_not_allowed"
    "wrong key (not pinned): sshd refuses it, authorized-keys prints only pinned keys (no audit line)"
    "wrong key let through by a misconfigured sshd (~/.ssh): pam_vendor denies key_not_pinned"
    "keyboard-interactive without a key (misconfigured sshd): key_required, no code asked"
    "expired grant (grant file in the past): auth denies grant_expired before asking the code; republished keys withheld"
    "ssh host cmd (2 s): session_open/close, duration_s >= 2"
    "forwarding: ssh -L to an internal service gets nothing, -W (the -D channel) and -R are refused by sshd"
    "scp upload into the vendor's home: session logged with duration"
    "sftp session: session logged with duration"
    "non-vendor local user logs in with ~/.ssh key as before, no audit line"
    "UseDNS yes: PAM_RHOST is a name, SSH_CONNECTION alone is not trusted: denied source_unknown, no name logged as the source"
    "lockout: 3 wrong codes -> otp_failed x3 + lockout; a right code is then refused locked_out; unlock"
    "hours-only account inside its window: publickey only, account phase only (no auth event), session logged"
    "hours-only account outside its window: key withheld; let through by sshd, account denies outside_hours and the connection drops"
    "publickey-only grant account: account phase only, SSH_AUTH_INFO_0 empty in account"
    "deactivate: revoke logged, authorized-keys withholds the key, next login refused"
    "fact: SSH_AUTH_INFO_0 in kbd-int auth and account = the publickey; auth+account in one process; PAM service = program name"
    "fact: a failed pam_open_session does not drop the connection, but sshd runs no command (exit 254) and refuses forwarding"
    "check-sshd: the documented block passes; without DisableForwarding, or with PermitTunnel yes, it exits 1 naming the setting"
    "audit log: vendorctl log --verify intact, status shows the last login"
    "sanitizers: the ASan runtime is in sshd, no ASan/UBSan report, no fatal error in sshd's log"
)

N=0
plan() { echo "1..${#SCENARIOS[@]}"; }
skip_rest() {
    while [ "$N" -lt "${#SCENARIOS[@]}" ]; do
        echo "ok $((N + 1)) - ${SCENARIOS[$N]} # SKIP $1"
        N=$((N + 1))
    done
}

if [ "${SBX_INSIDE:-}" != 1 ]; then
    plan
    if ! why=$(sbx_can_sandbox); then skip_rest "$why"; exit 0; fi
    for f in "$MODULE" "$VENDORCTL" "$NSS_SO"; do
        if [ ! -f "$f" ]; then
            echo "not ok 1 - ${SCENARIOS[0]}"
            echo "# missing build output: '$f'"
            N=1
            skip_rest "setup failed"
            exit 1
        fi
    done
    sbx_enter "$0" "${ARGS[@]}"
    exit 1
fi

# ---------------------------------------------------------------- inside
R=$SBX_ROOT
C=$R/client
CONF=$R/pam_vendor.conf
AUDIT=$R/log/audit.jsonl
PAMENV=$R/pamenv.log
SSHD_LOG=$R/sshd-main.log
OUTF=$R/client/out
ERRF=$R/client/err
KU=$SBX_KEYS_USER
PORT= DNS_PORT=
PRELOAD=
FAILS=()

V() { "$VENDORCTL" --config "$CONF" "$@"; }
# authorized-keys exactly as sshd runs it: as the unprivileged keys user.
authkeys() { setpriv --reuid="$KU" --regid="$KU" --init-groups -- "$VENDORCTL" --config "$CONF" authorized-keys "$1"; }

cleanup() {
    sbx_stop_sshd main
    sbx_stop_sshd dns
    for u in e2e-local e2e-probe "$KU"; do sbx_del_user "$u"; done
    if [ -n "${E2E_VERBOSE:-}" ]; then
        for f in "$SSHD_LOG" "$R/sshd-dns.log" "$PAMENV" "$AUDIT"; do
            [ -f "$f" ] && { echo "# ---- $f"; sed 's/^/# /' "$f"; }
        done
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- TAP helpers
fail() { FAILS+=("$*"); }
# want DESCRIPTION COMMAND... — the command must succeed
want() {
    local d=$1
    shift
    "$@" >/dev/null 2>&1 || fail "$d"
}
count_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
mark() {
    AMARK=$(count_lines "$AUDIT")
    SMARK=$(count_lines "$SSHD_LOG")
    PMARK=$(count_lines "$PAMENV")
    QMARK=$(count_lines "$C/prompts.log")
}
audit_new() { [ -f "$AUDIT" ] && tail -n +"$((AMARK + 1))" "$AUDIT"; return 0; }
sshd_new() { [ -f "$SSHD_LOG" ] && tail -n +"$((SMARK + 1))" "$SSHD_LOG"; return 0; }
pamenv_new() { [ -f "$PAMENV" ] && tail -n +"$((PMARK + 1))" "$PAMENV"; return 0; }
prompts_new() { [ -f "$C/prompts.log" ] && tail -n +"$((QMARK + 1))" "$C/prompts.log"; return 0; }

# audit_find FIELD=VALUE|FIELD ... — new audit lines having every string field
# (FIELD=VALUE) or numeric/any field (FIELD).
audit_find() {
    local lines kv
    lines=$(audit_new)
    for kv in "$@"; do
        case $kv in
            *=*) lines=$(grep -F -- "\"${kv%%=*}\":\"${kv#*=}\"" <<<"$lines") ;;
            *) lines=$(grep -F -- "\"$kv\":" <<<"$lines") ;;
        esac
        [ -n "$lines" ] || return 1
    done
    printf '%s\n' "$lines"
}
# wait_audit FIELD=VALUE... — the session_close line is written when sshd's
# monitor tears the session down, which may be just after the client exits.
wait_audit() {
    local i
    for i in $(seq 1 50); do
        audit_find "$@" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# no PAM-side line (auth/account/session) since the mark
no_pam_line() { ! audit_find "service=$SBX_SERVICE" >/dev/null; }

scenario() {
    local fn=$1
    FAILS=()
    mark
    "$fn"
    N=$((N + 1))
    if [ ${#FAILS[@]} -eq 0 ]; then
        echo "ok $N - ${SCENARIOS[$((N - 1))]}${SKIP_REASON:+ # SKIP $SKIP_REASON}"
    else
        echo "not ok $N - ${SCENARIOS[$((N - 1))]}"
        local f
        for f in "${FAILS[@]}"; do echo "#   failed: $f"; done
        echo "#   client rc=${RC:-} stdout: $(head -c 300 "$OUTF" 2>/dev/null | tr '\n' '|')"
        echo "#   client stderr: $(head -c 500 "$ERRF" 2>/dev/null | tr '\n' '|')"
        audit_new | sed 's/^/#   audit: /'
        sshd_new | tail -n 25 | sed 's/^/#   sshd: /'
        pamenv_new | sed 's/^/#   pam: /'
    fi
    SKIP_REASON=
    RC=
}

# vssh SRC USER KEY CODE COMMAND... — ssh as a vendor; KEY a client key name
# or "none"; CODE "" = keys only (BatchMode). Sets RC; output in OUTF/ERRF.
vssh() {
    local src=$1 user=$2 key=$3 code=$4
    shift 4
    local k=none
    [ "$key" != none ] && k=$C/$key
    sbx_ssh_opts "${SSH_PORT:-$PORT}" "$src" "$k"
    sbx_client "$code" ssh "${SBX_SSH_OPTS[@]}" "$user@127.0.0.1" "$@" </dev/null >"$OUTF" 2>"$ERRF"
    RC=$?
}
code_for() { V otp "$1" --quiet; }
out_is() { [ "$(cat "$OUTF")" = "$1" ]; }

hhmm() { printf '%02d:%02d' $(( ($1 / 60) % 24 )) $(( $1 % 60 )); }

# ---------------------------------------------------------------- scenarios
t_setup() {
    sbx_setup_fs "$NSS_SO" || { fail "private /run, /var/log, /etc and ld.so.cache"; return; }
    PRELOAD=$(ldd "$MODULE" 2>/dev/null | awk '$1 ~ /^libasan\.so/ { print $3 }')
    sbx_add_system_user "$KU" || { fail "useradd $KU"; return; }
    sbx_write_vendor_conf "$CONF" "host_name = e2e-host
timezone = UTC
lockout_threshold = 3
lockout_time = 10m"
    local k
    for k in k1 k2 k3; do sbx_keygen "$k" || { fail "ssh-keygen $k"; return; }; done
    # Schedules built from the current UTC time (timezone = UTC above).
    local now_min
    now_min=$(( $(date -u +%s) / 60 % 1440 ))
    HOURS_IN="* $(hhmm $((now_min + 1440 - 60)))-$(hhmm $((now_min + 60)))"
    HOURS_OUT="* $(hhmm $((now_min + 120)))-$(hhmm $((now_min + 180)))"
    want "vendorctl add v1" V add v1 --vendor ACME --from 127.0.0.2/32 --access grant+otp --key "$C/k1.pub"
    want "vendorctl add vpk" V add vpk --vendor ACME --from 127.0.0.2/32 --access grant --key "$C/k1.pub"
    want "vendorctl add vhr" V add vhr --vendor ACME --from 127.0.0.2/32 --access hours --hours "$HOURS_IN" --key "$C/k1.pub"
    want "vendorctl add vhx" V add vhx --vendor ACME --from 127.0.0.2/32 --access hours --hours "$HOURS_OUT" --key "$C/k1.pub"
    want "vendorctl add vmis" V add vmis --vendor ACME --from 127.0.0.2/32 --access grant+otp --key "$C/k1.pub"
    # The misconfigured accounts' ~/.ssh (sshd's StrictModes: owned by them).
    local u
    for u in vmis vhx; do
        install -d -m 0700 -o "$u" -g vendors "$R/home/vendors/$u/.ssh" || fail "~$u/.ssh"
        cat "$C/k1.pub" >"$R/home/vendors/$u/.ssh/authorized_keys"
        [ "$u" = vmis ] && cat "$C/k2.pub" >>"$R/home/vendors/$u/.ssh/authorized_keys"
        chown "$u:vendors" "$R/home/vendors/$u/.ssh/authorized_keys"
        chmod 0600 "$R/home/vendors/$u/.ssh/authorized_keys"
    done
    want "local user e2e-local" sbx_add_local_user e2e-local "$C/k3.pub"
    want "local user e2e-probe" sbx_add_local_user e2e-probe "$C/k3.pub"
    [ ${#FAILS[@]} -eq 0 ] || return

    # pam_exec records each phase's PAM items and environment (facts).
    cat >"$R/bin/pamdump" <<EOF
#!/bin/sh
info=\$(printf '%s' "\${SSH_AUTH_INFO_0:-}" | tr '\n' '|')
printf 'type=%s user=%s service=%s rhost=%s conn=%s pid=%s info=%s\n' "\$PAM_TYPE" "\$PAM_USER" \\
    "\$PAM_SERVICE" "\${PAM_RHOST:-}" "\${SSH_CONNECTION:-}" "\$PPID" "\$info" >>$PAMENV
exit 0
EOF
    chmod 0755 "$R/bin/pamdump"
    sbx_write_pam_service "$MODULE" "conf=$CONF" "$R/bin/pamdump" e2e-probe || { fail "pam.d service"; return; }

    # sshd runs AuthorizedKeysCommand only from a root-owned, non-writable path.
    # A build tree under /tmp (sticky, world-writable) is not such a path:
    # then sshd gets a copy in the sandbox's private, root-owned /run.
    local why
    if ! sbx_path_safe_for_sshd "$VENDORCTL" >/dev/null; then
        install -D -m 0755 "$VENDORCTL" "$R/libexec/vendorctl" || { fail "copy vendorctl"; return; }
        VENDORCTL=$R/libexec/vendorctl
    fi
    if ! why=$(sbx_path_safe_for_sshd "$VENDORCTL"); then
        fail "AuthorizedKeysCommand path unusable by sshd: $why"
        return
    fi
    cat >"$R/ssh/match.conf" <<EOF

# --- per-account blocks first: sshd keeps the first value of each keyword ---
# publickey-only accounts (no code gate): the account phase alone decides
Match User vpk,vhr
    AuthenticationMethods publickey
# Deliberately MISCONFIGURED for these two: keys also from ~/.ssh, and for
# vmis keyboard-interactive alone. pam_vendor must still refuse.
Match User vmis
    AuthorizedKeysFile .ssh/authorized_keys
    AuthenticationMethods publickey,keyboard-interactive keyboard-interactive
Match User vhx
    AuthorizedKeysFile .ssh/authorized_keys
    AuthenticationMethods publickey
EOF
    sbx_askpass
    if ! sbx_serve main "$VENDORCTL" "--config $CONF" "$R/ssh/match.conf" no "$PRELOAD"; then
        fail "sshd -t / start: $(cat "$R"/sshd-main.log* 2>/dev/null | tr '\n' '|' | head -c 600)"
        return
    fi
    PORT=$SBX_PORT_main
    sbx_known_hosts "$PORT"
}

t_nss() {
    want "getent -s vendor passwd v1" getent -s vendor passwd v1
    want "getent group vendors (nss_vendor)" bash -c 'getent -s vendor group vendors | grep -q "^vendors:x:2000300000:"'
    want "id v1: primary group vendors" bash -c 'id -gn v1 | grep -qx vendors'
    want "getent shadow v1 is locked" bash -c 'getent shadow v1 | cut -d: -f2 | grep -q "^!"'
    local t
    t=$(/usr/sbin/sshd -T -f "$R/ssh/sshd_config_main" -C "user=v1,host=vendor.invalid,addr=127.0.0.2,laddr=127.0.0.1,lport=$PORT" 2>&1)
    grep -qx "authenticationmethods publickey,keyboard-interactive" <<<"$t" || fail "Match Group vendors not applied to v1"
    grep -qx "authorizedkeysfile none" <<<"$t" || fail "AuthorizedKeysFile none for v1"
    t=$(/usr/sbin/sshd -T -f "$R/ssh/sshd_config_main" -C "user=vpk,host=vendor.invalid,addr=127.0.0.2,laddr=127.0.0.1,lport=$PORT" 2>&1)
    grep -qx "authenticationmethods publickey" <<<"$t" || fail "Match User vpk: publickey only"
}

t_inactive() {
    [ -z "$(authkeys v1)" ] || fail "authorized-keys printed a key for an inactive account"
    local code
    code=$(code_for v1)
    vssh 127.0.0.2 v1 k1 "$code" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    no_pam_line || fail "a PAM-side audit line was written"
    sshd_new | grep -q "Connection closed by authenticating user v1 127.0.0.2" || fail "sshd log: refusal of v1"
    local ex
    ex=$(V explain v1 --from 127.0.0.2)
    [ $? = 1 ] && grep -q "not_activated" <<<"$ex" || fail "vendorctl explain: $ex"
}

t_inactive_pam() {
    vssh 127.0.0.2 vmis k1 "$(code_for vmis)" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    audit_find event=auth account=vmis result=denied reason=not_activated rhost=127.0.0.2 >/dev/null ||
        fail "audit: auth denied not_activated"
    audit_find event=session_open account=vmis >/dev/null && fail "a session was opened"
    want "activate vmis (for the next scenarios)" V activate vmis --for 1h
}

t_login() {
    local act
    act=$(V activate v1 --for 1h --ticket E2E-1 --reason "e2e")
    grep -q "one-time code for v1" <<<"$act" || fail "activate printed no code: $act"
    audit_find event=grant account=v1 ticket=E2E-1 >/dev/null || fail "audit: grant"
    local ak
    ak=$(authkeys v1)
    grep -q '^from="127.0.0.2/32",expiry-time="[0-9]\{14\}Z",restrict,pty ssh-ed25519 ' <<<"$ak" ||
        fail "authorized-keys line: $ak"
    local code
    code=$(code_for v1)
    vssh 127.0.0.2 v1 k1 "$code" 'id -un; pwd'
    [ "$RC" = 0 ] || fail "ssh exit $RC, want 0"
    [ "$(sed -n 1p "$OUTF")" = v1 ] || fail "id -un did not print v1"
    [ "$(sed -n 2p "$OUTF")" = "$R/home/vendors/v1" ] || fail "not in the vendor's home"
    grep -q "Could not chdir" "$ERRF" && fail "home directory unreachable"
    [ "$(prompts_new)" = "(v1@127.0.0.1) One-time code: " ] || fail "prompt was: $(prompts_new)"
    local fp
    fp=$(ssh-keygen -lf "$C/k1.pub" | awk '{print $2}')
    audit_find event=otp_used account=v1 result=ok rhost=127.0.0.2 "service=$SBX_SERVICE" "key=$fp" >/dev/null ||
        fail "audit: otp_used ok with the key fingerprint"
    audit_find event=account account=v1 result=ok rhost=127.0.0.2 >/dev/null || fail "audit: account ok"
    audit_find event=session_open account=v1 result=ok rhost=127.0.0.2 session "key=$fp" \
        methods=publickey,keyboard-interactive >/dev/null || fail "audit: session_open with key and methods"
    wait_audit event=session_close account=v1 duration_s || fail "audit: session_close with duration_s"
    local sid
    sid=$(audit_find event=session_open account=v1 | sed -n 's/.*"session":"\([0-9a-f]*\)".*/\1/p')
    [ -n "$sid" ] && audit_find event=session_close "session=$sid" >/dev/null || fail "session ids differ"
    V_CODE_USED=$code
}

t_replay() {
    vssh 127.0.0.2 v1 k1 "$V_CODE_USED" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    audit_find event=otp_failed account=v1 result=denied reason=otp_failed >/dev/null || fail "audit: otp_failed"
    audit_find event=session_open account=v1 >/dev/null && fail "a session was opened"
}

t_src3() {
    vssh 127.0.0.3 v1 k1 "$(code_for v1)" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    no_pam_line || fail "a PAM-side audit line was written"
    sshd_new | grep -q "not from a permitted host" || fail "sshd log: key refused for the source"
    local ex
    ex=$(V explain v1 --from 127.0.0.3)
    grep -q source_not_allowed <<<"$ex" || fail "explain: $ex"
}

t_src3_pam() {
    vssh 127.0.0.3 vmis k1 "$(code_for vmis)" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    audit_find event=auth account=vmis result=denied reason=source_not_allowed rhost=127.0.0.3 >/dev/null ||
        fail "audit: auth denied source_not_allowed from 127.0.0.3"
    [ -z "$(prompts_new)" ] || fail "the code was asked for a refused source"
}

t_wrongkey() {
    authkeys v1 | grep -qF "$(cut -d' ' -f2 "$C/k2.pub")" && fail "authorized-keys printed k2"
    vssh 127.0.0.2 v1 k2 "$(code_for v1)" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    no_pam_line || fail "a PAM-side audit line was written"
}

t_wrongkey_pam() {
    vssh 127.0.0.2 vmis k2 "$(code_for vmis)" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    local fp
    fp=$(ssh-keygen -lf "$C/k2.pub" | awk '{print $2}')
    audit_find event=auth account=vmis result=denied reason=key_not_pinned "key=$fp" >/dev/null ||
        fail "audit: auth denied key_not_pinned for k2"
    audit_find event=session_open account=vmis >/dev/null && fail "a session was opened"
}

t_nokey_pam() {
    vssh 127.0.0.2 vmis none "$(code_for vmis)" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    audit_find event=auth account=vmis result=denied reason=key_required >/dev/null || fail "audit: key_required"
    [ -z "$(prompts_new)" ] || fail "the code was asked"
}

t_expired() {
    local now
    now=$(date +%s)
    # state_dir/grants/NAME.json, as vendorctl writes it, but ended an hour ago
    printf '{"account":"v1","not_before":%d,"not_after":%d,"operator":"e2e","ticket":"","reason":""}\n' \
        $((now - 7200)) $((now - 3600)) >"$R/state/grants/v1.json.new"
    chmod 0600 "$R/state/grants/v1.json.new"
    mv "$R/state/grants/v1.json.new" "$R/state/grants/v1.json"
    [ -n "$(authkeys v1)" ] || fail "the published view should still be the earlier activation"
    vssh 127.0.0.2 v1 k1 "$(code_for v1)" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    audit_find event=auth account=v1 result=denied reason=grant_expired >/dev/null || fail "audit: grant_expired"
    [ -z "$(prompts_new)" ] || fail "the code was asked"
    want "vendorctl reindex" V reindex
    [ -z "$(authkeys v1)" ] || fail "authorized-keys still prints the key after reindex"
    want "re-activate v1" V activate v1 --for 1h
}

t_cmd() {
    vssh 127.0.0.2 v1 k1 "$(code_for v1)" 'sleep 2; id -un'
    [ "$RC" = 0 ] && out_is v1 || fail "ssh exit $RC / output"
    wait_audit event=session_close account=v1 || fail "audit: session_close"
    audit_find event=session_close account=v1 | grep -qE '"duration_s":([2-9]|[1-9][0-9]+),' ||
        fail "session_close duration_s >= 2"
}

# The sandbox's sshd stands for an internal service: through a working -L it
# would answer with its SSH banner.
t_forward() {
    local lp i banner cpid
    lp=$(sbx_free_port) || { fail "no free port"; return; }
    sbx_ssh_opts "$PORT" 127.0.0.2 "$C/k1"
    sbx_client "$(code_for v1)" ssh "${SBX_SSH_OPTS[@]}" -L "127.0.0.1:$lp:127.0.0.1:$PORT" \
        v1@127.0.0.1 'sleep 5' </dev/null >"$OUTF" 2>"$ERRF" &
    cpid=$!
    for i in $(seq 1 80); do
        (exec 3<>"/dev/tcp/127.0.0.1/$lp") 2>/dev/null && break
        sleep 0.1
    done
    banner=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$lp && head -c 7 <&3" 2>/dev/null)
    [ "$banner" = "SSH-2.0" ] && fail "ssh -L reached the internal service (got its banner)"
    wait "$cpid"
    RC=$?
    [ "$RC" = 0 ] || fail "the session with -L itself failed: exit $RC"
    sshd_new | grep -q "refused local port forward" || fail "sshd log: no refused local port forward (-L)"
    # -D opens the same direct-tcpip channel as -W: one refused request shows both.
    mark
    sbx_client "$(code_for v1)" ssh "${SBX_SSH_OPTS[@]}" -W "127.0.0.1:$PORT" v1@127.0.0.1 \
        </dev/null >"$OUTF" 2>"$ERRF"
    RC=$?
    [ "$RC" = 255 ] || fail "ssh -W: exit $RC, want 255"
    grep -q "SSH-2.0" "$OUTF" && fail "ssh -W reached the internal service"
    sshd_new | grep -q "refused local port forward" || fail "sshd log: -W not refused"
    mark
    sbx_client "$(code_for v1)" ssh "${SBX_SSH_OPTS[@]}" -o ExitOnForwardFailure=yes \
        -R "127.0.0.1:0:127.0.0.1:$PORT" v1@127.0.0.1 'echo shell-ran' </dev/null >"$OUTF" 2>"$ERRF"
    RC=$?
    [ "$RC" = 255 ] || fail "ssh -R with ExitOnForwardFailure: exit $RC, want 255"
    grep -q "remote port forwarding failed" "$ERRF" || fail "client: no 'remote port forwarding failed'"
}

# check-sshd reads /etc/ssh/sshd_config (the sandbox's private copy).
t_check_sshd() {
    sbx_private_etc_ok || { fail "private /etc"; return; }
    local out
    cp "$R/ssh/sshd_config_main" /etc/ssh/sshd_config
    out=$(V check-sshd 2>&1)
    [ $? = 0 ] || fail "documented block: check-sshd exit != 0: $(grep MISS <<<"$out" | tr '\n' '|')"
    grep -v "DisableForwarding yes" "$R/ssh/sshd_config_main" >/etc/ssh/sshd_config
    out=$(V check-sshd 2>&1)
    [ $? = 1 ] || fail "without DisableForwarding: check-sshd did not exit 1"
    grep "^MISS" <<<"$out" | grep -q "disableforwarding" || fail "MISS line does not name disableforwarding: $out"
    sed 's/PermitTunnel no/PermitTunnel yes/' "$R/ssh/sshd_config_main" >/etc/ssh/sshd_config
    out=$(V check-sshd 2>&1)
    [ $? = 1 ] || fail "PermitTunnel yes: check-sshd did not exit 1"
    grep "^MISS" <<<"$out" | grep -q "permittunnel" || fail "MISS line does not name permittunnel: $out"
    cp "$R/ssh/sshd_config_main" /etc/ssh/sshd_config
}

t_scp() {
    printf 'pam_vendor e2e %s\n' "$$" >"$C/upload.txt"
    sbx_ssh_opts "$PORT" 127.0.0.2 "$C/k1"
    sbx_client "$(code_for v1)" scp "${SBX_SSH_OPTS[@]}" "$C/upload.txt" v1@127.0.0.1:upload.txt \
        </dev/null >"$OUTF" 2>"$ERRF"
    RC=$?
    [ "$RC" = 0 ] || fail "scp exit $RC"
    cmp -s "$C/upload.txt" "$R/home/vendors/v1/upload.txt" || fail "file not in the vendor's home"
    [ "$(stat -c %U "$R/home/vendors/v1/upload.txt" 2>/dev/null)" = v1 ] || fail "file not owned by v1"
    audit_find event=session_open account=v1 result=ok >/dev/null || fail "audit: session_open"
    wait_audit event=session_close account=v1 duration_s || fail "audit: session_close with duration_s"
}

t_sftp() {
    rm -f "$C/down.txt"
    sbx_ssh_opts "$PORT" 127.0.0.2 "$C/k1"
    printf 'get upload.txt %s\nbye\n' "$C/down.txt" |
        sbx_client "$(code_for v1)" sftp "${SBX_SSH_OPTS[@]}" v1@127.0.0.1 >"$OUTF" 2>"$ERRF"
    RC=$?
    [ "$RC" = 0 ] || fail "sftp exit $RC"
    cmp -s "$C/upload.txt" "$C/down.txt" || fail "file not fetched"
    audit_find event=session_open account=v1 result=ok >/dev/null || fail "audit: session_open"
    wait_audit event=session_close account=v1 duration_s || fail "audit: session_close with duration_s"
}

t_local() {
    vssh 127.0.0.2 e2e-local k3 "" id -un
    [ "$RC" = 0 ] && out_is e2e-local || fail "ssh exit $RC / output"
    sleep 0.5
    [ -z "$(audit_new)" ] || fail "the audit log has a line for a non-vendor"
    pamenv_new | grep -q "type=open_session user=e2e-local" || fail "the PAM session did not run"
}

t_usedns() {
    sbx_serve dns "$VENDORCTL" "--config $CONF" "$R/ssh/match.conf" yes "$PRELOAD" ||
        { fail "second sshd (UseDNS yes) did not start"; return; }
    DNS_PORT=$SBX_PORT_dns
    sbx_known_hosts "$PORT" "$DNS_PORT"
    SSH_PORT=$DNS_PORT vssh 127.0.0.2 v1 k1 "$(code_for v1)" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255 (UseDNS yes is not supported)"
    pamenv_new | grep -q "type=auth user=v1 .*rhost=vendor-e2e.example conn=127.0.0.2 " ||
        fail "PAM_RHOST is not the name / SSH_CONNECTION not numeric"
    audit_find event=auth account=v1 result=denied reason=source_unknown \
        "rhost=127.0.0.2 (rhost vendor-e2e.example)" >/dev/null || fail "audit: auth denied source_unknown"
    audit_find event=session_open account=v1 >/dev/null && fail "a session was opened"
    audit_find rhost=vendor-e2e.example >/dev/null && fail "a name was logged as the source"
    sbx_stop_sshd dns
}

t_lockout() {
    want "unlock (earlier failures)" V unlock v1
    local i
    for i in 1 2 3; do
        vssh 127.0.0.2 v1 k1 "00000000" id -un
        [ "$RC" = 255 ] || fail "wrong code $i: ssh exit $RC"
    done
    [ "$(audit_find event=otp_failed account=v1 reason=otp_failed | wc -l)" = 3 ] || fail "audit: 3 otp_failed"
    audit_find event=lockout account=v1 reason=locked_out >/dev/null || fail "audit: lockout event"
    vssh 127.0.0.2 v1 k1 "$(code_for v1)" id -un
    [ "$RC" = 255 ] || fail "right code while locked: ssh exit $RC"
    audit_find event=auth account=v1 result=denied reason=locked_out >/dev/null || fail "audit: locked_out"
    want "vendorctl unlock" V unlock v1
    vssh 127.0.0.2 v1 k1 "$(code_for v1)" id -un
    [ "$RC" = 0 ] && out_is v1 || fail "after unlock: ssh exit $RC"
}

t_hours_in() {
    [ -n "$(authkeys vhr)" ] || fail "authorized-keys withheld the key inside the window"
    vssh 127.0.0.2 vhr k1 "" id -un
    [ "$RC" = 0 ] && out_is vhr || fail "ssh exit $RC / output"
    audit_find account=vhr event=auth >/dev/null && fail "an auth event (PAM auth must not run)"
    audit_find event=account account=vhr result=ok >/dev/null || fail "audit: account ok"
    wait_audit event=session_close account=vhr duration_s || fail "audit: session_close"
}

t_hours_out() {
    [ -z "$(authkeys vhx)" ] || fail "authorized-keys printed a key outside the window"
    vssh 127.0.0.2 vhx k1 "" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    audit_find event=account account=vhx result=denied reason=outside_hours >/dev/null ||
        fail "audit: account denied outside_hours"
    sshd_new | grep -q "Access denied for user vhx by PAM account configuration" ||
        fail "sshd log: PAM account denial"
    audit_find event=session_open account=vhx >/dev/null && fail "a session was opened"
}

t_pubkey_only() {
    vssh 127.0.0.2 vpk k1 "" id -un
    [ "$RC" = 255 ] || fail "inactive: ssh exit $RC, want 255"
    want "activate vpk" V activate vpk --for 1h
    mark
    vssh 127.0.0.2 vpk k1 "" id -un
    [ "$RC" = 0 ] && out_is vpk || fail "ssh exit $RC / output"
    audit_find account=vpk event=auth >/dev/null && fail "an auth event"
    audit_find event=account account=vpk result=ok >/dev/null || fail "audit: account ok"
    audit_find event=account account=vpk methods >/dev/null && fail "account saw methods (SSH_AUTH_INFO_0 not empty)"
    pamenv_new | grep -q "type=account user=vpk .* info=$" || fail "SSH_AUTH_INFO_0 not empty in account"
    wait_audit event=session_close account=vpk duration_s || fail "audit: session_close"
    audit_find event=session_open account=vpk methods=publickey >/dev/null ||
        fail "session_open does not record the method"
}

t_deactivate() {
    want "vendorctl deactivate" V deactivate v1
    audit_find event=revoke account=v1 >/dev/null || fail "audit: revoke"
    [ -z "$(authkeys v1)" ] || fail "authorized-keys still prints the key"
    mark
    vssh 127.0.0.2 v1 k1 "$(code_for v1)" id -un
    [ "$RC" = 255 ] || fail "ssh exit $RC, want 255"
    no_pam_line || fail "a PAM-side audit line was written"
}

t_fact_authinfo() {
    local blob auth acct
    blob=$(cut -d' ' -f1,2 "$C/k1.pub")
    auth=$(grep -m1 "^type=auth user=v1 " "$PAMENV")
    acct=$(grep -m1 "^type=account user=v1 " "$PAMENV")
    [[ "$auth" == *" info=publickey $blob|" || "$auth" == *" info=publickey $blob" ]] ||
        fail "auth: SSH_AUTH_INFO_0 is not 'publickey <k1>': $auth"
    [[ "$acct" == *" info=publickey $blob"* ]] || fail "account: SSH_AUTH_INFO_0: $acct"
    echo "#   observed in auth:    ${auth##* info=}" >&2
    echo "#   observed in account: ${acct##* info=}" >&2
    local sess
    sess=$(grep -m1 "^type=open_session user=v1 " "$PAMENV")
    echo "#   observed in session: ${sess##* info=}" >&2
    local p_auth p_acct p_sess
    p_auth=$(sed -n 's/.* pid=\([0-9]*\) .*/\1/p' <<<"$auth")
    p_acct=$(sed -n 's/.* pid=\([0-9]*\) .*/\1/p' <<<"$acct")
    p_sess=$(sed -n 's/.* pid=\([0-9]*\) .*/\1/p' <<<"$sess")
    [ "$p_auth" = "$p_acct" ] || fail "auth and account in different processes ($p_auth, $p_acct)"
    echo "#   PAM process: auth $p_auth, account $p_acct, session $p_sess" >&2
    grep -q "^type=auth user=v1 service=$SBX_SERVICE " "$PAMENV" || fail "PAM_SERVICE is not $SBX_SERVICE"
}

t_fact_session() {
    vssh 127.0.0.2 e2e-probe k3 "" 'echo probe-ran'
    [ "$RC" = 254 ] || fail "exit $RC, want 254 (sshd's session child exits when PAM session failed)"
    [ -s "$OUTF" ] && fail "the command ran"
    sshd_new | grep -q "PAM: pam_open_session(): " || fail "sshd did not report the failed session"
    sshd_new | grep -q "Starting session: command for e2e-probe" || fail "the connection did not reach the session"
    echo "#   sshd: $(sshd_new | grep -m1 'pam_open_session')" >&2
    # The connection stays, restricted (auth_restrict_session): no forwarding.
    mark
    sbx_ssh_opts "$PORT" 127.0.0.2 "$C/k3"
    sbx_client "" ssh "${SBX_SSH_OPTS[@]}" -W "127.0.0.1:$PORT" e2e-probe@127.0.0.1 </dev/null >"$OUTF" 2>"$ERRF"
    RC=$?
    [ "$RC" = 255 ] || fail "stdio forwarding: exit $RC, want 255"
    sshd_new | grep -q "refused local port forward" || fail "stdio forwarding was not refused by sshd"
}

t_audit() {
    local v
    v=$(V log --verify)
    [ $? = 0 ] && grep -q "chain intact" <<<"$v" || fail "log --verify: $v"
    [ "$(V --json log | grep -c '"event"')" -ge 20 ] || fail "log --json"
    V status | grep -E '^v1 ' | grep -q "127.0.0.2" || fail "status: last login of v1"
}

t_sanitizers() {
    if [ -z "$PRELOAD" ]; then
        SKIP_REASON="module not built with ASan"
        return
    fi
    local pid
    eval "pid=\${SBX_SSHD_PID_main:-}"
    grep -q libasan "/proc/$pid/maps" 2>/dev/null || fail "the ASan runtime is not loaded in sshd"
    local f
    for f in "$R"/sanitizer/*; do
        [ -e "$f" ] || continue
        fail "sanitizer report $f: $(head -c 400 "$f" | tr '\n' '|')"
    done
    if cat "$SSHD_LOG" "$R/sshd-dns.log" 2>/dev/null | grep -qE "AddressSanitizer|runtime error:|LeakSanitizer"; then
        fail "sanitizer report in sshd's log"
    fi
    grep -qiE "fatal:" "$SSHD_LOG" && fail "fatal error in sshd's log"
    return 0
}

SKIP_REASON=
RC=
scenario t_setup
if [ ${#FAILS[@]} -ne 0 ]; then
    skip_rest "sandbox setup failed"
    exit 1
fi
for fn in t_nss t_inactive t_inactive_pam t_login t_replay t_src3 t_src3_pam t_wrongkey t_wrongkey_pam \
    t_nokey_pam t_expired t_cmd t_forward t_scp t_sftp t_local t_usedns t_lockout t_hours_in t_hours_out \
    t_pubkey_only t_deactivate t_fact_authinfo t_fact_session t_check_sshd t_audit t_sanitizers; do
    scenario "$fn" 2>&1
done
exit 0
