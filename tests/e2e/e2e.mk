# End to end: a real OpenSSH server (Debian's /usr/sbin/sshd) with the
# pam_vendor.so and vendorctl of this build, a real ssh/scp/sftp client, and
# nss_vendor serving the vendor accounts — in a sandbox that changes nothing
# on the machine (private mount + PID namespaces; tests/e2e/lib.sh says how).
#
#   make e2e                 (make check runs it under ASan/UBSan; needs root,
#                             every scenario is reported skipped otherwise)
#   make demo                the README's walk-through for a sysadmin (root)
#   E2E_VERBOSE=1 make e2e   print sshd's log and the audit log at the end
#
# Under `make check` the module is the ASan/UBSan build: sshd is started with
# the ASan runtime preloaded (LD_PRELOAD, found with ldd on the module;
# ASAN_OPTIONS=detect_leaks=0 since sshd itself is not instrumented), so the
# real sshd exercises the sanitized module. That costs nothing to build; a
# second, plain build of the whole tree would cost minutes.
# The NSS module is different: glibc loads it into *every* process of the
# sandbox (bash, id, scp, useradd...), none of them ASan-instrumented, and its
# index path is compiled in. So it is always built here, with plain flags and
# PAM_VENDOR_NSS_INDEX pointing into the sandbox's private /run.
E2E_DIR       := $(B)/tests/e2e
E2E_NSS_INDEX := /run/pam-vendor-e2e/nss/index
E2E_NSS_OBJS  := $(NSS_SRCS:nss_vendor/%.cc=$(E2E_DIR)/nss/%.o)
E2E_NSS_SO    := $(E2E_DIR)/lib/libnss_vendor.so.2
E2E_TIMEOUT   ?= 360
E2E_CXXFLAGS  := -std=c++20 -DPAM_VENDOR_VERSION=\"$(VERSION)\" $(WARN) -fPIC -fvisibility=hidden \
                 -fvisibility-inlines-hidden $(HARDEN) $(CORE_INC) -O2 -g $(NSS_CXXFLAGS)

$(E2E_NSS_OBJS): $(E2E_DIR)/nss/%.o: nss_vendor/%.cc
	@mkdir -p $(@D)
	$(CXX) $(E2E_CXXFLAGS) '-DPAM_VENDOR_NSS_INDEX="$(E2E_NSS_INDEX)"' -MMD -MP -c $< -o $@

$(E2E_NSS_SO): $(E2E_NSS_OBJS) nss_vendor/nss_vendor.map
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $(E2E_NSS_OBJS) $(LDHARDEN) -Wl,-soname,libnss_vendor.so.2 \
	    -Wl,--version-script=nss_vendor/nss_vendor.map -lpthread

-include $(wildcard $(E2E_DIR)/nss/*.d)

E2E_ARGS = --module $(abspath $(PAM_SO)) --vendorctl $(abspath $(VENDORCTL)) --nss $(abspath $(E2E_NSS_SO))

e2e: all $(E2E_NSS_SO)
	@tests/support/run_tap.sh $(B)/results/e2e.txt e2e -- \
	    timeout -k 10 $(E2E_TIMEOUT) tests/e2e/e2e.sh $(E2E_ARGS)

CHECK_SUITES += e2e

# make demo: as root on a fresh Debian 12 — missing packages, a plain build,
# then the narrated walk-through in the sandbox (tests/e2e/demo.sh).
demo:
	@if [ "$$(id -u)" != 0 ]; then echo "make demo: run as root (it starts a sandboxed sshd)" >&2; exit 1; fi
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory B=build SANFLAGS= all build/tests/e2e/lib/libnss_vendor.so.2
	@timeout -k 10 120 tests/e2e/demo.sh --module $(abspath build/pam_vendor/pam_vendor.so) \
	    --vendorctl $(abspath build/vendorctl/vendorctl) --nss $(abspath build/tests/e2e/lib/libnss_vendor.so.2)

.PHONY: e2e demo
