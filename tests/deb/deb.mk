# Debian packages: build them (make deb: dpkg-buildpackage + lintian) and
# install them into a throwaway overlay root (tests/deb/install_test.sh).
# The environment is cleared of make's command-line variables (make exports
# them) so the sanitizer settings of `make check` do not leak
# into the package build.
CHECK_SUITES += deb-suite

check-deb deb-suite:
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANFLAGS -u CXXFLAGS -u LDFLAGS -u B \
	    $(MAKE) --no-print-directory deb
	tests/support/run_tap.sh $(B)/results/deb.txt deb -- tests/deb/install_test.sh build/deb

.PHONY: check-deb deb-suite
