#!/bin/bash
# install_test.sh DEB_DIR — install the built packages into a throwaway root
# and check what they configure. The throwaway root is an overlay of / in a
# private mount namespace: every write lands in a tmpfs that disappears with
# the namespace, so the machine's real /etc is never touched.
# Output: TAP.
set -u
debdir=$(cd "$1" && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "1..1"
    echo "ok 1 - package install test # SKIP needs root (mount namespace, overlayfs)"
    exit 0
fi
work=$(mktemp -d /tmp/pvdeb.XXXXXX)
cleanup() { umount -l "$work" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mount -t tmpfs -o mode=0700 tmpfs "$work"
mkdir -p "$work"/{upper,work,root}
cp "$debdir"/*.deb "$work/upper/" 2>/dev/null || { echo "1..1"; echo "not ok 1 - no .deb in $debdir"; exit 0; }

# Runs inside the namespace, chrooted into the overlay.
cat >"$work/upper/inner.sh" <<'INNER'
#!/bin/bash
set -u
n=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
no() { n=$((n+1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@" >/tmp/out 2>&1; then ok "$name"; else no "$name" "$(tail -5 /tmp/out)"; fi; }
export DEBIAN_FRONTEND=noninteractive
cp /etc/nsswitch.conf /tmp/nsswitch.before
check "dpkg -i the three packages" dpkg -i /libpam-vendor_*.deb /libnss-vendor_*.deb /vendorctl_*.deb
# The module and vendorctl share the state format (revisions, grant fields):
# one of a different version must not be installed beside the other.
breaks_others() { # DEB OTHER: DEB's Breaks names OTHER below and above DEB's own version
    local v b
    v=$(dpkg-deb -f "$1" Version) && b=$(dpkg-deb -f "$1" Breaks) || return 1
    grep -qF "$2 (<< $v)" <<<"$b" && grep -qF "$2 (>> $v)" <<<"$b"
}
check "libpam-vendor breaks any other vendorctl version" breaks_others /libpam-vendor_*.deb vendorctl
check "vendorctl breaks any other libpam-vendor version" breaks_others /vendorctl_*.deb libpam-vendor
check "pam-auth-update put pam_vendor in common-auth" grep -q 'pam_prestataire.so' /etc/pam.d/common-auth
check "... in common-account" grep -q 'requisite.*pam_prestataire.so' /etc/pam.d/common-account
check "... in common-session, before pam_systemd" awk '/pam_prestataire.so/{v=NR} /pam_systemd.so/{s=NR} END{exit !(v && (!s || v<s))}' /etc/pam.d/common-session
check "nsswitch.conf: passwd has files vendor" grep -qE '^passwd:.*files vendor' /etc/nsswitch.conf
check "nsswitch.conf: group has files vendor" grep -qE '^group:.*files vendor' /etc/nsswitch.conf
check "nsswitch.conf: shadow has files vendor" grep -qE '^shadow:.*files vendor' /etc/nsswitch.conf
dpkg-reconfigure libnss-vendor >/dev/null 2>&1
check "postinst is idempotent (one vendor per line)" bash -c '! grep -E "vendor.*vendor" /etc/nsswitch.conf'
check "keys user exists" getent passwd pam-vendor-keys
check "state dirs have the right modes" bash -c '[ "$(stat -c %a /var/lib/pam_vendor)" = 711 ] && [ "$(stat -c %a /etc/pam_vendor/accounts.d)" = 700 ] && [ "$(stat -c %a /var/log/pam_vendor)" = 700 ]'
check "vendorctl config --check" vendorctl config --check
check "vendorctl add" vendorctl add acme --vendor "ACME Medical" --from 127.0.0.2 --access grant
check "getent passwd resolves the vendor through nss_vendor" bash -c 'getent passwd acme | grep -q "^acme:x:2000300"'
check "getent shadow gives a locked entry" bash -c 'getent shadow acme | grep -q "^acme:!:"'
check "id shows the vendors group" bash -c 'id acme | grep -q vendors'
check "home created, owned by the account, 0700" bash -c '[ "$(stat -c %U:%a /home/vendors/acme)" = acme:700 ]'
# A PAM service that uses the common-* files pam-auth-update wrote.
printf 'auth include common-auth\naccount include common-account\nsession include common-session\n' >/etc/pam.d/pvdeb
if command -v pamtester >/dev/null; then
    check "inactive vendor: account denied through common-account" bash -c '! PAM_RHOST=127.0.0.2 pamtester -I rhost=127.0.0.2 pvdeb acme acct_mgmt'
    vendorctl activate acme --for 1h >/dev/null
    check "activated vendor from its address: account allowed" pamtester -I rhost=127.0.0.2 pvdeb acme acct_mgmt
    check "activated vendor from another address: denied" bash -c '! pamtester -I rhost=127.0.0.3 pvdeb acme acct_mgmt'
    check "root is unaffected (PAM_IGNORE): account allowed" pamtester -I rhost=203.0.113.9 pvdeb root acct_mgmt
    check "decisions are in the audit log" bash -c 'grep -q "\"event\":\"account\"" /var/log/pam_vendor/audit.jsonl && vendorctl log --verify'
else
    no "pamtester installed" "install pamtester"
fi
check "dpkg --purge" dpkg --purge vendorctl libnss-vendor libpam-vendor
check "purge removed pam_vendor from common-*" bash -c '! grep -qE "pam_(vendor|prestataire)" /etc/pam.d/common-auth /etc/pam.d/common-account /etc/pam.d/common-session'
check "purge restored nsswitch.conf" diff /tmp/nsswitch.before /etc/nsswitch.conf
check "purge removed the keys user" bash -c '! getent passwd pam-vendor-keys'
check "purge removed the conffile" test ! -e /etc/security/pam_vendor.conf
check "purge kept the audit log (evidence)" test -e /var/log/pam_vendor/audit.jsonl
echo "1..$n"
INNER
chmod 755 "$work/upper/inner.sh"
unshare -m --propagation private bash -c "
    set -e
    mount -t overlay overlay -o lowerdir=/,upperdir='$work/upper',workdir='$work/work' '$work/root'
    mount --rbind /proc '$work/root/proc'
    mount --rbind /dev '$work/root/dev'
    mount --rbind /sys '$work/root/sys'
    mount -t tmpfs tmpfs '$work/root/tmp'
    mount -t tmpfs tmpfs '$work/root/run'
    exec chroot '$work/root' /inner.sh
"
