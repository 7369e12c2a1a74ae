# make bench — PAM transaction benchmark (not a test): pam_vendor against the
# pam_permit floor and the do-it-yourself peer stack (pam_oath + pam_access +
# pam_time), in one run, one fresh process per transaction. Prints medians,
# p90/p99, ratios, PASS/MISS against the issue's targets, ldd of the module,
# and (with valgrind/strace) instruction and system-call counts.
#
#   make bench                      300 interleaved runs per stack
#   make bench BENCH_RUNS=1000      more runs
#   make bench BENCH_ARGS=--strict  exit 1 when a target is missed
#   make bench BENCH_ARGS=--cold-nss the driver does not resolve the user before PAM
#                                   (sshd does; this charges NSS start-up to the stacks)
#   BENCH_TMPDIR=/var/tmp           where the temporary state lives (its file
#                                   system decides what an fsync costs)
#
# Needs root to install missing packages; runs as any user whose temporary
# directory is not group/world-writable (pam_vendor's safe-open rules).
#
# make bench-ssh — whole ssh logins (make bench runs it after the above; root
# only, reported as skipped otherwise): tests/bench/ssh_bench.sh times complete
# `ssh … true` logins on the real sshd in the e2e sandbox (tests/e2e/lib.sh:
# private /etc, /run, /var/log and PID namespace; nothing on the machine
# changes), interleaved round-robin: the pam_permit floor, the peer (pam_access
# + pam_time, key only; + pam_oath HOTP through keyboard-interactive), and
# pam_vendor key only (grant) and key + code (grant+otp), and (info) the
# vendor account through pam_permit, which splits its extra cost into the key
# path (vendorctl authorized-keys, nss_vendor) and pam_vendor itself. Prints
# median/p90 per stack, the ratios with a 95 % interval, PASS/MISS against
# key-only <= floor + 2 % and key + code <= the pam_oath peer, the load and CPU
# pressure; a login that fails aborts it. 100 rounds: ~5 minutes on a busy
# 2-CPU machine.
#
#   make bench-ssh                      100 rounds (BENCH_SSH_RUNS)
#   make bench-ssh BENCH_SSH_RUNS=300   more rounds
#   make bench-ssh BENCH_SSH_ARGS=--strict   exit 1 when a target is missed
#   BENCH_SSH_ARGS="--samples FILE"          keep the samples (ms per login);
#   tests/bench/ssh_bench.sh --report FILE   prints their report again

BENCH_DIR    := $(B)/tests/bench
BENCH_TXN    := $(BENCH_DIR)/pam_txn
BENCH_RUNNER := $(BENCH_DIR)/bench_run
BENCH_RUNS   ?= 300
BENCH_WARMUP ?= 10
BENCH_TMPDIR ?= /tmp
BENCH_PEER_USER ?= nobody
BENCH_ARGS   ?=
# Plain -O2, never sanitizers: the driver's own cost is part of every sample.
BENCH_CXXFLAGS := -std=c++20 -O2 $(WARN)
BENCH_DEBS     := g++ make pkg-config libpam0g-dev liboath-dev libsodium-dev libjson-c-dev \
                  libpam-modules libpam-oath
BENCH_OPT_DEBS := valgrind strace
BENCH_SSH_RUNS   ?= 100
BENCH_SSH_WARMUP ?= 3
BENCH_SSH_ARGS   ?=
BENCH_SSH_TIMEOUT ?= 900
# Only what the ssh bench needs beyond the e2e suite's packages (TEST_DEBS).
BENCH_SSH_DEBS := oathtool

# The driver links libpam only (--as-needed drops libstdc++): sshd is a C
# program, so a C++ module must pay for loading libstdc++ itself.
$(BENCH_TXN): tests/bench/pam_txn.cc
	@mkdir -p $(@D)
	$(CXX) $(BENCH_CXXFLAGS) -MMD -MP -o $@ $< -Wl,--as-needed -lpam

$(BENCH_RUNNER): tests/bench/bench_run.cc $(LIBCORE)
	@mkdir -p $(@D)
	$(CXX) $(BENCH_CXXFLAGS) $(CORE_INC) $(PKG_CFLAGS) -MMD -MP -o $@ $< $(LIBCORE) $(PKG_LIBS)

bench-deps:
	@missing=$$(for p in $(BENCH_DEBS) $(BENCH_OPT_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing: $$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	    else \
	        required=$$(for p in $$missing; do case " $(BENCH_DEBS) " in *" $$p "*) echo $$p;; esac; done); \
	        if [ -n "$$required" ]; then echo "missing packages (run as root to install): $$required" >&2; exit 1; fi; \
	        echo "note: $$missing not installed; the profile section is reduced"; \
	    fi; \
	fi

bench: bench-deps
	$(if $(SANFLAGS),$(error make bench measures the plain build; unset SANFLAGS))
	@$(MAKE) --no-print-directory bench-run
	@$(MAKE) --no-print-directory bench-ssh

bench-run: all $(LIBCORE) $(BENCH_TXN) $(BENCH_RUNNER)
	$(BENCH_RUNNER) --driver $(BENCH_TXN) --module $(PAM_SO) --vendorctl $(VENDORCTL) \
	    --runs $(BENCH_RUNS) --warmup $(BENCH_WARMUP) --tmpdir $(BENCH_TMPDIR) \
	    --peer-user $(BENCH_PEER_USER) $(BENCH_ARGS)

# The sandbox's NSS module comes from tests/e2e/e2e.mk (included after this
# file: named in the recipe, which make expands only when it runs).
bench-ssh:
	$(if $(SANFLAGS),$(error make bench-ssh measures the plain build; unset SANFLAGS))
	@if [ "$$(id -u)" != 0 ]; then echo "bench-ssh: skipped (needs root: it starts a sandboxed sshd)"; exit 0; fi; \
	missing=$$(for p in $(BENCH_SSH_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi; \
	$(MAKE) --no-print-directory all $(E2E_NSS_SO) && \
	timeout -k 10 $(BENCH_SSH_TIMEOUT) tests/bench/ssh_bench.sh --module $(abspath $(PAM_SO)) \
	    --vendorctl $(abspath $(VENDORCTL)) --nss $(abspath $(E2E_NSS_SO)) \
	    --runs $(BENCH_SSH_RUNS) --warmup $(BENCH_SSH_WARMUP) $(BENCH_SSH_ARGS)

.PHONY: bench bench-deps bench-run bench-ssh
