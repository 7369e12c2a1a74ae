# Test wiring. `make check` rebuilds everything under ASan/UBSan in
# build-asan/ and runs every suite; each suite adds itself below through its
# own fragment (tests/*/*.mk) by appending to CHECK_SUITES a target name.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

CHECK_SUITES :=
-include $(sort $(wildcard tests/*/*.mk))

# Debian packages the tests need; installed when missing and we are root.
TEST_DEBS := g++ make pkg-config libpam0g-dev liboath-dev libsodium-dev libjson-c-dev \
             libcmocka-dev libpam-wrapper libpamtest0-dev libnss-wrapper libpam-modules \
             libpam-oath faketime openssh-server openssh-client \
             debhelper dpkg-dev fakeroot lintian pamtester

deps:
	@missing=$$(for p in $(TEST_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing: $$missing"; \
	        if [ ! -e /usr/sbin/policy-rc.d ]; then \
	            printf '#!/bin/sh\n# pam_vendor test deps: never start services while installing\nexit 101\n' >/usr/sbin/policy-rc.d; \
	            chmod 755 /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; \
	        fi; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	    else echo "missing packages (run as root to install): $$missing" >&2; exit 1; fi; \
	fi

check: deps
	@rm -rf build-asan/results
	$(MAKE) --no-print-directory B=build-asan SANFLAGS="$(ASAN_FLAGS)" CXXFLAGS="-O1 -g" all check-run

check-run: $(CHECK_SUITES)
	@tests/support/summary.sh build-asan/results

.PHONY: deps check check-run $(CHECK_SUITES)
