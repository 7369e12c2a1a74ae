# make lint - style and static analysis. Not part of `make check` (it judges
# the code, it does not test it). Its parts all run, even when one fails, and
# `make lint` fails when any of them does:
#
#   lint-format    clang-format 14 --dry-run --Werror against .clang-format,
#                  product code and tests; reports, never rewrites
#   lint-tidy      clang-tidy 14 with .clang-tidy (WarningsAsErrors fail)
#   lint-cppcheck  cppcheck --enable=warning,performance,portability
#                  (suppressions, each justified: tests/lint/cppcheck.supp)
#   lint-man       man pages: every config key, vendorctl command and option,
#                  and policy reason documented (tests/lint/man_coverage.sh,
#                  keys and reasons read from the built vendorctl);
#                  `man --warnings` and `groff -ww` clean
#
#   make lint                      everything
#   make lint-tidy LINT_JOBS=4     one part, 4 files at a time
#   make lint-format LINT_VERBOSE=1   with clang-format's diagnostics
#
# Installs its tools when run as root and they are missing (lint-deps).

LINT_DIRS     ?= $(addprefix common/,$(CORE_LAYERS)) pam_vendor nss_vendor vendorctl
LINT_SRCS      = $(sort $(wildcard $(foreach d,$(LINT_DIRS),$(d)/*.cc $(d)/*.h)))
LINT_FMT_SRCS  = $(LINT_SRCS) $(sort $(wildcard tests/*/*.cc tests/*/*.h))
LINT_JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
LINT_VERBOSE  ?= 0
LINT_OUT       = $(B)/lint
CLANG_FORMAT  ?= $(if $(shell command -v clang-format-14 2>/dev/null),clang-format-14,clang-format)
CLANG_TIDY    ?= $(if $(shell command -v clang-tidy-14 2>/dev/null),clang-tidy-14,clang-tidy)
CPPCHECK      ?= cppcheck
# The flags the code is built with, minus GCC-only warnings and hardening:
# what clang needs to parse it as the compiler sees it. Handed to
# run_tidy.sh through the environment, split on blanks, no shell quoting.
TIDY_FLAGS     = -std=c++20 $(CORE_INC) $(PKG_CFLAGS) -DPAM_VENDOR_VERSION="lint"
CPPCHECK_FLAGS = --enable=warning,performance,portability --error-exitcode=1 --std=c++20 \
                 --language=c++ --inline-suppr --suppressions-list=tests/lint/cppcheck.supp \
                 --template=gcc -q -j $(LINT_JOBS) $(CORE_INC) -DPAM_VENDOR_VERSION=\"lint\"
LINT_DEBS     := clang-format clang-tidy cppcheck groff-base man-db pkg-config \
                 libpam0g-dev liboath-dev libsodium-dev libjson-c-dev

lint: lint-deps
	@if $(MAKE) --no-print-directory -k lint-format lint-tidy lint-cppcheck lint-man; then \
	    echo "lint: all checks passed"; \
	else \
	    echo "lint: FAILED (see the messages above)"; exit 1; \
	fi

lint-deps:
	@missing=$$(for p in $(LINT_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing: $$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	    else echo "missing packages (run as root to install): $$missing" >&2; exit 1; fi; \
	fi

lint-format:
	@echo "== clang-format ($(CLANG_FORMAT))"
	@CLANG_FORMAT=$(CLANG_FORMAT) LINT_VERBOSE=$(LINT_VERBOSE) tests/lint/run_format.sh $(LINT_FMT_SRCS)

lint-tidy: export TIDY_FLAGS := $(TIDY_FLAGS)
lint-tidy:
	@echo "== clang-tidy ($(CLANG_TIDY), $(LINT_JOBS) at a time; slow: several minutes)"
	@CLANG_TIDY=$(CLANG_TIDY) LINT_JOBS=$(LINT_JOBS) \
	    tests/lint/run_tidy.sh $(LINT_OUT)/tidy $(filter %.cc,$(LINT_SRCS))

lint-cppcheck:
	@echo "== cppcheck"
	@$(CPPCHECK) $(CPPCHECK_FLAGS) $(LINT_DIRS) && echo "cppcheck: no finding"

lint-man: $(VENDORCTL)
	@echo "== man pages"
	@VENDORCTL=$(VENDORCTL) tests/lint/man_coverage.sh
	@rc=0; for f in $(sort $(wildcard man/*.[1-8])); do \
	    w=$$( { MANWIDTH=80 man --warnings -l -E UTF-8 $$f >/dev/null; groff -man -ww -z $$f; } 2>&1 ); \
	    if [ -n "$$w" ]; then echo "$$f:"; echo "$$w" | sed 's/^/  /'; rc=1; fi; \
	done; \
	if [ $$rc = 0 ]; then echo "man pages: $(words $(wildcard man/*.[1-8])) pages, no warning"; fi; \
	exit $$rc

.PHONY: lint lint-deps lint-format lint-tidy lint-cppcheck lint-man

# The core's include direction (tests/lint/layers.sh), with its own
# self-test; cheap, so `make check` runs it as a suite.
layers:
	@tests/lint/layers_test.sh $(B)/results/layers.txt >/dev/null

CHECK_SUITES += layers
.PHONY: layers
