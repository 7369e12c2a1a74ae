# tests/e2e/lib.sh — a sandboxed OpenSSH server with pam_vendor, nss_vendor and
# vendorctl from the build tree. Sourced by tests/e2e/e2e.sh (make check) and
# tests/e2e/demo.sh (make demo). Bash, root only.
#
# Why a sandbox, and what it changes on the machine: nothing.
#   sbx_enter re-executes the calling script with unshare(1) in new *mount*
#   and *PID* namespaces. Inside:
#   - /run is a fresh tmpfs. Everything the run creates lives under
#     SBX_ROOT=/run/pam-vendor-e2e (config, registry, state, audit log, vendor
#     homes, host key, client keys, logs), plus /run/sshd (sshd's privilege
#     separation directory, often absent on a machine where sshd never ran).
#     The host's /run (logind, dbus, nscd, utmp) is out of sight, so the
#     sandbox's logins are not registered with the host's logind and glibc
#     cannot reach a host nscd that knows nothing of nss_vendor.
#   - /etc is a private copy (cp -a, bind-mounted over /etc). The sandbox
#     edits only that copy: nsswitch.conf gets "vendor" after "files" on the
#     passwd/group/shadow lines, /etc/pam.d/SERVICE is created, ld.so.cache is
#     rebuilt with the sandbox's lib directory first (so that every process in
#     the sandbox, sshd and the vendor's own shell alike, dlopens the sandbox's
#     libnss_vendor.so.2 — LD_LIBRARY_PATH would reach sshd but not the
#     sessions, whose environment sshd builds from scratch), /etc/hosts maps
#     127.0.0.2 to a name (UseDNS check), and useradd creates throwaway users
#     in the copy's passwd/group/shadow. The real /etc is never written.
#   - /var/log is a tmpfs: sshd's btmp/wtmp/lastlog records of sandbox logins
#     do not reach the host's files.
#   - The script is PID 1 of the PID namespace: when it exits, however it
#     exits, the kernel kills every process left in the namespace (sshd and
#     its per-connection children), and the mount namespace with its tmpfs
#     goes away with the last of them. Cleanup traps still stop sshd and
#     delete users first, so a normal run ends tidily.
#
# The NSS index path is compiled into libnss_vendor.so.2 (PAM_VENDOR_NSS_INDEX);
# the sandbox's copy is built with SBX_ROOT/nss/index (tests/e2e/e2e.mk), a path
# that exists only inside the sandbox's private /run.
#
# sshd is started as SBX_ROOT/sbin/SERVICE, a symlink to /usr/sbin/sshd: sshd
# takes its PAM service name from its program name, so it reads
# /etc/pam.d/SERVICE (the sandbox's), never /etc/pam.d/sshd.

SBX_ROOT=/run/pam-vendor-e2e
SBX_SERVICE=${SBX_SERVICE:-pam-vendor-e2e}
SBX_KEYS_USER=${SBX_KEYS_USER:-pam-vendor-keys}
SBX_MARKER=.pam-vendor-e2e-private-etc

# sbx_can_sandbox: 0 when this machine lets us build the sandbox; else prints why.
sbx_can_sandbox() {
    if [ "$(id -u)" != 0 ]; then echo "needs root"; return 1; fi
    local t
    for t in unshare setpriv useradd userdel ssh ssh-keygen scp sftp timeout ldconfig; do
        command -v "$t" >/dev/null 2>&1 || { echo "$t not installed"; return 1; }
    done
    [ -x /usr/sbin/sshd ] || { echo "openssh-server not installed"; return 1; }
    if ! unshare --mount --pid --fork --propagation private -- true 2>/dev/null; then
        echo "cannot create mount/PID namespaces (unshare -m -p refused)"
        return 1
    fi
    return 0
}

# sbx_enter SCRIPT ARGS... — re-execute SCRIPT inside the namespaces (no-op
# when already inside). --kill-child: if unshare itself is killed, so is the
# script (and with it the whole PID namespace).
sbx_enter() {
    if [ "${SBX_INSIDE:-}" = 1 ]; then return 0; fi
    exec env SBX_INSIDE=1 unshare --mount --pid --fork --kill-child --propagation private --mount-proc \
        -- "$BASH" "$@"
}

# sbx_setup_fs NSS_SO — private /run, /var/log and /etc; the sandbox NSS module.
sbx_setup_fs() {
    local nss_so=$1
    [ "${SBX_INSIDE:-}" = 1 ] && [ "$$" = 1 ] || { echo "sbx_setup_fs outside the sandbox" >&2; return 1; }
    mount -t tmpfs -o mode=0755,size=512m pve2e-run /run || return 1
    mount -t tmpfs -o mode=0755,size=64m pve2e-log /var/log || return 1
    mkdir -m 0755 /run/sshd /run/lock || return 1
    mkdir -m 0711 "$SBX_ROOT" || return 1
    mkdir -m 0755 "$SBX_ROOT/lib" "$SBX_ROOT/sbin" "$SBX_ROOT/bin" "$SBX_ROOT/ssh" "$SBX_ROOT/home" || return 1
    mkdir -m 0700 "$SBX_ROOT/client" || return 1
    install -m 0644 "$nss_so" "$SBX_ROOT/lib/libnss_vendor.so.2" || return 1

    cp -a /etc "$SBX_ROOT/etc" || return 1
    local e=$SBX_ROOT/etc
    touch "$e/$SBX_MARKER"
    # nsswitch: vendor right after files (or compat) for the three databases,
    # the lines nss_vendor(8) documents; every other source stays as it was.
    awk '
        /^(passwd|group|shadow):/ {
            if ($0 ~ /[[:space:]]vendor([[:space:]]|$)/) { }
            else if ($0 ~ /[[:space:]](files|compat)([[:space:]]|$)/) { sub(/[[:space:]](files|compat)/, "& vendor") }
            else { $0 = $0 " vendor" }
            seen[substr($1, 1, length($1) - 1)] = 1
        }
        { print }
        END { for (d in want) if (!(d in seen)) print d ": files vendor" }
        BEGIN { want["passwd"]; want["group"]; want["shadow"] }
    ' /etc/nsswitch.conf >"$e/nsswitch.conf.new" && mv "$e/nsswitch.conf.new" "$e/nsswitch.conf" || return 1
    chmod 0644 "$e/nsswitch.conf"
    # Name for 127.0.0.2, so that UseDNS yes turns PAM_RHOST into a name.
    printf '127.0.0.2\tvendor-e2e.example\n' >>"$e/hosts"
    # The sandbox's lib directory first: ld.so takes the first cache entry.
    { echo "$SBX_ROOT/lib"; cat /etc/ld.so.conf 2>/dev/null; } >"$e/ld.so.conf"
    # -X: no symlink updates in library directories; -C/-f: only the copy.
    ldconfig -X -C "$e/ld.so.cache" -f "$e/ld.so.conf" || return 1
    mount --bind "$e" /etc || return 1
    # From here on, writes under /etc land in the copy; check before any.
    [ -e "/etc/$SBX_MARKER" ] || { echo "private /etc is not in place" >&2; return 1; }
    if ! ldconfig -p | grep -q "libnss_vendor.so.2.*=> $SBX_ROOT/lib/libnss_vendor.so.2"; then
        echo "sandbox ld.so.cache does not list $SBX_ROOT/lib first" >&2
        return 1
    fi
    return 0
}

# sbx_private_etc_ok — true when /etc is the sandbox's copy (guards every write).
sbx_private_etc_ok() { [ "${SBX_INSIDE:-}" = 1 ] && [ -e "/etc/$SBX_MARKER" ]; }

# sbx_add_system_user NAME — an unprivileged system user with its own group,
# no home, no shell (sshd's AuthorizedKeysCommandUser).
sbx_add_system_user() {
    sbx_private_etc_ok || return 1
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        --no-log-init "$1"
}

# sbx_add_local_user NAME PUBKEY_FILE — an ordinary local user (not a vendor)
# whose key is in ~/.ssh/authorized_keys, home under SBX_ROOT/home.
sbx_add_local_user() {
    local name=$1 pub=$2 home=$SBX_ROOT/home/$1
    sbx_private_etc_ok || return 1
    useradd --user-group --create-home --home-dir "$home" --shell /bin/bash --no-log-init "$name" || return 1
    # A password-less but not locked account: sshd (UsePAM) does not care, and
    # it shows the non-vendor path is pam_unix/common-account as usual.
    usermod -p '*' "$name" || return 1
    install -d -m 0700 -o "$name" -g "$name" "$home/.ssh" || return 1
    install -m 0600 -o "$name" -g "$name" "$pub" "$home/.ssh/authorized_keys" || return 1
}

sbx_del_user() {
    sbx_private_etc_ok || return 0
    getent passwd "$1" >/dev/null 2>&1 && userdel "$1" >/dev/null 2>&1
    getent group "$1" >/dev/null 2>&1 && groupdel "$1" >/dev/null 2>&1
    return 0
}

# sbx_path_safe_for_sshd PATH — sshd runs AuthorizedKeysCommand only when the
# file and every directory above it are root-owned and not group/world-writable.
sbx_path_safe_for_sshd() {
    local p
    p=$(readlink -f "$1") || return 1
    while :; do
        local st
        st=$(stat -c '%u %a' "$p") || return 1
        local uid=${st% *} mode=${st#* }
        [ "$uid" = 0 ] || { echo "$p is not owned by root"; return 1; }
        (( (8#$mode & 8#022) == 0 )) || { echo "$p is group/world-writable ($mode)"; return 1; }
        [ "$p" = / ] && break
        p=$(dirname "$p")
    done
    return 0
}

# sbx_keygen NAME — ed25519 key pair in SBX_ROOT/client (NAME, NAME.pub).
sbx_keygen() { ssh-keygen -q -t ed25519 -N '' -C "$1@pam-vendor-e2e" -f "$SBX_ROOT/client/$1"; }

# sbx_write_pam_service MODULE CONF_ARG [DUMP_SCRIPT [PROBE_USER]] — the sandbox's
# /etc/pam.d/SERVICE: pam_vendor in front of Debian's common-* stacks, as
# pam_vendor(8) documents. CONF_ARG is "conf=PATH" or "". DUMP_SCRIPT (tests
# only) records each phase's PAM items and environment through pam_exec.
# PROBE_USER (tests only) is a non-vendor user whose session is made to fail,
# to observe what sshd does when pam_open_session fails.
sbx_write_pam_service() {
    local module=$1 conf=$2 dump=${3:-} probe=${4:-}
    sbx_private_etc_ok || return 1
    {
        echo "# /etc/pam.d/$SBX_SERVICE — pam_vendor sandbox (private /etc; see tests/e2e/lib.sh)"
        [ -n "$dump" ] && echo "auth     optional  pam_exec.so quiet $dump"
        echo "# vendors: pam_vendor decides alone (code prompt); everyone else: the usual stack"
        echo "auth     [success=done ignore=ignore default=die]  $module${conf:+ $conf}"
        echo "@include common-auth"
        [ -n "$dump" ] && echo "account  optional  pam_exec.so quiet $dump"
        echo "# requisite: a denied vendor stops here (source, grant, hours, code, keys)"
        echo "account  requisite  $module${conf:+ $conf}"
        echo "@include common-account"
        [ -n "$dump" ] && echo "session  optional  pam_exec.so quiet $dump"
        echo "# before pam_systemd (in common-session): it reads the grant's end from pam_vendor"
        echo "session  required  $module${conf:+ $conf}"
        [ -n "$probe" ] && echo "session  requisite  pam_succeed_if.so quiet user != $probe"
        echo "@include common-session"
    } >"/etc/pam.d/$SBX_SERVICE"
    chmod 0644 "/etc/pam.d/$SBX_SERVICE"
}

# sbx_write_sshd_config FILE VENDORCTL CONF_ARGS EXTRA_FILE — sshd_config with
# the pam_vendor drop-in. CONF_ARGS: "--config PATH" or "". EXTRA_FILE holds
# Match blocks placed before "Match Group vendors" (sshd applies the first
# value found for each keyword, so per-user blocks go first).
sbx_write_sshd_config() {
    local file=$1 vendorctl=$2 confargs=$3 extra=${4:-} port=$5 usedns=${6:-no}
    local sftp=internal-sftp
    [ -x /usr/lib/openssh/sftp-server ] && sftp=/usr/lib/openssh/sftp-server
    cat >"$file" <<EOF
# sshd_config of the pam_vendor sandbox (tests/e2e/lib.sh)
ListenAddress 127.0.0.1:$port
HostKey $SBX_ROOT/ssh/host_ed25519
PidFile none
LogLevel VERBOSE
UsePAM yes
UseDNS $usedns
PermitRootLogin no
StrictModes yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
MaxStartups 100
LoginGraceTime 30
Subsystem sftp $sftp
EOF
    [ -n "$extra" ] && cat "$extra" >>"$file"
    cat >>"$file" <<EOF

# --- pam_vendor: vendor accounts (pam_vendor(8), SSHD CONFIGURATION) ---
Match Group vendors
    # keys only from vendorctl: pinned, from= the account's CIDRs, expiry-time= the grant's end
    AuthorizedKeysFile none
    AuthorizedKeysCommand $vendorctl${confargs:+ $confargs} authorized-keys %u
    AuthorizedKeysCommandUser $SBX_KEYS_USER
    # the key first, then the one-time code through PAM (keyboard-interactive)
    AuthenticationMethods publickey,keyboard-interactive
    KbdInteractiveAuthentication yes
    PasswordAuthentication no
    # no tunnel into the network behind the server: no -L/-D/-R, sockets, tun, agent, X11
    AllowAgentForwarding no
    X11Forwarding no
    DisableForwarding yes
    PermitTunnel no
EOF
    chmod 0644 "$file"
}

# sbx_hostkey — the sandbox's own host key and the client's known_hosts line.
sbx_hostkey() {
    ssh-keygen -q -t ed25519 -N '' -C pam-vendor-e2e-host -f "$SBX_ROOT/ssh/host_ed25519" || return 1
}

# sbx_free_port — a TCP port nobody listens on at 127.0.0.1 (sshd may still
# lose a race for it; sbx_start_sshd then tries another).
sbx_free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}

# sbx_start_sshd NAME CONFIG_FILE LOG PRELOAD — start sshd in the foreground
# (-D -e) under the symlinked program name; sets SBX_SSHD_PID_<NAME>.
# PRELOAD (optional): a sanitizer runtime sshd must load first (ASan-built
# module). Returns 1 when sshd did not come up (log in LOG).
sbx_start_sshd() {
    local name=$1 cfg=$2 log=$3 preload=${4:-}
    local prog=$SBX_ROOT/sbin/$SBX_SERVICE
    [ -L "$prog" ] || ln -s /usr/sbin/sshd "$prog" || return 1
    # sshd -t first: a configuration error is reported as such.
    "$prog" -t -f "$cfg" >"$log.t" 2>&1 || { cat "$log.t" >>"$log"; return 1; }
    local env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
    if [ -n "$preload" ]; then
        # Reports go to files (SBX_ROOT/sanitizer/*.PID): sshd's children do
        # not all keep its stderr. No leak check: sshd is not instrumented.
        mkdir -p -m 0700 "$SBX_ROOT/sanitizer"
        env+=(LD_PRELOAD="$preload"
              ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:log_path=$SBX_ROOT/sanitizer/asan
              UBSAN_OPTIONS=print_stacktrace=1:log_path=$SBX_ROOT/sanitizer/ubsan)
    fi
    # --pdeathsig: sshd dies with this script even before the namespace does.
    "${env[@]}" setpriv --pdeathsig KILL -- "$prog" -D -e -f "$cfg" >"$log" 2>&1 &
    local pid=$!
    eval "SBX_SSHD_PID_$name=$pid"
    local port
    port=$(sed -n 's/^ListenAddress 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$cfg")
    local i
    for i in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        if grep -q "Server listening on 127.0.0.1 port $port" "$log"; then return 0; fi
        sleep 0.1
    done
    return 1
}

sbx_stop_sshd() {
    local name=$1 pid
    eval "pid=\${SBX_SSHD_PID_$name:-}"
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    local i
    for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    eval "SBX_SSHD_PID_$name="
    return 0
}

# sbx_known_hosts PORT... — the client trusts exactly the sandbox's host key.
sbx_known_hosts() {
    local p
    : >"$SBX_ROOT/client/known_hosts"
    for p in "$@"; do
        printf '[127.0.0.1]:%s %s\n' "$p" "$(cut -d' ' -f1,2 "$SBX_ROOT/ssh/host_ed25519.pub")" \
            >>"$SBX_ROOT/client/known_hosts"
    done
}

# sbx_askpass — the program ssh runs for keyboard-interactive prompts
# (SSH_ASKPASS_REQUIRE=force): answers SBX_CODE and records the prompt.
sbx_askpass() {
    cat >"$SBX_ROOT/client/askpass" <<EOF
#!/bin/sh
printf '%s\n' "\$1" >>"$SBX_ROOT/client/prompts.log"
printf '%s\n' "\${SBX_CODE:-}"
EOF
    chmod 0700 "$SBX_ROOT/client/askpass"
}

# sbx_ssh_opts PORT SRC KEY — common client options; KEY "none" = no public key.
sbx_ssh_opts() {
    local port=$1 src=$2 key=$3
    SBX_SSH_OPTS=(-F /dev/null -o Port="$port" -o BindAddress="$src"
        -o ConnectTimeout=10 -o ConnectionAttempts=1
        -o UserKnownHostsFile="$SBX_ROOT/client/known_hosts" -o GlobalKnownHostsFile=/dev/null
        -o StrictHostKeyChecking=yes -o UpdateHostKeys=no -o IdentityAgent=none -o IdentitiesOnly=yes
        -o LogLevel=ERROR -o NumberOfPasswordPrompts=1 -o ServerAliveInterval=10)
    if [ "$key" = none ]; then
        SBX_SSH_OPTS+=(-o PubkeyAuthentication=no -o PreferredAuthentications=keyboard-interactive)
    else
        SBX_SSH_OPTS+=(-o IdentityFile="$key" -o PreferredAuthentications=publickey,keyboard-interactive)
    fi
}

# sbx_client CODE PROGRAM ARGS... — run ssh/scp/sftp as a vendor would: CODE
# is typed at the keyboard-interactive prompt ("" = no code: BatchMode, keys
# only). Bounded by timeout 30; stdin is the caller's.
sbx_client() {
    local code=$1 prog=$2
    shift 2
    if [ -n "$code" ]; then
        HOME=$SBX_ROOT/client SBX_CODE=$code SSH_ASKPASS=$SBX_ROOT/client/askpass SSH_ASKPASS_REQUIRE=force \
            DISPLAY=:0 timeout 30 "$prog" -o BatchMode=no "$@"
    else
        HOME=$SBX_ROOT/client timeout 30 "$prog" -o BatchMode=yes "$@"
    fi
}

# sbx_write_vendor_conf FILE [EXTRA_LINES] — pam_vendor.conf with every path
# inside the sandbox (nss_dir must be SBX_ROOT/nss: the sandbox NSS module
# reads the index there).
sbx_write_vendor_conf() {
    local file=$1 extra=${2:-}
    case $file in /etc/*) sbx_private_etc_ok || return 1 ;; esac
    mkdir -p -m 0700 "$SBX_ROOT/log" "$SBX_ROOT/registry"
    {
        echo "# pam_vendor.conf(5) of the sandbox: every path under $SBX_ROOT"
        echo "registry_dir = $SBX_ROOT/registry"
        echo "state_dir = $SBX_ROOT/state"
        echo "nss_dir = $SBX_ROOT/nss"
        echo "audit_log = $SBX_ROOT/log/audit.jsonl"
        echo "home_base = $SBX_ROOT/home/vendors"
        echo "keys_user = $SBX_KEYS_USER"
        [ -n "$extra" ] && printf '%s\n' "$extra"
    } >"$file"
    chmod 0644 "$file"
}

# sbx_serve NAME VENDORCTL CONFARGS EXTRA_FILE USEDNS PRELOAD — write
# SBX_ROOT/ssh/sshd_config_NAME on a free port and start sshd with it (a few
# tries if another process takes the port first). Sets SBX_PORT_<NAME>.
sbx_serve() {
    local name=$1 vendorctl=$2 confargs=$3 extra=$4 usedns=$5 preload=$6
    local cfg=$SBX_ROOT/ssh/sshd_config_$name log=$SBX_ROOT/sshd-$name.log try port
    [ -f "$SBX_ROOT/ssh/host_ed25519" ] || sbx_hostkey || return 1
    for try in 1 2 3 4 5; do
        port=$(sbx_free_port) || continue
        sbx_write_sshd_config "$cfg" "$vendorctl" "$confargs" "$extra" "$port" "$usedns"
        if sbx_start_sshd "$name" "$cfg" "$log" "$preload"; then
            eval "SBX_PORT_$name=$port"
            return 0
        fi
        grep -q "Address already in use" "$log" || return 1
    done
    return 1
}
