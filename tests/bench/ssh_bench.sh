#!/bin/bash
# tests/bench/ssh_bench.sh — complete ssh logins on the sandboxed real sshd
# (make bench-ssh; make bench runs it after the PAM transaction bench).
#
#   ssh_bench.sh --module PAM_SO --vendorctl VENDORCTL --nss SANDBOX_NSS_SO
#                [--runs N] [--warmup N] [--strict] [--samples FILE]
#   ssh_bench.sh --report FILE     the report of samples kept with --samples
#
# A benchmark, not a test. Root only (prints "skipped" and exits 0 otherwise).
# It runs in the sandbox of tests/e2e/lib.sh — private /etc, /run and
# /var/log, PID 1 of its own PID namespace — so it changes nothing on the
# machine, and every process it starts (three sshd, their connection
# children) dies with it; the sshd are also stopped by PID on the way out.
#
# What one login is: `ssh -o BatchMode=yes … true` (or, for the code stacks,
# the code typed by an askpass program through keyboard-interactive), from
# 127.0.0.2 to 127.0.0.1, ed25519 client key, known_hosts prepared,
# ControlMaster off; timed from the client's start to its exit, the way the
# person logging in sees it. Each sshd runs the e2e suite's sshd_config
# (sbx_write_sshd_config: the Match Group vendors block with vendorctl
# authorized-keys, DisableForwarding …), under its own program name, which is
# its PAM service:
#
#   floor        pam_permit in every phase; key only (~/.ssh/authorized_keys)
#   peer-key     pam_access + pam_time (account), pam_permit (session); key only
#   peer-code    the same sshd and service, plus pam_oath (HOTP) in auth through
#                keyboard-interactive (AuthenticationMethods publickey,keyboard-interactive)
#   vendor-key   pam_vendor in auth, account, session; a "grant" account
#                activated with vendorctl activate (Match User: publickey only)
#   vendor-code  the same sshd and service; a "grant+otp" account (Match Group
#                vendors: publickey,keyboard-interactive), a fresh code from
#                vendorctl otp before each login
#   vendor-permit (info) the vendor-key account through the floor's sshd:
#                pam_permit everywhere, but the vendor's key path (vendorctl
#                authorized-keys, nss_vendor) — vendor-key / vendor-permit is
#                pam_vendor's own share of a login, vendor-permit / floor the
#                key path's
#
# The PAM services hold only the modules measured (no Debian common-*
# includes, in none of them), so the differences are the modules' own. The
# vendor stacks pay for what a vendor login really costs besides PAM: sshd
# runs vendorctl authorized-keys (AuthorizedKeysCommand) and resolves the
# account through nss_vendor.
#
# Codes (the HOTP for pam_oath, vendorctl otp for pam_vendor) are made before
# the clock starts. After each login the bench checks it really succeeded —
# exit 0, nothing printed, and for pam_vendor its audit lines (session_open ok;
# otp_used ok for the code stack) — and waits for sshd's connection process to
# finish (session close) before the next one starts, so that no login pays
# for the previous one's teardown. A failed login aborts the bench with the
# client's error, sshd's log and the audit log's tail.
#
# Rounds are interleaved (each round runs every stack once, the starting
# stack rotating), so the machine's noise is shared; the ratios' 95 %
# intervals resample whole rounds (as tests/bench/bench_run.cc does). The
# "srv cpu" column is the CPU the server spent per login (user+system of
# sshd's reaped connection processes, clock ticks, averaged): on a busy
# machine wall times grow with the run queue, this column much less.
#
# Targets (issue 9 §7): vendor-key <= floor + 2 % and vendor-code <= peer-code
# (medians). --strict: exit 1 when one is missed.
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/../e2e/lib.sh"

MODULE= VENDORCTL= NSS_SO=
RUNS=${BENCH_SSH_RUNS:-100}
WARMUP=${BENCH_SSH_WARMUP:-3}
STRICT=0
KEEP= REPORT_ONLY=
ARGS=("$@")
usage() {
    echo "usage: ssh_bench.sh --module PAM_SO --vendorctl VENDORCTL --nss NSS_SO [--runs N] [--warmup N] [--strict] [--samples FILE]" >&2
    echo "       ssh_bench.sh --report SAMPLES_FILE" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
        --module) MODULE=$2; shift 2 ;;
        --vendorctl) VENDORCTL=$2; shift 2 ;;
        --nss) NSS_SO=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --strict) STRICT=1; shift ;;
        --samples) KEEP=$2; shift 2 ;;
        --report) REPORT_ONLY=$2; shift 2 ;;
        *) usage ;;
    esac
done
case $RUNS$WARMUP in *[!0-9]*) usage ;; esac
[ "$RUNS" -ge 2 ] || usage

die() {
    echo "bench-ssh: $*" >&2
    exit 1
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

pam_module_present() {
    local f
    for f in /lib/*/security/"$1" /usr/lib/*/security/"$1" /lib/security/"$1" /usr/lib/security/"$1"; do
        [ -e "$f" ] && return 0
    done
    return 1
}

# ------------------------------------------------------------- report
# report — per-stack median/p90/min, the ratios with a 95 % interval from
# resampling whole rounds (seeded: reproducible), the targets.
report() {
    awk -v strict="$STRICT" -v load_before="$LOAD_BEFORE" -v load_after="$(loadavg)" \
        -v pressure="${PRESSURE:-}" -v akc="${AKC_MS:-}" -v hz="$(getconf CLK_TCK)" '
    # Shell sort (iterative: mawk has a small call stack, samples repeat)
    function sort_asc(A, lo, hi,   g, i, j, v) {
        for (g = 1; g < (hi - lo + 1) / 3; g = 3 * g + 1) { }
        for (; g >= 1; g = int(g / 3))
            for (i = lo + g; i <= hi; i++) {
                v = A[i]
                for (j = i; j - g >= lo && A[j - g] > v; j -= g) A[j] = A[j - g]
                A[j] = v
            }
    }
    function median(A, n) { sort_asc(A, 1, n); return n % 2 ? A[(n + 1) / 2] : (A[n / 2] + A[n / 2 + 1]) / 2 }
    function rank(A, n, p,   i) { sort_asc(A, 1, n); i = int(p * n); if (i < p * n) i++; if (i < 1) i = 1; return A[i] }
    function col(s, A,   r) { for (r = 1; r <= n; r++) A[r] = t[s, r] }
    # 95 % interval of median(a)/median(b) over 1000 resamples of whole rounds
    function ci(a, b,   i, j, k, X, Y, Q) {
        srand(20240601)
        for (i = 1; i <= 1000; i++) {
            for (j = 1; j <= n; j++) { k = 1 + int(rand() * n); if (k > n) k = n; X[j] = t[a, k]; Y[j] = t[b, k] }
            Q[i] = median(X, n) / median(Y, n)
        }
        sort_asc(Q, 1, 1000)
        lo = Q[26]; hi = Q[975]
    }
    { t[$2, $1] = $3; if ($1 > n) n = $1; if (NF >= 4) { cpu[$2] += $4; hascpu = 1 } }
    END {
        ns = split("floor peer-key peer-code vendor-key vendor-code vendor-permit", S, " ")
        what["floor"] = "pam_permit everywhere, key only"
        what["peer-key"] = "pam_access + pam_time, key only"
        what["peer-code"] = "+ pam_oath HOTP through keyboard-interactive"
        what["vendor-key"] = "pam_vendor, grant, key only (+ authorized-keys, nss_vendor)"
        what["vendor-code"] = "pam_vendor, grant+otp, key + code"
        what["vendor-permit"] = "(info) vendor-key account, pam_permit everywhere"
        printf "\n-- wall time per complete login (ssh start -> exit), ms; %d runs each, interleaved; load now %s\n", n, load_after
        printf "   %-13s %8s %8s %8s %8s   %s\n", "stack", "median", "p90", "min", "srv cpu", "what"
        for (i = 1; i <= ns; i++) {
            s = S[i]
            if (!((s, 1) in t)) continue
            col(s, A)
            med[s] = median(A, n); p90[s] = rank(A, n, 0.90); mn = A[1]
            sc[s] = hascpu ? cpu[s] * 1000 / hz / n : -1
            printf "   %-13s %8.1f %8.1f %8.1f %8s   %s\n", s, med[s], p90[s], mn, sc[s] < 0 ? "-" : sprintf("%.1f", sc[s]), what[s]
        }
        if (hascpu)
            printf "   (srv cpu: mean user+system ms of sshd'"'"'s connection processes per login, %d Hz ticks: what the\n    server spent, which a busy machine does not inflate as it does wall time)\n", hz
        if (pressure != "")
            printf "   CPU pressure during the rounds: tasks waiting for a CPU %s%% of the time%s\n", pressure, (pressure + 0 > 20) ? " (busy machine: wall times include run-queue waits)" : ""
        if (akc != "")
            printf "   vendorctl authorized-keys alone, as sshd runs it (keys user): median %s ms per run via setpriv (sshd runs it twice per vendor login: the key query and the signed request)\n", akc
        printf "\n"
        ci("peer-key", "floor")
        printf "   peer-key / floor         median %.3fx [95%% %.3f..%.3f]   p90 %.3fx\n", med["peer-key"] / med["floor"], lo, hi, p90["peer-key"] / p90["floor"]
        ci("peer-code", "peer-key")
        printf "   peer-code / peer-key     median %.3fx [95%% %.3f..%.3f]   (the code round trip, %+.1f ms)\n", med["peer-code"] / med["peer-key"], lo, hi, med["peer-code"] - med["peer-key"]
        ci("vendor-key", "floor")
        rk = med["vendor-key"] / med["floor"]; rklo = lo; rkhi = hi
        printf "   vendor-key / floor       median %.3fx [95%% %.3f..%.3f]   p90 %.3fx   (%+.1f ms)\n", rk, lo, hi, p90["vendor-key"] / p90["floor"], med["vendor-key"] - med["floor"]
        if (("vendor-permit", 1) in t) {
            ci("vendor-permit", "floor")
            printf "   vendor-permit / floor    median %.3fx [95%% %.3f..%.3f]   (the vendor key path: authorized-keys, nss_vendor, %+.1f ms)\n", med["vendor-permit"] / med["floor"], lo, hi, med["vendor-permit"] - med["floor"]
            ci("vendor-key", "vendor-permit")
            printf "   vendor-key / vendor-permit median %.3fx [95%% %.3f..%.3f] (pam_vendor itself, %+.1f ms)\n", med["vendor-key"] / med["vendor-permit"], lo, hi, med["vendor-key"] - med["vendor-permit"]
        }
        if (hascpu && sc["floor"] > 0 && sc["peer-code"] > 0) {
            printf "   srv cpu: vendor-key / floor %.3fx (%+.1f ms), vendor-code / peer-code %.3fx (%+.1f ms)", sc["vendor-key"] / sc["floor"], sc["vendor-key"] - sc["floor"], sc["vendor-code"] / sc["peer-code"], sc["vendor-code"] - sc["peer-code"]
            if (sc["vendor-permit"] > 0) printf ", vendor-key - vendor-permit %+.1f ms", sc["vendor-key"] - sc["vendor-permit"]
            printf "\n"
        }
        ci("vendor-key", "peer-key")
        printf "   vendor-key / peer-key    median %.3fx [95%% %.3f..%.3f]\n", med["vendor-key"] / med["peer-key"], lo, hi
        ci("vendor-code", "peer-code")
        rc = med["vendor-code"] / med["peer-code"]; rclo = lo; rchi = hi
        printf "   vendor-code / peer-code  median %.3fx [95%% %.3f..%.3f]   p90 %.3fx   (%+.1f ms)\n", rc, lo, hi, p90["vendor-code"] / p90["peer-code"], med["vendor-code"] - med["peer-code"]
        printf "   (an interval that straddles the target: within this machine'"'"'s noise)\n"
        okk = rk <= 1.02; okc = rc <= 1.00
        printf "\nTARGET vendor key-only <= floor + 2 %% (median):  %.3fx  %s\n", rk, okk ? "PASS" : "MISS"
        printf "TARGET vendor key+code <= pam_oath peer (median): %.3fx  %s\n", rc, okc ? "PASS" : "MISS"
        printf "load average before %s, after %s\n", load_before, load_after
        printf "RESULT: %s (vendor-key/floor %.3fx, vendor-code/peer-code %.3fx)\n", okk && okc ? "all targets met" : "target(s) missed", rk, rc
        exit (strict && !(okk && okc)) ? 1 : 0
    }' "$SAMPLES"
}

if [ -n "$REPORT_ONLY" ]; then
    [ -r "$REPORT_ONLY" ] || die "cannot read $REPORT_ONLY"
    SAMPLES=$REPORT_ONLY LOAD_BEFORE='?' report
    exit
fi

if [ "${SBX_INSIDE:-}" != 1 ]; then
    if ! why=$(sbx_can_sandbox); then
        echo "bench-ssh: skipped ($why)"
        exit 0
    fi
    for f in "$MODULE" "$VENDORCTL" "$NSS_SO"; do
        [ -f "$f" ] || die "missing build output: '$f'"
    done
    command -v oathtool >/dev/null 2>&1 || die "oathtool not installed (the peer's HOTP codes; apt-get install oathtool)"
    for m in pam_permit.so pam_access.so pam_time.so pam_oath.so; do
        pam_module_present "$m" || die "$m not installed (libpam-modules, libpam-oath)"
    done
    command -v pgrep >/dev/null 2>&1 || die "pgrep not installed (procps)"
    sbx_enter "$0" "${ARGS[@]}"
    exit 1
fi

# ---------------------------------------------------------------- inside
R=$SBX_ROOT
C=$R/client
CONF=$R/pam_vendor.conf
AUDIT=$R/log/audit.jsonl
OATH=$R/peer/users.oath
OUTF=$C/out
ERRF=$C/err
SAMPLES=$R/samples
KU=$SBX_KEYS_USER
# RFC 4226's test secret: the codes are public, the sandbox is private.
OATH_SECRET=3132333435363738393031323334353637383930
STACKS=(floor peer-key peer-code vendor-key vendor-code vendor-permit)
LOCAL_USERS=(bfloor bpeer bpeerc)
SERVERS=(floor peer vendor)

cleanup() {
    local s u
    for s in "${SERVERS[@]}"; do sbx_stop_sshd "$s"; done
    for u in "${LOCAL_USERS[@]}" "$KU"; do sbx_del_user "$u"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ------------------------------------------------------------- setup
setup() {
    sbx_setup_fs "$NSS_SO" || die "sandbox: private /run, /var/log, /etc and ld.so.cache"
    sbx_add_system_user "$KU" || die "useradd $KU"
    sbx_write_vendor_conf "$CONF" || die "pam_vendor.conf"
    sbx_keygen k1 || die "ssh-keygen"
    local u
    for u in "${LOCAL_USERS[@]}"; do sbx_add_local_user "$u" "$C/k1.pub" || die "local user $u"; done
    V add vkey --vendor ACME --from 127.0.0.2/32 --access grant --key "$C/k1.pub" >/dev/null ||
        die "vendorctl add vkey"
    V add vcode --vendor ACME --from 127.0.0.2/32 --access grant+otp --key "$C/k1.pub" >/dev/null ||
        die "vendorctl add vcode"
    V activate vkey --for 2h --ticket BENCH-1 --reason bench >/dev/null || die "vendorctl activate vkey"
    V activate vcode --for 2h --ticket BENCH-2 --reason bench >/dev/null || die "vendorctl activate vcode"

    # The peer: pam_oath with a HOTP users file, pam_access and pam_time with
    # files of their own (the system's access.conf and time.conf stay unread).
    mkdir -m 0700 "$R/peer" || die "mkdir $R/peer"
    { printf 'HOTP bpeerc - %s 0\n' "$OATH_SECRET" >"$OATH" && chmod 0600 "$OATH"; } || die "$OATH"
    printf '+ : bpeer bpeerc : 127.0.0.0/8\n- : ALL : ALL\n' >"$R/peer/access.conf"
    printf '*;*;bpeer|bpeerc;Al0000-2400\n' >"$R/peer/time.conf"
    chmod 0644 "$R/peer/access.conf" "$R/peer/time.conf"

    sbx_private_etc_ok || die "private /etc is not in place"
    printf '%s\n' "# make bench-ssh: the floor (tests/bench/ssh_bench.sh)" \
        "auth     required pam_permit.so" "account  required pam_permit.so" \
        "password required pam_permit.so" "session  required pam_permit.so" >/etc/pam.d/pvb-floor
    printf '%s\n' "# make bench-ssh: the do-it-yourself peer (tests/bench/ssh_bench.sh)" \
        "auth     required pam_oath.so usersfile=$OATH window=5 digits=6" \
        "account  required pam_access.so accessfile=$R/peer/access.conf" \
        "account  required pam_time.so conffile=$R/peer/time.conf" \
        "password required pam_deny.so" "session  required pam_permit.so" >/etc/pam.d/pvb-peer
    printf '%s\n' "# make bench-ssh: pam_vendor alone (tests/bench/ssh_bench.sh)" \
        "auth     required $MODULE conf=$CONF" "account  required $MODULE conf=$CONF" \
        "password required pam_deny.so" "session  required $MODULE conf=$CONF" >/etc/pam.d/pvb-vendor
    chmod 0644 /etc/pam.d/pvb-floor /etc/pam.d/pvb-peer /etc/pam.d/pvb-vendor

    # sshd runs AuthorizedKeysCommand only from a root-owned path nobody else
    # can write (the e2e suite does the same).
    if ! sbx_path_safe_for_sshd "$VENDORCTL" >/dev/null; then
        install -D -m 0755 "$VENDORCTL" "$R/libexec/vendorctl" || die "copy vendorctl"
        VENDORCTL=$R/libexec/vendorctl
    fi
    local why
    why=$(sbx_path_safe_for_sshd "$VENDORCTL") || die "AuthorizedKeysCommand path unusable by sshd: $why"
    cat >"$R/ssh/match.conf" <<EOF

# --- make bench-ssh: per-account methods (first value of a keyword wins) ---
Match User vkey
    AuthenticationMethods publickey
Match User bpeerc
    AuthenticationMethods publickey,keyboard-interactive
EOF
    sbx_askpass
    local s ports=()
    for s in "${SERVERS[@]}"; do
        # sshd's PAM service is its program name: one symlink per service.
        SBX_SERVICE=pvb-$s
        sbx_serve "$s" "$VENDORCTL" "--config $CONF" "$R/ssh/match.conf" no "" ||
            die "sshd ($s) did not start: $(tr '\n' '|' <"$R/sshd-$s.log" | head -c 600)"
        eval "ports+=(\"\$SBX_PORT_$s\")"
    done
    sbx_known_hosts "${ports[@]}"
}

V() { "$VENDORCTL" --config "$CONF" "$@"; }

# hotp_next — the code pam_oath accepts next: the counter after the last one
# used (pam_oath rewrites the users file on success), skipping a code equal to
# the last one (refused as a replay; window=5 allows the skip).
hotp_next() {
    local user secret counter last
    read -r _ user _ secret counter last _ <"$OATH" || return 1
    [ "$user" = bpeerc ] && [ "$secret" = "$OATH_SECRET" ] || return 1
    [ -n "${last:-}" ] && counter=$((counter + 1))
    local code
    code=$(oathtool --hotp -d 6 -c "$counter" "$secret") || return 1
    [ "$code" = "${last:-}" ] && code=$(oathtool --hotp -d 6 -c "$((counter + 1))" "$secret")
    printf '%s\n' "$code"
}

# stack_of STACK — sets SERVER USER CODE for one login of STACK (the code, if
# any, is made here: outside the timed part).
stack_of() {
    CODE=
    case $1 in
        floor) SERVER=floor USER_=bfloor ;;
        peer-key) SERVER=peer USER_=bpeer ;;
        peer-code) SERVER=peer USER_=bpeerc; CODE=$(hotp_next) || die "peer-code: no HOTP from $OATH" ;;
        vendor-key) SERVER=vendor USER_=vkey ;;
        vendor-permit) SERVER=floor USER_=vkey ;;
        vendor-code) SERVER=vendor USER_=vcode; CODE=$(V otp vcode --quiet) || die "vendorctl otp vcode failed" ;;
    esac
}

# audit_has FIELD=VALUE... — a new audit line (since AMARK) with all of them.
audit_has() {
    local lines kv
    lines=$(tail -n +"$((AMARK + 1))" "$AUDIT" 2>/dev/null)
    for kv in "$@"; do
        lines=$(grep -F -- "\"${kv%%=*}\":\"${kv#*=}\"" <<<"$lines")
        [ -n "$lines" ] || return 1
    done
}

login_failed() {
    local stack=$1 why=$2
    {
        echo "bench-ssh: ABORTED: a $stack login ($USER_ via sshd pvb-$SERVER) did not succeed: $why"
        echo "   client exit $RC; stdout: $(head -c 300 "$OUTF" | tr '\n' '|')"
        echo "   client stderr: $(head -c 500 "$ERRF" | tr '\n' '|')"
        tail -n 15 "$R/sshd-$SERVER.log" | sed 's/^/   sshd: /'
        [ -f "$AUDIT" ] && tail -n +"$((AMARK + 1))" "$AUDIT" | tail -n 8 | sed 's/^/   audit: /'
    } >&2
    exit 1
}

# psi_cpu — microseconds some task waited for a CPU since boot ("" without PSI).
psi_cpu() { sed -n 's/^some .*total=\([0-9]*\)$/\1/p' /proc/pressure/cpu 2>/dev/null; }

# akc_median N — median ms of N runs of the vendors' AuthorizedKeysCommand
# exactly as sshd runs it (setpriv to the keys user): the share of a vendor
# login that is not PAM. Outside the timed logins.
akc_median() {
    local i t0 t1 ms=()
    for ((i = 0; i < $1; i++)); do
        t0=$EPOCHREALTIME
        setpriv --reuid="$KU" --regid="$KU" --init-groups -- "$VENDORCTL" --config "$CONF" \
            authorized-keys vkey >/dev/null 2>&1 || return 1
        t1=$EPOCHREALTIME
        ms+=($((${t1/./} - ${t0/./})))
    done
    printf '%s\n' "${ms[@]}" | sort -n | awk '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'
}

# srv_ticks PID — CPU time (user+system, clock ticks) of sshd PID's reaped
# children: the connection processes with everything they ran (PAM modules,
# authorized-keys, the session's shell). Sampled around each login, after
# settle: the server's own CPU per login, which the machine's load does not
# inflate the way it inflates wall time.
srv_ticks() {
    local f
    read -r -a f <"/proc/$1/stat" || return 1
    echo $((f[15] + f[16]))
}

# settle PID — wait (up to 3 s) until sshd PID has no connection child left.
SETTLE_LATE=0
settle() {
    local i
    for i in $(seq 1 600); do
        pgrep -P "$1" >/dev/null || return 0
        sleep 0.005
    done
    SETTLE_LATE=$((SETTLE_LATE + 1))
}

# login ROUND STACK — one timed login; appends "ROUND STACK MS" to SAMPLES
# (ROUND 0 = warm-up, not counted).
login() {
    local round=$1 stack=$2 port pid
    stack_of "$stack"
    eval "port=\$SBX_PORT_$SERVER pid=\$SBX_SSHD_PID_$SERVER"
    sbx_ssh_opts "$port" 127.0.0.2 "$C/k1"
    AMARK=$(wc -l <"$AUDIT" 2>/dev/null || echo 0)
    local c0 c1 t0 t1
    c0=$(srv_ticks "$pid")
    t0=$EPOCHREALTIME
    sbx_client "$CODE" ssh "${SBX_SSH_OPTS[@]}" -o ControlMaster=no -o ControlPath=none \
        "$USER_@127.0.0.1" true </dev/null >"$OUTF" 2>"$ERRF"
    RC=$?
    t1=$EPOCHREALTIME
    [ "$RC" = 0 ] || login_failed "$stack" "exit $RC"
    [ -s "$OUTF" ] && login_failed "$stack" "unexpected output"
    case $stack in
        vendor-key)
            audit_has event=session_open account=vkey result=ok || login_failed "$stack" "no session_open ok audit line" ;;
        vendor-code)
            audit_has event=otp_used account=vcode result=ok || login_failed "$stack" "no otp_used ok audit line"
            audit_has event=session_open account=vcode result=ok || login_failed "$stack" "no session_open ok audit line" ;;
    esac
    settle "$pid"
    c1=$(srv_ticks "$pid")
    local us=$((${t1/./} - ${t0/./}))
    [ "$round" -gt 0 ] && printf '%d %s %d.%03d %d\n' "$round" "$stack" $((us / 1000)) $((us % 1000)) \
        $((c1 - c0)) >>"$SAMPLES"
    return 0
}

# ------------------------------------------------------------- main
LOAD_BEFORE=$(loadavg)
printf '== make bench-ssh: complete ssh logins on the sandboxed real sshd ==\n'
printf 'machine: %s CPU, Linux %s, %s; load %s\n' "$(nproc)" "$(uname -r)" \
    "$(ssh -V 2>&1 | cut -d, -f1)" "$LOAD_BEFORE"
setup
# shellcheck disable=SC2154 # SBX_PORT_<name>: set by sbx_serve (eval)
printf 'sshd: pvb-floor :%s, pvb-peer :%s, pvb-vendor :%s (program name = PAM service; sandbox %s)\n' \
    "$SBX_PORT_floor" "$SBX_PORT_peer" "$SBX_PORT_vendor" "$R"
printf '%d warm-up round(s), then %d rounds of %d logins (starting stack rotates)\n' "$WARMUP" "$RUNS" "${#STACKS[@]}"
: >"$SAMPLES"
T_START=$SECONDS
PSI0=$(psi_cpu) US0=${EPOCHREALTIME/./}
for ((r = 1 - WARMUP; r <= RUNS; r++)); do
    round=$((r > 0 ? r : 0))
    for ((i = 0; i < ${#STACKS[@]}; i++)); do
        login "$round" "${STACKS[$(((i + r + WARMUP) % ${#STACKS[@]}))]}"
    done
    if [ "$r" -gt 0 ] && [ $((r % 25)) = 0 ]; then
        printf '   %d/%d rounds, %d s, load %s\n' "$r" "$RUNS" $((SECONDS - T_START)) "$(loadavg)"
    fi
done
PSI1=$(psi_cpu) US1=${EPOCHREALTIME/./}
if [ -n "$PSI0" ] && [ -n "$PSI1" ]; then PRESSURE=$(((PSI1 - PSI0) * 100 / (US1 - US0))); fi
AKC_MS=$(akc_median 21) || AKC_MS=
[ "$SETTLE_LATE" = 0 ] || printf 'note: %d login(s) left an sshd connection process after 3 s\n' "$SETTLE_LATE"
if [ -n "$KEEP" ]; then cp "$SAMPLES" "$KEEP" || echo "bench-ssh: could not copy the samples to $KEEP" >&2; fi
report
